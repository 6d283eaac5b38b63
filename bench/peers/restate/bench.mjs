// Restate peer benchmark: W1seq, W1 three-step, W2 flaky-step, W3 sequential steps (BENCHMARKS.md).
// The service endpoint (Restate TypeScript SDK) and the load client live in this one Node process; run.sh
// starts restate-server. All traffic is on 127.0.0.1. stdout: JSON lines only, in durin-bench's field names.
// Adapted from the team's earlier peer measurement (shared/bench/restate).
import * as restate from "@restatedev/restate-sdk";
import { openSync, writeSync, fdatasyncSync, closeSync, unlinkSync, readFileSync } from "node:fs";
import { join } from "node:path";

const INGRESS = process.env.INGRESS ?? "http://127.0.0.1:8080";
const ADMIN = process.env.ADMIN ?? "http://127.0.0.1:9070";
const SVC_PORT = Number(process.env.SVC_PORT ?? 9080);
const DATA_DIR = process.env.DATA_DIR ?? "/tmp";
const REPS = Number(process.env.REPS ?? 3);
const CONC = Number(process.env.CONC ?? 100);            // in-flight runs for W1/W2
const W1_N = (process.env.W1_N ?? "1000,5000").split(",").map(Number);
const W1_SEQ_N = Number(process.env.W1_SEQ_N ?? 100);    // sequential (1 in flight) latency probe
const W2_N = Number(process.env.W2_N ?? 200);
const W3_STEPS = Number(process.env.W3_STEPS ?? 1000);
const WARM = Number(process.env.WARM ?? 200);
const ONLY = (process.env.ONLY ?? "w1seq,w1,w2,w3").split(",");
const SDK = process.env.SDK_LABEL ?? "ts";

const attempts = new Map(); // flaky step executions, keyed by run id (same process as the handler)

const bench = restate.service({
  name: "bench",
  handlers: {
    three: async (ctx, req) => {
      const a = await ctx.run("s1", () => ({ step: 1, id: req.id }));
      const b = await ctx.run("s2", () => ({ step: 2, prev: a.step }));
      const c = await ctx.run("s3", () => ({ step: 3, prev: b.step }));
      return { id: req.id, last: c.step };
    },
    flaky: async (ctx, req) => {
      const a = await ctx.run("s1", () => ({ step: 1, id: req.id }));
      const b = await ctx.run(
        "s2",
        () => {
          const n = attempts.get(req.id) ?? 0; // attempt number, 0-based
          attempts.set(req.id, n + 1);
          if (n < 2) throw new Error(`flaky attempt ${n}`);
          return { step: 2, attempt: n, prev: a.step };
        },
        { initialRetryInterval: 10, retryIntervalFactor: 1, maxRetryInterval: 10, maxRetryAttempts: 10 },
      );
      const c = await ctx.run("s3", () => ({ step: 3, prev: b.step }));
      return { id: req.id, flakyAttempt: b.attempt, last: c.step };
    },
    fan: async (ctx, req) => {
      let acc = 0;
      for (let i = 0; i < req.steps; i++) {
        const r = await ctx.run(`s${i}`, () => ({ i }));
        acc += r.i;
      }
      return { steps: req.steps, acc };
    },
  },
});

async function call(handler, body) {
  const t0 = performance.now();
  const res = await fetch(`${INGRESS}/bench/${handler}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const txt = await res.text();
  if (!res.ok) throw new Error(`${handler} ${res.status}: ${txt}`);
  return { ms: performance.now() - t0, out: JSON.parse(txt) };
}

// n runs with at most `conc` in flight (closed loop); wall ms and per-run latencies.
async function runMany(handler, n, conc, mkBody) {
  const lats = new Array(n);
  const outs = new Array(n);
  let next = 0;
  const t0 = performance.now();
  async function worker() {
    while (true) {
      const i = next++;
      if (i >= n) return;
      const r = await call(handler, mkBody(i));
      lats[i] = r.ms;
      outs[i] = r.out;
    }
  }
  await Promise.all(Array.from({ length: Math.min(conc, n) }, worker));
  return { wallMs: performance.now() - t0, lats, outs };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const r1 = (x) => Math.round(x * 10) / 10;
const r3 = (x) => Math.round(x * 1000) / 1000;
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
function emit(o) { console.log(JSON.stringify({ engine: "restate", sdk: SDK, ...o })); }

// 200 × (8 KiB write + fdatasync) in the data dir's file system, as durin-bench measures before a workload.
function fdatasyncMs() {
  const path = join(DATA_DIR, `.fsync-probe-${process.pid}`);
  const fd = openSync(path, "w");
  const buf = Buffer.alloc(8192, 7);
  const t0 = performance.now();
  for (let i = 0; i < 200; i++) { writeSync(fd, buf, 0, buf.length, (i % 16) * 8192); fdatasyncSync(fd); }
  const ms = (performance.now() - t0) / 200;
  closeSync(fd); unlinkSync(path);
  return r3(ms);
}
const conditions = (w) => emit({ w, kind: "conditions", loadavg: loadavg(), fdatasync_8k_ms: fdatasyncMs() });

async function main() {
  await restate.serve({ services: [bench], port: SVC_PORT });
  // register this endpoint with the server
  const reg = await fetch(`${ADMIN}/deployments`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ uri: `http://127.0.0.1:${SVC_PORT}`, force: true }),
  });
  if (!reg.ok) throw new Error(`register failed ${reg.status} ${await reg.text()}`);
  await new Promise((r) => setTimeout(r, 1500)); // let the registration propagate
  const tag = Date.now().toString(36);

  await runMany("three", WARM, CONC, (i) => ({ id: `warm-${tag}-${i}` })); // once per server (fresh store)

  if (ONLY.includes("w1seq")) {
    conditions("w1seq");
    const meds = [];
    for (let rep = 0; rep < REPS; rep++) {
      const load = loadavg();
      const r = await runMany("three", W1_SEQ_N, 1, (i) => ({ id: `seq-${tag}-${rep}-${i}` }));
      const completed = r.outs.filter((o) => o.last === 3).length;
      meds.push(median(r.lats));
      emit({ w: "W1seq", rep, n: W1_SEQ_N, conc: 1, medLatMs: r1(median(r.lats)), p99LatMs: r1(pct(r.lats, 0.99)), wallMs: r1(r.wallMs), completed, loadavgBefore: load, loadavgAfter: loadavg() });
    }
    emit({ w: "W1seq", summary: true, n: W1_SEQ_N, medOfReps_medLatMs: r1(median(meds)) });
  }
  if (ONLY.includes("w1")) {
    conditions("w1");
    for (const n of W1_N) {
      const rates = [], p50s = [], p99s = [];
      for (let rep = 0; rep < REPS; rep++) {
        const load = loadavg();
        const r = await runMany("three", n, CONC, (i) => ({ id: `w1-${tag}-${n}-${rep}-${i}` }));
        const completed = r.outs.filter((o) => o.last === 3).length;
        if (completed !== n) throw new Error(`W1: ${completed}/${n} runs returned the expected output`);
        const rps = n / (r.wallMs / 1000);
        rates.push(rps); p50s.push(median(r.lats)); p99s.push(pct(r.lats, 0.99));
        emit({ w: "W1", rep, n, conc: CONC, wallMs: r1(r.wallMs), runsPerS: r1(rps), stepsPerS: r1(3 * rps), medLatMs: r1(median(r.lats)), p99LatMs: r1(pct(r.lats, 0.99)), completed, loadavgBefore: load, loadavgAfter: loadavg() });
      }
      emit({ w: "W1", summary: true, n, conc: CONC, runsPerS: r1(median(rates)), stepsPerS: r1(3 * median(rates)), medLatMs: r1(median(p50s)), p99LatMs: r1(median(p99s)) });
    }
  }
  if (ONLY.includes("w2")) {
    conditions("w2");
    const walls = [];
    for (let rep = 0; rep < REPS; rep++) {
      const load = loadavg();
      const ids = (i) => `w2-${tag}-${rep}-${i}`;
      const r = await runMany("flaky", W2_N, CONC, (i) => ({ id: ids(i) }));
      let ok = 0;
      for (let i = 0; i < W2_N; i++) if (attempts.get(ids(i)) === 3 && r.outs[i].flakyAttempt === 2 && r.outs[i].last === 3) ok++;
      walls.push(r.wallMs);
      emit({ w: "W2", rep, n: W2_N, conc: CONC, wallMs: r1(r.wallMs), completed: r.outs.filter((o) => o.last === 3).length, exactly3Attempts: ok, medLatMs: r1(median(r.lats)), retry: "initial 10 ms, factor 1, max 10 ms", loadavgBefore: load, loadavgAfter: loadavg() });
      if (ok !== W2_N) throw new Error(`W2 verification failed: ${ok}/${W2_N}`);
    }
    emit({ w: "W2", summary: true, n: W2_N, wallS: r3(median(walls) / 1000) });
  }
  if (ONLY.includes("w3")) {
    conditions("w3");
    const per = [];
    for (let rep = 0; rep < REPS; rep++) {
      const load = loadavg();
      const r = await call("fan", { steps: W3_STEPS, id: `w3-${tag}-${rep}` });
      if (r.out.steps !== W3_STEPS) throw new Error("bad W3 output");
      per.push(r.ms / W3_STEPS);
      emit({ w: "W3", rep, steps: W3_STEPS, wallMs: r1(r.ms), msPerStep: r3(r.ms / W3_STEPS), loadavgBefore: load, loadavgAfter: loadavg() });
    }
    emit({ w: "W3", summary: true, steps: W3_STEPS, msPerStep: r3(median(per)) });
  }
  process.exit(0);
}
main().catch((e) => { console.error(e); process.exit(1); });

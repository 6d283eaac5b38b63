// durin-bench's app on the official Inngest TypeScript SDK (inngest@4.24.0, pinned in package-lock.json),
// served with inngest/node on node:http on loopback. The harness (bench/src/ts.rs) starts it:
//
//   INNGEST_DEV=http://127.0.0.1:<engine port>   the engine, found the SDK's usual way
//   BENCH_APP_PORT=<port>                         serve URL http://127.0.0.1:<port>/api/inngest
//   BENCH_PROBE_URL=http://127.0.0.1:<p>/finished where a run's final call reports to the harness
//
// The functions are those of the Rust app (bench/src/app.rs), with the same ids, triggers and step ids:
// `three` (W1, W1seq), `flaky` (W2) and `fan` (W3). A run's final call (the body after its last step's
// result came back) POSTs {id, runId, sentAtMs[, flaky]} to BENCH_PROBE_URL, without awaiting the answer
// (the Rust app's in-process probe does not delay the response either); the harness takes the time at
// which that POST arrives as the run's finish, and records the one-way delay (arrival − sentAtMs, both
// wall-clock milliseconds on this machine) as what the report itself costs.

import http from "node:http";
import { performance } from "node:perf_hooks";
import { Inngest } from "inngest";
import { serve } from "inngest/node";

const port = Number(process.env.BENCH_APP_PORT);
const probeUrl = process.env.BENCH_PROBE_URL;
if (!process.env.INNGEST_DEV || !port || !probeUrl) {
  console.error("INNGEST_DEV, BENCH_APP_PORT and BENCH_PROBE_URL must be set");
  process.exit(2);
}

const inngest = new Inngest({ id: "durin-bench" });

const nowMs = () => performance.timeOrigin + performance.now();

/** Tells the harness that the run started with harness id `id` reached its final call. */
function report(body) {
  fetch(probeUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...body, sentAtMs: nowMs() }),
  })
    .then((res) => res.arrayBuffer())
    .catch((err) => console.error(`probe report failed: ${err?.message ?? err}`));
}

// W1, W1seq: three sequential steps, each returning a small JSON object.
const three = inngest.createFunction(
  { id: "three", triggers: [{ event: "bench/three" }] },
  async ({ event, step, runId }) => {
    const id = event.data?.id ?? "";
    const a = await step.run("s1", () => ({ step: 1, id }));
    const b = await step.run("s2", () => ({ step: 2, prev: a.step }));
    const c = await step.run("s3", () => ({ step: 3, prev: b.step }));
    report({ id, runId });
    return { id, last: c.step };
  },
);

// W2: like `three`, but step 2 throws on its first two executions (counted per run id in this process).
const flakySeen = new Map();
const flakyEntry = (runId) => {
  let seen = flakySeen.get(runId);
  if (!seen) {
    seen = { executions: 0, succeededAtAttempt: null, step3Ran: false };
    flakySeen.set(runId, seen);
  }
  return seen;
};
const flaky = inngest.createFunction(
  { id: "flaky", retries: 9, triggers: [{ event: "bench/flaky" }] },
  async ({ event, step, runId, attempt }) => {
    const id = event.data?.id ?? "";
    const a = await step.run("s1", () => ({ step: 1, id }));
    const b = await step.run("s2", () => {
      const seen = flakyEntry(runId);
      const n = seen.executions;
      seen.executions += 1;
      if (n < 2) throw new Error(`flaky attempt ${n}`);
      seen.succeededAtAttempt = attempt;
      return { step: 2, attempt, prev: a.step };
    });
    const c = await step.run("s3", () => {
      flakyEntry(runId).step3Ran = true;
      return { step: 3, prev: b.step };
    });
    report({ id, runId, flaky: flakyEntry(runId) });
    return { id, flakyAttempt: b.attempt, last: c.step };
  },
);

// W3: `steps` sequential steps in one run.
const fan = inngest.createFunction(
  { id: "fan", triggers: [{ event: "bench/fan" }] },
  async ({ event, step, runId }) => {
    const id = event.data?.id ?? "";
    const steps = Number(event.data?.steps ?? 0);
    let acc = 0;
    for (let i = 0; i < steps; i++) {
      const r = await step.run(`s${i}`, () => ({ i }));
      acc += r.i;
    }
    report({ id, runId });
    return { steps, acc };
  },
);

const handler = serve({ client: inngest, functions: [three, flaky, fan] });

const server = http.createServer((req, res) => {
  if (req.url === "/health") {
    res.writeHead(200, { "content-type": "text/plain" });
    return res.end("ok");
  }
  if (req.url.startsWith("/api/inngest")) return handler(req, res);
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("not found");
});
server.keepAliveTimeout = 60_000;

await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(port, "127.0.0.1", resolve);
});
console.log(`READY http://127.0.0.1:${port}/api/inngest`);

const stop = () => {
  server.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// Never outlive the harness: exit when the parent process is gone.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop();
}, 1000).unref();

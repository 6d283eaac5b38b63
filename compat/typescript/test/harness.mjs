// Starts the real stack the tests run against, and reads what it reports:
//
//   app process   app/server.mjs: the node:http app, the Express app, the request-timeout app (and the
//                 example-7 app)
//   durin dev     the main engine, --backoff-scale 0.01, syncing the node:http and the Express app;
//                 with --no-checkpointing when COMPAT_MODE=classic
//   durin dev     a second engine with the real default backoff table, syncing the example-7 app
//                 (classic mode only, and skipped when COMPAT_SKIP_SLOW=1)
//   durin dev     a third engine, --backoff-scale 0.01 --request-timeout 2 (and --no-checkpointing in
//                 classic mode), syncing the app whose request outlives that timeout
//
// COMPAT_MODE picks how the TS SDK executes:
//   classic      (default) `durin dev --no-checkpointing` omits `ctx.fn_id`: one step per call request, a
//                run ends with 200
//   checkpoint   `durin dev` (its default) sends `ctx.fn_id` and `ctx.qi_id`: the SDK runs several steps
//                per request, POSTs each finished step to /v1/checkpoint/{runId}/async and ends a run with
//                206 [RunComplete]
// DURIN_EXTRA_ARGS adds flags to the main engine's command line in either mode.
//
// Every process is started in its own process group and the whole group is killed at the end (and on
// exit, as a safety net). Logs go to a temporary directory that is printed when something goes wrong.

import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Inngest } from "inngest";

const here = path.dirname(fileURLToPath(import.meta.url));
export const suiteDir = path.resolve(here, "..");
export const repoDir = path.resolve(suiteDir, "..", "..");
export const durinBin = process.env.DURIN_BIN || path.join(repoDir, "target", "debug", "durin");
export const MODES = ["classic", "checkpoint"];
export const mode = process.env.COMPAT_MODE || "classic";
if (!MODES.includes(mode)) throw new Error(`COMPAT_MODE=${mode}: expected one of ${MODES.join(", ")}`);
export const checkpointMode = mode === "checkpoint";
const extraArgs = (process.env.DURIN_EXTRA_ARGS ?? "").split(/\s+/).filter(Boolean);
if (checkpointMode && extraArgs.includes("--no-checkpointing")) {
  throw new Error(
    "DURIN_EXTRA_ARGS has --no-checkpointing but COMPAT_MODE is checkpoint: set COMPAT_MODE=classic",
  );
}
/** Example 7 (the real default backoff table) runs in classic mode only. */
export const withSlow = !checkpointMode && process.env.COMPAT_SKIP_SLOW !== "1";
export const slowSkipReason = checkpointMode ? "classic mode only" : "COMPAT_SKIP_SLOW=1";

export const BACKOFF_SCALE = 0.01;
export const BACKOFF_TABLE_MS = [
  15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_200_000, 2_400_000, 3_600_000, 7_200_000,
];
export const JITTER_MS = 30_000;
/** The third engine's --request-timeout, in seconds. */
export const REQUEST_TIMEOUT_S = 2;
/**
 * The fourth engine's `--retry-policies` (issue 8): `call-bank` gets 1 retry 200 ms apart, `ledger` an
 * exponential backoff (100, 200, 300 ms: 400 capped) with the function's 4 retries; `policy-rules`,
 * `policy-cool-*` and `policy-pause` get rules per error class, cool-downs and a pause when out of
 * retries. The app sets none of it.
 */
export const POLICIES = {
  policies: [
    {
      function: "compat-ts-policies-policy-charge",
      step: "call-bank",
      retries: 1,
      backoff: { kind: "fixed", interval_ms: 200 },
    },
    {
      function: "compat-ts-policies-policy-charge",
      step: "ledger",
      backoff: { kind: "exponential", initial_interval_ms: 100, backoff_coefficient: 2.0, maximum_interval_ms: 300 },
    },
    // Rules per error class (feature 3): each rule its own counter and backoff; an error no rule matches
    // counts on the entry's retries (0); `never` fails the step at once.
    {
      function: "compat-ts-policies-policy-rules",
      step: "fetch",
      retries: 0,
      backoff: { kind: "fixed", interval_ms: 50 },
      rules: [
        { error: "GatewayTimeout", retries: 3, backoff: { kind: "fixed", interval_ms: 100 } },
        { error: "RateLimited", retries: 1, backoff: { kind: "fixed", interval_ms: 200 } },
        { error: "Error", message_contains: "HTTP 503", retries: 1 },
        { error: "ValidationError", never: true },
      ],
    },
    // Cool-downs (feature 4): a Retry-After spends no retry until the step's cool-downs pass max_total_ms.
    { function: "compat-ts-policies-policy-cool-wide", step: "limited", retries: 0, cool_down: { max_total_ms: 10_000 } },
    { function: "compat-ts-policies-policy-cool-tight", step: "limited", retries: 0, cool_down: { max_total_ms: 1500 } },
    // Pause instead of failing (feature 5).
    {
      function: "compat-ts-policies-policy-pause",
      step: "flaky",
      retries: 1,
      backoff: { kind: "fixed", interval_ms: 50 },
      on_exhausted: "pause",
    },
  ],
};
/** The functions of the policies app (all configured in POLICIES). */
export const POLICY_FUNCTIONS = [
  "policy-charge",
  "policy-rules",
  "policy-cool-wide",
  "policy-cool-tight",
  "policy-pause",
];

/** Every function the node:http app serves (the failure handler included), and the Express app's. */
export const NODE_FUNCTIONS = [
  "click-recorder",
  "sync-systems",
  "user-weekly-digest",
  "send-welcome-notification",
  "retries-zero",
  "body-errors",
  "step-retry-after",
  "sequential",
  "parallel",
  "parallel-race",
  "sleeps",
  "sender",
  "followup-receiver",
  "with-on-failure",
  "with-on-failure-failure",
  "loop",
  "checkpoint-flow",
  "waiter",
  "invoker",
  "invoked-add",
  "invoked-fails",
  "invoked-slow",
  "invoke-fanout",
];
export const EXPRESS_FUNCTIONS = NODE_FUNCTIONS.slice(0, 4);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const groups = new Set();
function killAllGroups() {
  for (const pid of groups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
  }
  groups.clear();
}
// Safety nets: whatever happens to the test process, the engines and the app do not outlive it.
process.on("exit", killAllGroups);
for (const [signal, number] of [
  ["SIGINT", 2],
  ["SIGTERM", 15],
  ["SIGHUP", 1],
]) {
  process.once(signal, () => {
    killAllGroups();
    process.exit(128 + number);
  });
}

// The temporary directory (logs and stores) is removed after a green run and kept otherwise.
const logDirs = new Set();
process.on("exit", (code) => {
  for (const dir of logDirs) {
    if (code === 0 && process.env.COMPAT_KEEP_LOGS !== "1") fs.rmSync(dir, { recursive: true, force: true });
    else process.stderr.write(`durin compat (typescript): logs and stores kept in ${dir}\n`);
  }
});

function startProcess(name, cmd, args, { env, logDir }) {
  const logFile = path.join(logDir, `${name}.log`);
  const fd = fs.openSync(logFile, "a");
  const child = spawn(cmd, args, {
    env: { ...process.env, ...env },
    cwd: suiteDir,
    detached: true, // its own process group, killed as a whole
    stdio: ["ignore", fd, fd],
  });
  fs.closeSync(fd);
  groups.add(child.pid);
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  child.once("error", (err) => fs.appendFileSync(logFile, `\nspawn error: ${err.stack}\n`));
  return { name, child, logFile, exited, pid: child.pid };
}

async function stopProcess(proc) {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) {
    groups.delete(proc?.pid);
    return;
  }
  try {
    process.kill(-proc.pid, "SIGTERM");
  } catch {}
  const done = await Promise.race([proc.exited.then(() => true), sleep(3000).then(() => false)]);
  if (!done) {
    try {
      process.kill(-proc.pid, "SIGKILL");
    } catch {}
    await Promise.race([proc.exited, sleep(2000)]);
  }
  groups.delete(proc.pid);
}

function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function getJson(url, { timeoutMs = 5000 } = {}) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url} -> ${res.status}: ${text}`);
  return JSON.parse(text);
}

export async function until(what, fn, { timeoutMs, intervalMs = 100 }) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ""}`);
    }
    await sleep(intervalMs);
  }
}

/** The REST API of one `durin dev`. */
export class Durin {
  constructor(url) {
    this.url = url;
    this.client = new Inngest({ id: "compat-ts-harness", baseUrl: url, isDev: true });
  }

  async get(p) {
    return (await getJson(`${this.url}${p}`)).data;
  }

  /** Sends one event with the SDK's own client; returns the engine's id of the event. */
  async send(event) {
    const { ids } = await this.client.send(event);
    if (!Array.isArray(ids) || ids.length !== 1) throw new Error(`send answered ids ${JSON.stringify(ids)}`);
    return ids[0];
  }

  /** POSTs to the REST API; answers { status, body } (the body parsed when it is JSON). */
  async post(p, body) {
    const res = await fetch(`${this.url}${p}`, {
      method: "POST",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: res.status, body: parsed };
  }

  async runsFor(eventId) {
    return this.get(`/v1/events/${eventId}/runs`);
  }

  async run(runId) {
    return this.get(`/v1/runs/${runId}`);
  }

  async attempts(runId) {
    return this.get(`/v1/runs/${runId}/attempts`);
  }

  /** The run's pending jobs (a wait's timeout, a due discovery, ...). */
  async jobs(runId) {
    return this.get(`/v1/runs/${runId}/jobs`);
  }

  async event(eventId) {
    return this.get(`/v1/events/${eventId}`);
  }

  /** The stored events named `name` (up to `limit`). */
  async events(name, { limit = 1000 } = {}) {
    return this.get(`/v1/events?name=${encodeURIComponent(name)}&limit=${limit}`);
  }

  /** Waits until the event has started a run of `functionId` (in any state); returns the run. */
  async startedRun(eventId, functionId, { timeoutMs = 30_000 } = {}) {
    return until(
      `a ${functionId} run of event ${eventId}`,
      async () => (await this.runsFor(eventId)).find((r) => r.function_id === functionId),
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** Waits until the event has started a run of `functionId` and that run has ended; returns the run. */
  async finishedRun(eventId, functionId, { timeoutMs = 30_000 } = {}) {
    return until(
      `the ${functionId} run of event ${eventId} to end`,
      async () => {
        const runs = await this.runsFor(eventId);
        const run = runs.find((r) => r.function_id === functionId);
        return run && run.status !== "Running" ? run : null;
      },
      { timeoutMs, intervalMs: 150 },
    );
  }

  async waitRunEnded(runId, { timeoutMs = 30_000 } = {}) {
    return until(
      `run ${runId} to end`,
      async () => {
        const run = await this.run(runId);
        return run.status !== "Running" ? run : null;
      },
      { timeoutMs, intervalMs: 150 },
    );
  }

  /** Waits until every app is synced without error with exactly the listed functions. */
  async waitForApps(expected, { timeoutMs = 30_000 } = {}) {
    await until(
      `apps ${Object.keys(expected).join(", ")} on ${this.url}`,
      async () => {
        const apps = await this.get("/v1/apps");
        const fns = await this.get("/v1/functions");
        for (const [name, slugs] of Object.entries(expected)) {
          const app = apps.find((a) => a.name === name);
          if (!app || app.error || app.function_count !== slugs.length) return false;
          for (const slug of slugs) {
            if (!fns.some((f) => f.id === `${name}-${slug}`)) return false;
          }
        }
        return true;
      },
      { timeoutMs, intervalMs: 200 },
    );
  }
}

/** What the app observed, read from its control endpoints. */
export class AppProbe {
  constructor(baseUrl) {
    this.baseUrl = baseUrl;
  }
  async records(token) {
    return getJson(`${this.baseUrl}/_compat/records?token=${encodeURIComponent(token)}`);
  }
  async wire(runId) {
    return getJson(`${this.baseUrl}/_compat/wire?runId=${encodeURIComponent(runId)}`);
  }
  /** The SDK's `POST /v1/checkpoint/{runId}/async` requests for the run, with the engine's status. */
  async checkpoints(runId) {
    return getJson(`${this.baseUrl}/_compat/checkpoints?runId=${encodeURIComponent(runId)}`);
  }
  /** Waits until `pred(records)` holds for the token's records, and returns them. */
  async recordsWhen(token, pred, what, { timeoutMs = 30_000 } = {}) {
    return until(
      what ?? `records of ${token}`,
      async () => {
        const r = await this.records(token);
        return pred(r) ? r : null;
      },
      { timeoutMs, intervalMs: 150 },
    );
  }
}

export async function startStack() {
  if (!fs.existsSync(durinBin)) {
    throw new Error(`no durin binary at ${durinBin}: build it with \`cargo build -p durin\` or set DURIN_BIN`);
  }
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), `durin-compat-ts-${mode}-`));
  logDirs.add(logDir);
  const [durinPort, slowPort, timeoutPort, policiesPort, nodePort, expressPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const policiesUrl = `http://127.0.0.1:${policiesPort}`;
  const durinUrl = `http://127.0.0.1:${durinPort}`;
  const slowUrl = `http://127.0.0.1:${slowPort}`;
  const timeoutUrl = `http://127.0.0.1:${timeoutPort}`;
  const procs = [];
  const stack = {
    logDir,
    durin: new Durin(durinUrl),
    slow: withSlow ? new Durin(slowUrl) : null,
    timeout: new Durin(timeoutUrl),
    policies: new Durin(policiesUrl),
    app: new AppProbe(`http://127.0.0.1:${nodePort}`),
    urls: {
      node: `http://127.0.0.1:${nodePort}/api/inngest`,
      express: `http://127.0.0.1:${expressPort}/api/inngest`,
      slow: `http://127.0.0.1:${nodePort}/slow/inngest`,
      timeout: `http://127.0.0.1:${nodePort}/timeout/inngest`,
      policies: `http://127.0.0.1:${nodePort}/policies/inngest`,
    },
    async stop() {
      // Engines first (they call the app), then the app.
      await Promise.all(procs.filter((p) => p.name.startsWith("durin")).map(stopProcess));
      await Promise.all(procs.filter((p) => !p.name.startsWith("durin")).map(stopProcess));
    },
    logs() {
      return procs.map((p) => `--- ${p.logFile} (last lines)\n${tail(p.logFile)}`).join("\n");
    },
  };

  try {
    // The app first: `durin dev -u` syncs once at start (--no-poll).
    const app = startProcess("app", process.execPath, [path.join(suiteDir, "app", "server.mjs")], {
      logDir,
      env: {
        INNGEST_DEV: durinUrl,
        NODE_PORT: String(nodePort),
        EXPRESS_PORT: String(expressPort),
        DURIN_TIMEOUT_URL: timeoutUrl,
        DURIN_POLICIES_URL: policiesUrl,
        ...(withSlow ? { DURIN_SLOW_URL: slowUrl } : {}),
      },
    });
    procs.push(app);
    await until("the app to listen", () => fs.readFileSync(app.logFile, "utf8").includes("READY"), {
      timeoutMs: 20_000,
    });

    const durinArgs = (port, dataDir, urls, extra) => [
      "dev",
      "--port",
      String(port),
      "--data-dir",
      dataDir,
      "--no-discovery",
      "--no-poll",
      ...urls.flatMap((u) => ["-u", u]),
      ...extra,
    ];
    procs.push(
      startProcess(
        "durin",
        durinBin,
        durinArgs(durinPort, path.join(logDir, "data-main"), [stack.urls.node, stack.urls.express], [
          "--backoff-scale",
          String(BACKOFF_SCALE),
          ...(!checkpointMode && !extraArgs.includes("--no-checkpointing") ? ["--no-checkpointing"] : []),
          ...extraArgs,
        ]),
        { logDir, env: { RUST_LOG: process.env.RUST_LOG ?? "info" } },
      ),
    );
    procs.push(
      startProcess(
        "durin-timeout",
        durinBin,
        durinArgs(timeoutPort, path.join(logDir, "data-timeout"), [stack.urls.timeout], [
          "--backoff-scale",
          String(BACKOFF_SCALE),
          "--request-timeout",
          String(REQUEST_TIMEOUT_S),
          ...(checkpointMode ? [] : ["--no-checkpointing"]),
        ]),
        { logDir, env: { RUST_LOG: process.env.RUST_LOG ?? "info" } },
      ),
    );
    const policyFile = path.join(logDir, "policies.json");
    fs.writeFileSync(policyFile, JSON.stringify(POLICIES));
    procs.push(
      startProcess(
        "durin-policies",
        durinBin,
        durinArgs(policiesPort, path.join(logDir, "data-policies"), [stack.urls.policies], [
          "--retry-policies",
          policyFile,
          ...(checkpointMode ? [] : ["--no-checkpointing"]),
        ]),
        { logDir, env: { RUST_LOG: process.env.RUST_LOG ?? "info" } },
      ),
    );
    if (withSlow) {
      procs.push(
        startProcess("durin-slow", durinBin, durinArgs(slowPort, path.join(logDir, "data-slow"), [stack.urls.slow], ["--no-checkpointing"]), {
          logDir,
          env: { RUST_LOG: process.env.RUST_LOG ?? "info" },
        }),
      );
    }

    await stack.durin.waitForApps({
      "compat-ts-node": NODE_FUNCTIONS,
      "compat-ts-express": EXPRESS_FUNCTIONS,
    });
    await stack.timeout.waitForApps({ "compat-ts-timeout": ["stalled-request"] });
    await stack.policies.waitForApps({ "compat-ts-policies": POLICY_FUNCTIONS });
    if (withSlow) await stack.slow.waitForApps({ "compat-ts-slow": ["default-schedule"] });
  } catch (err) {
    const logs = stack.logs();
    await stack.stop();
    err.message = `${err.message}\nlogs in ${logDir}\n${logs}`;
    throw err;
  }
  return stack;
}

// ---- assertions on time ----------------------------------------------------------------------------

/** The window in which a retry after failed attempt `n` is due under --backoff-scale (R4), in ms. */
export function backoffWindow(n, scale = BACKOFF_SCALE) {
  const base = BACKOFF_TABLE_MS[Math.min(n, BACKOFF_TABLE_MS.length - 1)];
  return [base * scale, (base + JITTER_MS) * scale];
}

// Starts the real processes the browser test drives, each in its own process group, and kills every one of
// them at the end (and on exit, as a safety net):
//
//   retries-doc-app   the example app (examples/src/main.rs) on a free loopback port, pointed at its engine
//   durin dev         on a free port with a temporary --data-dir, --no-discovery --no-poll -u <app url>
//
// Logs go to a temporary directory, printed when something goes wrong and removed after a green run.

import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const suiteDir = path.resolve(here, "..");
export const repoDir = path.resolve(suiteDir, "..", "..");
export const durinBin = process.env.DURIN_BIN || path.join(repoDir, "target", "debug", "durin");
export const appBin = process.env.RETRIES_APP_BIN || path.join(repoDir, "target", "debug", "retries-doc-app");
export const artifactsDir = process.env.DURIN_BROWSER_ARTIFACTS || path.join(repoDir, "artifacts", "browser");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function freePort() {
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

export const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "durin-browser-"));
process.on("exit", (code) => {
  if (code === 0 && process.env.DURIN_BROWSER_KEEP_LOGS !== "1") fs.rmSync(logDir, { recursive: true, force: true });
  else process.stderr.write(`durin browser test: logs and stores kept in ${logDir}\n`);
});

function startProcess(name, cmd, args, env = {}) {
  const logFile = path.join(logDir, `${name}.log`);
  const fd = fs.openSync(logFile, "a");
  const child = spawn(cmd, args, {
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || "info", NO_COLOR: "1", ...env },
    cwd: logDir,
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
  if (!proc) return;
  if (proc.child.exitCode === null && proc.child.signalCode === null) {
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
  }
  groups.delete(proc.pid);
}

export function tail(file, lines = 30) {
  try {
    return fs.readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

export async function until(what, fn, { timeoutMs = 20_000, intervalMs = 100 } = {}) {
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

/** One engine and one example app synced with it; `retryPolicies` (an object) is given as --retry-policies. */
export class Stack {
  constructor(name, { backoffScale = null, retryPolicies = null } = {}) {
    this.name = name;
    this.backoffScale = backoffScale;
    this.retryPolicies = retryPolicies;
    this.procs = [];
  }

  async start() {
    for (const bin of [durinBin, appBin]) {
      if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: build it with cargo build -p durin -p durin-examples`);
    }
    const [enginePort, appPort] = [await freePort(), await freePort()];
    this.url = `http://127.0.0.1:${enginePort}`;
    this.appUrl = `http://127.0.0.1:${appPort}/api/inngest`;

    // The app first, so that the engine's sync at start (a PUT to the app) finds it listening.
    this.app = startProcess(`${this.name}-app`, appBin, [], {
      PORT: String(appPort),
      INNGEST_DEV: this.url,
      DURIN_URL: this.url,
      INNGEST_BASE_URL: "",
    });
    this.procs.push(this.app);
    await until(`${this.name}: the app to listen on ${appPort}`, async () => (await fetch(this.appUrl)).status < 500, {
      timeoutMs: 15_000,
    });

    const dataDir = path.join(logDir, `${this.name}-store`);
    const args = ["dev", "--port", String(enginePort), "--data-dir", dataDir, "--no-discovery", "--no-poll", "-u", this.appUrl];
    if (this.backoffScale !== null) args.push("--backoff-scale", String(this.backoffScale));
    if (this.retryPolicies !== null) {
      const file = path.join(logDir, `${this.name}-policies.json`);
      fs.writeFileSync(file, JSON.stringify(this.retryPolicies));
      args.push("--retry-policies", file);
    }
    this.engine = startProcess(`${this.name}-durin`, durinBin, args);
    this.procs.push(this.engine);
    await until(`${this.name}: durin dev to answer /health`, async () => (await fetch(`${this.url}/health`)).ok, {
      timeoutMs: 20_000,
    });
    this.functions = await until(
      `${this.name}: the app's four functions to be synced`,
      async () => {
        const fns = await this.get("/v1/functions");
        return fns.length >= 4 ? fns : null;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    return this;
  }

  /** The id of the function whose id ends with `slug` (the engine prefixes the app id). */
  fn(slug) {
    const fn = this.functions.find((f) => f.id === slug || f.id.endsWith(`-${slug}`));
    if (!fn) throw new Error(`${this.name}: no function ${slug} among ${this.functions.map((f) => f.id).join(", ")}`);
    return fn.id;
  }

  async get(p) {
    const res = await fetch(`${this.url}${p}`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    if (!res.ok) throw new Error(`GET ${p} -> ${res.status}: ${text}`);
    return JSON.parse(text).data;
  }

  /** The run `runId` once `ok(run)` holds. */
  async runWhen(runId, what, ok, timeoutMs = 20_000) {
    return until(`run ${runId} ${what}`, async () => {
      const run = await this.get(`/v1/runs/${runId}`);
      return ok(run) ? run : null;
    }, { timeoutMs });
  }

  /** Sends one event; returns the engine's id of it. */
  async send(name, data = {}) {
    const res = await fetch(`${this.url}/e/browser-test`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name, data }),
    });
    const body = await res.json();
    if (!res.ok || !Array.isArray(body.ids) || body.ids.length !== 1) throw new Error(`send ${name}: ${res.status} ${JSON.stringify(body)}`);
    return body.ids[0];
  }

  /** The one run the event started. */
  async runOf(eventId) {
    return until(`the run of event ${eventId}`, async () => {
      const runs = await this.get(`/v1/events/${eventId}/runs`);
      return runs.length === 1 ? runs[0] : null;
    });
  }

  logs() {
    return this.procs.map((p) => `--- ${p.name} (${p.logFile})\n${tail(p.logFile)}`).join("\n");
  }

  async stop() {
    for (const proc of this.procs.reverse()) await stopProcess(proc);
    this.procs = [];
  }
}

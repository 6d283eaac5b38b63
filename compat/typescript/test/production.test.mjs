// Production mode: the official TypeScript SDK (inngest@4.24.0) with isDev false against a real `durin
// serve` that has a signing key, a fallback key and an event key. It shows that:
//   - the SDK accepts the requests Durin signs (X-Inngest-Signature over the canonical body), registers and
//     checkpoints with its bearer token, sends events with its event key, and a run completes;
//   - an app mid-rotation (old key as its signing key, the new one as its fallback) works too;
//   - the SDK refuses a forged, unsigned, stale or tampered call request with 401, and accepts one signed
//     the way Durin signs (computed here independently with node:crypto);
//   - Durin refuses events with a wrong event key and API calls without the bearer token.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, createHmac, randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { Inngest } from "inngest";

const here = path.dirname(fileURLToPath(import.meta.url));
const suiteDir = path.resolve(here, "..");
const durinBin = process.env.DURIN_BIN || path.resolve(suiteDir, "..", "..", "target", "debug", "durin");

const SIGNING_KEY = `signkey-test-${randomBytes(32).toString("hex")}`;
const OLD_KEY = `signkey-test-${randomBytes(32).toString("hex")}`;
const EVENT_KEY = `ev-${randomBytes(16).toString("hex")}`;
const secret = (key) => key.replace(/^signkey-\w+-/, "");
/** The bearer token the SDKs send: the key's prefix and the SHA-256 of its hex-decoded secret. */
const bearer = (key) =>
  `${key.match(/^signkey-\w+-/)[0]}${createHash("sha256").update(Buffer.from(secret(key), "hex")).digest("hex")}`;
/** JSON with sorted keys and no whitespace (RFC 8785 for the plain values used here). */
const canonical = (v) =>
  Array.isArray(v)
    ? `[${v.map(canonical).join(",")}]`
    : v && typeof v === "object"
      ? `{${Object.keys(v)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
          .join(",")}}`
      : JSON.stringify(v);
const sign = (key, body, t) => `t=${t}&s=${createHmac("sha256", secret(key)).update(body + t).digest("hex")}`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const groups = new Set();
process.on("exit", () => {
  for (const pid of groups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
  }
});

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "durin-compat-ts-prod-"));
const procs = [];
function start(name, cmd, args, env) {
  const logFile = path.join(logDir, `${name}.log`);
  const fd = fs.openSync(logFile, "a");
  const clean = { ...process.env };
  for (const k of Object.keys(clean)) if (k.startsWith("INNGEST_")) delete clean[k];
  const child = spawn(cmd, args, { env: { ...clean, ...env }, cwd: suiteDir, detached: true, stdio: ["ignore", fd, fd] });
  fs.closeSync(fd);
  groups.add(child.pid);
  const proc = { name, child, logFile, log: () => fs.readFileSync(logFile, "utf8") };
  procs.push(proc);
  return proc;
}

async function until(what, fn, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}\nlogs in ${logDir}`);
    await sleep(100);
  }
}

let durinUrl;
let appUrl;
let rotatingUrl;
let durin;

/** GET a Durin API path with (or without) the bearer token. */
async function api(p, token = bearer(SIGNING_KEY)) {
  const res = await fetch(`${durinUrl}${p}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const body = await res.json().catch(() => null);
  return { status: res.status, body };
}

async function runsOf(eventId, count) {
  return until(`${count} finished run(s) of event ${eventId}`, async () => {
    const { status, body } = await api(`/v1/events/${eventId}/runs`);
    assert.equal(status, 200);
    const runs = body.data;
    return runs.length === count && runs.every((r) => r.status !== "Running") && runs;
  });
}

describe("TypeScript SDK in production mode against durin serve", () => {
  before(async () => {
    const [durinPort, appPort, rotatingPort] = await Promise.all([freePort(), freePort(), freePort()]);
    durinUrl = `http://127.0.0.1:${durinPort}`;
    appUrl = `http://127.0.0.1:${appPort}/api/inngest`;
    rotatingUrl = `http://127.0.0.1:${rotatingPort}/api/inngest`;
    const appEnv = (port, id, key, fallback) => ({
      PORT: String(port),
      COMPAT_APP_ID: id,
      INNGEST_DEV: "0",
      INNGEST_BASE_URL: durinUrl,
      INNGEST_SIGNING_KEY: key,
      ...(fallback ? { INNGEST_SIGNING_KEY_FALLBACK: fallback } : {}),
      INNGEST_EVENT_KEY: EVENT_KEY,
    });
    start("app", process.execPath, ["app/production.mjs"], appEnv(appPort, "compat-ts-prod", SIGNING_KEY));
    // Mid-rotation: still authenticating with the old key, already accepting the new one.
    start(
      "rotating-app",
      process.execPath,
      ["app/production.mjs"],
      appEnv(rotatingPort, "compat-ts-prod-rotating", OLD_KEY, SIGNING_KEY),
    );
    durin = start(
      "durin",
      durinBin,
      ["serve", "--port", String(durinPort), "--data-dir", path.join(logDir, "store"), "--backoff-scale", "0.01",
       "--poll-interval", "1", "-u", appUrl, "-u", rotatingUrl],
      {
        INNGEST_SIGNING_KEY: SIGNING_KEY,
        INNGEST_SIGNING_KEY_FALLBACK: OLD_KEY,
        INNGEST_EVENT_KEY: EVENT_KEY,
        DURIN_LOG: "info",
      },
    );
    await until("both apps synced", async () => {
      const { body } = await api("/v1/apps");
      const apps = body?.data ?? [];
      return [appUrl, rotatingUrl].every((u) => apps.some((a) => a.url === u && a.function_count === 2));
    });
  });

  after(() => {
    for (const p of procs) {
      try {
        process.kill(-p.child.pid, "SIGKILL");
      } catch {}
      groups.delete(p.child.pid);
    }
  });

  it("runs a function on signed requests, in both apps (one mid-rotation)", async () => {
    const client = new Inngest({ id: "compat-ts-prod-sender", isDev: false, eventKey: EVENT_KEY, baseUrl: durinUrl });
    const { ids } = await client.send({ name: "prod/two-steps", data: { from: "test" } });
    const runs = await runsOf(ids[0], 2);
    for (const run of runs) {
      assert.equal(run.status, "Completed", JSON.stringify(run));
      assert.deepEqual(run.output, { sum: 3, from: "test" });
    }
  });

  it("step.sendEvent reaches Durin with the app's event key", async () => {
    const client = new Inngest({ id: "compat-ts-prod-sender", isDev: false, eventKey: EVENT_KEY, baseUrl: durinUrl });
    const { ids } = await client.send({ name: "prod/relay", data: {} });
    const runs = await runsOf(ids[0], 2);
    assert.ok(runs.every((r) => r.status === "Completed"), JSON.stringify(runs));
    await until("the relayed event's runs", async () => {
      const { body } = await api("/v1/events?name=prod/two-steps");
      const relayed = body.data.filter((e) => e.data?.from === "relay");
      return relayed.length === 2;
    });
  });

  it("Durin refuses a wrong event key and API calls without the token", async () => {
    const wrong = new Inngest({ id: "compat-ts-prod-sender", isDev: false, eventKey: "not-the-key", baseUrl: durinUrl });
    await assert.rejects(wrong.send({ name: "prod/two-steps", data: {} }), /401|event key/i);
    assert.equal((await api("/v1/runs", null)).status, 401);
    assert.equal((await api("/v1/runs", bearer(`signkey-test-${randomBytes(32).toString("hex")}`))).status, 401);
    assert.equal((await api("/v1/runs")).status, 200);
  });

  it("the SDK refuses forged, unsigned, stale and tampered call requests", async () => {
    const url = `${appUrl}?fnId=compat-ts-prod-two-steps&stepId=step`;
    const call = {
      ctx: { attempt: 0, disable_immediate_execution: false, run_id: "01J00000000000000000000000", stack: { current: 0, stack: [] }, step_id: "step", use_api: false },
      event: { data: { from: "forged" }, name: "prod/two-steps", user: {} },
      events: [{ data: { from: "forged" }, name: "prod/two-steps", user: {} }],
      steps: {},
      version: -1,
    };
    const body = canonical(call);
    const now = Math.floor(Date.now() / 1000);
    const post = (headers, b = body) =>
      fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: b });
    const cases = [
      ["unsigned", {}],
      ["another key", { "x-inngest-signature": sign(`signkey-test-${randomBytes(32).toString("hex")}`, body, now) }],
      ["ten minutes old", { "x-inngest-signature": sign(SIGNING_KEY, body, now - 600) }],
      ["malformed", { "x-inngest-signature": "t=1&s=nothex" }],
    ];
    for (const [what, headers] of cases) {
      const res = await post(headers);
      assert.equal(res.status, 401, what);
    }
    const tampered = canonical({ ...call, event: { ...call.event, data: { from: "tampered" } } });
    assert.equal((await post({ "x-inngest-signature": sign(SIGNING_KEY, body, now) }, tampered)).status, 401, "tampered");
    const res = await post({ "x-inngest-signature": sign(SIGNING_KEY, body, now) });
    assert.ok([200, 206].includes(res.status), `a request signed like Durin signs runs the function: ${res.status}`);
  });

  it("no secret shows in Durin's log", () => {
    const log = durin.log();
    for (const s of [secret(SIGNING_KEY), secret(OLD_KEY), EVENT_KEY, secret(bearer(SIGNING_KEY))]) {
      assert.ok(!log.includes(s), "a secret shows in the log");
    }
  });
});

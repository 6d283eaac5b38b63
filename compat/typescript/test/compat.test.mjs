// Compatibility suite: the official Inngest TypeScript SDK (npm inngest@4.24.0), served with inngest/node on
// node:http and with inngest/express, against a real `durin dev`. Every test sends events with the SDK's
// client, then checks what the app observed (attempt numbers, times, the SDK's HTTP answers) and what Durin
// reports (/v1/events/{id}/runs, /v1/runs/{id}, /v1/runs/{id}/attempts).
//
// Contract: ../../../shared/spec/retries.md (R1-R12 and its seven worked examples);
// wire behaviour: ../../../shared/spec/inngest-protocol.md (sections 0.1, 1.6, 2a-2f).

import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { backoffWindow, startStack, withSlow } from "./harness.mjs";

const SDK_HEADER = "inngest-js:v4.24.0";
/** Slack for app-observed gaps (scheduling, HTTP, two processes on a shared 2-core machine). */
const TOLERANCE_MS = 400;
const ADAPTERS = { node: "inngest/node on node:http", express: "inngest/express" };

let stack;

const newToken = (name) => `${name}-${randomUUID()}`;
const sha1 = (s) => createHash("sha1").update(s).digest("hex");
const fnId = (app, slug) => `compat-ts-${app}-${slug}`;
const at = (records, point) => records.filter((r) => r.point === point);
const attemptNumbers = (records, point) => at(records, point).map((r) => r.attempt);
const stepAttempts = (attempts, stepName) => attempts.filter((a) => a.step_name === stepName);
const gaps = (times) => times.slice(1).map((t, i) => t - times[i]);

/** App-observed gaps between consecutive attempts follow R4 under --backoff-scale 0.01. */
function assertScaledBackoff(records, label) {
  gaps(records.map((r) => r.t)).forEach((gap, n) => {
    const [lo, hi] = backoffWindow(n);
    assert.ok(
      gap >= lo && gap <= hi + TOLERANCE_MS,
      `${label}: the gap after failed attempt ${n} was ${gap} ms, expected [${lo}, ${hi + TOLERANCE_MS}] ms`,
    );
  });
}

/** Durin's own schedule for every failed attempt of one job: next_attempt_at - ended_at inside R4's window. */
function assertDurinBackoff(jobAttempts, label) {
  for (const a of jobAttempts.filter((a) => a.next_attempt_at_ms != null)) {
    const [lo, hi] = backoffWindow(a.attempt);
    const delay = a.next_attempt_at_ms - a.ended_at_ms;
    assert.ok(
      delay >= lo - 1 && delay <= hi + 1,
      `${label}: Durin scheduled attempt ${a.attempt + 1} ${delay} ms after attempt ${a.attempt}, expected [${lo}, ${hi}] ms`,
    );
  }
}

function assertSdkAnswered(wire) {
  assert.ok(wire.length > 0, "the app answered no call request for this run");
  for (const w of wire) assert.equal(w.sdk, SDK_HEADER, `x-inngest-sdk on a ${w.status} answer`);
}

/** The last attempt of a run: a discovery answered with the SDK's 400 + x-inngest-no-retry: true. */
function assertFailedBySdk400(wire, attempts) {
  const last = wire.at(-1);
  assert.equal(last.status, 400, `the SDK's last answer: ${JSON.stringify(last)}`);
  assert.equal(last.noRetry, "true");
  const lastAttempt = attempts.at(-1);
  assert.equal(lastAttempt.outcome, "non_retriable", `Durin's last attempt: ${JSON.stringify(lastAttempt)}`);
  assert.equal(lastAttempt.next_attempt_at_ms, null);
}

/** Sends one event and gathers, once the function's run has ended, everything both sides report. */
async function runOnce({ name, data, app = "node", slug, durin = stack.durin, timeoutMs = 30_000 }) {
  const token = newToken(slug);
  const eventId = await durin.send({ name, data: { token, ...data } });
  return observe({ token, eventId, app, slug, durin, timeoutMs });
}

async function observe({ token, eventId, app, slug, durin = stack.durin, timeoutMs = 30_000 }) {
  const run = await durin.finishedRun(eventId, fnId(app, slug), { timeoutMs });
  const [attempts, records, wire] = await Promise.all([
    durin.attempts(run.run_id),
    stack.app.records(token),
    stack.app.wire(run.run_id),
  ]);
  return { token, eventId, run, attempts, records: records.filter((r) => r.app === app), wire };
}

/**
 * A documentation function: one event starts a run in the node:http app and one in the Express app (they
 * register the same trigger); each adapter is checked by its own test.
 */
function docCase(title, { name, slug, data = {}, timeoutMs = 30_000 }, check) {
  describe(title, { concurrency: true }, () => {
    let sent;
    const send = () =>
      (sent ??= (async () => {
        const token = newToken(slug);
        const eventId = await stack.durin.send({ name, data: { token, ...data } });
        return { token, eventId };
      })());
    for (const app of ["node", "express"]) {
      it(ADAPTERS[app], { timeout: timeoutMs + 5000 }, async () => {
        const { token, eventId } = await send();
        const obs = await observe({ token, eventId, app, slug, timeoutMs });
        const runs = await stack.durin.runsFor(eventId);
        assert.deepEqual(
          runs.map((r) => r.function_id).sort(),
          [fnId("express", slug), fnId("node", slug)],
          "one event starts one run in each app",
        );
        assertSdkAnswered(obs.wire);
        await check({ app, ...obs });
      });
    }
  });
}

describe("inngest@4.24.0 (TypeScript SDK) against durin dev", { concurrency: true }, () => {
  before(async () => {
    stack = await startStack();
  }, { timeout: 60_000 });

  after(async () => {
    await stack?.stop();
  });

  // ---- sync --------------------------------------------------------------------------------------------

  it("syncs both apps with every function and its retry policy", async () => {
    const apps = await stack.durin.get("/v1/apps");
    const node = apps.find((a) => a.name === "compat-ts-node");
    const express = apps.find((a) => a.name === "compat-ts-express");
    assert.equal(node.framework, "nodejs");
    assert.equal(express.framework, "express");
    for (const app of [node, express]) {
      assert.equal(app.sdk, "js:v4.24.0");
      assert.equal(app.error, null);
    }
    assert.equal(node.url, stack.urls.node);
    assert.equal(express.url, stack.urls.express);

    const fns = Object.fromEntries((await stack.durin.get("/v1/functions")).map((f) => [f.id, f]));
    for (const app of ["node", "express"]) {
      const click = fns[fnId(app, "click-recorder")];
      assert.deepEqual(click.triggers, [{ event: "app/button.clicked" }]);
      assert.equal(click.retries, 4, "no retries in the config: the default 4 (R1)");
      assert.equal(click.max_attempts, 5);
      assert.deepEqual(fns[fnId(app, "sync-systems")].triggers, [{ event: "auto/sync.request" }]);
      assert.deepEqual(fns[fnId(app, "user-weekly-digest")].triggers, [
        { event: "user/weekly.digest.requested" },
      ]);
      assert.deepEqual(fns[fnId(app, "send-welcome-notification")].triggers, [{ event: "app/user.created" }]);
    }
    assert.equal(fns[fnId("node", "retries-zero")].retries, 0);
    assert.equal(fns[fnId("node", "retries-zero")].max_attempts, 1);
    assert.equal(fns[fnId("node", "body-errors")].max_attempts, 2);
    const failure = fns[fnId("node", "with-on-failure-failure")];
    assert.equal(failure.name, "with-on-failure (failure)");
    assert.deepEqual(failure.triggers, [
      {
        event: "inngest/function.failed",
        expression: "event.data.function_id == 'compat-ts-node-with-on-failure'",
      },
    ]);
    assert.equal(failure.retries, 1, "the TS SDK registers its failure handler with retries.attempts = 1");
  });

  // ---- the four documentation functions, retries.md worked examples 1-5 --------------------------------

  docCase(
    "retries.md example 1: click-recorder fails twice, then succeeds on attempt 2",
    { name: "app/button.clicked", slug: "click-recorder", data: { button: "signup", failTimes: 2 } },
    ({ run, attempts, records, wire }) => {
      assert.deepEqual(attemptNumbers(records, "body"), [0, 1, 2]);
      assertScaledBackoff(at(records, "body"), "click-recorder");
      assert.equal(run.status, "Completed");
      assert.deepEqual(run.output, { inserted: "signup", attempt: 2 });
      assert.deepEqual(
        attempts.map((a) => [a.attempt, a.outcome]),
        [
          [0, "error"],
          [1, "error"],
          [2, "ok"],
        ],
      );
      assert.equal(attempts[0].error.message, "db.clicks.insertOne failed (attempt 0)");
      assertDurinBackoff(attempts, "click-recorder");
      // A retriable body error is a 500 with x-inngest-no-retry: false; success a 200.
      assert.deepEqual(
        wire.map((w) => [w.status, w.noRetry]),
        [
          [500, "false"],
          [500, "false"],
          [200, null],
        ],
      );
    },
  );

  docCase(
    "retries.md example 2: sync-systems, get-data fails once and save-data four times, each step its own counter",
    { name: "auto/sync.request", slug: "sync-systems", data: { getDataFails: 1, saveDataFails: 4 } },
    ({ run, attempts, records }) => {
      assert.deepEqual(attemptNumbers(records, "get-data"), [0, 1]);
      assert.deepEqual(attemptNumbers(records, "save-data"), [0, 1, 2, 3, 4]);
      // save-data starts at attempt 0 and its delays start at the table's first entry: not shared with get-data.
      assertScaledBackoff(at(records, "get-data"), "get-data");
      assertScaledBackoff(at(records, "save-data"), "save-data");
      assert.equal(run.status, "Completed");
      assert.deepEqual(run.output, { saved: { inserted: 3 } });
      assert.deepEqual(
        stepAttempts(attempts, "get-data").map((a) => [a.attempt, a.outcome]),
        [
          [0, "error"],
          [1, "ok"],
        ],
      );
      assert.deepEqual(
        stepAttempts(attempts, "save-data").map((a) => [a.attempt, a.outcome]),
        [
          [0, "error"],
          [1, "error"],
          [2, "error"],
          [3, "error"],
          [4, "ok"],
        ],
      );
      assertDurinBackoff(stepAttempts(attempts, "save-data"), "save-data");
      assert.equal(stepAttempts(attempts, "get-data")[0].step_id, sha1("get-data"));
      assert.equal(stepAttempts(attempts, "save-data")[0].step_id, sha1("save-data"));
    },
  );

  docCase(
    "retries.md example 3: save-data fails 5 times, fails for good; get-data is not run again; uncaught step error is the SDK's 400",
    { name: "auto/sync.request", slug: "sync-systems", data: { getDataFails: 0, saveDataFails: 5 } },
    ({ run, attempts, records, wire }) => {
      assert.deepEqual(attemptNumbers(records, "get-data"), [0], "get-data ran once and was memoized");
      assert.deepEqual(attemptNumbers(records, "save-data"), [0, 1, 2, 3, 4]);
      assert.equal(run.status, "Failed");
      assert.equal(run.output.name, "Error");
      assert.equal(run.output.message, "db.syncs.insertOne failed (attempt 4)");
      assert.equal(stepAttempts(attempts, "get-data").length, 1);
      const save = stepAttempts(attempts, "save-data");
      assert.deepEqual(
        save.map((a) => a.attempt),
        [0, 1, 2, 3, 4],
      );
      assert.equal(save.at(-1).next_attempt_at_ms, null, "no 6th attempt of save-data");
      assertDurinBackoff(save, "save-data");
      // On the last attempt the SDK itself reports StepFailed with x-inngest-no-retry: true ...
      const stepAnswers = wire.filter((w) => w.ops?.some((o) => o.name === "save-data"));
      assert.deepEqual(
        stepAnswers.map((w) => [w.status, w.noRetry, w.ops[0].op]),
        [
          [206, "false", "StepError"],
          [206, "false", "StepError"],
          [206, "false", "StepError"],
          [206, "false", "StepError"],
          [206, "true", "StepFailed"],
        ],
      );
      // ... and the next discovery, where the memoized error is thrown uncaught, is 400 + no-retry.
      assertFailedBySdk400(wire, attempts);
      assert.equal(wire.at(-1).body.message, "db.syncs.insertOne failed (attempt 4)");
      assert.equal(attempts.length, 7, "1 get-data + 5 save-data + 1 final discovery");
    },
  );

  docCase(
    "retries.md example 4: user-weekly-digest catches UserNotFoundError after 5 attempts and throws NonRetriableError",
    { name: "user/weekly.digest.requested", slug: "user-weekly-digest", data: { userId: "u-404" } },
    ({ run, attempts, records, wire }) => {
      assert.deepEqual(attemptNumbers(records, "get-user-email"), [0, 1, 2, 3, 4]);
      assertScaledBackoff(at(records, "get-user-email"), "get-user-email");
      const caught = at(records, "catch");
      assert.equal(caught.length, 1);
      assert.equal(caught[0].errorName, "UserNotFoundError", "the step error keeps the thrown error's name");
      assert.equal(caught[0].errorMessage, "no user u-404");
      assert.deepEqual(at(records, "send-digest"), [], "send-digest never runs");
      assert.equal(run.status, "Failed");
      assert.equal(run.output.name, "NonRetriableError");
      assert.equal(run.output.message, "User no longer exists; stopping");
      const steps = stepAttempts(attempts, "get-user-email");
      assert.deepEqual(
        steps.map((a) => [a.attempt, a.outcome]),
        [
          [0, "error"],
          [1, "error"],
          [2, "error"],
          [3, "error"],
          [4, "error"],
        ],
      );
      assert.equal(steps[0].error.name, "UserNotFoundError");
      assert.deepEqual(stepAttempts(attempts, "send-digest"), []);
      assertFailedBySdk400(wire, attempts);
      assert.equal(attempts.length, 6);
    },
  );

  docCase(
    "user-weekly-digest when the user exists: both steps run once, the body returns nothing",
    {
      name: "user/weekly.digest.requested",
      slug: "user-weekly-digest",
      data: { userId: "u-1", userExists: true },
    },
    ({ run, attempts, records, wire }) => {
      assert.deepEqual(
        records.map((r) => [r.point, r.attempt]),
        [
          ["get-user-email", 0],
          ["send-digest", 0],
        ],
      );
      assert.deepEqual(
        attempts.map((a) => [a.step_name, a.outcome]),
        [
          ["get-user-email", "ok"],
          ["send-digest", "ok"],
          [null, "ok"],
        ],
      );
      assert.equal(wire.at(-1).status, 200);
      assert.equal(run.status, "Completed");
      assert.equal(run.output, null, "a function returning undefined completes with a null output");
    },
  );

  docCase(
    "retries.md example 4 variant: NonRetriableError inside the step, exactly one attempt of it",
    {
      name: "user/weekly.digest.requested",
      slug: "user-weekly-digest",
      data: { userId: "u-banned", nonRetriableInStep: true },
    },
    ({ run, attempts, records, wire }) => {
      assert.deepEqual(attemptNumbers(records, "get-user-email"), [0]);
      assert.equal(at(records, "catch")[0].errorName, "NonRetriableError");
      assert.deepEqual(at(records, "send-digest"), []);
      // TS answers a NonRetriableError in a step with 206 StepFailed + x-inngest-no-retry: true.
      assert.equal(wire[0].status, 206);
      assert.equal(wire[0].noRetry, "true");
      assert.equal(wire[0].ops[0].op, "StepFailed");
      assert.equal(wire[0].ops[0].error.name, "NonRetriableError");
      const steps = stepAttempts(attempts, "get-user-email");
      assert.deepEqual(
        steps.map((a) => [a.attempt, a.outcome]),
        [[0, "non_retriable"]],
      );
      assert.equal(steps[0].next_attempt_at_ms, null);
      assert.equal(run.status, "Failed");
      assert.equal(run.output.name, "NonRetriableError");
      assertFailedBySdk400(wire, attempts);
      assert.equal(attempts.length, 2);
    },
  );

  docCase(
    "retries.md example 5: send-welcome-notification, RetryAfterError(3000 ms) waits 3 s, not scaled",
    {
      name: "app/user.created",
      slug: "send-welcome-notification",
      data: { user: { phoneNumber: "+15555550100" }, rateLimitedTimes: 1 },
    },
    ({ run, attempts, records, wire }) => {
      const tries = at(records, "send-notification");
      assert.deepEqual(
        tries.map((r) => r.attempt),
        [0, 1],
      );
      const [gap] = gaps(tries.map((r) => r.t));
      assert.ok(gap >= 3000 && gap < 5000, `Retry-After 3 s: the retry came ${gap} ms later`);
      // A number of ms becomes whole seconds in the header.
      assert.equal(wire[0].status, 206);
      assert.equal(wire[0].retryAfter, "3");
      assert.equal(wire[0].noRetry, "false");
      assert.equal(wire[0].ops[0].op, "StepError");
      assert.equal(wire[0].ops[0].error.name, "RetryAfterError");
      const steps = stepAttempts(attempts, "send-notification");
      assert.deepEqual(
        steps.map((a) => [a.attempt, a.outcome]),
        [
          [0, "retry_after"],
          [1, "ok"],
        ],
      );
      const delay = steps[0].next_attempt_at_ms - steps[0].ended_at_ms;
      assert.ok(delay >= 2990 && delay <= 3100, `Durin scheduled the retry ${delay} ms later`);
      assert.equal(run.status, "Completed");
      assert.deepEqual(run.output, { msg: { message: "Welcome, +15555550100!" } });
    },
  );

  docCase(
    "retries.md example 5 with a Date: RetryAfterError(new Date(now + 3 s)) retries at that instant",
    {
      name: "app/user.created",
      slug: "send-welcome-notification",
      data: { rateLimitedTimes: 1, retryAfter: "date" },
    },
    ({ run, attempts, records, wire }) => {
      const tries = at(records, "send-notification");
      assert.deepEqual(
        tries.map((r) => r.attempt),
        [0, 1],
      );
      const [gap] = gaps(tries.map((r) => r.t));
      assert.ok(gap >= 3000 && gap < 5000, `Retry-After date 3 s ahead: the retry came ${gap} ms later`);
      // A Date travels as an ISO-8601 timestamp.
      const retryAt = Date.parse(wire[0].retryAfter);
      assert.match(wire[0].retryAfter, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const steps = stepAttempts(attempts, "send-notification");
      assert.deepEqual(
        steps.map((a) => a.outcome),
        ["retry_after", "ok"],
      );
      assert.equal(steps[0].next_attempt_at_ms, retryAt, "Durin keeps the date's milliseconds");
      assert.ok(steps[1].started_at_ms >= retryAt);
      assert.ok(tries[1].t >= retryAt);
      assert.equal(run.status, "Completed");
    },
  );

  // ---- retries.md example 6: retries: 0 --------------------------------------------------------------

  describe("retries.md example 6: retries: 0", { concurrency: true }, () => {
    it("a failing step is tried once and, uncaught, fails the run", async () => {
      const { run, attempts, records, wire } = await runOnce({
        name: "compat/retries.zero",
        slug: "retries-zero",
        data: {},
      });
      assert.deepEqual(attemptNumbers(records, "fragile"), [0]);
      assert.deepEqual(at(records, "after-fragile"), []);
      // attempt 0 is the last one (max_attempts 1): StepFailed with no-retry at once.
      assert.deepEqual([wire[0].status, wire[0].noRetry, wire[0].ops[0].op], [206, "true", "StepFailed"]);
      const steps = stepAttempts(attempts, "fragile");
      assert.equal(steps.length, 1);
      assert.equal(steps[0].next_attempt_at_ms, null);
      assert.equal(run.status, "Failed");
      assert.equal(run.output.message, "fragile step failed");
      assertFailedBySdk400(wire, attempts);
    });

    it("a failing step is tried once and, caught, the run goes on", async () => {
      const { run, attempts, records } = await runOnce({
        name: "compat/retries.zero",
        slug: "retries-zero",
        data: { catch: true },
      });
      assert.deepEqual(attemptNumbers(records, "fragile"), [0]);
      assert.deepEqual(attemptNumbers(records, "after-fragile"), [0]);
      assert.equal(stepAttempts(attempts, "fragile").length, 1);
      assert.equal(run.status, "Completed");
      assert.deepEqual(run.output, { fragile: { caught: "fragile step failed" }, after: "went on" });
    });
  });

  // ---- retries.md example 7: the real default table, on a second engine --------------------------------

  it(
    "retries.md example 7: under the real default table the retries come 15-45 s and then 30-60 s later",
    { timeout: 130_000, skip: withSlow ? false : "COMPAT_SKIP_SLOW=1" },
    async () => {
      const { run, attempts, records } = await runOnce({
        name: "compat/default-schedule",
        slug: "default-schedule",
        app: "slow",
        durin: stack.slow,
        data: {},
        timeoutMs: 120_000,
      });
      const tries = at(records, "flaky");
      assert.deepEqual(
        tries.map((r) => r.attempt),
        [0, 1, 2],
      );
      const [g1, g2] = gaps(tries.map((r) => r.t));
      assert.ok(g1 >= 15_000 && g1 <= 45_000 + TOLERANCE_MS, `first retry after ${g1} ms`);
      assert.ok(g2 >= 30_000 && g2 <= 60_000 + TOLERANCE_MS, `second retry after ${g2} ms`);
      const steps = stepAttempts(attempts, "flaky");
      assert.deepEqual(
        steps.map((a) => a.outcome),
        ["error", "error", "ok"],
      );
      for (const a of steps.slice(0, 2)) {
        const [lo, hi] = backoffWindow(a.attempt, 1);
        const d = a.next_attempt_at_ms - a.ended_at_ms;
        assert.ok(d >= lo && d <= hi, `Durin's delay after attempt ${a.attempt}: ${d} ms`);
      }
      assert.equal(run.status, "Completed");
      assert.deepEqual(run.output, { attempt: 2 });
    },
  );

  // ---- errors thrown by the function body --------------------------------------------------------------

  describe("function body errors (retries: 1)", { concurrency: true }, () => {
    const body = (mode) =>
      runOnce({ name: "compat/body.errors", slug: "body-errors", data: { mode } });

    it("a retriable body error is a 500; on the last attempt the SDK answers 400 + x-inngest-no-retry", async () => {
      const { run, attempts, records, wire } = await body("fail");
      assert.deepEqual(attemptNumbers(records, "body"), [0, 1]);
      assert.deepEqual(
        wire.map((w) => [w.status, w.noRetry]),
        [
          [500, "false"],
          [400, "true"],
        ],
      );
      assert.equal(wire[0].body.message, "body failure on attempt 0");
      assert.deepEqual(
        attempts.map((a) => [a.attempt, a.outcome]),
        [
          [0, "error"],
          [1, "non_retriable"],
        ],
      );
      assertDurinBackoff(attempts, "body");
      assert.equal(run.status, "Failed");
      assert.equal(run.output.name, "Error");
      assert.equal(run.output.message, "body failure on attempt 1");
    });

    it("NonRetriableError in the body: one attempt, 400 + x-inngest-no-retry, run Failed", async () => {
      const { run, attempts, records, wire } = await body("nonretriable");
      assert.deepEqual(attemptNumbers(records, "body"), [0]);
      assert.deepEqual(
        wire.map((w) => [w.status, w.noRetry]),
        [[400, "true"]],
      );
      assert.deepEqual(
        attempts.map((a) => [a.attempt, a.outcome]),
        [[0, "non_retriable"]],
      );
      assert.equal(run.status, "Failed");
      assert.equal(run.output.name, "NonRetriableError");
      assert.equal(run.output.message, "body gives up for good");
    });

    it("RetryAfterError(2000 ms) in the body: 500 with retry-after: 2, retried 2 s later", async () => {
      const { run, attempts, records, wire } = await body("retry-after-ms");
      const tries = at(records, "body");
      assert.deepEqual(
        tries.map((r) => r.attempt),
        [0, 1],
      );
      const [gap] = gaps(tries.map((r) => r.t));
      assert.ok(gap >= 2000 && gap < 4000, `retry came ${gap} ms later`);
      assert.deepEqual([wire[0].status, wire[0].noRetry, wire[0].retryAfter], [500, "false", "2"]);
      assert.deepEqual(
        attempts.map((a) => a.outcome),
        ["retry_after", "ok"],
      );
      const delay = attempts[0].next_attempt_at_ms - attempts[0].ended_at_ms;
      assert.ok(delay >= 1990 && delay <= 2100, `Durin scheduled the retry ${delay} ms later`);
      assert.equal(run.status, "Completed");
      assert.deepEqual(run.output, { mode: "retry-after-ms", attempt: 1 });
    });

    it("RetryAfterError(Date) in the body: retry-after is an ISO date, retried at that instant", async () => {
      const { run, attempts, records, wire } = await body("retry-after-date");
      const tries = at(records, "body");
      assert.deepEqual(
        tries.map((r) => r.attempt),
        [0, 1],
      );
      const retryAt = Date.parse(wire[0].retryAfter);
      assert.ok(Number.isFinite(retryAt), `retry-after: ${wire[0].retryAfter}`);
      assert.equal(wire[0].status, 500);
      assert.equal(attempts[0].outcome, "retry_after");
      assert.equal(attempts[0].next_attempt_at_ms, retryAt);
      assert.ok(tries[1].t >= retryAt, "not retried before the date");
      assert.ok(tries[1].t - tries[0].t < 4000);
      assert.equal(run.status, "Completed");
    });

    it("RetryAfterError on the last attempt grants no extra attempt (R5)", async () => {
      const { run, attempts, records, wire } = await body("retry-after-always");
      const tries = at(records, "body");
      assert.deepEqual(
        tries.map((r) => r.attempt),
        [0, 1],
      );
      assert.ok(tries[1].t - tries[0].t >= 1000, "the first retry honoured retry-after: 1");
      assert.deepEqual([wire[0].status, wire[0].noRetry, wire[0].retryAfter], [500, "false", "1"]);
      assert.equal(wire[1].noRetry, "true", `last attempt: ${JSON.stringify(wire[1])}`);
      assert.equal(attempts.length, 2);
      assert.equal(attempts[0].outcome, "retry_after");
      assert.equal(attempts[1].next_attempt_at_ms, null, "no third attempt");
      assert.equal(run.status, "Failed");
      assert.equal(run.output.name, "RetryAfterError");
      assert.equal(run.output.message, "body rate limited on attempt 1");
    });

    it("a body error after a completed step retries the body; the memoized step is not run again", async () => {
      const { run, attempts, records, wire } = await body("fail-after-step");
      assert.deepEqual(attemptNumbers(records, "memo-step"), [0]);
      assert.deepEqual(attemptNumbers(records, "body"), [0, 1]);
      assert.deepEqual(
        wire.map((w) => w.status),
        [206, 500, 200],
      );
      assert.deepEqual(
        attempts.map((a) => [a.step_name, a.attempt, a.outcome]),
        [
          ["memo-step", 0, "ok"],
          [null, 0, "error"],
          [null, 1, "ok"],
        ],
      );
      assert.equal(run.status, "Completed");
      assert.deepEqual(run.output, { mode: "fail-after-step", attempt: 1 });
    });
  });

  it("RetryAfterError(Date) thrown in a step: retried at that instant, as a fresh step attempt", async () => {
    const { run, attempts, records, wire } = await runOnce({
      name: "compat/step.retry-after",
      slug: "step-retry-after",
      data: {},
    });
    const tries = at(records, "limited");
    assert.deepEqual(
      tries.map((r) => r.attempt),
      [0, 1],
    );
    const retryAt = Date.parse(wire[0].retryAfter);
    assert.deepEqual([wire[0].status, wire[0].noRetry, wire[0].ops[0].op], [206, "false", "StepError"]);
    const steps = stepAttempts(attempts, "limited");
    assert.deepEqual(
      steps.map((a) => a.outcome),
      ["retry_after", "ok"],
    );
    assert.equal(steps[0].next_attempt_at_ms, retryAt);
    assert.ok(tries[1].t >= retryAt && tries[1].t - tries[0].t < 4000);
    assert.equal(run.status, "Completed");
    assert.deepEqual(run.output, { attempt: 1 });
  });

  // ---- steps ---------------------------------------------------------------------------------------------

  it("step.run in sequence: one step per request, each memoized, the body's return value is the output", async () => {
    const { run, attempts, records, wire } = await runOnce({
      name: "compat/sequential",
      slug: "sequential",
      data: {},
    });
    assert.deepEqual(
      records.map((r) => [r.point, r.attempt]),
      [
        ["one", 0],
        ["two", 0],
        ["three", 0],
      ],
    );
    assert.deepEqual(
      wire.map((w) => [w.status, w.ops?.[0]?.op ?? null, w.ops?.[0]?.name ?? null]),
      [
        [206, "StepRun", "one"],
        [206, "StepRun", "two"],
        [206, "StepRun", "three"],
        [200, null, null],
      ],
    );
    assert.deepEqual(
      attempts.map((a) => [a.step_name, a.step_id, a.outcome]),
      [
        ["one", sha1("one"), "ok"],
        ["two", sha1("two"), "ok"],
        ["three", sha1("three"), "ok"],
        [null, null, "ok"],
      ],
    );
    assert.equal(run.status, "Completed");
    assert.deepEqual(run.output, { one: 1, two: 2, three: { sum: 3, text: "1-2" } });
  });

  it("Promise.all of steps: planned together, run as separate jobs with their own retry counters", async () => {
    const { run, attempts, records, wire } = await runOnce({
      name: "compat/parallel",
      slug: "parallel",
      // par-c finishes 1 s after the others, so that no branch completes while the discovery request that
      // followed another branch is in flight (that race is the next test's, a known engine bug).
      data: { bFails: 1, cDelayMs: 1000 },
    });
    assert.equal(wire[0].status, 206);
    assert.deepEqual(
      wire[0].ops.map((o) => [o.op, o.name, o.id]).sort(),
      [
        ["StepPlanned", "par-a", sha1("par-a")],
        ["StepPlanned", "par-b", sha1("par-b")],
        ["StepPlanned", "par-c", sha1("par-c")],
      ],
    );
    assert.deepEqual(attemptNumbers(records, "par-a"), [0]);
    assert.deepEqual(attemptNumbers(records, "par-b"), [0, 1]);
    assert.deepEqual(attemptNumbers(records, "par-c"), [0]);
    assert.deepEqual(attemptNumbers(records, "join"), [0]);
    assertScaledBackoff(at(records, "par-b"), "par-b");
    for (const step of ["par-a", "par-b", "par-c"]) {
      for (const a of stepAttempts(attempts, step)) assert.equal(a.step_id, sha1(step));
    }
    assert.deepEqual(
      stepAttempts(attempts, "par-b").map((a) => [a.attempt, a.outcome]),
      [
        [0, "error"],
        [1, "ok"],
      ],
    );
    // The join step runs only after all three branches are memoized.
    const joinAt = at(records, "join")[0].t;
    for (const p of ["par-a", "par-b", "par-c"]) assert.ok(at(records, p).every((r) => r.t < joinAt));
    assert.equal(run.status, "Completed");
    assert.deepEqual(run.output, { a: "A", b: "B", c: "C", joined: "ABC" });
  });

  it(
    "Promise.all: a branch that completes while the discovery after the other branch is in flight",
    async () => {
      const token = newToken("parallel-race");
      const eventId = await stack.durin.send({
        name: "compat/parallel.race",
        data: { token, replayDelayMs: 400, slowMs: 200 },
      });
      let run;
      try {
        run = await stack.durin.finishedRun(eventId, fnId("node", "parallel-race"), { timeoutMs: 8000 });
      } catch (err) {
        const [stuck] = await stack.durin.runsFor(eventId);
        const [jobs, attempts, wire] = await Promise.all([
          stack.durin.get(`/v1/runs/${stuck.run_id}/jobs`),
          stack.durin.attempts(stuck.run_id),
          stack.app.wire(stuck.run_id),
        ]);
        assert.fail(
          `${err.message}\nrun status ${stuck.status}, jobs left: ${JSON.stringify(jobs)}\n` +
            `attempts: ${JSON.stringify(attempts.map((a) => [a.step_name, a.attempt, a.outcome, a.started_at_ms, a.ended_at_ms]))}\n` +
            `SDK answers: ${JSON.stringify(wire.map((w) => [w.stepId, w.status, (w.ops ?? []).map((o) => `${o.op} ${o.name}`)]))}`,
        );
      }
      const records = (await stack.app.records(token)).filter((r) => r.app === "node");
      assert.deepEqual(attemptNumbers(records, "race-fast"), [0]);
      assert.deepEqual(attemptNumbers(records, "race-slow"), [0]);
      assert.equal(run.status, "Completed");
      assert.deepEqual(run.output, { fast: "fast", slow: "slow" });
    },
  );

  it("step.sleep('1s') and step.sleepUntil(date) resume on time", async () => {
    const { run, attempts, wire } = await runOnce({ name: "compat/sleeps", slug: "sleeps", data: {} });
    assert.equal(run.status, "Completed");
    const { t0, t1, t2, until } = run.output;
    assert.ok(t1 - t0 >= 1000 && t1 - t0 < 1000 + 1500, `sleep 1s took ${t1 - t0} ms`);
    const untilMs = Date.parse(until);
    assert.ok(t2 >= untilMs && t2 - untilMs < 1500, `sleepUntil resumed ${t2 - untilMs} ms after the date`);
    const sleeps = wire.flatMap((w) => w.ops ?? []).filter((o) => o.op === "Sleep");
    assert.deepEqual(
      sleeps.map((o) => [o.displayName, o.id]),
      [
        ["nap", sha1("nap")],
        ["until", sha1("until")],
      ],
    );
    assert.equal(sleeps[0].name, "1s", "the duration travels in the op's name");
    assert.equal(sleeps[1].name, until, "sleepUntil sends the ISO time in the op's name");
    assert.deepEqual(
      attempts.filter((a) => a.step_name).map((a) => [a.step_name, a.outcome]),
      [
        ["before-sleep", "ok"],
        ["nap", "ok"],
        ["after-sleep", "ok"],
        ["until", "ok"],
        ["after-until", "ok"],
      ],
    );
  });

  it("step.sendEvent and the client's send inside a step deliver events that start runs", async () => {
    const { token, run, wire } = await runOnce({ name: "compat/send", slug: "sender", data: {} });
    assert.equal(run.status, "Completed");
    const { viaStep, viaClient } = run.output;
    assert.equal(viaStep.ids.length, 1);
    assert.equal(viaClient.length, 1);
    const sendOp = wire[0].ops[0];
    assert.deepEqual([sendOp.op, sendOp.name, sendOp.displayName], ["StepRun", "sendEvent", "send-followup"]);
    for (const [id, via] of [
      [viaStep.ids[0], "step.sendEvent"],
      [viaClient[0], "inngest.send"],
    ]) {
      const ev = await stack.durin.get(`/v1/events/${id}`);
      assert.equal(ev.name, "compat/followup");
      assert.deepEqual(ev.data, { token, via });
      const followup = await stack.durin.finishedRun(id, fnId("node", "followup-receiver"));
      assert.equal(followup.status, "Completed");
      assert.deepEqual(followup.output, { got: via });
    }
    const received = await stack.app.recordsWhen(
      token,
      (rs) => rs.filter((r) => r.fn === "followup-receiver").length >= 2,
    );
    assert.deepEqual(
      received
        .filter((r) => r.fn === "followup-receiver")
        .map((r) => r.via)
        .sort(),
      ["inngest.send", "step.sendEvent"],
    );
  });

  it("an event id sent twice with the client starts one run (idempotency by event id)", async () => {
    const token = newToken("sequential");
    const event = { id: `compat-idem-${token}`, name: "compat/sequential", data: { token } };
    const first = await stack.durin.send(event);
    const second = await stack.durin.send(event);
    const run = await stack.durin.finishedRun(first, fnId("node", "sequential"));
    assert.equal(run.status, "Completed");
    const again = second === first ? [run] : await stack.durin.runsFor(second);
    assert.ok(
      again.length === 0 || (again.length === 1 && again[0].run_id === run.run_id),
      `the second send started another run: ${JSON.stringify(again)}`,
    );
    const records = await stack.app.records(token);
    assert.deepEqual(
      records.map((r) => r.point),
      ["one", "two", "three"],
      "the steps ran once",
    );
  });

  it("onFailure receives { error, event } for the failed run", async () => {
    const { token, run, attempts, records, wire } = await runOnce({
      name: "compat/on-failure",
      slug: "with-on-failure",
      data: {},
    });
    assert.deepEqual(attemptNumbers(records, "doomed"), [0, 1], "retries: 1 gives the step two attempts");
    assert.equal(run.status, "Failed");
    assertFailedBySdk400(wire, attempts);
    const message = `doomed step failed (token ${token})`;
    assert.equal(run.output.message, message);

    const all = await stack.app.recordsWhen(
      token,
      (rs) => rs.some((r) => r.point === "onFailure"),
      "the onFailure handler to run",
    );
    const calls = at(all, "onFailure");
    assert.equal(calls.length, 1);
    const [call] = calls;
    assert.equal(call.errorIsError, true, "error is deserialized into an Error");
    assert.equal(call.errorName, "Error");
    assert.equal(call.errorMessage, message);
    assert.equal(call.eventName, "inngest/function.failed");
    assert.equal(call.failedRunId, run.run_id);
    assert.equal(call.failedFunctionId, "compat-ts-node-with-on-failure");
    assert.equal(call.originalEventName, "compat/on-failure");

    const handlerRun = await stack.durin.waitRunEnded(call.runId);
    assert.equal(handlerRun.function_id, fnId("node", "with-on-failure-failure"));
    assert.equal(handlerRun.status, "Completed");
    assert.equal(handlerRun.output, "handled");
    const failedEvent = await stack.durin.get(`/v1/events/${handlerRun.event_id}`);
    assert.equal(failedEvent.name, "inngest/function.failed");
    assert.equal(failedEvent.data.run_id, run.run_id);
    assert.equal(failedEvent.data.function_id, "compat-ts-node-with-on-failure");
    assert.equal(failedEvent.data.error.message, message);
    assert.equal(failedEvent.data.event.data.token, token);
  });

  it("a step id repeated in a loop gets its own hashed id and retry counter per iteration", async () => {
    const { run, attempts, records, wire } = await runOnce({ name: "compat/loop", slug: "loop", data: {} });
    assert.deepEqual(
      at(records, "same").map((r) => [r.i, r.attempt]),
      [
        [0, 0],
        [1, 0],
        [1, 1],
        [2, 0],
      ],
    );
    const ids = [sha1("same"), sha1("same:1"), sha1("same:2")];
    assert.deepEqual(
      attempts.filter((a) => a.step_name === "same").map((a) => [a.step_id, a.attempt, a.outcome]),
      [
        [ids[0], 0, "ok"],
        [ids[1], 0, "error"],
        [ids[1], 1, "ok"],
        [ids[2], 0, "ok"],
      ],
    );
    const reported = wire.flatMap((w) => w.ops ?? []).filter((o) => o.op === "StepRun");
    assert.deepEqual(
      reported.map((o) => [o.id, o.userland]),
      [
        [ids[0], { id: "same" }],
        [ids[1], { id: "same", index: 1 }],
        [ids[2], { id: "same", index: 2 }],
      ],
    );
    assert.equal(run.status, "Completed");
    assert.deepEqual(run.output, [0, 10, 20]);
  });
});

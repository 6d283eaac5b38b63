// The functions under test, written in the SDK's own idiom (inngest@4.24.0, plain ESM JavaScript).
//
// Every function takes its failure plan from the event's data, so one function serves several cases, and
// records what it saw (step, attempt, time) under `event.data.token`, which each test makes unique.

import { randomUUID } from "node:crypto";
import fs from "node:fs";
import { NonRetriableError, RetryAfterError, StepError, referenceFunction } from "inngest";
import { record } from "./recorder.mjs";

/** The error the documentation's user-weekly-digest example catches by name. */
export class UserNotFoundError extends Error {
  constructor(message) {
    super(message);
    this.name = "UserNotFoundError";
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const rec = (app, fn, event, runId, point, attempt, extra = {}) =>
  record({ app, fn, token: event?.data?.token ?? null, runId, point, attempt, ...extra });

/**
 * The four functions of the retry documentation (same ids, triggers and step names). `app` names the
 * adapter serving them, so the records of the node:http app and the Express app stay apart.
 */
export function docFunctions(inngest, app) {
  // Example 1: default retries, the body fails `failTimes` times (default 2) and then succeeds.
  const clickRecorder = inngest.createFunction(
    { id: "click-recorder", triggers: [{ event: "app/button.clicked" }] },
    async ({ event, attempt, runId }) => {
      rec(app, "click-recorder", event, runId, "body", attempt);
      if (attempt < (event.data.failTimes ?? 2)) {
        throw new Error(`db.clicks.insertOne failed (attempt ${attempt})`);
      }
      return { inserted: event.data.button, attempt };
    },
  );

  // Examples 2 and 3: each step has its own retry counter.
  const syncSystems = inngest.createFunction(
    { id: "sync-systems", triggers: [{ event: "auto/sync.request" }] },
    async ({ event, step, attempt, runId }) => {
      const data = await step.run("get-data", async () => {
        rec(app, "sync-systems", event, runId, "get-data", attempt);
        if (attempt < (event.data.getDataFails ?? 0)) {
          throw new Error(`getDataFromExternalSource failed (attempt ${attempt})`);
        }
        return { rows: [1, 2, 3] };
      });
      const saved = await step.run("save-data", async () => {
        rec(app, "sync-systems", event, runId, "save-data", attempt);
        if (attempt < (event.data.saveDataFails ?? 0)) {
          throw new Error(`db.syncs.insertOne failed (attempt ${attempt})`);
        }
        return { inserted: data.rows.length };
      });
      return { saved };
    },
  );

  // Example 4: the step's budget is spent, the body catches the step error by name and gives up for good.
  const userWeeklyDigest = inngest.createFunction(
    { id: "user-weekly-digest", triggers: [{ event: "user/weekly.digest.requested" }] },
    async ({ event, step, attempt, runId }) => {
      const user = await step
        .run("get-user-email", () => {
          rec(app, "user-weekly-digest", event, runId, "get-user-email", attempt);
          if (event.data.nonRetriableInStep) {
            throw new NonRetriableError(`user ${event.data.userId} is banned; never retry`);
          }
          if (event.data.userExists) return { email: `${event.data.userId}@example.com` };
          throw new UserNotFoundError(`no user ${event.data.userId}`);
        })
        .catch((err) => {
          rec(app, "user-weekly-digest", event, runId, "catch", attempt, {
            errorName: err.name,
            errorMessage: err.message,
          });
          if (err.name === "UserNotFoundError") {
            throw new NonRetriableError("User no longer exists; stopping");
          }
          throw err;
        });

      await step.run("send-digest", () => {
        rec(app, "user-weekly-digest", event, runId, "send-digest", attempt);
        return { sentTo: user.email };
      });
    },
  );

  // Example 5: RetryAfterError of 3 s (a number of milliseconds, or a Date when `retryAfter` is "date").
  const sendWelcomeNotification = inngest.createFunction(
    { id: "send-welcome-notification", triggers: [{ event: "app/user.created" }] },
    async ({ event, step, attempt, runId }) => {
      const msg = await step.run("send-notification", async () => {
        rec(app, "send-welcome-notification", event, runId, "send-notification", attempt);
        if (attempt < (event.data.rateLimitedTimes ?? 1)) {
          const retryAfter =
            event.data.retryAfter === "date" ? new Date(Date.now() + 3000) : 3000;
          throw new RetryAfterError("Hit Twilio rate limit", retryAfter);
        }
        return { message: `Welcome, ${event.data.user?.phoneNumber ?? "user"}!` };
      });
      return { msg };
    },
  );

  return [clickRecorder, syncSystems, userWeeklyDigest, sendWelcomeNotification];
}

/** Protocol coverage: the rest of the engine's supported surface, served by the node:http app only. */
export function protocolFunctions(inngest, app) {
  // retries.md example 6: `retries: 0`, a failing step is tried once; the body may catch its error.
  const retriesZero = inngest.createFunction(
    { id: "retries-zero", retries: 0, triggers: [{ event: "compat/retries.zero" }] },
    async ({ event, step, attempt, runId }) => {
      const fragile = await step
        .run("fragile", () => {
          rec(app, "retries-zero", event, runId, "fragile", attempt);
          throw new Error("fragile step failed");
        })
        .catch((err) => {
          if (event.data.catch) return { caught: err.message };
          throw err;
        });
      const after = await step.run("after-fragile", () => {
        rec(app, "retries-zero", event, runId, "after-fragile", attempt);
        return "went on";
      });
      return { fragile, after };
    },
  );

  // Errors thrown by the function body (outside any step), with one retry (two attempts).
  const bodyErrors = inngest.createFunction(
    { id: "body-errors", retries: 1, triggers: [{ event: "compat/body.errors" }] },
    async ({ event, step, attempt, runId }) => {
      const mode = event.data.mode;
      if (mode === "fail-after-step") {
        await step.run("memo-step", () => {
          rec(app, "body-errors", event, runId, "memo-step", attempt);
          return "memoized";
        });
      }
      rec(app, "body-errors", event, runId, "body", attempt);
      switch (mode) {
        case "fail":
          throw new Error(`body failure on attempt ${attempt}`);
        case "nonretriable":
          throw new NonRetriableError("body gives up for good");
        case "retry-after-ms":
          if (attempt === 0) throw new RetryAfterError("body rate limited", 2000);
          break;
        case "retry-after-date":
          if (attempt === 0) {
            throw new RetryAfterError("body rate limited", new Date(Date.now() + 2000));
          }
          break;
        case "retry-after-always":
          throw new RetryAfterError(`body rate limited on attempt ${attempt}`, 1000);
        case "fail-after-step":
          if (attempt === 0) throw new Error("body fails once after its step");
          break;
        default:
          throw new NonRetriableError(`unknown mode ${mode}`);
      }
      return { mode, attempt };
    },
  );

  // RetryAfterError with a Date, thrown from a step (the doc function covers the number of ms).
  const stepRetryAfter = inngest.createFunction(
    { id: "step-retry-after", triggers: [{ event: "compat/step.retry-after" }] },
    async ({ event, step, attempt, runId }) => {
      return step.run("limited", () => {
        rec(app, "step-retry-after", event, runId, "limited", attempt);
        if (attempt === 0) {
          throw new RetryAfterError("step rate limited", new Date(Date.now() + 2000));
        }
        return { attempt };
      });
    },
  );

  const sequential = inngest.createFunction(
    { id: "sequential", triggers: [{ event: "compat/sequential" }] },
    async ({ event, step, attempt, runId }) => {
      const one = await step.run("one", () => {
        rec(app, "sequential", event, runId, "one", attempt);
        return 1;
      });
      const two = await step.run("two", () => {
        rec(app, "sequential", event, runId, "two", attempt);
        return one + 1;
      });
      const three = await step.run("three", () => {
        rec(app, "sequential", event, runId, "three", attempt);
        return { sum: one + two, text: `${one}-${two}` };
      });
      return { one, two, three };
    },
  );

  // Promise.all of three steps (the SDK plans them in one 206); `par-b` fails `bFails` times.
  const parallel = inngest.createFunction(
    { id: "parallel", triggers: [{ event: "compat/parallel" }] },
    async ({ event, step, attempt, runId }) => {
      const [a, b, c] = await Promise.all([
        step.run("par-a", () => {
          rec(app, "parallel", event, runId, "par-a", attempt);
          return "A";
        }),
        step.run("par-b", () => {
          rec(app, "parallel", event, runId, "par-b", attempt);
          if (attempt < (event.data.bFails ?? 0)) throw new Error(`par-b failed (attempt ${attempt})`);
          return "B";
        }),
        step.run("par-c", async () => {
          rec(app, "parallel", event, runId, "par-c", attempt);
          await sleep(event.data.cDelayMs ?? 0);
          return "C";
        }),
      ]);
      const joined = await step.run("join", () => {
        rec(app, "parallel", event, runId, "join", attempt);
        return a + b + c;
      });
      return { a, b, c, joined };
    },
  );

  // Promise.all where one branch completes while the discovery request that followed the other branch is
  // still in flight: every call request replays the body, which waits `replayDelayMs` first, and
  // `race-slow` takes `slowMs` more than `race-fast`.
  const parallelRace = inngest.createFunction(
    { id: "parallel-race", triggers: [{ event: "compat/parallel.race" }] },
    async ({ event, step, attempt, runId }) => {
      await sleep(event.data.replayDelayMs ?? 400);
      const [fast, slow] = await Promise.all([
        step.run("race-fast", () => {
          rec(app, "parallel-race", event, runId, "race-fast", attempt);
          return "fast";
        }),
        step.run("race-slow", async () => {
          rec(app, "parallel-race", event, runId, "race-slow", attempt);
          await sleep(event.data.slowMs ?? 200);
          return "slow";
        }),
      ]);
      return { fast, slow };
    },
  );

  const sleeps = inngest.createFunction(
    { id: "sleeps", triggers: [{ event: "compat/sleeps" }] },
    async ({ event, step, attempt, runId }) => {
      const t0 = await step.run("before-sleep", () => {
        rec(app, "sleeps", event, runId, "before-sleep", attempt);
        return Date.now();
      });
      await step.sleep("nap", "1s");
      const t1 = await step.run("after-sleep", () => {
        rec(app, "sleeps", event, runId, "after-sleep", attempt);
        return Date.now();
      });
      const until = new Date(t1 + 1500);
      await step.sleepUntil("until", until);
      const t2 = await step.run("after-until", () => {
        rec(app, "sleeps", event, runId, "after-until", attempt);
        return Date.now();
      });
      return { t0, t1, until: until.toISOString(), t2 };
    },
  );

  // step.sendEvent, and the client's own send inside a step; `followup-receiver` records what arrives.
  const sender = inngest.createFunction(
    { id: "sender", triggers: [{ event: "compat/send" }] },
    async ({ event, step, runId }) => {
      const token = event.data.token;
      const viaStep = await step.sendEvent("send-followup", {
        name: "compat/followup",
        data: { token, via: "step.sendEvent" },
      });
      const viaClient = await step.run("client-send", async () => {
        const { ids } = await inngest.send({
          name: "compat/followup",
          data: { token, via: "inngest.send" },
        });
        rec(app, "sender", event, runId, "client-send", 0, { ids });
        return ids;
      });
      return { viaStep, viaClient };
    },
  );
  const followupReceiver = inngest.createFunction(
    { id: "followup-receiver", triggers: [{ event: "compat/followup" }] },
    async ({ event, attempt, runId }) => {
      rec(app, "followup-receiver", event, runId, "body", attempt, { via: event.data.via });
      return { got: event.data.via };
    },
  );

  // onFailure: the handler gets `{ error, event }` for the failed run.
  const withOnFailure = inngest.createFunction(
    {
      id: "with-on-failure",
      retries: 1,
      triggers: [{ event: "compat/on-failure" }],
      onFailure: async ({ error, event, runId, attempt }) => {
        record({
          app,
          fn: "with-on-failure (failure)",
          token: event.data?.event?.data?.token ?? null,
          runId,
          point: "onFailure",
          attempt,
          errorIsError: error instanceof Error,
          errorName: error?.name,
          errorMessage: error?.message,
          eventName: event.name,
          failedRunId: event.data?.run_id,
          failedFunctionId: event.data?.function_id,
          originalEventName: event.data?.event?.name,
        });
        return "handled";
      },
    },
    async ({ event, step, attempt, runId }) => {
      await step.run("doomed", () => {
        rec(app, "with-on-failure", event, runId, "doomed", attempt);
        throw new Error(`doomed step failed (token ${event.data.token})`);
      });
      return "unreachable";
    },
  );

  // The same step id in a loop: the SDK hashes "same", "same:1", "same:2"; iteration 1 fails once.
  const loop = inngest.createFunction(
    { id: "loop", triggers: [{ event: "compat/loop" }] },
    async ({ event, step, attempt, runId }) => {
      const out = [];
      for (let i = 0; i < 3; i++) {
        out.push(
          await step.run("same", () => {
            rec(app, "loop", event, runId, "same", attempt, { i });
            if (i === 1 && attempt < 1) throw new Error("iteration 1 fails once");
            return i * 10;
          }),
        );
      }
      return out;
    },
  );

  // Sequential steps for the checkpointing tests: `steps` names them (in order); `failStep` fails while
  // `attempt < failTimes`. Each step returns a fresh nonce, so a value that comes back on a later request
  // can only be the memoized one.
  const checkpointFlow = inngest.createFunction(
    { id: "checkpoint-flow", triggers: [{ event: "compat/checkpoint.flow" }] },
    async ({ event, step, attempt, runId }) => {
      const out = {};
      for (const name of event.data.steps) {
        out[name] = await step.run(name, () => {
          const nonce = randomUUID();
          rec(app, "checkpoint-flow", event, runId, name, attempt, { nonce });
          if (name === event.data.failStep && attempt < (event.data.failTimes ?? 1)) {
            throw new Error(`${name} failed (attempt ${attempt})`);
          }
          return { attempt, nonce };
        });
      }
      return out;
    },
  );

  return [
    retriesZero,
    bodyErrors,
    stepRetryAfter,
    sequential,
    parallel,
    parallelRace,
    sleeps,
    sender,
    followupReceiver,
    withOnFailure,
    loop,
    checkpointFlow,
  ];
}

/** The condition `waiter` waits with: this token's approval, and only an approving one. */
export const APPROVAL_IF = "event.data.token == async.data.token && async.data.approved == true";

/**
 * Steps that wait, served by the node:http app: `step.waitForEvent` (`waiter`) and `step.invoke`
 * (`invoker`, `invoke-fanout`, and the functions they invoke). Every body records, under the token, each
 * pass past the wait (`resumed`, once per replay) and what the step after it saw.
 */
export function waitFunctions(inngest, app) {
  // Waits `event.data.timeout` for `compat/wait.approval` with this token and approved == true, or, when
  // the event names a field in `match`, for one whose field equals the trigger's (TS's `match` shorthand).
  const waiter = inngest.createFunction(
    { id: "waiter", triggers: [{ event: "compat/wait.start" }] },
    async ({ event, step, attempt, runId }) => {
      const startedAt = await step.run("before-wait", () => {
        rec(app, "waiter", event, runId, "before-wait", attempt);
        return Date.now();
      });
      const approval = await step.waitForEvent("wait-approval", {
        event: "compat/wait.approval",
        timeout: event.data.timeout,
        ...(event.data.match ? { match: event.data.match } : { if: APPROVAL_IF }),
      });
      rec(app, "waiter", event, runId, "resumed", attempt, { approval });
      const { waitedMs } = await step.run("after-wait", () => {
        rec(app, "waiter", event, runId, "after-wait", attempt, { approval });
        return { waitedMs: Date.now() - startedAt };
      });
      return { approval, waitedMs };
    },
  );

  // The functions `invoker` invokes. Each records the event it was invoked with (id, name, `_inngest`).
  const invokedRecord = (event, runId, point, attempt) =>
    rec(app, `invoked-${event.data.target}`, event, runId, point, attempt, {
      eventId: event.id,
      eventName: event.name,
      data: event.data,
    });
  const invokedAdd = inngest.createFunction(
    { id: "invoked-add", triggers: [{ event: "compat/invoked.add" }] },
    async ({ event, attempt, runId }) => {
      invokedRecord(event, runId, "body", attempt);
      return { sum: event.data.a + event.data.b, by: "invoked-add" };
    },
  );
  const invokedFails = inngest.createFunction(
    { id: "invoked-fails", retries: 0, triggers: [{ event: "compat/invoked.fails" }] },
    async ({ event, attempt, runId }) => {
      invokedRecord(event, runId, "body", attempt);
      throw new Error(`invoked function failed (${event.data.token})`);
    },
  );
  // Durable sleep of `sleepMs` between two steps.
  const invokedSlow = inngest.createFunction(
    { id: "invoked-slow", triggers: [{ event: "compat/invoked.slow" }] },
    async ({ event, step, attempt, runId }) => {
      await step.run("started", () => invokedRecord(event, runId, "started", attempt));
      await step.sleep("nap", event.data.sleepMs);
      await step.run("finish", () => invokedRecord(event, runId, "finish", attempt));
      return { sleptMs: event.data.sleepMs };
    },
  );

  // Invokes `event.data.target` (a function instance, or a referenceFunction for `slow` and `missing`)
  // with { target, token, a, b, sleepMs } and an optional `timeout`; catches what the invoke throws.
  const targets = {
    add: invokedAdd,
    fails: invokedFails,
    slow: referenceFunction({ functionId: "invoked-slow" }),
    missing: referenceFunction({ functionId: "no-such-function" }),
  };
  const invoker = inngest.createFunction(
    { id: "invoker", triggers: [{ event: "compat/invoke" }] },
    async ({ event, step, attempt, runId }) => {
      const { token, target, a, b, sleepMs, timeout } = event.data;
      const startedAt = await step.run("before-invoke", () => {
        rec(app, "invoker", event, runId, "before-invoke", attempt);
        return Date.now();
      });
      let result = null;
      let error = null;
      try {
        result = await step.invoke("call", {
          function: targets[target],
          data: { target, token, a, b, sleepMs },
          ...(timeout ? { timeout } : {}),
        });
      } catch (err) {
        error = { isStepError: err instanceof StepError, name: err.name, message: err.message };
      }
      rec(app, "invoker", event, runId, "resumed", attempt, { result, error });
      const { waitedMs } = await step.run("after-invoke", () => {
        rec(app, "invoker", event, runId, "after-invoke", attempt, { result, error });
        return { waitedMs: Date.now() - startedAt };
      });
      return { result, error, waitedMs };
    },
  );

  // Two invokes in Promise.all: `fast` (invoked-add) and `slow` (invoked-slow, 1 s).
  const invokeFanout = inngest.createFunction(
    { id: "invoke-fanout", triggers: [{ event: "compat/invoke.fanout" }] },
    async ({ event, step, attempt, runId }) => {
      const { token } = event.data;
      const results = await Promise.all([
        step.invoke("fast", { function: invokedAdd, data: { target: "add", token, a: 1, b: 2 } }),
        step.invoke("slow", { function: invokedSlow, data: { target: "slow", token, sleepMs: 1000 } }),
      ]);
      rec(app, "invoke-fanout", event, runId, "resumed", attempt, { results });
      return { results };
    },
  );

  return [waiter, invoker, invokedAdd, invokedFails, invokedSlow, invokeFanout];
}

/** retries.md example 7, served to an engine that runs the real default backoff table. */
export function defaultScheduleFunctions(inngest, app) {
  const flaky = inngest.createFunction(
    { id: "default-schedule", triggers: [{ event: "compat/default-schedule" }] },
    async ({ event, step, attempt, runId }) => {
      return step.run("flaky", () => {
        rec(app, "default-schedule", event, runId, "flaky", attempt);
        if (attempt < 2) throw new Error(`flaky failed (attempt ${attempt})`);
        return { attempt };
      });
    },
  );
  return [flaky];
}

/** Per token: how many requests got past `st-a` (the `stalled-request` function). */
const passes = new Map();

/**
 * Served to an engine with `--request-timeout 2`: the body stalls right after step `st-a`, the first time
 * it gets there (`stallMs`, longer than the timeout), so Durin gives up on that request and retries the
 * job while the stalled request still runs. The retry gets there second and stalls `liveMs` (shorter than
 * the timeout), so the stalled request wakes up and runs `st-b` while the retry is still in flight.
 */
export function timeoutFunctions(inngest, app) {
  const stalledRequest = inngest.createFunction(
    { id: "stalled-request", triggers: [{ event: "compat/stalled.request" }] },
    async ({ event, step, attempt, runId }) => {
      const run = (name) =>
        step.run(name, () => {
          const nonce = randomUUID();
          rec(app, "stalled-request", event, runId, name, attempt, { nonce });
          return { attempt, nonce };
        });
      const a = await run("st-a");
      const token = event.data.token;
      const pass = (passes.get(token) ?? 0) + 1;
      passes.set(token, pass);
      const stall = pass === 1 ? event.data.stallMs : pass === 2 ? event.data.liveMs : 0;
      rec(app, "stalled-request", event, runId, "stall", attempt, { pass, stall });
      await sleep(stall);
      const b = await run("st-b");
      const c = await run("st-c");
      return { "st-a": a, "st-b": b, "st-c": c };
    },
  );
  return [stalledRequest];
}

/**
 * Functions whose code sets no retry policy; the fourth engine configures them on its side
 * (`--retry-policies`, written by the test harness: POLICIES in test/harness.mjs).
 */
export function policyFunctions(inngest, app) {
  const charge = inngest.createFunction(
    { id: "policy-charge", retries: 4, triggers: [{ event: "compat/policy.charge" }] },
    async ({ event, step, attempt, runId, maxAttempts }) => {
      let caught = false;
      try {
        await step.run("call-bank", () => {
          rec(app, "policy-charge", event, runId, "call-bank", attempt, { maxAttempts });
          throw new Error("the bank is down");
        });
      } catch {
        caught = true;
      }
      const ledger = await step.run("ledger", () => {
        rec(app, "policy-charge", event, runId, "ledger", attempt, { maxAttempts });
        if (attempt < 3) throw new Error("the ledger is locked");
        return "written";
      });
      return { caught, ledger };
    },
  );

  // Rules per error class (issue 8, feature 3): step `fetch` throws, on attempt n, the n-th error of
  // `event.data.plan` ([name, message], an ordinary Error whose `name` is set as the SDK docs do) and
  // succeeds once the plan is spent; the body catches the step's final error.
  const rules = inngest.createFunction(
    { id: "policy-rules", retries: 4, triggers: [{ event: "compat/policy.rules" }] },
    async ({ event, step, attempt, runId, maxAttempts }) => {
      try {
        const fetched = await step.run("fetch", () => {
          rec(app, "policy-rules", event, runId, "fetch", attempt, { maxAttempts });
          const planned = event.data.plan[attempt];
          if (planned) throw namedError(...planned);
          return { fetchedAtAttempt: attempt };
        });
        return { fetch: fetched };
      } catch (err) {
        return { caught: { name: err.name, message: err.message } };
      }
    },
  );

  // Cool-downs (feature 4): step `limited` throws RetryAfterError (1 s) while `attempt < event.data.times`.
  const limited = (id) =>
    inngest.createFunction(
      { id, retries: 4, triggers: [{ event: `compat/${id.replace("policy-", "policy.")}` }] },
      async ({ event, step, attempt, runId, maxAttempts }) => {
        try {
          return await step.run("limited", () => {
            rec(app, id, event, runId, "limited", attempt, { maxAttempts });
            if (attempt < event.data.times) throw new RetryAfterError("the API says slow down", 1000);
            return { doneAtAttempt: attempt };
          });
        } catch (err) {
          return { caught: { name: err.name, message: err.message } };
        }
      },
    );

  // Pausing instead of failing (feature 5): step `flaky` fails until the file `event.data.flag` exists.
  const pause = inngest.createFunction(
    { id: "policy-pause", retries: 4, triggers: [{ event: "compat/policy.pause" }] },
    async ({ event, step, attempt, runId }) => {
      const flaky = await step.run("flaky", () => {
        rec(app, "policy-pause", event, runId, "flaky", attempt);
        if (!fs.existsSync(event.data.flag)) throw new Error("the flag is down");
        return "up";
      });
      return { flaky };
    },
  );
  return [charge, rules, limited("policy-cool-wide"), limited("policy-cool-tight"), pause];
}

/** An ordinary error with its own `name` (what the SDK reports and Durin's rules match). */
function namedError(name, message) {
  const err = new Error(message);
  err.name = name;
  return err;
}

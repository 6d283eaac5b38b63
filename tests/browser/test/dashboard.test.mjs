// The dashboard in a real headless Chromium (the system's /usr/bin/chromium, driven by playwright-core)
// against real `durin dev` processes and the real example app (target/debug/retries-doc-app):
//
//   stack "fast"  durin dev --backoff-scale 0.01: runs fail or complete within seconds
//   stack "slow"  durin dev with the real backoff table: a run waits 15-45 s in backoff, long enough to watch
//                 its countdown, press "Retry now" and "Cancel"
//   stack "pause" durin dev --retry-policies: sync-systems' save-data has 1 retry, then pauses its run
//
// The steps share one browser page and run in order. Screenshots go to artifacts/browser/ (gitignored); a
// failing step also saves failure-<step>.png there and prints the processes' logs.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";

import { Stack, artifactsDir, freePort, sleep, until } from "./stack.mjs";

const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const ERROR = "destination system refused the write";

const fast = new Stack("fast", { backoffScale: 0.01 });
const slow = new Stack("slow");
const PAUSE_POLICIES = {
  policies: [
    {
      function: "retries-doc-sync-systems",
      step: "save-data",
      retries: 1,
      on_exhausted: "pause",
      backoff: { kind: "fixed", interval_ms: 50 },
    },
  ],
};
const pause = new Stack("pause", { retryPolicies: PAUSE_POLICIES });
let context;
let page;
let userDataDir;
const pageErrors = [];

/** Shared between the steps. */
const state = {};

const sel = {
  row: (fnId, status) => `[data-testid=run-row][data-function-id="${fnId}"]${status ? `[data-status="${status}"]` : ""}`,
  step: (name) => `[data-testid=step][data-step-name="${name}"]`,
  runStatus: (status) => `[data-testid=run-status][data-status="${status}"]`,
};

async function shot(name) {
  fs.mkdirSync(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** A test step: on failure it saves a screenshot and prints the processes' logs, then fails. */
function step(name, fn, timeout = 90_000) {
  it(name, { timeout }, async () => {
    try {
      await fn();
    } catch (err) {
      const slug = name.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "").toLowerCase();
      try {
        const file = await shot(`failure-${slug}`);
        process.stderr.write(`screenshot of the failure: ${file}\n`);
      } catch {}
      process.stderr.write(`${fast.logs()}\n${slow.logs()}\n${pause.logs()}\n`);
      throw err;
    }
  });
}

async function visible(selector, timeout = 20_000) {
  await page.locator(selector).first().waitFor({ state: "visible", timeout });
}

async function texts(selector) {
  return page.locator(selector).allTextContents();
}

/** The run id in the page's hash (#/runs/{id}), once it is a run page other than `not`. */
async function runPageId(not) {
  return until(`a run page other than ${not}`, async () => {
    const m = /^#\/runs\/([^/?]+)$/.exec(new URL(page.url()).hash);
    const id = m && decodeURIComponent(m[1]);
    return id && id !== not && (await page.locator(`[data-testid=run-page][data-run-id="${id}"]`).count()) ? id : null;
  });
}

describe("dashboard in a real browser", () => {
  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    // Screenshots of an earlier run's failures would mislead.
    if (fs.existsSync(artifactsDir)) {
      for (const f of fs.readdirSync(artifactsDir)) if (f.startsWith("failure-")) fs.rmSync(path.join(artifactsDir, f));
    }
    await Promise.all([fast.start(), slow.start(), pause.start()]);
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "durin-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1440, height: 900 },
    });
    page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(20_000);
    page.on("pageerror", (err) => pageErrors.push(err));
    page.on("dialog", (dialog) => dialog.accept());
  });

  after(async () => {
    await context?.close().catch(() => {});
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    await Promise.all([fast.stop(), slow.stop(), pause.stop()]);
  });

  step("the runs list shows new runs as they start and end, without a reload", async () => {
    await page.goto(`${fast.url}/#/runs`);
    await visible("[data-testid=runs-empty]");
    assert.equal(await page.title(), "Runs · Durin");
    await page.evaluate(() => {
      window.__sameDocument = true;
    });

    state.syncFn = fast.fn("sync-systems");
    state.clickFn = fast.fn("click-recorder");
    // save-data fails on all of its 5 attempts (4 retries), so the run fails; click-recorder fails twice and
    // then completes.
    const syncEvent = await fast.send("app/sync.requested", { save_data_failures: 5 });
    await fast.send("app/button.clicked", { button: "signup" });

    await visible(sel.row(state.syncFn));
    await visible(sel.row(state.clickFn));
    await visible(sel.row(state.syncFn, "Failed"), 30_000);
    await visible(sel.row(state.clickFn, "Completed"), 30_000);
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "the list updated in place, no reload");
    assert.equal(await page.locator("[data-testid=run-row]").count(), 2);

    state.failedRun = (await fast.runOf(syncEvent)).run_id;
    const row = page.locator(sel.row(state.syncFn, "Failed"));
    assert.equal(await row.getAttribute("data-run-id"), state.failedRun);
    assert.match(await row.locator("[data-testid=run-status]").innerText(), /Failed/);
    assert.equal(await row.locator("[data-testid=run-error-line]").innerText(), `Error: ${ERROR}`);

    // The status filter narrows the list (and keeps polling).
    await page.selectOption("[data-testid=filter-status]", "Failed");
    await until("only failed runs listed", async () => {
      const statuses = await page.locator("[data-testid=run-row]").evaluateAll((rows) => rows.map((r) => r.dataset.status));
      return statuses.length === 1 && statuses[0] === "Failed";
    });
    await page.click("[data-testid=filter-clear]");
    await until("both runs listed again", async () => (await page.locator("[data-testid=run-row]").count()) === 2);
    await shot("runs-list");
  });

  step("the failed run's page shows every attempt of every step with its error", async () => {
    await page.click(`${sel.row(state.syncFn, "Failed")} [data-testid=run-link]`);
    assert.equal(await runPageId(null), state.failedRun);
    await visible(sel.runStatus("Failed"));
    assert.equal(await page.innerText("[data-testid=run-id]"), state.failedRun);

    // get-data: one attempt, fine.
    const getData = page.locator(sel.step("get-data"));
    await getData.waitFor();
    assert.equal(await getData.getAttribute("data-step-status"), "completed");
    assert.deepEqual(await getData.locator("[data-testid=attempt]").evaluateAll((as) => as.map((a) => a.dataset.outcome)), ["ok"]);

    // save-data: five failed attempts, each with its error, numbered 1 to 5.
    const saveData = page.locator(sel.step("save-data"));
    assert.equal(await saveData.getAttribute("data-step-status"), "failed");
    const attempts = saveData.locator("[data-testid=attempt]");
    assert.equal(await attempts.count(), 5);
    const outcomes = await attempts.evaluateAll((as) => as.map((a) => a.dataset.outcome));
    assert.ok(outcomes.every((o) => o !== "ok"), `every save-data attempt failed: ${outcomes}`);
    assert.deepEqual(
      (await saveData.locator("[data-testid=attempt-number]").allInnerTexts()).map((t) => t.replace(/\s+/g, " ").trim()),
      [1, 2, 3, 4, 5].map((n) => `Attempt ${n} / 5`),
    );
    assert.deepEqual(await saveData.locator("[data-testid=attempt-error] [data-testid=error-message]").allInnerTexts(), Array(5).fill(ERROR));
    assert.deepEqual(await saveData.locator("[data-testid=attempt-error] [data-testid=error-name]").allInnerTexts(), Array(5).fill("Error"));
    for (const t of await saveData.locator("[data-testid=attempt-duration]").allInnerTexts()) assert.match(t, /^\d+(\.\d+)? (ms|s)$/);
    for (const t of await saveData.locator("[data-testid=attempt-started]").allInnerTexts()) assert.match(t, /^\d\d:\d\d:\d\d\.\d{3}$/);
    // Failed attempts stand out with a word, not colour alone.
    for (const t of await saveData.locator("[data-testid=attempt-outcome]").allInnerTexts()) assert.match(t, /Error/);

    // The page agrees with the API.
    const apiAttempts = await fast.get(`/v1/runs/${state.failedRun}/attempts`);
    assert.equal(apiAttempts.filter((a) => a.step_name === "save-data").length, 5);

    // Stacks are folded; one opens on a click.
    const firstStack = saveData.locator("[data-testid=attempt-error] details").first();
    assert.equal(await firstStack.evaluate((d) => d.open), false);
    await firstStack.locator("summary").click();
    await firstStack.locator("[data-testid=error-stack]").waitFor({ state: "visible" });
    assert.match(await firstStack.locator("[data-testid=error-stack]").innerText(), new RegExp(ERROR));
    // ...and stays open across the page's polling.
    await sleep(2500);
    assert.equal(await firstStack.evaluate((d) => d.open), true);

    // Why it failed, in one line at the top.
    assert.match(await page.innerText("[data-testid=failure-summary]"), new RegExp(`Failed in step save-data after 5 attempts: Error: ${ERROR}`));
    // The run's error, and no retry to wait for.
    assert.match(await page.innerText("[data-testid=run-error]"), new RegExp(`Error: ${ERROR}`));
    assert.equal(await page.locator("[data-testid=btn-retry-now]").count(), 0);
    assert.equal(await page.locator("[data-testid=btn-cancel]").isDisabled(), true);
    await shot("failed-run");
  });

  step("rerun starts a new run that links back to the original", async () => {
    await page.click("[data-testid=btn-rerun]");
    const rerun = await runPageId(state.failedRun);
    state.rerun = rerun;
    await visible(`[data-testid=original-run-link][data-run-id="${state.failedRun}"]`);
    const apiRun = await fast.get(`/v1/runs/${rerun}`);
    assert.equal(apiRun.original_run_id, state.failedRun);
    assert.equal(apiRun.function_id, state.syncFn);
    // Same event data, so the rerun fails the same way; the page follows it live.
    await visible(sel.runStatus("Failed"), 30_000);
    await until("the rerun's five save-data attempts", async () => (await page.locator(`${sel.step("save-data")} [data-testid=attempt]`).count()) === 5);
    await shot("rerun");

    // The original run lists its rerun; the runs list marks it as a rerun.
    await page.click("[data-testid=original-run-link]");
    assert.equal(await runPageId(rerun), state.failedRun);
    await visible(`[data-testid=rerun-link][data-run-id="${rerun}"]`);
    await page.click("[data-testid=nav-runs]");
    await visible(`[data-testid=run-row][data-run-id="${rerun}"] [data-testid=rerun-chip]`);
    await shot("runs-list-with-rerun");
  });

  step("rerun from a step keeps the earlier steps' results", async () => {
    await page.goto(`${fast.url}/#/runs/${state.failedRun}`);
    await visible(sel.runStatus("Failed"));
    await page.click(`[data-testid=btn-rerun-from][data-step="save-data"]`);
    const fromStep = await runPageId(state.failedRun);
    assert.notEqual(fromStep, state.rerun);
    await visible(`[data-testid=original-run-link][data-run-id="${state.failedRun}"]`);
    await visible(sel.runStatus("Failed"), 30_000);
    await until("the new run's five save-data attempts", async () => (await page.locator(`${sel.step("save-data")} [data-testid=attempt]`).count()) === 5);
    // get-data is not run again: its result is kept, shown first, with no attempt of its own.
    const attempts = await fast.get(`/v1/runs/${fromStep}/attempts`);
    assert.deepEqual(
      attempts.filter((a) => a.step_name === "get-data"),
      [],
      "get-data is not run again",
    );
    const names = await page.locator("[data-testid=step]").evaluateAll((steps) => steps.map((s) => s.dataset.stepName));
    assert.deepEqual(names.slice(0, 2), ["get-data", "save-data"]);
    const getData = page.locator(sel.step("get-data"));
    assert.equal(await getData.getAttribute("data-step-status"), "completed");
    await getData.locator("[data-testid=step-kept]").waitFor();
    await shot("rerun-from-step");
  });

  step("the runs list reruns every failed run of a function at once", async () => {
    await page.goto(`${fast.url}/#/runs?status=Failed&function_id=${encodeURIComponent(state.syncFn)}`);
    await visible(sel.row(state.syncFn, "Failed"));
    const failed = await until("the three failed sync-systems runs", async () => {
      const runs = await fast.get(`/v1/runs?status=Failed&function_id=${state.syncFn}`);
      return runs.length === 3 ? runs : null;
    });
    const before = new Set((await fast.get(`/v1/runs?function_id=${state.syncFn}`)).map((r) => r.run_id));
    await page.click("[data-testid=btn-bulk-rerun]"); // the confirm() dialog is accepted
    await visible("[data-testid=toast][data-kind=ok]");
    assert.match(await page.innerText("[data-testid=toast][data-kind=ok]"), /Started 3 reruns/);
    const fresh = (await fast.get(`/v1/runs?function_id=${state.syncFn}`)).filter((r) => !before.has(r.run_id));
    assert.deepEqual(fresh.map((r) => r.original_run_id).sort(), failed.map((r) => r.run_id).sort(), "one rerun of each failed run");
    // They show up in the filtered list as they fail again.
    await until("six failed runs listed", async () => (await page.locator("[data-testid=run-row]").count()) === 6, { timeoutMs: 30_000 });
  });

  step("a test event sent from the Events page starts a run; event data is shown as text", async () => {
    await page.click("[data-testid=nav-events]");
    await visible("[data-testid=send-event-form]");
    const html = "<img src=x onerror=window.__xss=1>";
    await page.fill("[data-testid=event-name-input]", "app/weekly-digest.requested");
    await page.fill("[data-testid=event-data-input]", JSON.stringify({ user_id: "user_1", note: html }));
    await page.click("[data-testid=btn-send-event]");
    await visible("[data-testid=send-result] [data-testid=sent-event-id]");
    const eventId = await page.innerText("[data-testid=send-result] [data-testid=sent-event-id]");
    const row = page.locator(`[data-testid=event-row][data-event-id="${eventId}"]`);
    await row.waitFor();
    assert.equal(await row.locator("[data-testid=event-name]").innerText(), "app/weekly-digest.requested");
    await row.locator("summary").click();
    const runLink = row.locator("[data-testid=event-runs] a");
    await runLink.waitFor();
    assert.ok((await row.innerText()).includes(html), "the event data is shown literally");
    assert.equal(await page.evaluate(() => window.__xss), undefined, "event data is never parsed as HTML");
    assert.equal(await page.locator("[data-testid=events-table] img").count(), 0);
    await shot("events");

    await runLink.click();
    await runPageId(null);
    await visible(sel.runStatus("Completed"), 30_000);
    assert.match(await page.innerText("[data-testid=run-output]"), /ada@example\.com/);
  });

  step("a run waiting in backoff shows a live countdown, retries now, and can be cancelled", async () => {
    const eventId = await slow.send("app/button.clicked", { button: "pricing" });
    const run = (await slow.runOf(eventId)).run_id;
    await page.goto(`${slow.url}/#/runs/${run}`);
    await visible(sel.runStatus("Running"));
    // Attempt 1 fails; the next comes 15-45 s later: the countdown shows it and moves.
    await visible("[data-testid=next-retry-countdown]", 20_000);
    const first = await page.innerText("[data-testid=next-retry-countdown]");
    assert.match(first, /^in \d/);
    await sleep(1200);
    assert.notEqual(await page.innerText("[data-testid=next-retry-countdown]"), first, "the countdown is live");
    const body = page.locator(sel.step("(function body)"));
    assert.equal(await body.getAttribute("data-step-status"), "scheduled");
    assert.match(await body.locator("[data-testid=error-message]").first().innerText(), /analytics store unavailable \(attempt 0\)/);
    await shot("backoff-countdown");

    // Retry now: attempt 2 runs at once (and fails, as click-recorder's second attempt does).
    await page.click("[data-testid=btn-retry-now]");
    await until("the second attempt", async () => (await body.locator("[data-testid=attempt]").count()) === 2, { timeoutMs: 10_000 });
    assert.match(await body.locator("[data-testid=error-message]").nth(1).innerText(), /attempt 1/);
    await visible("[data-testid=next-retry-countdown]");

    // Cancel: the run stops for good.
    await page.click("[data-testid=btn-cancel]");
    await visible(sel.runStatus("Cancelled"), 10_000);
    assert.equal((await slow.get(`/v1/runs/${run}`)).status, "Cancelled");
    await until("no retry shown any more", async () => (await page.locator("[data-testid=btn-retry-now], [data-testid=next-retry-countdown]").count()) === 0);
    await shot("cancelled");
  });

  step("a paused run says why, explains every attempt, and is resumed or failed from its buttons", async () => {
    const syncFn = pause.fn("sync-systems");
    assert.equal(syncFn, PAUSE_POLICIES.policies[0].function, "the policy file names the function as Durin does");
    // save-data fails its attempts 0 and 1: with 1 retry, the run pauses instead of failing.
    const run = (await pause.runOf(await pause.send("app/sync.requested", { save_data_failures: 2 }))).run_id;
    await pause.runWhen(run, "is Paused", (r) => r.status === "Paused");

    // The runs list: a Paused badge and why.
    await page.goto(`${pause.url}/#/runs?status=Paused`);
    const row = page.locator(`[data-testid=run-row][data-run-id="${run}"][data-status="Paused"]`);
    await row.waitFor();
    assert.match(await row.locator("[data-testid=run-status]").innerText(), /Paused/);
    assert.match(await row.locator("[data-testid=run-paused-line]").innerText(), /save-data: retries spent.*pauses the run/);

    // The run page: the badge, the step that paused and why, the buttons.
    await row.locator("[data-testid=run-link]").click();
    assert.equal(await runPageId(null), run);
    await visible(sel.runStatus("Paused"));
    const summary = await page.innerText("[data-testid=paused-summary]");
    assert.match(summary, new RegExp(`Paused in step save-data after 2 attempts: Error: ${ERROR}`));
    assert.match(await page.innerText("[data-testid=paused-reason]"), /retries spent: failure 2 on the policy's retries.*pauses the run until it is resumed or failed/);
    const saveData = page.locator(sel.step("save-data"));
    assert.equal(await saveData.getAttribute("data-step-status"), "paused");
    assert.equal(await page.locator("[data-testid=btn-cancel]").isDisabled(), false, "a paused run can be cancelled");

    // Each failed attempt explains itself: the verdict, the reason, then the policy, counter and delay.
    const explanations = saveData.locator("[data-testid=attempt-explanation]");
    assert.deepEqual(await explanations.evaluateAll((es) => es.map((e) => e.dataset.verdict)), ["retry", "pause"]);
    const reasons = await saveData.locator("[data-testid=explanation-reason]").allInnerTexts();
    assert.match(reasons[0], /^retry 1 of 1 on the policy's retries, after 50 ms: fixed backoff 50 ms \+ jitter 0 ms/);
    assert.match(reasons[1], /^retries spent/);
    const details = await saveData.locator("[data-testid=explanation-details]").allInnerTexts();
    assert.match(details[0], /the policy file's entry for the step · failure 1 of at most 2 · delay 50 ms = backoff 50 ms \+ jitter 0 ms/);
    assert.match(details[1], /failure 2 of at most 2/);
    assert.deepEqual(await saveData.locator("[data-testid=explanation-verdict]").allInnerTexts(), ["RETRY", "PAUSED"]);
    // The step's own attempt count (the policy's), not the function's 5.
    assert.deepEqual(
      (await saveData.locator("[data-testid=attempt-number]").allInnerTexts()).map((t) => t.replace(/\s+/g, " ").trim()),
      ["Attempt 1 / 2", "Attempt 2 / 2"],
    );
    // get-data never failed: nothing to explain.
    assert.equal(await page.locator(`${sel.step("get-data")} [data-testid=attempt-explanation]`).count(), 0);
    await shot("paused-run");

    // Resume (the confirm() is accepted): save-data starts again at attempt 0, fails its two fresh attempts
    // (the event still asks for two failures) and pauses the run again.
    await page.click("[data-testid=btn-resume]");
    await visible("[data-testid=toast][data-kind=ok]");
    await until("save-data's two fresh attempts", async () => (await saveData.locator("[data-testid=attempt]").count()) === 4, { timeoutMs: 20_000 });
    await visible(sel.runStatus("Paused"));
    const attempts = (await pause.get(`/v1/runs/${run}/attempts`)).filter((a) => a.step_name === "save-data");
    assert.deepEqual(attempts.map((a) => a.attempt), [0, 1, 0, 1], "resumed at attempt 0");
    assert.equal(await page.locator("[data-testid=btn-resume]").count(), 1);

    // Fail: the run fails with the step's error; the buttons go.
    await page.click("[data-testid=btn-fail]");
    await visible(sel.runStatus("Failed"), 10_000);
    assert.match(await page.innerText("[data-testid=run-error]"), new RegExp(`Error: ${ERROR}`));
    assert.equal((await pause.get(`/v1/runs/${run}`)).status, "Failed");
    await until("no Resume or Fail button any more", async () => (await page.locator("[data-testid=btn-resume], [data-testid=btn-fail], [data-testid=paused-summary]").count()) === 0);
    await shot("paused-run-failed");
  });

  step("the Apps page shows sync status, adds an app by URL and re-syncs", async () => {
    await page.goto(`${slow.url}/#/apps`);
    const appRow = page.locator(`[data-testid=app-row][data-app-url="${slow.appUrl}"]`);
    await appRow.waitFor();
    assert.equal(await appRow.getAttribute("data-sync"), "ok");
    assert.match(await appRow.innerText(), /Rust SDK/);
    await appRow.locator("[data-testid=btn-resync]").click();
    await visible("[data-testid=toast][data-kind=ok]");

    // An app that is not there: added, with its sync error shown.
    const missing = `http://127.0.0.1:${await freePort()}/api/inngest`;
    await page.fill("[data-testid=app-url-input]", missing);
    await page.click("[data-testid=btn-add-app]");
    const badRow = page.locator(`[data-testid=app-row][data-app-url="${missing}"]`);
    await badRow.waitFor();
    assert.equal(await badRow.getAttribute("data-sync"), "error");
    assert.ok((await badRow.locator("[data-testid=app-error]").innerText()).length > 0);
    await shot("apps");
  });

  step("the Functions page lists triggers, retries and recent runs", async () => {
    await page.goto(`${fast.url}/#/functions`);
    const row = page.locator(`[data-testid=function-row][data-function-id="${state.syncFn}"]`);
    await row.waitFor();
    assert.equal(await page.locator("[data-testid=function-row]").count(), 4);
    const text = await row.innerText();
    assert.match(text, /app\/sync\.requested/);
    assert.match(text, /4 retries/);
    await until("sync-systems' recent runs", async () => (await row.locator(".dot-link").count()) >= 3);
    await shot("functions");
    assert.deepEqual(pageErrors.map(String), [], "no uncaught error in the page");
  });
});

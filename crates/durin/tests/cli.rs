//! The `durin` client commands, run as the real binary against a running engine: what they print (human
//! tables and `--json`) and their exit codes (0 ok; 1 failed: an engine error, a 4xx/5xx answer or an
//! unreachable engine; 2 usage error).

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::{Harness, RUN_TIMEOUT, start};
use durin_sdk::{Context, Error, Function};
use serde_json::{Value, json};

/// Runs `durin <args>` against the harness's engine (`--url`).
async fn durin(h: &Harness, args: &[&str]) -> Output {
    durin_at(&h.engine.url(), args).await
}

async fn durin_at(url: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_durin"))
        .args(args)
        .args(["--url", url])
        .env_remove("DURIN_URL")
        .env_remove("NO_COLOR")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run durin")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
fn assert_exit(output: &Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

/// Runs `durin <args>`, expects exit 0 and JSON on stdout, and returns it.
async fn durin_json(h: &Harness, args: &[&str]) -> Value {
    let output = durin(h, args).await;
    assert_exit(&output, 0, &format!("durin {args:?}"));
    serde_json::from_str(&stdout(&output))
        .unwrap_or_else(|e| panic!("durin {args:?}: not JSON ({e}): {}", stdout(&output)))
}

/// Runs `durin <args>`, expects exit 0 and a table on stdout, and returns it parsed.
async fn durin_table(h: &Harness, args: &[&str]) -> Printed {
    let output = durin(h, args).await;
    assert_exit(&output, 0, &format!("durin {args:?}"));
    let printed = stdout(&output);
    assert!(
        !printed.contains('\x1b'),
        "durin {args:?}: colours on a pipe:\n{printed}"
    );
    Printed::parse(&printed)
}

/// A human table as printed: the lines before it, its header and its rows' cells (trimmed).
struct Printed {
    text: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Printed {
    fn parse(text: &str) -> Self {
        let mut lines = text.lines().filter(|l| l.starts_with('|')).map(|line| {
            line.trim_end()
                .trim_start_matches('|')
                .trim_end_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect::<Vec<_>>()
        });
        let header = lines.next().unwrap_or_default();
        Self {
            text: text.to_owned(),
            header,
            rows: lines.collect(),
        }
    }

    #[track_caller]
    fn column(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name:?} in:\n{}", self.text))
    }

    /// The cells of one column, top to bottom.
    fn values(&self, name: &str) -> Vec<&str> {
        let column = self.column(name);
        self.rows.iter().map(|r| r[column].as_str()).collect()
    }

    /// The rows whose `column` is `value`.
    fn rows_where(&self, column: &str, value: &str) -> Vec<&Vec<String>> {
        let column = self.column(column);
        self.rows.iter().filter(|r| r[column] == value).collect()
    }

    /// A step's rows in the run timeline: the row naming it and the unnamed rows after it.
    fn step(&self, name: &str) -> Vec<&Vec<String>> {
        let column = self.column("step");
        let Some(start) = self.rows.iter().position(|r| r[column] == name) else {
            return Vec::new();
        };
        let mut rows = vec![&self.rows[start]];
        rows.extend(
            self.rows[start + 1..]
                .iter()
                .take_while(|r| r[column].is_empty()),
        );
        rows
    }

    #[track_caller]
    fn cell<'a>(&self, row: &'a [String], column: &str) -> &'a str {
        &row[self.column(column)]
    }

    /// The value of a `label   value` line above the table.
    fn field(&self, label: &str) -> Option<&str> {
        self.text.lines().find_map(|line| {
            line.strip_prefix(label)
                .filter(|rest| rest.starts_with(' '))
                .map(str::trim)
        })
    }
}

/// `app/ok` completes; `app/fail` fails for good at once (no retries); `app/flaky`'s step `flaky`
/// fails twice, then completes; `app/charge`'s step `charge` always fails (default retries: it waits in
/// backoff); `app/two`'s step `first` completes and `second` fails for good.
fn functions() -> Vec<Function> {
    vec![
        Function::new("ok")
            .trigger_event("app/ok")
            .handler(|_ctx: Context| async move { Ok(json!("done")) }),
        Function::new("fail")
            .trigger_event("app/fail")
            .retries(0)
            .handler(|_ctx: Context| async move {
                Err::<Value, _>(Error::msg("the payment provider refused"))
            }),
        Function::new("flaky")
            .trigger_event("app/flaky")
            .handler(|ctx: Context| async move {
                let attempt = ctx.attempt;
                ctx.step
                    .run("flaky", || async move {
                        if attempt < 2 {
                            return Err(Error::msg(format!("flaky failure {attempt}")));
                        }
                        Ok(json!({ "attempt": attempt }))
                    })
                    .await
            }),
        Function::new("charge")
            .trigger_event("app/charge")
            .handler(|ctx: Context| async move {
                let attempt = ctx.attempt;
                ctx.step
                    .run("charge", || async move {
                        Err::<Value, _>(Error::msg(format!("card declined {attempt}")))
                    })
                    .await
            }),
        Function::new("two")
            .trigger_event("app/two")
            .retries(0)
            .handler(|ctx: Context| async move {
                let first: Value = ctx
                    .step
                    .run("first", || async { Ok::<_, Error>(json!(1)) })
                    .await?;
                ctx.step
                    .run("second", || async move {
                        Err::<Value, _>(Error::msg(format!("second refused after {first}")))
                    })
                    .await
            }),
    ]
}

async fn run_of(h: &Harness, name: &str) -> Value {
    let event = h
        .engine
        .send(name, json!({}))
        .await
        .expect("send the event");
    h.engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .expect("the run ends")
}

/// Sends `name` and returns the id of the run it starts, without waiting for it to end.
async fn start_run(h: &Harness, name: &str) -> String {
    let event = h.engine.send(name, json!({})).await.expect("send");
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        let runs = h.engine.runs_of_event(&event).await.expect("runs");
        if let Some(id) = runs.first().and_then(|r| r["run_id"].as_str()) {
            return id.to_owned();
        }
        assert!(Instant::now() < deadline, "no run for {name}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the run's step `name` is `status` with `attempts` attempts, and returns the step.
async fn wait_for_step(
    h: &Harness,
    run_id: &str,
    name: &str,
    status: &str,
    attempts: usize,
) -> Value {
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        let steps = h
            .engine
            .data(&format!("/v1/runs/{run_id}/steps"))
            .await
            .expect("steps");
        let step = steps
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == name);
        if let Some(step) = step
            && step["status"] == status
            && step["attempts"].as_array().map(Vec::len) == Some(attempts)
        {
            return step.clone();
        }
        assert!(
            Instant::now() < deadline,
            "step {name} of run {run_id} is not {status} with {attempts} attempts: {steps}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn send_prints_the_event_id_and_refuses_data_that_is_not_json() {
    let h = start(functions(), &["--backoff-scale", "0.01"]).await;

    let output = durin(&h, &["send", "app/x", "--data", r#"{"a":1}"#]).await;
    assert_exit(&output, 0, "durin send");
    let printed = stdout(&output);
    let id = printed
        .trim()
        .strip_prefix("sent event ")
        .unwrap_or_else(|| panic!("no event id in {printed:?}"));
    let event = h.engine.data(&format!("/v1/events/{id}")).await.unwrap();
    assert_eq!(event["name"], "app/x");
    assert_eq!(event["data"], json!({ "a": 1 }));

    let output = durin(&h, &["send", "app/x", "--data", "{\"b\":2}", "--json"]).await;
    assert_exit(&output, 0, "durin send --json");
    let answer: Value = serde_json::from_str(&stdout(&output)).expect("JSON answer");
    assert_eq!(answer["ids"].as_array().map(Vec::len), Some(1), "{answer}");

    let output = durin(&h, &["send", "app/x", "--data", "not json"]).await;
    assert_exit(&output, 2, "durin send --data 'not json'");
    assert!(stderr(&output).contains("--data"), "{}", stderr(&output));
    let output = durin(&h, &["send", "app/x", "--data", "[1]"]).await;
    assert_exit(&output, 2, "durin send --data '[1]'");
    assert!(stderr(&output).contains("--data"), "{}", stderr(&output));

    // An event the engine refuses: the engine's error, exit 1.
    let output = durin(&h, &["send", "inngest/x"]).await;
    assert_exit(&output, 1, "durin send inngest/x");
    assert!(stderr(&output).contains("reserved"), "{}", stderr(&output));

    let events = h.engine.data("/v1/events").await.unwrap();
    assert_eq!(
        events.as_array().unwrap().len(),
        2,
        "only the two valid events were sent: {events}"
    );
}

#[tokio::test]
async fn runs_lists_runs_filters_by_status_and_pages() {
    let h = start(functions(), &["--backoff-scale", "0.01"]).await;
    let completed = run_of(&h, "app/ok").await;
    let failed = run_of(&h, "app/fail").await;
    assert_eq!(completed["status"], "Completed");
    assert_eq!(failed["status"], "Failed");
    let completed_id = completed["run_id"].as_str().unwrap();
    let failed_id = failed["run_id"].as_str().unwrap();

    let table = durin_table(&h, &["runs"]).await;
    assert_eq!(
        table.values("run"),
        vec![failed_id, completed_id],
        "newest first:\n{}",
        table.text
    );
    assert_eq!(table.values("status"), vec!["Failed", "Completed"]);
    assert_eq!(
        table.values("function"),
        vec!["test-app-fail", "test-app-ok"]
    );
    assert!(
        table.values("ended").iter().all(|e| e.starts_with("20")),
        "{}",
        table.text
    );

    let runs = durin_json(&h, &["runs", "--status", "failed", "--json"]).await;
    let ids: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["run_id"].as_str())
        .collect();
    assert_eq!(ids, vec![failed_id], "runs: {runs}");
    assert_eq!(runs[0]["status"], "Failed");

    let table = durin_table(&h, &["runs", "--status", "Completed", "--since", "1h"]).await;
    assert_eq!(table.values("run"), vec![completed_id], "{}", table.text);
    let table = durin_table(&h, &["runs", "--function", "test-app-fail"]).await;
    assert_eq!(table.values("run"), vec![failed_id], "{}", table.text);
    let output = durin(&h, &["runs", "--function", "test-app-none"]).await;
    assert_exit(&output, 0, "durin runs --function <no runs>");
    assert_eq!(stdout(&output).trim(), "no runs");

    // Paging: a full page says how to get the next one; --before gets it.
    let output = durin(&h, &["runs", "--limit", "1"]).await;
    assert_exit(&output, 0, "durin runs --limit 1");
    let page = Printed::parse(&stdout(&output));
    assert_eq!(page.values("run"), vec![failed_id]);
    assert!(
        stderr(&output).contains(&format!("--before {failed_id}")),
        "{}",
        stderr(&output)
    );
    let page = durin_json(
        &h,
        &["runs", "--limit", "1", "--before", failed_id, "--json"],
    )
    .await;
    assert_eq!(page[0]["run_id"], completed_id, "{page}");
    assert_eq!(page.as_array().map(Vec::len), Some(1));
    let page = durin_json(&h, &["runs", "--before", completed_id, "--json"]).await;
    assert_eq!(page, json!([]));

    for (args, needle) in [
        (&["runs", "--status", "bogus"][..], "--status"),
        (&["runs", "--since", "soon"][..], "--since"),
        (&["runs", "--limit", "0"][..], "--limit"),
        (&["runs", "--limit", "many"][..], "--limit"),
        (&["runs", "--colour"][..], "--colour"),
    ] {
        let output = durin(&h, args).await;
        assert_exit(&output, 2, &format!("durin {args:?}"));
        assert!(
            stderr(&output).contains(needle),
            "durin {args:?}: {}",
            stderr(&output)
        );
    }
}

#[tokio::test]
async fn run_shows_every_attempt_of_a_run_that_retried() {
    let h = start(functions(), &["--backoff-scale", "0.01"]).await;
    let run = run_of(&h, "app/flaky").await;
    assert_eq!(run["status"], "Completed");
    let run_id = run["run_id"].as_str().unwrap();

    let table = durin_table(&h, &["run", run_id]).await;
    assert_eq!(table.field("run"), Some(run_id), "{}", table.text);
    assert_eq!(table.field("function"), Some("test-app-flaky"));
    assert_eq!(table.field("status"), Some("Completed"));
    assert!(
        table.field("ended").is_some_and(|e| e.contains("took")),
        "{}",
        table.text
    );
    assert_eq!(
        table.field("output"),
        Some(r#"{"attempt":2}"#),
        "{}",
        table.text
    );
    assert_eq!(table.field("next try"), None, "{}", table.text);

    // The step `flaky`, grouped: its name and status on the first row, one row per attempt.
    let flaky = table.step("flaky");
    assert_eq!(flaky.len(), 3, "{}", table.text);
    assert_eq!(table.cell(flaky[0], "status"), "completed");
    let attempts: Vec<&str> = flaky.iter().map(|r| table.cell(r, "attempt")).collect();
    assert_eq!(attempts, ["0", "1", "2"], "{}", table.text);
    let outcomes: Vec<&str> = flaky.iter().map(|r| table.cell(r, "outcome")).collect();
    assert_eq!(
        outcomes,
        ["ERROR", "ERROR", "ok"],
        "failures in capitals:\n{}",
        table.text
    );
    assert_eq!(table.cell(flaky[0], "error"), "Error: flaky failure 0");
    assert_eq!(table.cell(flaky[1], "error"), "Error: flaky failure 1");
    assert_eq!(table.cell(flaky[2], "error"), "");
    for row in &flaky {
        assert!(
            table.cell(row, "started").starts_with("20"),
            "{}",
            table.text
        );
        assert!(table.cell(row, "duration").ends_with('s'), "{}", table.text);
    }
    // Each failed attempt says when the next one was due; the last one has none.
    assert!(
        table.cell(flaky[0], "next try").starts_with("20"),
        "{}",
        table.text
    );
    assert!(
        table.cell(flaky[1], "next try").starts_with("20"),
        "{}",
        table.text
    );
    assert_eq!(table.cell(flaky[2], "next try"), "-");
    // The function body's own attempts (discoveries) come in their own group.
    let body = table.step("(function body)");
    assert!(!body.is_empty(), "{}", table.text);
    assert_eq!(table.cell(body[0], "status"), "completed");

    let detail = durin_json(&h, &["run", run_id, "--json"]).await;
    assert_eq!(detail["run"]["run_id"], run_id);
    let step = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "flaky")
        .unwrap_or_else(|| panic!("no step flaky in {detail}"));
    assert_eq!(step["status"], "completed");
    let flaky: Vec<_> = step["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["attempt"].as_u64().unwrap(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(flaky, vec![(0, "error"), (1, "error"), (2, "ok")]);
    assert_eq!(
        common::step_attempts(detail["attempts"].as_array().unwrap(), "flaky").len(),
        3
    );

    // A run that failed says why, and which step.
    let failed = run_of(&h, "app/two").await;
    let table = durin_table(&h, &["run", failed["run_id"].as_str().unwrap()]).await;
    assert_eq!(table.field("status"), Some("FAILED"), "{}", table.text);
    assert!(
        table
            .field("error")
            .is_some_and(|e| e.contains("second refused after 1")),
        "{}",
        table.text
    );
    assert_eq!(
        table.field("failed in"),
        Some("second after 1 attempt"),
        "{}",
        table.text
    );
    let second = table.step("second");
    assert_eq!(second.len(), 1, "{}", table.text);
    assert_eq!(table.cell(second[0], "status"), "FAILED");
    assert_eq!(table.cell(second[0], "outcome"), "ERROR");
    assert_eq!(table.cell(table.step("first")[0], "outcome"), "ok");

    let output = durin(&h, &["run", "01JNOSUCHRUN"]).await;
    assert_exit(&output, 1, "durin run <unknown id>");
    assert!(
        stderr(&output).contains("01JNOSUCHRUN") && stderr(&output).contains("not found"),
        "{}",
        stderr(&output)
    );
    let output = durin(&h, &["run", "a/b"]).await;
    assert_exit(&output, 1, "durin run a/b");
    assert!(
        stderr(&output).contains("run a/b not found"),
        "{}",
        stderr(&output)
    );
    for args in [&["run"][..], &["run", ""][..]] {
        let output = durin(&h, args).await;
        assert_exit(&output, 2, &format!("durin {args:?}"));
    }
}

/// A step waiting in backoff (the default table: the first retry is 15-45 s away): the timeline shows
/// its failed attempts and when it tries next; `retry-now` makes it due at once; `cancel` ends the run.
#[tokio::test]
async fn a_scheduled_retry_shows_when_it_tries_next_and_can_be_retried_now_or_cancelled() {
    let h = start(functions(), &[]).await;
    let run_id = start_run(&h, "app/charge").await;
    wait_for_step(&h, &run_id, "charge", "scheduled", 1).await;

    let table = durin_table(&h, &["run", &run_id]).await;
    assert_eq!(table.field("status"), Some("Running"), "{}", table.text);
    let next = table
        .field("next try")
        .unwrap_or_else(|| panic!("no next try:\n{}", table.text));
    assert!(
        next.contains("(in ") && next.ends_with("step charge, attempt 1"),
        "{next}"
    );
    let charge = table.step("charge");
    assert_eq!(charge.len(), 1, "{}", table.text);
    assert_eq!(table.cell(charge[0], "status"), "scheduled");
    assert_eq!(table.cell(charge[0], "outcome"), "ERROR");
    assert_eq!(table.cell(charge[0], "error"), "Error: card declined 0");
    let due = table.cell(charge[0], "next try");
    assert!(
        due.starts_with("20") && due.contains("(in "),
        "{}",
        table.text
    );

    let output = durin(&h, &["retry-now", &run_id]).await;
    assert_exit(&output, 0, "durin retry-now");
    assert_eq!(
        stdout(&output).trim(),
        format!("run {run_id}: 1 waiting attempt is due now")
    );
    // Attempt 1 runs at once, fails, and waits again (30-60 s).
    let step = wait_for_step(&h, &run_id, "charge", "scheduled", 2).await;
    assert!(step["next_attempt_at_ms"].as_i64().is_some(), "{step}");
    let table = durin_table(&h, &["run", &run_id]).await;
    let charge = table.step("charge");
    let rows: Vec<(&str, &str, &str)> = charge
        .iter()
        .map(|r| {
            (
                table.cell(r, "attempt"),
                table.cell(r, "outcome"),
                table.cell(r, "error"),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("0", "ERROR", "Error: card declined 0"),
            ("1", "ERROR", "Error: card declined 1")
        ],
        "{}",
        table.text
    );
    assert!(
        !table.cell(charge[0], "next try").contains("(in "),
        "{}",
        table.text
    );
    assert!(
        table.cell(charge[1], "next try").contains("(in "),
        "{}",
        table.text
    );
    assert!(
        table
            .field("next try")
            .is_some_and(|n| n.ends_with("step charge, attempt 2")),
        "{}",
        table.text
    );
    let detail = durin_json(&h, &["run", &run_id, "--json"]).await;
    let charge = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "charge")
        .cloned()
        .unwrap_or_default();
    assert_eq!(charge["status"], "scheduled", "{detail}");
    assert!(charge["next_attempt_at"].is_string(), "{detail}");

    let answer = durin_json(&h, &["retry-now", &run_id, "--json"]).await;
    assert_eq!(answer, json!({ "jobs": 1 }));
    wait_for_step(&h, &run_id, "charge", "scheduled", 3).await;

    let output = durin(&h, &["cancel", &run_id]).await;
    assert_exit(&output, 0, "durin cancel");
    assert_eq!(stdout(&output).trim(), format!("cancelled run {run_id}"));
    let cancelled = durin_json(&h, &["cancel", &run_id, "--json"]).await;
    assert_eq!(
        cancelled["status"], "Cancelled",
        "cancelling again is a no-op: {cancelled}"
    );
    let table = durin_table(&h, &["run", &run_id]).await;
    assert_eq!(table.field("status"), Some("Cancelled"), "{}", table.text);
    assert_eq!(table.field("next try"), None, "{}", table.text);

    // Nothing waits any more: the engine's 409, exit 1.
    let output = durin(&h, &["retry-now", &run_id]).await;
    assert_exit(&output, 1, "durin retry-now <cancelled run>");
    assert!(stderr(&output).contains("409"), "{}", stderr(&output));
    let completed = run_of(&h, "app/ok").await;
    let output = durin(&h, &["cancel", completed["run_id"].as_str().unwrap()]).await;
    assert_exit(&output, 1, "durin cancel <completed run>");
    assert!(
        stderr(&output).contains("already ended"),
        "{}",
        stderr(&output)
    );
    for args in [
        &["cancel", "01JNOSUCHRUN"][..],
        &["retry-now", "01JNOSUCHRUN"][..],
    ] {
        let output = durin(&h, args).await;
        assert_exit(&output, 1, &format!("durin {args:?}"));
        assert!(stderr(&output).contains("not found"), "{}", stderr(&output));
    }
    for args in [&["cancel"][..], &["retry-now"][..], &["cancel", ""][..]] {
        let output = durin(&h, args).await;
        assert_exit(&output, 2, &format!("durin {args:?}"));
    }
}

#[tokio::test]
async fn rerun_starts_a_new_run_from_the_start_from_a_step_or_for_many_runs() {
    let h = start(functions(), &["--backoff-scale", "0.01"]).await;
    let failed = run_of(&h, "app/two").await;
    let failed_id = failed["run_id"].as_str().unwrap();

    let output = durin(&h, &["rerun", failed_id]).await;
    assert_exit(&output, 0, "durin rerun");
    let printed = stdout(&output);
    let new_id = printed
        .trim()
        .strip_prefix("started run ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run id in {printed:?}"));
    assert!(
        printed.contains(&format!("a rerun of {failed_id}")),
        "{printed}"
    );
    let rerun = h.engine.wait_for_run(new_id, RUN_TIMEOUT).await.unwrap();
    assert_eq!(rerun["original_run_id"], failed_id);
    let table = durin_table(&h, &["run", new_id]).await;
    assert_eq!(table.field("rerun of"), Some(failed_id), "{}", table.text);
    assert_eq!(
        table.cell(table.step("first")[0], "outcome"),
        "ok",
        "{}",
        table.text
    );

    // From a step: the earlier step's result is kept, not run again.
    let answer = durin_json(&h, &["rerun", failed_id, "--from-step", "second", "--json"]).await;
    let from_step = answer["run_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"));
    h.engine.wait_for_run(from_step, RUN_TIMEOUT).await.unwrap();
    let table = durin_table(&h, &["run", from_step]).await;
    let first = table.step("first");
    assert_eq!(first.len(), 1, "{}", table.text);
    assert_eq!(table.cell(first[0], "status"), "completed");
    assert_eq!(table.cell(first[0], "outcome"), "kept", "{}", table.text);
    assert_eq!(table.cell(table.step("second")[0], "status"), "FAILED");

    let output = durin(&h, &["rerun", failed_id, "--from-step", "third"]).await;
    assert_exit(&output, 1, "durin rerun --from-step <unknown step>");
    assert!(
        stderr(&output).contains("no step \"third\""),
        "{}",
        stderr(&output)
    );
    let output = durin(&h, &["rerun", "01JNOSUCHRUN"]).await;
    assert_exit(&output, 1, "durin rerun <unknown run>");
    assert!(stderr(&output).contains("not found"), "{}", stderr(&output));

    // Many: every failed run of the function (three by now), newest first.
    let failed_runs = durin_json(
        &h,
        &[
            "runs",
            "--function",
            "test-app-two",
            "--status",
            "failed",
            "--json",
        ],
    )
    .await;
    assert_eq!(
        failed_runs.as_array().map(Vec::len),
        Some(3),
        "{failed_runs}"
    );
    let output = durin(
        &h,
        &["rerun", "--function", "test-app-two", "--since", "1h"],
    )
    .await;
    assert_exit(&output, 0, "durin rerun --function");
    let printed = stdout(&output);
    let started: Vec<&str> = printed.lines().collect();
    assert_eq!(started.len(), 3, "{started:?}");
    assert!(
        started.iter().all(|l| l.starts_with("started run ")),
        "{started:?}"
    );
    let answer = durin_json(
        &h,
        &[
            "rerun",
            "--function",
            "test-app-two",
            "--status",
            "completed",
            "--json",
        ],
    )
    .await;
    assert_eq!(answer, json!({ "run_ids": [] }));
    let output = durin(&h, &["rerun", "--function", "test-app-ok"]).await;
    assert_exit(&output, 0, "durin rerun --function <no failed runs>");
    assert_eq!(
        stdout(&output).trim(),
        "no failed run of test-app-ok to rerun"
    );

    for (args, needle) in [
        (&["rerun"][..], "--function"),
        (
            &["rerun", failed_id, "--function", "test-app-two"][..],
            "--function",
        ),
        (
            &["rerun", "--function", "test-app-two", "--from-step", "x"][..],
            "--from-step",
        ),
        (&["rerun", failed_id, "--status", "failed"][..], "--status"),
        (
            &["rerun", "--function", "test-app-two", "--status", "done"][..],
            "--status",
        ),
        (
            &["rerun", "--function", "test-app-two", "--until", "later"][..],
            "--until",
        ),
    ] {
        let output = durin(&h, args).await;
        assert_exit(&output, 2, &format!("durin {args:?}"));
        assert!(
            stderr(&output).contains(needle),
            "durin {args:?}: {}",
            stderr(&output)
        );
    }
}

#[tokio::test]
async fn events_lists_events_newest_first_with_filters_and_paging() {
    let h = start(functions(), &["--backoff-scale", "0.01"]).await;
    let first = h.engine.send("app/a", json!({ "n": 1 })).await.unwrap();
    let second = h.engine.send("app/b", json!({ "n": 2 })).await.unwrap();

    let table = durin_table(&h, &["events"]).await;
    assert_eq!(
        table.values("event"),
        vec![second.as_str(), first.as_str()],
        "{}",
        table.text
    );
    assert_eq!(table.values("name"), vec!["app/b", "app/a"]);
    assert_eq!(table.values("data"), vec![r#"{"n":2}"#, r#"{"n":1}"#]);
    assert!(table.values("received").iter().all(|r| r.starts_with("20")));

    let table = durin_table(&h, &["events", "--name", "app/a"]).await;
    assert_eq!(
        table.values("event"),
        vec![first.as_str()],
        "{}",
        table.text
    );
    let events = durin_json(
        &h,
        &["events", "--name", "app/b", "--since", "1h", "--json"],
    )
    .await;
    let ids: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["internal_id"].as_str())
        .collect();
    assert_eq!(ids, vec![second.as_str()], "{events}");
    assert_eq!(events[0]["data"], json!({ "n": 2 }));
    let output = durin(&h, &["events", "--name", "app/none"]).await;
    assert_exit(&output, 0, "durin events --name <none>");
    assert_eq!(stdout(&output).trim(), "no events");

    let output = durin(&h, &["events", "--limit", "1"]).await;
    assert_exit(&output, 0, "durin events --limit 1");
    assert_eq!(
        Printed::parse(&stdout(&output)).values("event"),
        vec![second.as_str()]
    );
    assert!(
        stderr(&output).contains(&format!("--before {second}")),
        "{}",
        stderr(&output)
    );
    let page = durin_json(&h, &["events", "--before", &second, "--json"]).await;
    assert_eq!(page.as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page[0]["internal_id"], first.as_str());

    for (args, needle) in [
        (&["events", "--limit", "0"][..], "--limit"),
        (&["events", "--since", "yesterday"][..], "--since"),
    ] {
        let output = durin(&h, args).await;
        assert_exit(&output, 2, &format!("durin {args:?}"));
        assert!(
            stderr(&output).contains(needle),
            "durin {args:?}: {}",
            stderr(&output)
        );
    }
}

#[tokio::test]
async fn functions_and_apps_list_what_is_registered_and_apps_add_reports_a_failed_sync() {
    let h = start(functions(), &["--backoff-scale", "0.01"]).await;
    let serve_url = h.app.serve_url();

    let table = durin_table(&h, &["functions"]).await;
    let fail = table.rows_where("function", "test-app-fail");
    assert_eq!(fail.len(), 1, "{}", table.text);
    assert_eq!(table.cell(fail[0], "triggers"), "app/fail");
    assert_eq!(table.cell(fail[0], "retries"), "0");
    assert_eq!(table.cell(fail[0], "app"), "test-app");
    let ok = table.rows_where("function", "test-app-ok");
    assert_eq!(table.cell(ok[0], "retries"), "4", "{}", table.text);
    assert_eq!(table.rows.len(), 5, "{}", table.text);
    let functions = durin_json(&h, &["functions", "--json"]).await;
    let mut ids: Vec<&str> = functions
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "test-app-charge",
            "test-app-fail",
            "test-app-flaky",
            "test-app-ok",
            "test-app-two"
        ]
    );

    let table = durin_table(&h, &["apps"]).await;
    let app = table.rows_where("url", &serve_url);
    assert_eq!(app.len(), 1, "{}", table.text);
    assert_eq!(table.cell(app[0], "app"), "test-app");
    assert_eq!(table.cell(app[0], "status"), "synced");
    assert_eq!(table.cell(app[0], "functions"), "5");
    assert!(
        table.cell(app[0], "sdk").starts_with("rs:v"),
        "{}",
        table.text
    );
    assert!(
        table.cell(app[0], "synced").starts_with("20"),
        "{}",
        table.text
    );
    assert_eq!(table.cell(app[0], "error"), "");

    let table = durin_table(&h, &["apps", "sync", &serve_url]).await;
    assert_eq!(table.values("status"), vec!["synced"], "{}", table.text);
    let app = durin_json(&h, &["apps", "sync", &serve_url, "--json"]).await;
    assert_eq!(app["url"], serve_url.as_str());
    assert_eq!(app["error"], Value::Null, "{app}");

    // An app nothing serves: added, its sync fails; the answer says so and exits 1.
    let dead = format!(
        "http://127.0.0.1:{}/api/inngest",
        durin_testkit::free_port().unwrap()
    );
    let output = durin(&h, &["apps", "add", &dead]).await;
    assert_exit(&output, 1, "durin apps add <dead url>");
    let table = Printed::parse(&stdout(&output));
    assert_eq!(
        table.values("status"),
        vec!["SYNC FAILED"],
        "{}",
        table.text
    );
    assert!(
        stderr(&output).contains("failed") && stderr(&output).contains(&dead),
        "{}",
        stderr(&output)
    );
    let output = durin(&h, &["apps", "add", &dead, "--json"]).await;
    assert_exit(&output, 1, "durin apps add <dead url> --json");
    let app: Value = serde_json::from_str(&stdout(&output)).expect("JSON app");
    assert!(app["error"].is_string(), "{app}");
    let apps = durin_json(&h, &["apps", "--json"]).await;
    assert_eq!(apps.as_array().map(Vec::len), Some(2), "{apps}");
    let table = durin_table(&h, &["apps"]).await;
    let row = table.rows_where("url", &dead);
    assert_eq!(
        table.cell(row[0], "status"),
        "SYNC FAILED",
        "{}",
        table.text
    );
    assert!(!table.cell(row[0], "error").is_empty(), "{}", table.text);

    let output = durin(&h, &["apps", "add", "not a url"]).await;
    assert_exit(&output, 1, "durin apps add 'not a url'");
    assert!(stderr(&output).contains("400"), "{}", stderr(&output));
    for args in [
        &["apps", "add"][..],
        &["apps", "remove", "x"][..],
        &["apps", "add", ""][..],
    ] {
        let output = durin(&h, args).await;
        assert_exit(&output, 2, &format!("durin {args:?}"));
    }
}

#[tokio::test]
async fn an_unreachable_engine_exits_1_and_bad_dev_flags_exit_2() {
    let unreachable = "http://127.0.0.1:1";
    for args in [
        &["send", "app/x"][..],
        &["runs"][..],
        &["runs", "--status", "failed", "--json"][..],
        &["run", "01JSOMERUN"][..],
        &["run", "01JSOMERUN", "--json"][..],
        &["events"][..],
        &["rerun", "01JSOMERUN"][..],
        &["rerun", "--function", "f"][..],
        &["cancel", "01JSOMERUN"][..],
        &["retry-now", "01JSOMERUN"][..],
        &["resume", "01JSOMERUN"][..],
        &["fail", "01JSOMERUN", "--json"][..],
        &["explain", "01JSOMERUN"][..],
        &["functions", "--json"][..],
        &["apps"][..],
        &["apps", "add", "http://127.0.0.1:3000/api/inngest"][..],
    ] {
        let output = durin_at(unreachable, args).await;
        assert_exit(&output, 1, &format!("durin {args:?} --url {unreachable}"));
        let error = stderr(&output);
        assert!(
            error.contains("cannot reach the engine") && error.contains(unreachable),
            "durin {args:?}: {error}"
        );
        assert!(
            stdout(&output).is_empty(),
            "durin {args:?}: {}",
            stdout(&output)
        );
    }
    for args in [
        &[][..],
        &["bogus"][..],
        &["runs", "extra"][..],
        &["explain"][..],
        &["resume", ""][..],
        &["runs", "--status", "sleeping"][..],
    ] {
        let output = durin_at(unreachable, args).await;
        assert_exit(&output, 2, &format!("durin {args:?}"));
    }
    let output = durin_at(unreachable, &["--help"]).await;
    assert_exit(&output, 0, "durin --help");
    for command in [
        "events",
        "rerun",
        "cancel",
        "retry-now",
        "resume",
        "fail",
        "explain",
        "functions",
        "apps",
    ] {
        assert!(
            stdout(&output).contains(command),
            "{command}: {}",
            stdout(&output)
        );
    }

    let data_dir = std::env::temp_dir().join(format!("durin-cli-test-{}", std::process::id()));
    let data_dir = data_dir.to_str().unwrap();
    for (flags, needle) in [
        (&["--backoff-scale", "0"][..], "--backoff-scale"),
        (&["--backoff-scale=-1"][..], "--backoff-scale"),
        (&["--backoff-scale", "NaN"][..], "--backoff-scale"),
        (&["--poll-interval", "0"][..], "--poll-interval"),
        (&["-u", "not a url"][..], "--sdk-url"),
    ] {
        let mut args = vec![
            "dev",
            "--port",
            "0",
            "--no-discovery",
            "--data-dir",
            data_dir,
        ];
        args.extend_from_slice(flags);
        let output = durin_at(unreachable, &args).await;
        assert_exit(&output, 2, &format!("durin {args:?}"));
        assert!(
            stderr(&output).contains(needle),
            "durin {args:?}: {}",
            stderr(&output)
        );
    }
    assert!(
        !std::path::Path::new(data_dir).exists(),
        "a refused `durin dev` created its data directory"
    );
}

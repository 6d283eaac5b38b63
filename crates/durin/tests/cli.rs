//! The `durin` client commands, run as the real binary against a running engine: what they print and
//! their exit codes (0 ok, 1 runtime failure such as an unreachable engine, 2 usage error).

mod common;

use std::process::Output;

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

/// `app/ok` completes; `app/fail` fails for good at once (no retries); `app/flaky`'s step `flaky`
/// fails twice, then completes.
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
async fn runs_lists_runs_and_filters_by_status() {
    let h = start(functions(), &["--backoff-scale", "0.01"]).await;
    let completed = run_of(&h, "app/ok").await;
    let failed = run_of(&h, "app/fail").await;
    assert_eq!(completed["status"], "Completed");
    assert_eq!(failed["status"], "Failed");
    let completed_id = completed["run_id"].as_str().unwrap();
    let failed_id = failed["run_id"].as_str().unwrap();

    let output = durin(&h, &["runs"]).await;
    assert_exit(&output, 0, "durin runs");
    let table = stdout(&output);
    for expected in [
        completed_id,
        failed_id,
        "Completed",
        "Failed",
        "test-app-ok",
        "test-app-fail",
    ] {
        assert!(table.contains(expected), "{expected} not in:\n{table}");
    }

    let output = durin(&h, &["runs", "--status", "failed", "--json"]).await;
    assert_exit(&output, 0, "durin runs --status failed --json");
    let runs: Value = serde_json::from_str(&stdout(&output)).expect("JSON runs");
    let ids: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["run_id"].as_str())
        .collect();
    assert_eq!(ids, vec![failed_id], "runs: {runs}");
    assert_eq!(runs[0]["status"], "Failed");

    let output = durin(&h, &["runs", "--status", "completed"]).await;
    assert_exit(&output, 0, "durin runs --status completed");
    assert!(stdout(&output).contains(completed_id));
    assert!(!stdout(&output).contains(failed_id));

    let output = durin(&h, &["runs", "--status", "bogus"]).await;
    assert_exit(&output, 2, "durin runs --status bogus");
    assert!(stderr(&output).contains("--status"), "{}", stderr(&output));

    let output = durin(&h, &["runs", "--since", "soon"]).await;
    assert_exit(&output, 2, "durin runs --since soon");
    assert!(stderr(&output).contains("--since"), "{}", stderr(&output));
}

#[tokio::test]
async fn run_shows_every_attempt_of_a_run_that_retried() {
    let h = start(functions(), &["--backoff-scale", "0.01"]).await;
    let run = run_of(&h, "app/flaky").await;
    assert_eq!(run["status"], "Completed");
    let run_id = run["run_id"].as_str().unwrap();

    let output = durin(&h, &["run", run_id]).await;
    assert_exit(&output, 0, "durin run");
    let printed = stdout(&output);
    assert!(printed.contains(run_id), "{printed}");
    assert!(printed.contains("Completed"), "{printed}");
    // One table row per attempt of `flaky`: attempt number, outcome and error message.
    let rows: Vec<Vec<String>> = printed
        .lines()
        .filter(|line| line.contains("| flaky "))
        .map(|line| {
            line.split('|')
                .map(|cell| cell.trim().to_owned())
                .filter(|cell| !cell.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 3, "{printed}");
    for (n, row) in rows.iter().enumerate() {
        assert_eq!(row[1], "flaky", "{printed}");
        assert_eq!(row[2], n.to_string(), "attempt number in {row:?}");
    }
    assert!(rows[0].contains(&"error".to_owned()), "{rows:?}");
    assert!(
        rows[0].iter().any(|c| c.contains("flaky failure 0")),
        "{rows:?}"
    );
    assert!(rows[1].contains(&"error".to_owned()), "{rows:?}");
    assert!(
        rows[1].iter().any(|c| c.contains("flaky failure 1")),
        "{rows:?}"
    );
    assert!(rows[2].contains(&"ok".to_owned()), "{rows:?}");

    let output = durin(&h, &["run", run_id, "--json"]).await;
    assert_exit(&output, 0, "durin run --json");
    let detail: Value = serde_json::from_str(&stdout(&output)).expect("JSON run");
    assert_eq!(detail["run"]["run_id"], run_id);
    let attempts = detail["attempts"].as_array().unwrap();
    let flaky: Vec<_> = attempts
        .iter()
        .filter(|a| a["step_name"] == "flaky")
        .map(|a| {
            (
                a["attempt"].as_u64().unwrap(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(flaky, vec![(0, "error"), (1, "error"), (2, "ok")]);

    let output = durin(&h, &["run", "01JNOSUCHRUN"]).await;
    assert_exit(&output, 1, "durin run <unknown id>");
    assert!(
        stderr(&output).contains("01JNOSUCHRUN") && stderr(&output).contains("not found"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn an_unreachable_engine_exits_1_and_bad_dev_flags_exit_2() {
    let unreachable = "http://127.0.0.1:1";
    for args in [
        &["send", "app/x"][..],
        &["runs"][..],
        &["runs", "--status", "failed", "--json"][..],
        &["run", "01JSOMERUN"][..],
    ] {
        let output = durin_at(unreachable, args).await;
        assert_exit(&output, 1, &format!("durin {args:?} --url {unreachable}"));
        let error = stderr(&output);
        assert!(
            error.contains("cannot reach the engine") && error.contains(unreachable),
            "durin {args:?}: {error}"
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

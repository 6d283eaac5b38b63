//! Pausing instead of failing (issue 8, features 5 and 9), against a real `durin dev` with a policy file
//! and a Rust SDK app: a step out of retries pauses its run; the API says why (the run's `paused`, each
//! attempt's `explanation`); `durin explain` prints the reasons; `durin resume` starts the step again at
//! attempt 0 and the run completes; `POST /v1/runs/{id}/fail` fails a paused run with the step's error;
//! resuming or failing a run that is not paused is a 409 naming its status.

mod common;

use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{BANK_DOWN, Harness, RUN_TIMEOUT, assert_json_error, start, step_attempts};
use durin_sdk::{Context, Function};
use durin_testkit::Recorder;
use serde_json::{Value, json};

const POLICIES: &str = r#"{"policies": [
    {"function": "test-app-flaky", "retries": 1, "on_exhausted": "pause",
     "backoff": {"kind": "fixed", "interval_ms": 50}}
]}"#;

/// `sleepy`: sleeps a minute, so its run is Running while the test acts on it.
fn sleepy() -> Function {
    Function::new("sleepy")
        .trigger_event("app/sleepy")
        .handler(|ctx: Context| async move {
            ctx.step.sleep("nap", Duration::from_secs(60)).await?;
            Ok(json!(null))
        })
}

async fn durin(h: &Harness, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_durin"))
        .args(args)
        .args(["--url", &h.engine.url()])
        .env_remove("DURIN_URL")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run durin")
}

#[track_caller]
fn expect_exit(output: &Output, code: i32, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}: exit {:?}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Sends `app/flaky` and waits until its run is no longer Running (Paused, or ended).
async fn flaky_run(h: &Harness) -> (String, Value) {
    let event = h.engine.send("app/flaky", json!({})).await.expect("send");
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .expect("the run pauses");
    let id = run["run_id"].as_str().expect("a run id").to_owned();
    (id, run)
}

async fn post(h: &Harness, path: &str) -> (u16, Value) {
    h.engine.post_json(path, &json!({})).await.expect("POST")
}

#[tokio::test]
async fn a_step_out_of_retries_pauses_its_run_until_it_is_resumed_or_failed() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("policies.json");
    std::fs::write(&file, POLICIES).expect("write the policy file");
    let down = Arc::new(AtomicBool::new(true));
    let seen = Recorder::new();
    let h = start(
        vec![
            common::pausable_charge(down.clone(), seen.clone()),
            sleepy(),
        ],
        &["--retry-policies", file.to_str().expect("a UTF-8 path")],
    )
    .await;

    // Two attempts (retries 1, 50 ms apart), then the run pauses instead of failing.
    let (run_id, run) = flaky_run(&h).await;
    assert_eq!(run["status"], "Paused", "{run}");
    assert_eq!(seen.attempts("charge"), vec![0, 1]);
    let attempts = h.engine.attempts(&run_id).await.expect("attempts");
    assert_eq!(
        step_attempts(&attempts, "charge"),
        vec![(0, "error".into()), (1, "error".into())]
    );
    let explanations: Vec<&Value> = attempts
        .iter()
        .filter(|a| a["step_name"] == "charge")
        .map(|a| &a["explanation"])
        .collect();
    assert_eq!(explanations[0]["verdict"], "retry", "{attempts:#?}");
    assert_eq!(explanations[0]["delay_ms"], 50, "{attempts:#?}");
    assert_eq!(explanations[1]["verdict"], "pause", "{attempts:#?}");
    let reasons: Vec<String> = explanations
        .iter()
        .map(|e| e["reason"].as_str().expect("a reason").to_owned())
        .collect();
    assert!(
        reasons[1].contains("pauses the run"),
        "the pause says why: {reasons:?}"
    );

    // The run says why it is paused, in its detail and in the runs list.
    let detail = h
        .engine
        .data(&format!("/v1/runs/{run_id}"))
        .await
        .expect("the run");
    assert_eq!(detail["status"], "Paused");
    assert_eq!(detail["paused"]["reason"], reasons[1].as_str(), "{detail}");
    assert_eq!(detail["paused"]["step"], "charge", "{detail}");
    assert_eq!(detail["paused"]["error"]["message"], BANK_DOWN, "{detail}");
    assert!(detail["paused"]["since"].is_string(), "{detail}");
    let listed = h
        .engine
        .data("/v1/runs?status=Paused")
        .await
        .expect("paused runs");
    assert_eq!(listed[0]["run_id"], run_id.as_str(), "{listed}");
    assert_eq!(listed[0]["paused"]["reason"], reasons[1].as_str());

    // The CLI: `durin runs` lists it as Paused, `durin run` says why, `durin explain` gives every reason.
    let runs = expect_exit(
        &durin(&h, &["runs", "--status", "paused"]).await,
        0,
        "durin runs --status paused",
    );
    assert!(
        runs.lines()
            .any(|l| l.contains(&run_id) && l.contains("Paused")),
        "{runs}"
    );
    let shown = expect_exit(&durin(&h, &["run", &run_id]).await, 0, "durin run");
    assert!(
        shown.contains("paused in  charge after 2 attempts"),
        "{shown}"
    );
    assert!(shown.contains(&format!("durin resume {run_id}")), "{shown}");
    let explained = expect_exit(&durin(&h, &["explain", &run_id]).await, 0, "durin explain");
    for reason in &reasons {
        assert!(
            explained.contains(&format!("  reason   {reason}")),
            "{reason:?} in:\n{explained}"
        );
    }
    for line in [
        "status     Paused",
        &format!("step charge, attempt 0: ERROR (Error: {BANK_DOWN})"),
        "  policy   the policy file's entry for the function",
        "  verdict  retry",
        "  counter  failure 1 of at most 2 on the policy's retries (1 retry)",
        "  delay    50 ms = backoff 50 ms + jitter 0 ms",
        "  verdict  pause",
        "  counter  failure 2 of at most 2 on the policy's retries (1 retry)",
    ] {
        assert!(explained.contains(line), "{line:?} in:\n{explained}");
    }
    let as_json: Value = serde_json::from_str(&expect_exit(
        &durin(&h, &["explain", &run_id, "--json"]).await,
        0,
        "durin explain --json",
    ))
    .expect("JSON");
    assert_eq!(as_json["run"]["status"], "Paused");
    assert_eq!(as_json["attempts"][1]["explanation"]["verdict"], "pause");

    // The bank is back; `durin resume`: the step runs again as attempt 0 and the run completes.
    down.store(false, Ordering::SeqCst);
    let resumed = expect_exit(&durin(&h, &["resume", &run_id]).await, 0, "durin resume");
    assert!(
        resumed.contains(&format!("resumed run {run_id}")),
        "{resumed}"
    );
    let run = h
        .engine
        .wait_for_run(&run_id, RUN_TIMEOUT)
        .await
        .expect("the run ends");
    assert_eq!(run["status"], "Completed", "{run}");
    assert_eq!(run["output"], json!({ "charged": true }));
    assert!(run.get("paused").is_none(), "{run}");
    assert_eq!(seen.attempts("charge"), vec![0, 1, 0]);
    let attempts = h.engine.attempts(&run_id).await.expect("attempts");
    assert_eq!(
        step_attempts(&attempts, "charge"),
        vec![(0, "error".into()), (1, "error".into()), (0, "ok".into())]
    );

    // A completed run is neither resumed nor failed: 409, naming its status (and the CLI exits 1).
    for action in ["resume", "fail"] {
        let answer = post(&h, &format!("/v1/runs/{run_id}/{action}")).await;
        assert_json_error(action, &answer, 409, &["not paused", "Completed"]);
    }
    let refused = durin(&h, &["resume", &run_id]).await;
    expect_exit(&refused, 1, "durin resume of a completed run");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("Completed"),
        "{refused:?}"
    );
    // Nor is a running one; an unknown run is a 404.
    let sleeping = h.engine.send("app/sleepy", json!({})).await.expect("send");
    let sleeping = h
        .engine
        .runs_of_event(&sleeping)
        .await
        .expect("runs")
        .first()
        .and_then(|r| r["run_id"].as_str().map(str::to_owned))
        .expect("the sleepy run");
    for action in ["resume", "fail"] {
        let answer = post(&h, &format!("/v1/runs/{sleeping}/{action}")).await;
        assert_json_error(action, &answer, 409, &["not paused", "Running"]);
        let answer = post(&h, &format!("/v1/runs/no-such-run/{action}")).await;
        assert_eq!(answer.0, 404, "{action} of an unknown run: {answer:?}");
    }
    h.engine
        .delete(&format!("/v1/runs/{sleeping}"))
        .await
        .expect("cancel the sleepy run");

    // The bank is down again: a second run pauses, and `durin fail` fails it with the step's error.
    down.store(true, Ordering::SeqCst);
    let (second, run) = flaky_run(&h).await;
    assert_eq!(run["status"], "Paused", "{run}");
    let failed = expect_exit(&durin(&h, &["fail", &second]).await, 0, "durin fail");
    assert!(
        failed.contains(&format!("failed run {second}: Error: {BANK_DOWN}")),
        "{failed}"
    );
    let run = h
        .engine
        .data(&format!("/v1/runs/{second}"))
        .await
        .expect("the run");
    assert_eq!(run["status"], "Failed", "{run}");
    assert_eq!(run["output"]["name"], "Error", "{run}");
    assert_eq!(run["output"]["message"], BANK_DOWN, "{run}");
    assert!(run["ended_at"].is_string(), "{run}");
    let answer = post(&h, &format!("/v1/runs/{second}/resume")).await;
    assert_json_error("resume of a failed run", &answer, 409, &["Failed"]);
    // The step ran only its two attempts: failing made no other.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(seen.attempts("charge"), vec![0, 1, 0, 0, 1]);
}

//! A paused run across instances (issue 8, feature 5): with two `durin serve` instances on one PostgreSQL
//! database, a run paused by its retry policy is resumed through the other instance, which runs the step
//! again from attempt 0 (the first instance is gone by then); another paused run is failed the same way.
//!
//! Needs a server: `eval "$(scripts/postgres)"` exports `DURIN_TEST_DATABASE_URL`. Without it the test
//! fails, saying so (as every PostgreSQL test does).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{RUN_TIMEOUT, serve_instance};
use durin_sdk::{Client, serve};
use durin_testkit::{EngineProcess, Recorder, TestDatabase, free_port, serve_app};
use serde_json::{Value, json};

const APP: &str = "pause-app";

async fn wait_for_status(engine: &EngineProcess, run_id: &str, status: &str) -> Value {
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        let run = engine
            .data(&format!("/v1/runs/{run_id}"))
            .await
            .expect("the run");
        if run["status"] == status {
            return run;
        }
        assert!(Instant::now() < deadline, "never {status}: {run:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn pause_one(engine: &EngineProcess) -> String {
    let event = engine.send("app/flaky", json!({})).await.expect("send");
    let deadline = Instant::now() + RUN_TIMEOUT;
    let run_id = loop {
        let runs = engine.runs_of_event(&event).await.expect("runs");
        if let Some(id) = runs.first().and_then(|r| r["run_id"].as_str()) {
            break id.to_owned();
        }
        assert!(Instant::now() < deadline, "no run for {event}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    wait_for_status(engine, &run_id, "Paused").await;
    run_id
}

#[tokio::test]
async fn a_run_paused_on_one_instance_is_resumed_or_failed_through_another() {
    let database = TestDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let down = Arc::new(AtomicBool::new(true));
    let seen = Recorder::new();
    let port_a = free_port().expect("a free port");
    let client = Client::with_base_url(APP, format!("http://127.0.0.1:{port_a}"))
        .with_signing_key(durin_testkit::TEST_SIGNING_KEY)
        .expect("a valid signing key");
    let app = serve_app(serve(
        client,
        vec![common::pausable_charge(down.clone(), seen.clone())],
    ))
    .await
    .expect("serve the app");
    let mut a = serve_instance(&database, &app.serve_url(), "node-a", Some(port_a), &[]).await;
    let b = serve_instance(&database, &app.serve_url(), "node-b", None, &[]).await;
    let policy = json!({"policies": [
        {"function": format!("{APP}-flaky"), "retries": 1, "on_exhausted": "pause",
         "backoff": {"kind": "fixed", "interval_ms": 50}}
    ]});
    let (status, answer) = a.put_json("/v1/policies", &policy).await.expect("PUT");
    assert_eq!(status, 200, "{answer}");

    // Paused through A (B took the document from the store; whichever instance ran the attempts).
    let resumed = pause_one(&a).await;
    let failed = pause_one(&a).await;
    let paused = b.data(&format!("/v1/runs/{resumed}")).await.expect("run");
    assert_eq!(
        paused["status"], "Paused",
        "B reads the same run: {paused:#}"
    );
    assert_eq!(paused["paused"]["step"], "charge", "{paused:#}");
    assert_eq!(seen.attempts("charge"), vec![0, 1, 0, 1]);

    // A is gone; the outage is over. Resumed through B, B runs the step again from attempt 0.
    a.kill();
    down.store(false, Ordering::SeqCst);
    let (status, answer) = b
        .post_json(&format!("/v1/runs/{resumed}/resume"), &json!({}))
        .await
        .expect("resume");
    assert_eq!(status, 200, "{answer}");
    let run = wait_for_status(&b, &resumed, "Completed").await;
    assert_eq!(run["output"], json!({ "charged": true }), "{run:#}");
    assert_eq!(seen.attempts("charge"), vec![0, 1, 0, 1, 0]);

    // The other paused run is failed through B, with the step's error; nothing runs it again.
    let (status, answer) = b
        .post_json(&format!("/v1/runs/{failed}/fail"), &json!({}))
        .await
        .expect("fail");
    assert_eq!(status, 200, "{answer}");
    let run = wait_for_status(&b, &failed, "Failed").await;
    assert_eq!(run["output"]["message"], common::BANK_DOWN, "{run:#}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen.attempts("charge").len(), 5);
    // A second resume of a run that is no longer paused is refused, naming its status.
    let (status, answer) = b
        .post_json(&format!("/v1/runs/{failed}/resume"), &json!({}))
        .await
        .expect("resume");
    assert_eq!(status, 409, "{answer}");
}

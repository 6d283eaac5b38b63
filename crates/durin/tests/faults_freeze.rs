//! A frozen instance on PostgreSQL (issue 7): `durin serve` instance A is stopped (SIGSTOP) while its
//! call to the app is in flight, long enough for its lease to expire; instance B takes the job over (the
//! lost attempt recorded as interrupted, R11) and finishes the run. When A wakes up and tries to record
//! its stale attempt, the store refuses it (lease fencing): every (job, attempt) is recorded once.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use durin_sdk::{Client, Context, Function, serve};
use durin_testkit::{EngineProcess, Recorder, TestDatabase, free_port, serve_app};
use serde_json::{Value, json};

fn signal(engine: &EngineProcess, name: &str) {
    let pid = engine.pid().expect("a running engine").to_string();
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid}");
}

/// The call may take 1 s, its lease 1 s more: a frozen instance loses the job after 2 s. The SDK answers
/// after every step (no checkpointing): no checkpoint to a frozen instance.
async fn instance(
    database: &TestDatabase,
    app_url: &str,
    port: Option<u16>,
    name: &str,
) -> EngineProcess {
    common::serve_instance(
        database,
        app_url,
        name,
        port,
        &["--request-timeout", "1", "--lease-margin", "1"],
    )
    .await
}

#[tokio::test]
async fn a_frozen_instance_cannot_record_an_attempt_another_instance_took_over() {
    let database = TestDatabase::create()
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let seen = Recorder::new();
    let recorder = seen.clone();
    let function = Function::new("slow")
        .trigger_event("test/slow")
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                let attempt = ctx.attempt;
                let done: Value = ctx
                    .step
                    .run("work", || async move {
                        recorder.record("work", attempt);
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        Ok::<_, durin_sdk::Error>(json!({ "attempt": attempt }))
                    })
                    .await?;
                Ok(done)
            }
        });
    let first_port = free_port().expect("a free port");
    let client = Client::with_base_url("freeze-app", format!("http://127.0.0.1:{first_port}"))
        .with_signing_key(durin_testkit::TEST_SIGNING_KEY)
        .expect("a valid signing key");
    let app = serve_app(serve(client, vec![function]))
        .await
        .expect("serve the app");
    let a = instance(&database, &app.serve_url(), Some(first_port), "node-a").await;

    let event = a.send("test/slow", json!({})).await.expect("send");
    // A has called the app: freeze it before it can record the answer.
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.attempts("work").is_empty() {
        assert!(Instant::now() < deadline, "the app was never called");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    signal(&a, "STOP");

    let b = instance(&database, &app.serve_url(), None, "node-b").await;
    let run = b
        .wait_for_run_end(&event, Duration::from_secs(60))
        .await
        .expect("B finishes the run");
    let run_id = run["run_id"].as_str().expect("run id").to_owned();
    assert_eq!(run["status"], "Completed", "{run}");

    // A wakes up: its call has ended (answered or timed out) and it tries to record attempt 0.
    signal(&a, "CONT");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !a.log().contains("lease lost") {
        assert!(
            Instant::now() < deadline,
            "A never tried to record its stale attempt; its log:\n{}",
            a.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let attempts = b.attempts(&run_id).await.expect("attempts");
    let mut keys: Vec<(String, u64)> = attempts
        .iter()
        .map(|r| {
            (
                r["job_id"].as_str().unwrap_or_default().to_owned(),
                r["attempt"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    let recorded = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(
        keys.len(),
        recorded,
        "an attempt was recorded twice: {attempts:#?}"
    );
    let outcomes: Vec<&str> = attempts
        .iter()
        .filter(|r| r["step_name"] == "work" || r["attempt"] == 0)
        .map(|r| r["outcome"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        outcomes.first(),
        Some(&"interrupted"),
        "A's lost attempt is recorded by B as interrupted: {attempts:#?}"
    );
    // At least once: the step ran under A (attempt 0) and again under B (attempt 1).
    assert_eq!(seen.attempts("work"), vec![0, 1]);
    let output = b
        .data(&format!("/v1/runs/{run_id}"))
        .await
        .expect("the run")["output"]
        .clone();
    assert_eq!(output, json!({ "attempt": 1 }));
}

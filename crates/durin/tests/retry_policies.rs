//! Retry policies configured on Durin's side (issue 8, features 1 and 2), against a real `durin dev` and an
//! app that knows nothing of them: a step's own retry count and backoff (fixed, exponential) from
//! `--retry-policies`, a function entry replacing the function's retries, and the SDK told the largest
//! attempt count any of the function's steps may take.

mod common;

use std::time::Duration;

use common::{RUN_TIMEOUT, start, step_gaps};
use durin_sdk::{Context, Error, Function};
use durin_testkit::Recorder;
use serde_json::{Value, json};

const POLICIES: &str = r#"{"policies": [
    {"function": "test-app-charge", "step": "call-bank", "retries": 1,
     "backoff": {"kind": "fixed", "interval_ms": 200}},
    {"function": "test-app-charge", "step": "ledger",
     "backoff": {"kind": "exponential", "initial_interval_ms": 100, "backoff_coefficient": 2.0,
                 "maximum_interval_ms": 300}},
    {"function": "test-app-sync", "retries": 0}
]}"#;

fn charge(seen: Recorder) -> Function {
    Function::new("charge")
        .trigger_event("app/charge")
        .handler(move |ctx: Context| {
            let seen = seen.clone();
            async move {
                let attempt = ctx.attempt;
                seen.record(&format!("max-{:?}", ctx.max_attempts), attempt);
                let bank = seen.clone();
                let refused = ctx
                    .step
                    .run("call-bank", || async move {
                        bank.record("call-bank", attempt);
                        Err::<(), _>(Error::msg("the bank is down"))
                    })
                    .await;
                // The step failed for good after its own 2 attempts: caught, the run goes on.
                let caught = matches!(refused, Err(Error::Step(_)));
                let ledger = seen.clone();
                ctx.step
                    .run("ledger", || async move {
                        ledger.record("ledger", attempt);
                        if attempt < 3 {
                            return Err(Error::msg("the ledger is locked"));
                        }
                        Ok::<_, Error>(())
                    })
                    .await?;
                Ok(json!({ "caught": caught }))
            }
        })
}

fn sync(seen: Recorder) -> Function {
    Function::new("sync")
        .trigger_event("app/sync")
        .handler(move |ctx: Context| {
            let seen = seen.clone();
            async move {
                seen.record("sync", ctx.attempt);
                Err::<Value, _>(Error::msg("the remote is down"))
            }
        })
}

#[tokio::test]
async fn durin_side_policies_set_a_steps_retries_and_backoff_without_an_app_change() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("policies.json");
    std::fs::write(&file, POLICIES).expect("write the policy file");
    let seen = Recorder::new();
    let h = start(
        vec![charge(seen.clone()), sync(seen.clone())],
        &["--retry-policies", file.to_str().expect("a UTF-8 path")],
    )
    .await;

    let event = h.engine.send("app/charge", json!({})).await.expect("send");
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .expect("the run ends");
    assert_eq!(run["status"], "Completed", "{run}");
    let run_id = run["run_id"].as_str().expect("run id");
    let output = h
        .engine
        .data(&format!("/v1/runs/{run_id}"))
        .await
        .expect("the run")["output"]
        .clone();
    assert_eq!(output, json!({ "caught": true }));

    // call-bank: retries 1 (the function has the default 4), 200 ms apart, then failed for good.
    assert_eq!(seen.attempts("call-bank"), vec![0, 1]);
    assert_eq!(
        step_gaps(&h.engine, run_id, "call-bank").await,
        vec![(0, "error".into(), Some(200)), (1, "error".into(), None)]
    );
    // ledger: the function's 4 retries, exponential 100, 200, then 300 (400 capped at the maximum).
    assert_eq!(seen.attempts("ledger"), vec![0, 1, 2, 3]);
    assert_eq!(
        step_gaps(&h.engine, run_id, "ledger").await,
        vec![
            (0, "error".into(), Some(100)),
            (1, "error".into(), Some(200)),
            (2, "error".into(), Some(300)),
            (3, "ok".into(), None),
        ]
    );
    // The SDK is told the most attempts any step of the function may take: 5 (ledger's), not 2.
    assert!(!seen.attempts("max-Some(5)").is_empty());
    assert!(seen.attempts("max-Some(2)").is_empty());

    // sync: the function entry's retries 0 replaces the registered 4: one attempt, the run fails.
    let event = h.engine.send("app/sync", json!({})).await.expect("send");
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .expect("the run ends");
    assert_eq!(run["status"], "Failed", "{run}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(seen.attempts("sync"), vec![0]);
    let functions = h.engine.data("/v1/functions").await.expect("functions");
    let sync_retries = functions
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["id"] == "test-app-sync")
        .map(|f| f["retries"].clone());
    assert_eq!(sync_retries, Some(json!(0)), "{functions:#}");
}

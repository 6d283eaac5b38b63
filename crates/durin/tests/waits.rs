//! Steps that wait for events: `wait_for_event` (match, condition, timeout, across a restart) and
//! `invoke` (result and failure of the invoked run).

// Test helpers: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{APP, RUN_TIMEOUT, start};
use durin_sdk::{Context, Error, Function};
use serde_json::{Value, json};

fn approval() -> Function {
    Function::new("await-approval")
        .trigger_event("app/order.placed")
        .handler(|ctx: Context| async move {
            let approval = ctx
                .step
                .wait_for_event(
                    "wait-approval",
                    "app/order.approved",
                    Duration::from_secs(2),
                    Some("event.data.order == async.data.order"),
                )
                .await?;
            Ok(match approval {
                Some(event) => {
                    json!({ "approved_by": event.data.get("by").cloned().unwrap_or(Value::Null) })
                }
                None => json!("timed out"),
            })
        })
}

async fn output_of(h: &common::Harness, event: &str) -> (Value, Value) {
    let run = h.engine.wait_for_run_end(event, RUN_TIMEOUT).await.unwrap();
    let full = h
        .engine
        .data(&format!("/v1/runs/{}", run["run_id"].as_str().unwrap()))
        .await
        .unwrap();
    (run["status"].clone(), full["output"].clone())
}

async fn wait_until_paused(h: &common::Harness, event: &str) {
    let deadline = std::time::Instant::now() + RUN_TIMEOUT;
    loop {
        if let Some(run) = h.engine.runs_of_event(event).await.unwrap().first() {
            let jobs = h
                .engine
                .data(&format!(
                    "/v1/runs/{}/jobs",
                    run["run_id"].as_str().unwrap()
                ))
                .await
                .unwrap();
            if jobs
                .as_array()
                .is_some_and(|j| j.len() == 1 && j[0]["kind"]["kind"] == "timeout")
            {
                return;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started waiting"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn wait_for_event_resumes_with_the_first_matching_event() {
    let h = start(vec![approval()], &[]).await;
    let placed = h
        .engine
        .send("app/order.placed", json!({ "order": 1 }))
        .await
        .unwrap();
    wait_until_paused(&h, &placed).await;
    h.engine
        .send("app/order.approved", json!({ "order": 2, "by": "wrong" }))
        .await
        .unwrap();
    h.engine
        .send("app/order.approved", json!({ "order": 1, "by": "ada" }))
        .await
        .unwrap();
    let (status, output) = output_of(&h, &placed).await;
    assert_eq!(status, "Completed");
    assert_eq!(output, json!({ "approved_by": "ada" }));
}

#[tokio::test]
async fn wait_for_event_gives_none_at_its_timeout() {
    let h = start(vec![approval()], &[]).await;
    let started = std::time::Instant::now();
    let placed = h
        .engine
        .send("app/order.placed", json!({ "order": 5 }))
        .await
        .unwrap();
    let (status, output) = output_of(&h, &placed).await;
    assert_eq!(status, "Completed");
    assert_eq!(output, json!("timed out"));
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "timed out early: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_wait_survives_a_kill_and_still_matches() {
    let mut h = start(vec![approval()], &[]).await;
    let placed = h
        .engine
        .send("app/order.placed", json!({ "order": 9 }))
        .await
        .unwrap();
    wait_until_paused(&h, &placed).await;
    h.engine.kill();
    h.engine.restart().await.unwrap();
    h.engine
        .send("app/order.approved", json!({ "order": 9, "by": "grace" }))
        .await
        .unwrap();
    let (status, output) = output_of(&h, &placed).await;
    assert_eq!(status, "Completed");
    assert_eq!(output, json!({ "approved_by": "grace" }));
}

fn child(fails: bool) -> Function {
    Function::new("child")
        .trigger_event("app/child")
        .retries(0)
        .handler(move |ctx: Context| async move {
            if fails {
                return Err(Error::msg("child broke"));
            }
            let x = ctx.event.data.get("x").and_then(Value::as_i64).unwrap_or(0);
            Ok(json!(x * 10))
        })
}

fn parent() -> Function {
    Function::new("parent")
        .trigger_event("app/parent")
        .handler(|ctx: Context| async move {
            let result: Result<i64, Error> = ctx
                .step
                .invoke(
                    "call-child",
                    &format!("{APP}-child"),
                    json!({ "x": 2 }),
                    Some(Duration::from_secs(30)),
                )
                .await;
            Ok(match result {
                Ok(value) => json!({ "child": value }),
                Err(Error::Step(error)) => json!({ "child_failed": error.message }),
                Err(other) => return Err(other),
            })
        })
}

#[tokio::test]
async fn invoke_returns_the_invoked_runs_result() {
    let h = start(vec![parent(), child(false)], &[]).await;
    let event = h.engine.send("app/parent", json!({})).await.unwrap();
    let (status, output) = output_of(&h, &event).await;
    assert_eq!(status, "Completed");
    assert_eq!(output, json!({ "child": 20 }));
}

#[tokio::test]
async fn invoke_hands_the_invoked_runs_failure_to_the_caller() {
    let h = start(vec![parent(), child(true)], &[]).await;
    let event = h.engine.send("app/parent", json!({})).await.unwrap();
    let (status, output) = output_of(&h, &event).await;
    assert_eq!(status, "Completed");
    assert_eq!(output, json!({ "child_failed": "child broke" }));
}

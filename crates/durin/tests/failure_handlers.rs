//! `inngest/function.finished` and `inngest/function.failed` (retries.md R9): real events that start
//! failure handlers; and event-id idempotency.

mod common;

use std::time::Duration;

use common::{APP, RUN_TIMEOUT, start};
use durin_sdk::{Context, Error, Function};
use durin_testkit::Recorder;
use serde_json::{Value, json};

fn failing() -> Function {
    Function::new("fails")
        .trigger_event("app/fail")
        .retries(0)
        .handler(|_ctx: Context| async { Err::<Value, _>(Error::msg("the body gave up")) })
}

fn handler(seen: &Recorder, event: &'static str, expression: Option<String>) -> Function {
    let recorder = seen.clone();
    let slug = if event.ends_with("failed") {
        "on-failed"
    } else {
        "on-finished"
    };
    let function = match expression {
        Some(expression) => Function::new(slug).trigger_event_if(event, expression),
        None => Function::new(slug).trigger_event(event),
    };
    function.retries(0).handler(move |ctx: Context| {
        let recorder = recorder.clone();
        async move {
            let data = serde_json::to_value(&ctx.event.data).unwrap_or_default();
            recorder.record(&data.to_string(), 0);
            Ok(json!("handled"))
        }
    })
}

async fn wait_for_records(seen: &Recorder, count: usize) {
    let deadline = std::time::Instant::now() + RUN_TIMEOUT;
    while seen.all().len() < count {
        assert!(
            std::time::Instant::now() < deadline,
            "handler did not run: {:?}",
            seen.all()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_failed_run_starts_its_failure_handler_with_the_error() {
    let seen = Recorder::new();
    let filter = format!("event.data.function_id == '{APP}-fails'");
    let h = start(
        vec![
            failing(),
            handler(&seen, "inngest/function.failed", Some(filter)),
        ],
        &[],
    )
    .await;
    let event = h
        .engine
        .send("app/fail", json!({ "order": 9 }))
        .await
        .unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(run["status"], "Failed");

    wait_for_records(&seen, 1).await;
    let data: Value = serde_json::from_str(&seen.all()[0].what).unwrap();
    assert_eq!(data["function_id"], format!("{APP}-fails"));
    assert_eq!(data["run_id"], run["run_id"]);
    assert_eq!(data["error"]["message"], "the body gave up");
    assert_eq!(data["event"]["data"], json!({ "order": 9 }));
    // The handler's own end announces nothing further: exactly one handler run.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(seen.all().len(), 1);
}

#[tokio::test]
async fn the_failure_filter_ignores_other_functions() {
    let seen = Recorder::new();
    let filter = format!("event.data.function_id == '{APP}-other'");
    let h = start(
        vec![
            failing(),
            handler(&seen, "inngest/function.failed", Some(filter)),
        ],
        &[],
    )
    .await;
    let event = h.engine.send("app/fail", json!({})).await.unwrap();
    h.engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        seen.all().is_empty(),
        "the handler ran for another function: {:?}",
        seen.all()
    );
}

#[tokio::test]
async fn a_completed_run_announces_function_finished_with_its_result() {
    let seen = Recorder::new();
    let ok = Function::new("ok")
        .trigger_event("app/ok")
        .handler(|_ctx: Context| async { Ok(json!({ "v": 1 })) });
    let h = start(
        vec![ok, handler(&seen, "inngest/function.finished", None)],
        &[],
    )
    .await;
    let event = h.engine.send("app/ok", json!({})).await.unwrap();
    h.engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();
    wait_for_records(&seen, 1).await;
    let data: Value = serde_json::from_str(&seen.all()[0].what).unwrap();
    assert_eq!(data["function_id"], format!("{APP}-ok"));
    assert_eq!(data["result"], json!({ "v": 1 }));
    assert_eq!(data["_inngest"]["status"], "Completed");
}

#[tokio::test]
async fn an_event_id_sent_twice_starts_one_run() {
    let seen = Recorder::new();
    let recorder = seen.clone();
    let once = Function::new("once")
        .trigger_event("app/order")
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                recorder.record("body", ctx.attempt);
                Ok(json!(null))
            }
        });
    let h = start(vec![once], &[]).await;
    let event = json!({ "name": "app/order", "id": "order-42", "data": {} });
    let (first_status, first) = h.engine.post_event(&event).await.unwrap();
    let (second_status, second) = h.engine.post_event(&event).await.unwrap();
    assert_eq!((first_status, second_status), (200, 200));
    let first_id = first["ids"][0].as_str().unwrap();
    let second_id = second["ids"][0].as_str().unwrap();
    h.engine
        .wait_for_run_end(first_id, RUN_TIMEOUT)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.engine.runs_of_event(second_id).await.unwrap().len(), 0);
    assert_eq!(seen.count("body"), 1);
}

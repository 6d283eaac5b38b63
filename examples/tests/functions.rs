//! The example functions answer the engine as the documentation says, driven in-process.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use durin_sdk::Client;
use serde_json::{Value, json};
use tower::ServiceExt;

fn app() -> Router {
    durin_sdk::serve(
        Client::with_base_url(durin_examples::APP_ID, "http://127.0.0.1:9"),
        durin_examples::functions(),
    )
}

struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    body: Value,
}

/// A discovery request (`stepId=step`) for `slug` at `attempt` of 5, with the given memoized steps.
async fn call(slug: &str, data: Value, steps: Value, attempt: u32) -> Answer {
    let event = json!({"name": "test/event", "data": data, "id": "01EVT", "ts": 1767225600000i64, "user": {}});
    let body = json!({"event": event, "events": [event], "steps": steps, "version": -1, "use_api": false,
        "ctx": {"run_id": "01RUN", "attempt": attempt, "max_attempts": 5, "disable_immediate_execution": false,
                "use_api": false, "env": "", "step_id": "step", "stack": {"stack": [], "current": 0}}});
    let request = Request::post(format!("/api/inngest?fnId=retries-doc-{slug}&stepId=step"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let response = app().oneshot(request).await.expect("infallible");
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().expect("ascii").to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    Answer {
        status,
        retry_after,
        body: serde_json::from_slice(&bytes).expect("JSON body"),
    }
}

#[tokio::test]
async fn click_recorder_succeeds_on_the_third_attempt() {
    for attempt in [0, 1] {
        let answer = call("click-recorder", json!({}), json!({}), attempt).await;
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
    let answer = call("click-recorder", json!({}), json!({}), 2).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["recorded"], true);
}

#[tokio::test]
async fn sync_systems_runs_its_steps_in_order() {
    let failures = json!({"get_data_failures": 1, "save_data_failures": 4});
    let first = call("sync-systems", failures.clone(), json!({}), 0).await;
    assert_eq!(first.body[0]["op"], "StepError");
    assert_eq!(first.body[0]["displayName"], "get-data");
    let retried = call("sync-systems", failures.clone(), json!({}), 1).await;
    assert_eq!(retried.body[0]["op"], "StepRun");
    assert_eq!(retried.body[0]["data"], json!([1, 2, 3]));

    let get_data = retried.body[0]["id"].as_str().unwrap().to_owned();
    let memo = json!({get_data.clone(): {"data": [1, 2, 3]}});
    let save = call("sync-systems", failures.clone(), memo.clone(), 3).await;
    assert_eq!(save.body[0]["op"], "StepError");
    assert_eq!(save.body[0]["displayName"], "save-data");
    let saved = call("sync-systems", failures, memo, 4).await;
    assert_eq!(saved.body[0]["op"], "StepRun");
    assert_eq!(saved.body[0]["data"], 3);
}

#[tokio::test]
async fn user_weekly_digest_stops_for_an_unknown_user() {
    let unknown = json!({"user_id": "nobody"});
    let first = call("user-weekly-digest", unknown.clone(), json!({}), 0).await;
    assert_eq!(first.body[0]["op"], "StepError");
    assert_eq!(first.body[0]["error"]["name"], "UserNotFoundError");

    // Once the step has failed for good, the engine hands its error back: the function stops the run.
    let get_email = first.body[0]["id"].as_str().unwrap().to_owned();
    let memo = json!({get_email: {"error": first.body[0]["error"].clone()}});
    let stopped = call("user-weekly-digest", unknown, memo, 0).await;
    assert_eq!(stopped.status, StatusCode::BAD_REQUEST);
    assert_eq!(stopped.body["name"], "NonRetriableError");

    let known = call(
        "user-weekly-digest",
        json!({"user_id": "user_1"}),
        json!({}),
        0,
    )
    .await;
    assert_eq!(known.body[0]["op"], "StepRun");
    assert_eq!(known.body[0]["data"], "ada@example.com");
}

#[tokio::test]
async fn send_welcome_notification_asks_to_retry_in_three_seconds() {
    let first = call("send-welcome-notification", json!({}), json!({}), 0).await;
    assert_eq!(first.body[0]["op"], "StepError");
    assert_eq!(first.body[0]["error"]["name"], "RetryAfterError");
    assert_eq!(first.retry_after.as_deref(), Some("3"));
    let second = call("send-welcome-notification", json!({}), json!({}), 1).await;
    assert_eq!(second.body[0]["op"], "StepRun");
    assert_eq!(second.body[0]["data"], json!({"delivered": true}));
}

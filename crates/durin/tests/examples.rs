//! The four documented example functions (`durin-examples`), served in-process and driven through a real
//! `durin dev` by their events: each ends as the documentation promises, and the engine's attempt
//! records show why.

mod common;

use common::{Harness, RUN_TIMEOUT, start_as, step_attempts};
use serde_json::{Value, json};

async fn start_examples() -> Harness {
    start_as(
        durin_examples::APP_ID,
        durin_examples::functions(),
        &["--backoff-scale", "0.01"],
    )
    .await
}

/// Sends the event, waits for its run to end; returns the run (with output) and its attempts.
async fn drive(h: &Harness, name: &str, data: Value) -> (Value, Vec<Value>) {
    let event = h.engine.send(name, data).await.expect("send the event");
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .expect("the run ends");
    let run_id = run["run_id"].as_str().expect("a run id").to_owned();
    let run = h
        .engine
        .data(&format!("/v1/runs/{run_id}"))
        .await
        .expect("GET the run");
    let attempts = h.engine.attempts(&run_id).await.expect("GET the attempts");
    (run, attempts)
}

/// (step name, attempt, outcome) of every attempt, in order; the step name is None for the body.
fn outcomes(attempts: &[Value]) -> Vec<(Option<&str>, u64, &str)> {
    attempts
        .iter()
        .map(|a| {
            (
                a["step_name"].as_str(),
                a["attempt"].as_u64().unwrap_or(u64::MAX),
                a["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn click_recorder_fails_twice_then_completes() {
    let h = start_examples().await;
    let (run, attempts) = drive(&h, "app/button.clicked", json!({ "button": "buy" })).await;

    assert_eq!(run["status"], "Completed", "run: {run}");
    assert_eq!(run["function_id"], "retries-doc-click-recorder");
    assert_eq!(run["output"], json!({ "recorded": true, "attempt": 2 }));
    assert_eq!(
        outcomes(&attempts),
        vec![(None, 0, "error"), (None, 1, "error"), (None, 2, "ok")],
        "the body is retried as one job: {attempts:?}"
    );
    assert_eq!(
        attempts[0]["error"]["message"],
        "analytics store unavailable (attempt 0)"
    );
    assert!(attempts[0]["next_attempt_at_ms"].is_i64());
    assert!(attempts[2]["next_attempt_at_ms"].is_null());
}

#[tokio::test]
async fn sync_systems_completes_and_fails_once_save_data_spends_its_budget() {
    let h = start_examples().await;

    let (run, attempts) = drive(&h, "app/sync.requested", json!({})).await;
    assert_eq!(run["status"], "Completed", "run: {run}");
    assert_eq!(run["output"], json!({ "saved": 3 }));
    assert_eq!(step_attempts(&attempts, "get-data"), vec![(0, "ok".into())]);
    assert_eq!(
        step_attempts(&attempts, "save-data"),
        vec![(0, "ok".into())]
    );

    // The documented demo: get-data fails once, save-data four times; save-data has its own 5 attempts.
    let (run, attempts) = drive(
        &h,
        "app/sync.requested",
        json!({ "get_data_failures": 1, "save_data_failures": 4 }),
    )
    .await;
    assert_eq!(run["status"], "Completed", "run: {run}");
    assert_eq!(
        step_attempts(&attempts, "get-data"),
        vec![(0, "error".into()), (1, "ok".into())]
    );
    let save: Vec<u64> = step_attempts(&attempts, "save-data")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(save, vec![0, 1, 2, 3, 4]);

    // Five failures: save-data fails for good after its 5 attempts, get-data is not run again.
    let (run, attempts) = drive(&h, "app/sync.requested", json!({ "save_data_failures": 5 })).await;
    assert_eq!(run["status"], "Failed", "run: {run}");
    assert_eq!(
        run["output"]["message"], "destination system refused the write",
        "run: {run}"
    );
    assert_eq!(step_attempts(&attempts, "get-data"), vec![(0, "ok".into())]);
    assert_eq!(
        step_attempts(&attempts, "save-data"),
        (0..5).map(|n| (n, "error".to_owned())).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn user_weekly_digest_fails_non_retriably_for_an_unknown_user() {
    let h = start_examples().await;

    let (run, attempts) = drive(
        &h,
        "app/weekly-digest.requested",
        json!({ "user_id": "user_404" }),
    )
    .await;
    assert_eq!(run["status"], "Failed", "run: {run}");
    assert!(
        run["output"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot send the digest") && m.contains("user_404")),
        "run: {run}"
    );
    let lookups = step_attempts(&attempts, "get-user-email");
    assert_eq!(
        lookups,
        (0..5).map(|n| (n, "error".to_owned())).collect::<Vec<_>>(),
        "get-user-email spends its 5 attempts"
    );
    assert!(
        attempts.iter().all(|a| a["error"].is_null()
            || a["step_name"] != "get-user-email"
            || a["error"]["name"] == "UserNotFoundError"),
        "{attempts:?}"
    );
    assert!(
        step_attempts(&attempts, "send-digest").is_empty(),
        "send-digest never runs: {attempts:?}"
    );
    let last = attempts.last().unwrap();
    assert_eq!(last["outcome"], "non_retriable", "{last}");
    assert!(
        last["step_name"].is_null(),
        "the function body failed: {last}"
    );
    assert_eq!(last["attempt"], 0);
    assert!(last["next_attempt_at_ms"].is_null());
    let jobs = h
        .engine
        .data(&format!(
            "/v1/runs/{}/jobs",
            run["run_id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(jobs, json!([]), "nothing else is scheduled");
}

#[tokio::test]
async fn user_weekly_digest_completes_for_a_known_user() {
    let h = start_examples().await;
    let (run, attempts) = drive(
        &h,
        "app/weekly-digest.requested",
        json!({ "user_id": "user_1" }),
    )
    .await;
    assert_eq!(run["status"], "Completed", "run: {run}");
    assert_eq!(run["output"], json!({ "sent_to": "ada@example.com" }));
    assert_eq!(
        step_attempts(&attempts, "get-user-email"),
        vec![(0, "ok".into())]
    );
    assert_eq!(
        step_attempts(&attempts, "send-digest"),
        vec![(0, "ok".into())]
    );
}

#[tokio::test]
async fn send_welcome_notification_retries_after_the_3_seconds_it_was_told() {
    let h = start_examples().await;
    let (run, attempts) = drive(&h, "app/user.created", json!({ "user_id": "user_1" })).await;

    assert_eq!(run["status"], "Completed", "run: {run}");
    assert_eq!(run["output"], json!({ "delivered": true }));
    assert_eq!(
        step_attempts(&attempts, "send-notification"),
        vec![(0, "retry_after".into()), (1, "ok".into())]
    );
    let sends: Vec<&Value> = attempts
        .iter()
        .filter(|a| a["step_name"] == "send-notification")
        .collect();
    let first = sends[0]["started_at_ms"].as_i64().unwrap();
    let second = sends[1]["started_at_ms"].as_i64().unwrap();
    let gap = second - first;
    // Retry-After is never scaled by --backoff-scale: still 3 s (whole seconds from the failed answer).
    assert!(
        (3_000..6_000).contains(&gap),
        "the second attempt started {gap} ms after the first"
    );
    let due = sends[0]["next_attempt_at_ms"].as_i64().unwrap();
    assert!(
        second >= due,
        "started at {second}, before it was due at {due}"
    );
}

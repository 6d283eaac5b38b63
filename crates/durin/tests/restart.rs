//! Durability across `kill -9` (retries.md R11): accepted events, stored step results and scheduled retries
//! survive; an attempt in flight when the engine dies counts and is tried again.

mod common;

use std::time::Duration;

use common::{RUN_TIMEOUT, start, step_attempts};
use durin_sdk::{Context, Error, Function};
use durin_testkit::Recorder;
use serde_json::{Value, json};

/// `first` succeeds; `second` fails on attempt 0 (after `second_takes`, to allow a kill mid-attempt).
fn two_steps(seen: &Recorder, second_takes: Duration, second_fails_first: bool) -> Function {
    let recorder = seen.clone();
    Function::new("two-steps")
        .trigger_event("app/restart")
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                let attempt = ctx.attempt;
                let r = recorder.clone();
                let first: Value = ctx
                    .step
                    .run("first", || async move {
                        r.record("first", attempt);
                        Ok::<_, Error>(json!(1))
                    })
                    .await?;
                let r = recorder.clone();
                let second: Value = ctx
                    .step
                    .run("second", || async move {
                        r.record("second", attempt);
                        tokio::time::sleep(second_takes).await;
                        if second_fails_first && attempt == 0 {
                            return Err(Error::msg("not yet"));
                        }
                        Ok(json!(2))
                    })
                    .await?;
                Ok(json!([first, second]))
            }
        })
}

async fn wait_until(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !condition().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_retry_scheduled_before_a_kill_fires_after_restart_and_stored_steps_do_not_rerun() {
    let seen = Recorder::new();
    // 0.2: the first retry is due 3-9 s after the failure, so the kill lands while it waits.
    let mut h = start(
        vec![two_steps(&seen, Duration::ZERO, true)],
        &["--backoff-scale", "0.2"],
    )
    .await;
    let event = h.engine.send("app/restart", json!({})).await.unwrap();
    let run_id = {
        let engine = &h.engine;
        let mut run_id = String::new();
        wait_until("the failed attempt to be recorded", async || {
            let Some(run) = engine
                .runs_of_event(&event)
                .await
                .unwrap()
                .into_iter()
                .next()
            else {
                return false;
            };
            run_id = run["run_id"].as_str().unwrap().to_owned();
            let attempts = engine.attempts(&run_id).await.unwrap();
            step_attempts(&attempts, "second").len() == 1
        })
        .await;
        run_id
    };
    let attempts = h.engine.attempts(&run_id).await.unwrap();
    let due_at = attempts.last().unwrap()["next_attempt_at_ms"]
        .as_i64()
        .expect("a retry is scheduled");

    h.engine.kill();
    h.engine.restart().await.unwrap();

    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(run["status"], "Completed");
    assert_eq!(
        seen.attempts("first"),
        vec![0],
        "a stored step result is never executed again"
    );
    assert_eq!(seen.attempts("second"), vec![0, 1]);
    let attempts = h.engine.attempts(&run_id).await.unwrap();
    let retry = attempts
        .iter()
        .find(|a| a["step_name"] == "second" && a["attempt"] == 1)
        .unwrap();
    assert!(
        retry["started_at_ms"].as_i64().unwrap() >= due_at,
        "the retry did not fire before its due time"
    );
    assert_eq!(
        h.engine.data(&format!("/v1/events/{event}")).await.unwrap()["name"],
        "app/restart"
    );
}

#[tokio::test]
async fn an_attempt_in_flight_when_the_engine_dies_counts_and_is_tried_again() {
    let seen = Recorder::new();
    let mut h = start(
        vec![two_steps(&seen, Duration::from_secs(2), false)],
        &["--backoff-scale", "0.01"],
    )
    .await;
    let event = h.engine.send("app/restart", json!({})).await.unwrap();
    let recorder = seen.clone();
    wait_until("the second step to start", async || {
        recorder.count("second") == 1
    })
    .await;

    h.engine.kill();
    h.engine.restart().await.unwrap();

    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(run["status"], "Completed");
    assert_eq!(seen.attempts("first"), vec![0]);
    assert_eq!(
        seen.attempts("second"),
        vec![0, 1],
        "the interrupted attempt is retried as a new attempt"
    );
    let attempts = h
        .engine
        .attempts(run["run_id"].as_str().unwrap())
        .await
        .unwrap();
    let outcomes: Vec<_> = attempts
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        outcomes.contains(&"interrupted".to_owned()),
        "attempts: {attempts:?}"
    );
}

#[tokio::test]
async fn every_event_answered_2xx_survives_a_kill() {
    let noop = Function::new("noop")
        .trigger_event("app/other")
        .handler(|_ctx: Context| async { Ok(json!(null)) });
    let mut h = start(vec![noop], &[]).await;
    let mut ids = Vec::new();
    for n in 0..50 {
        ids.push(
            h.engine
                .send("app/durable", json!({ "n": n }))
                .await
                .unwrap(),
        );
    }
    h.engine.kill();
    h.engine.restart().await.unwrap();
    for id in ids {
        let (status, body) = h.engine.get(&format!("/v1/events/{id}")).await.unwrap();
        assert_eq!(status, 200, "event {id} was lost: {body}");
    }
}

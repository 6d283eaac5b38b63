//! The seven worked examples of retries.md, each against a real `durin dev` process and a Rust SDK app.
//! Each asserts what the app saw (the `attempt` values per step, which steps ran, the gaps between tries)
//! and what the engine reports (run status and output, the recorded attempts).

mod common;

use std::time::Duration;

use common::{RUN_TIMEOUT, start, step_attempts};
use durin_sdk::{Context, Error, Function};
use durin_testkit::Recorder;
use serde_json::{Value, json};

/// Every R4 delay and its jitter times 0.01: 15 s becomes 150 ms (+0-300 ms).
const SCALE: &str = "0.01";
/// Scheduling slack on top of the scaled bounds (an HTTP round trip and a debug build on a busy 2-core
/// machine running several engines); the lower bound stays strict.
const SLACK_SECS: f64 = 1.0;

/// Asserts that the gap after failed attempt n lies within the scaled [base, base + 30 s] of the table.
fn assert_scaled_gaps(gaps: &[f64]) {
    const TABLE_SECS: [f64; 10] = [
        15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 2400.0, 3600.0, 7200.0,
    ];
    for (n, gap) in gaps.iter().enumerate() {
        let base = TABLE_SECS[n.min(9)] * 0.01;
        let high = (TABLE_SECS[n.min(9)] + 30.0) * 0.01 + SLACK_SECS;
        assert!(
            *gap >= base - 0.005 && *gap <= high,
            "gap {n} was {gap:.3} s, expected within [{base}, {high}]"
        );
    }
}

#[tokio::test]
async fn example_1_click_recorder_fails_twice_then_completes() {
    let seen = Recorder::new();
    let recorder = seen.clone();
    let function = Function::new("click-recorder")
        .trigger_event("app/button.clicked")
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                recorder.record("body", ctx.attempt);
                if ctx.attempt < 2 {
                    return Err(Error::msg(format!(
                        "click store unavailable (attempt {})",
                        ctx.attempt
                    )));
                }
                Ok(json!({ "recorded": true }))
            }
        });
    let h = start(vec![function], &["--backoff-scale", SCALE]).await;
    let event = h
        .engine
        .send("app/button.clicked", json!({ "button": "buy" }))
        .await
        .unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();

    assert_eq!(seen.attempts("body"), vec![0, 1, 2]);
    assert_scaled_gaps(&seen.gaps("body"));
    assert_eq!(run["status"], "Completed");
    let full = h
        .engine
        .data(&format!("/v1/runs/{}", run["run_id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(full["output"], json!({ "recorded": true }));
    let attempts = h
        .engine
        .attempts(run["run_id"].as_str().unwrap())
        .await
        .unwrap();
    let outcomes: Vec<_> = attempts
        .iter()
        .map(|a| {
            (
                a["attempt"].as_u64().unwrap(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(outcomes, vec![(0, "error"), (1, "error"), (2, "ok")]);
    assert!(
        attempts[0]["next_attempt_at"].is_string(),
        "a failed attempt says when the next one is due"
    );
    assert_eq!(
        attempts[0]["error"]["message"],
        "click store unavailable (attempt 0)"
    );
}

/// `sync-systems` with steps `get-data` and `save-data`, failing the first `fail_get` and `fail_save`
/// attempts of each step.
fn sync_systems(seen: &Recorder, fail_get: u32, fail_save: u32) -> Function {
    let recorder = seen.clone();
    Function::new("sync-systems")
        .trigger_event("app/sync.requested")
        .retries(4)
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                let attempt = ctx.attempt;
                let r = recorder.clone();
                let data: Value = ctx
                    .step
                    .run("get-data", || async move {
                        r.record("get-data", attempt);
                        if attempt < fail_get {
                            return Err(Error::msg("source system timed out"));
                        }
                        Ok(json!({ "rows": 3 }))
                    })
                    .await?;
                let r = recorder.clone();
                let saved: Value = ctx
                    .step
                    .run("save-data", || async move {
                        r.record("save-data", attempt);
                        if attempt < fail_save {
                            return Err(Error::msg("destination system refused the write"));
                        }
                        Ok(json!({ "saved": data["rows"] }))
                    })
                    .await?;
                Ok(saved)
            }
        })
}

#[tokio::test]
async fn example_2_each_step_has_its_own_retry_counter() {
    let seen = Recorder::new();
    let h = start(vec![sync_systems(&seen, 1, 4)], &["--backoff-scale", SCALE]).await;
    let event = h
        .engine
        .send("app/sync.requested", json!({}))
        .await
        .unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();

    assert_eq!(seen.attempts("get-data"), vec![0, 1]);
    assert_eq!(
        seen.attempts("save-data"),
        vec![0, 1, 2, 3, 4],
        "save-data's budget is untouched by get-data's failure"
    );
    assert_scaled_gaps(&seen.gaps("save-data"));
    assert_eq!(run["status"], "Completed");
    let run_id = run["run_id"].as_str().unwrap();
    assert_eq!(
        h.engine.data(&format!("/v1/runs/{run_id}")).await.unwrap()["output"],
        json!({ "saved": 3 })
    );
    let attempts = h.engine.attempts(run_id).await.unwrap();
    assert_eq!(step_attempts(&attempts, "get-data").len(), 2);
    assert_eq!(
        step_attempts(&attempts, "save-data"),
        vec![
            (0, "error".into()),
            (1, "error".into()),
            (2, "error".into()),
            (3, "error".into()),
            (4, "ok".into())
        ]
    );
}

#[tokio::test]
async fn example_3_a_step_fails_for_good_after_its_budget_and_earlier_steps_do_not_rerun() {
    let seen = Recorder::new();
    let h = start(vec![sync_systems(&seen, 0, 5)], &["--backoff-scale", SCALE]).await;
    let event = h
        .engine
        .send("app/sync.requested", json!({}))
        .await
        .unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();

    assert_eq!(
        seen.attempts("get-data"),
        vec![0],
        "a completed step is never run again"
    );
    assert_eq!(seen.attempts("save-data"), vec![0, 1, 2, 3, 4]);
    assert_eq!(run["status"], "Failed");
    let run_id = run["run_id"].as_str().unwrap();
    let output = h.engine.data(&format!("/v1/runs/{run_id}")).await.unwrap()["output"].clone();
    assert_eq!(
        output["message"], "destination system refused the write",
        "output: {output}"
    );
    let attempts = h.engine.attempts(run_id).await.unwrap();
    assert_eq!(step_attempts(&attempts, "save-data").len(), 5);
}

#[derive(Debug)]
struct UserNotFoundError;

impl std::fmt::Display for UserNotFoundError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no such user")
    }
}

impl std::error::Error for UserNotFoundError {}

#[tokio::test]
async fn example_4_a_caught_step_error_becomes_non_retriable() {
    let seen = Recorder::new();
    let recorder = seen.clone();
    let function = Function::new("user-weekly-digest")
        .trigger_event("app/weekly-digest.requested")
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                recorder.record("body", ctx.attempt);
                let attempt = ctx.attempt;
                let r = recorder.clone();
                let email = ctx
                    .step
                    .run("get-user-email", || async move {
                        r.record("get-user-email", attempt);
                        Err::<String, _>(UserNotFoundError)
                    })
                    .await;
                let email = match email {
                    Err(Error::Step(error)) if error.name == "UserNotFoundError" => {
                        return Err(Error::non_retriable(format!(
                            "user not found: {}",
                            error.message
                        )));
                    }
                    other => other?,
                };
                let r = recorder.clone();
                ctx.step
                    .run("send-digest", || async move {
                        r.record("send-digest", attempt);
                        Ok::<_, Error>(email)
                    })
                    .await?;
                Ok(json!("sent"))
            }
        });
    let h = start(vec![function], &["--backoff-scale", SCALE]).await;
    let event = h
        .engine
        .send("app/weekly-digest.requested", json!({ "user_id": 7 }))
        .await
        .unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();

    assert_eq!(seen.attempts("get-user-email"), vec![0, 1, 2, 3, 4]);
    assert_eq!(seen.count("send-digest"), 0);
    assert_eq!(run["status"], "Failed");
    let run_id = run["run_id"].as_str().unwrap();
    let attempts = h.engine.attempts(run_id).await.unwrap();
    let last = attempts.last().unwrap();
    assert_eq!(last["outcome"], "non_retriable");
    assert_eq!(
        last["attempt"], 0,
        "the body after the failed step is a new job at attempt 0"
    );
    // No further attempts: the run stays failed and nothing else is scheduled.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        h.engine.attempts(run_id).await.unwrap().len(),
        attempts.len()
    );
    assert_eq!(
        h.engine
            .data(&format!("/v1/runs/{run_id}/jobs"))
            .await
            .unwrap(),
        json!([])
    );
}

#[tokio::test]
async fn example_4_variant_non_retriable_inside_a_step_is_tried_once() {
    let seen = Recorder::new();
    let recorder = seen.clone();
    let function = Function::new("user-weekly-digest")
        .trigger_event("app/weekly-digest.requested")
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                let attempt = ctx.attempt;
                let r = recorder.clone();
                ctx.step
                    .run("get-user-email", || async move {
                        r.record("get-user-email", attempt);
                        Err::<String, _>(Error::non_retriable("user 7 was deleted"))
                    })
                    .await?;
                Ok(json!("sent"))
            }
        });
    let h = start(vec![function], &["--backoff-scale", SCALE]).await;
    let event = h
        .engine
        .send("app/weekly-digest.requested", json!({ "user_id": 7 }))
        .await
        .unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();

    assert_eq!(seen.attempts("get-user-email"), vec![0]);
    assert_eq!(run["status"], "Failed");
    let attempts = h
        .engine
        .attempts(run["run_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        step_attempts(&attempts, "get-user-email"),
        vec![(0, "non_retriable".into())]
    );
}

#[tokio::test]
async fn example_5_retry_after_sets_the_next_attempt_and_is_never_scaled() {
    let seen = Recorder::new();
    let recorder = seen.clone();
    let function = Function::new("send-welcome-notification")
        .trigger_event("app/user.created")
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                let attempt = ctx.attempt;
                let r = recorder.clone();
                ctx.step
                    .run("send-notification", || async move {
                        r.record("send-notification", attempt);
                        if attempt == 0 {
                            return Err(Error::retry_after("rate limited", Duration::from_secs(3)));
                        }
                        Ok(json!({ "sent": true }))
                    })
                    .await?;
                Ok(json!("welcomed"))
            }
        });
    let h = start(vec![function], &["--backoff-scale", SCALE]).await;
    let event = h
        .engine
        .send("app/user.created", json!({ "user_id": 1 }))
        .await
        .unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();

    assert_eq!(seen.attempts("send-notification"), vec![0, 1]);
    let gap = seen.gaps("send-notification")[0];
    assert!(
        (3.0..3.0 + 2.0).contains(&gap),
        "Retry-After 3 s gave a gap of {gap:.3} s"
    );
    assert_eq!(run["status"], "Completed");
    let attempts = h
        .engine
        .attempts(run["run_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        step_attempts(&attempts, "send-notification")[0],
        (0, "retry_after".into())
    );
}

fn retries_zero(seen: &Recorder, catch: bool) -> Function {
    let recorder = seen.clone();
    Function::new("no-retries")
        .trigger_event("app/once")
        .retries(0)
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                let attempt = ctx.attempt;
                let r = recorder.clone();
                let result: Result<Value, Error> = ctx
                    .step
                    .run("charge", || async move {
                        r.record("charge", attempt);
                        Err::<Value, _>(Error::msg("card declined"))
                    })
                    .await;
                match result {
                    Err(Error::Step(error)) if catch => Ok(json!({ "fallback": error.message })),
                    other => other,
                }
            }
        })
}

#[tokio::test]
async fn example_6_retries_zero_tries_a_failing_step_once_and_fails_the_run() {
    let seen = Recorder::new();
    let h = start(
        vec![retries_zero(&seen, false)],
        &["--backoff-scale", SCALE],
    )
    .await;
    let event = h.engine.send("app/once", json!({})).await.unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(seen.attempts("charge"), vec![0]);
    assert_eq!(run["status"], "Failed");
}

#[tokio::test]
async fn example_6_variant_retries_zero_and_a_caught_error_goes_on() {
    let seen = Recorder::new();
    let h = start(vec![retries_zero(&seen, true)], &["--backoff-scale", SCALE]).await;
    let event = h.engine.send("app/once", json!({})).await.unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(seen.attempts("charge"), vec![0]);
    assert_eq!(run["status"], "Completed");
    let output = h
        .engine
        .data(&format!("/v1/runs/{}", run["run_id"].as_str().unwrap()))
        .await
        .unwrap()["output"]
        .clone();
    assert_eq!(output, json!({ "fallback": "card declined" }));
}

/// Real time: under the default table a step failing twice waits 15-45 s, then 30-60 s.
#[tokio::test]
async fn example_7_default_schedule_waits_15_to_45_then_30_to_60_seconds() {
    let seen = Recorder::new();
    let recorder = seen.clone();
    let function = Function::new("default-schedule")
        .trigger_event("app/default")
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                let attempt = ctx.attempt;
                let r = recorder.clone();
                ctx.step
                    .run("flaky", || async move {
                        r.record("flaky", attempt);
                        if attempt < 2 {
                            return Err(Error::msg("try again"));
                        }
                        Ok(json!(attempt))
                    })
                    .await
            }
        });
    let h = start(vec![function], &[]).await;
    let event = h.engine.send("app/default", json!({})).await.unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, Duration::from_secs(150))
        .await
        .unwrap();
    assert_eq!(run["status"], "Completed");
    assert_eq!(seen.attempts("flaky"), vec![0, 1, 2]);
    let gaps = seen.gaps("flaky");
    assert!(
        (15.0 - 0.005..=45.0 + 1.0).contains(&gaps[0]),
        "first gap {:.3} s",
        gaps[0]
    );
    assert!(
        (30.0 - 0.005..=60.0 + 1.0).contains(&gaps[1]),
        "second gap {:.3} s",
        gaps[1]
    );
}

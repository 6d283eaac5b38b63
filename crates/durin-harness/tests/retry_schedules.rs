//! Retry schedules asserted to the millisecond against a real engine and real Rust SDK functions, on the
//! harness's manual clock: hours of backoff take milliseconds of real time.

use std::time::Duration;

use durin_core::{Backoff, BackoffKnobs, JITTER_MAX_MS, RunStatus};
use durin_engine::RetryPolicies;
use durin_harness::{Harness, gaps};
use durin_sdk::{Context, Error, Event, Function};
use serde_json::json;

const APP: &str = "harness-app";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A function whose step `call-api` fails on its first `failures` attempts, then returns `"done"`.
fn flaky_step(slug: &str, failures: u32) -> Function {
    Function::new(slug)
        .trigger_event(format!("test/{slug}"))
        .handler(move |ctx: Context| async move {
            let attempt = ctx.attempt;
            let value: String = ctx
                .step
                .run("call-api", || async move {
                    if attempt < failures {
                        return Err(Error::msg(format!("the API is down (attempt {attempt})")));
                    }
                    Ok::<_, Error>("done".to_owned())
                })
                .await?;
            Ok(json!({ "value": value }))
        })
}

async fn start_one(harness: &Harness, slug: &str) -> String {
    let runs = harness
        .send(Event::new(format!("test/{slug}"), json!({})))
        .await
        .expect("the event is accepted");
    assert_eq!(runs.len(), 1, "one run starts");
    runs[0].clone()
}

#[tokio::test]
async fn default_table_without_jitter_is_exact() {
    let harness = Harness::start(APP, [flaky_step("flaky", 4)])
        .await
        .expect("the harness starts");
    let run_id = start_one(&harness, "flaky").await;

    let run = harness
        .run_until_finished(&run_id)
        .await
        .expect("the run ends");

    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.output, Some(json!({ "value": "done" })));
    let attempts = harness
        .step_attempts(&run_id, "call-api")
        .await
        .expect("attempts");
    let numbers: Vec<u32> = attempts.iter().map(|a| a.attempt).collect();
    assert_eq!(numbers, [0, 1, 2, 3, 4]);
    let gaps = gaps(&attempts);
    assert_eq!(gaps, [secs(15), secs(30), secs(60), secs(120)]);
    assert_eq!(gaps[2], secs(60), "attempt 3 happened 1 m after attempt 2");
    let spent = attempts[4].started_at - attempts[0].started_at;
    assert_eq!(spent, 225_000, "3 m 45 s of the harness's time");
}

#[tokio::test]
async fn configured_retries_are_spent_then_the_run_fails() {
    let always_fails = Function::new("always-fails")
        .trigger_event("test/always-fails")
        .retries(2)
        .handler(|_ctx: Context| async move {
            Err::<serde_json::Value, _>(Error::msg("the remote is down"))
        });
    let harness = Harness::start(APP, [always_fails])
        .await
        .expect("the harness starts");
    let run_id = start_one(&harness, "always-fails").await;

    let run = harness
        .run_until_finished(&run_id)
        .await
        .expect("the run ends");

    assert_eq!(run.status, RunStatus::Failed);
    let attempts = harness.attempts(&run_id).await.expect("attempts");
    let numbers: Vec<u32> = attempts.iter().map(|a| a.attempt).collect();
    assert_eq!(numbers, [0, 1, 2], "3 attempts: the first and 2 retries");
    assert_eq!(gaps(&attempts), [secs(15), secs(30)]);
    assert_eq!(attempts[2].next_attempt_at, None, "no retry after the last");
    assert_eq!(run.ended_at, Some(attempts[2].ended_at));
}

#[tokio::test]
async fn retry_after_sets_the_next_attempt_exactly() {
    let rate_limited = Function::new("rate-limited")
        .trigger_event("test/rate-limited")
        .handler(|ctx: Context| async move {
            let attempt = ctx.attempt;
            ctx.step
                .run("call-api", || async move {
                    if attempt == 0 {
                        return Err(Error::retry_after("slow down", secs(90)));
                    }
                    Ok::<_, Error>(())
                })
                .await?;
            Ok(json!({}))
        });
    let harness = Harness::start(APP, [rate_limited])
        .await
        .expect("the harness starts");
    let run_id = start_one(&harness, "rate-limited").await;

    let run = harness
        .run_until_finished(&run_id)
        .await
        .expect("the run ends");

    assert_eq!(run.status, RunStatus::Completed);
    let attempts = harness
        .step_attempts(&run_id, "call-api")
        .await
        .expect("attempts");
    assert_eq!(gaps(&attempts), [secs(90)], "Retry-After replaces the 15 s");
}

#[tokio::test]
async fn a_fixed_jitter_sample_is_added_to_the_table() {
    let sample = JITTER_MAX_MS - 1;
    let harness = Harness::builder(APP)
        .function(flaky_step("flaky", 1))
        .jitter_sample(Some(sample))
        .start()
        .await
        .expect("the harness starts");
    let run_id = start_one(&harness, "flaky").await;

    harness
        .run_until_finished(&run_id)
        .await
        .expect("the run ends");

    let attempts = harness
        .step_attempts(&run_id, "call-api")
        .await
        .expect("attempts");
    let expected = Backoff::InngestTable.delay_ms(&BackoffKnobs::default(), 0, sample);
    assert_eq!(expected, 44_999, "15 s plus just under 30 s of jitter");
    let expected = Duration::from_millis(u64::try_from(expected).expect("a positive delay"));
    assert_eq!(gaps(&attempts), [expected]);
}

#[tokio::test]
async fn a_durin_side_fixed_backoff_of_an_hour() {
    let policies = RetryPolicies::from_json(
        r#"{"policies": [{"function": "harness-app-flaky", "retries": 1,
                         "backoff": {"kind": "fixed", "interval_ms": 3600000}}]}"#,
    )
    .expect("a valid policy file");
    let harness = Harness::builder(APP)
        .function(flaky_step("flaky", 1))
        .retry_policies(policies)
        .start()
        .await
        .expect("the harness starts");
    assert_eq!(harness.function_id("flaky"), "harness-app-flaky");
    let run_id = start_one(&harness, "flaky").await;

    let run = harness
        .run_until_finished(&run_id)
        .await
        .expect("the run ends");

    assert_eq!(run.status, RunStatus::Completed);
    let attempts = harness
        .step_attempts(&run_id, "call-api")
        .await
        .expect("attempts");
    assert_eq!(gaps(&attempts), [secs(3_600)]);
}

#[tokio::test]
async fn advancing_by_hand_runs_a_retry_only_once_it_is_due() {
    let harness = Harness::start(APP, [flaky_step("flaky", 1)])
        .await
        .expect("the harness starts");
    let started = harness.now_ms();
    let run_id = start_one(&harness, "flaky").await;

    harness.settle().await.expect("the first attempt ends");
    let count = |attempts: Vec<durin_store::AttemptRecord>| attempts.len();
    let step = || harness.step_attempts(&run_id, "call-api");
    assert_eq!(count(step().await.expect("attempts")), 1);

    harness.advance(secs(14)).await.expect("14 s pass");
    assert_eq!(count(step().await.expect("attempts")), 1, "not due yet");
    assert_eq!(harness.now_ms(), started + 14_000);

    harness.advance(secs(1)).await.expect("1 s more");
    let attempts = step().await.expect("attempts");
    assert_eq!(attempts.len(), 2, "the retry ran at 15 s");
    assert_eq!(attempts[1].started_at, started + 15_000);
    assert_eq!(
        harness.run(&run_id).await.expect("the run").status,
        RunStatus::Completed
    );
}

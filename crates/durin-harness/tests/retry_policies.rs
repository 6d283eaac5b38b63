//! Issue 8's retry policies on the harness's manual clock: the issue's own example ("attempt 3 happened
//! 1 m 15 s after attempt 2"), a step's own policy with rules in code, and a run that pauses, is resumed by
//! the engine's operator action and completes — hours of backoff in milliseconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use durin_core::RunStatus;
use durin_harness::{Harness, HarnessError, gaps};
use durin_sdk::{Backoff, Context, Error, ErrorRule, Event, Function, OnExhausted, StepOptions};
use serde_json::json;

const APP: &str = "policies-app";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A step failing on its first `failures` attempts with an error named `name`, under `options`.
fn failing(slug: &str, failures: u32, name: &'static str, options: StepOptions) -> Function {
    Function::new(slug)
        .trigger_event(format!("test/{slug}"))
        .handler(move |ctx: Context| {
            let options = options.clone();
            async move {
                let attempt = ctx.attempt;
                ctx.step
                    .run_with("call-api", options, || async move {
                        if attempt < failures {
                            return Err(Error::new(name, format!("attempt {attempt}")));
                        }
                        Ok::<_, Error>(attempt)
                    })
                    .await
                    .map(|attempt| json!({ "succeeded_on": attempt }))
            }
        })
}

async fn start_one(harness: &Harness, slug: &str) -> String {
    let runs = harness
        .send(Event::new(format!("test/{slug}"), json!({})))
        .await
        .expect("the event is accepted");
    runs[0].clone()
}

#[tokio::test]
async fn attempt_three_happens_one_minute_fifteen_after_attempt_two() {
    // Inngest's table with a fixed jitter sample of 15 s: 30 s, 45 s, 1 m 15 s, ...
    let harness = Harness::builder(APP)
        .function(failing("flaky", 4, "Error", StepOptions::new()))
        .jitter_sample(Some(15_000))
        .start()
        .await
        .expect("the harness starts");
    let run_id = start_one(&harness, "flaky").await;
    let run = harness.run_until_finished(&run_id).await.expect("ends");
    assert_eq!(run.status, RunStatus::Completed);
    let attempts = harness
        .step_attempts(&run_id, "call-api")
        .await
        .expect("attempts");
    assert_eq!(
        gaps(&attempts),
        [secs(30), secs(45), secs(75), secs(135)],
        "attempt 3 started 1 m 15 s after attempt 2"
    );
    let why = attempts[2].explanation.as_ref().expect("explained");
    assert_eq!(why["backoff_ms"], 60_000);
    assert_eq!(why["jitter_ms"], 15_000);
}

#[tokio::test]
async fn a_rule_in_step_options_runs_its_own_exponential_schedule() {
    let options = StepOptions::new().rule(
        ErrorRule::named("TimeoutError")
            .retries(6)
            .backoff(Backoff::exponential(secs(60), 2.0, secs(600))),
    );
    let harness = Harness::start(APP, [failing("timeouts", 6, "TimeoutError", options)])
        .await
        .expect("the harness starts");
    let run_id = start_one(&harness, "timeouts").await;
    let run = harness.run_until_finished(&run_id).await.expect("ends");
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.output, Some(json!({ "succeeded_on": 6 })));
    let attempts = harness
        .step_attempts(&run_id, "call-api")
        .await
        .expect("attempts");
    // 1, 2, 4, 8 minutes, then capped at 10: 35 minutes of schedule, the default 4 retries exceeded.
    assert_eq!(
        gaps(&attempts),
        [
            secs(60),
            secs(120),
            secs(240),
            secs(480),
            secs(600),
            secs(600)
        ]
    );
}

#[tokio::test]
async fn a_paused_run_waits_for_an_operator_and_resumes_with_a_fresh_counter() {
    let fixed = Arc::new(AtomicBool::new(false));
    let flag = fixed.clone();
    let function = Function::new("outage")
        .trigger_event("test/outage")
        .handler(move |ctx: Context| {
            let flag = flag.clone();
            async move {
                let attempt = ctx.attempt;
                ctx.step
                    .run_with(
                        "call-api",
                        StepOptions::new()
                            .retries(1)
                            .backoff(Backoff::fixed(secs(3600)))
                            .on_exhausted(OnExhausted::Pause),
                        || async move {
                            if !flag.load(Ordering::SeqCst) {
                                return Err(Error::msg(format!("down (attempt {attempt})")));
                            }
                            Ok::<_, Error>(attempt)
                        },
                    )
                    .await
                    .map(|attempt| json!({ "succeeded_on": attempt }))
            }
        });
    let harness = Harness::start(APP, [function]).await.expect("starts");
    let run_id = start_one(&harness, "outage").await;
    match harness.run_until_finished(&run_id).await {
        Err(HarnessError::Stuck { status, .. }) => assert_eq!(status, RunStatus::Paused),
        other => panic!("expected the run to pause, got {other:?}"),
    }
    let attempts = harness.attempts(&run_id).await.expect("attempts");
    assert_eq!(gaps(&attempts), [secs(3600)]);
    let why = attempts[1].explanation.as_ref().expect("explained");
    assert_eq!(why["verdict"], "pause");

    // Days later, the outage is over: resumed, the step starts again as attempt 0 and succeeds.
    harness.advance(secs(3 * 86_400)).await.expect("advance");
    fixed.store(true, Ordering::SeqCst);
    harness.engine().resume_run(&run_id).await.expect("resume");
    let run = harness.run_until_finished(&run_id).await.expect("ends");
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.output, Some(json!({ "succeeded_on": 0 })));
}

/// Every backoff shape a policy may configure, each with a jitter, on the same fixed jitter sample: the
/// gaps are what durin-core computes for that sample, row by row.
#[tokio::test]
async fn each_backoff_shape_and_jitter_gives_the_schedule_durin_core_computes() {
    use durin_core::{Backoff as CoreBackoff, BackoffKnobs};
    let shapes = [
        r#"{"kind": "table", "delays_ms": [10000, 20000, 90000], "jitter": {"kind": "equal"}}"#,
        r#"{"kind": "exponential", "initial_interval_ms": 1000, "backoff_coefficient": 3.0,
            "maximum_interval_ms": 20000, "jitter": {"kind": "full"}}"#,
        r#"{"kind": "fixed", "interval_ms": 5000, "jitter": {"kind": "additive", "max_ms": 2000}}"#,
        r#"{"kind": "inngest_table"}"#,
    ];
    const SAMPLE: u32 = 20_000;
    for shape in shapes {
        let backoff: CoreBackoff = serde_json::from_str(shape).expect("a backoff");
        let policies = durin_engine::RetryPolicies::from_json(&format!(
            r#"{{"policies": [{{"function": "{APP}-shaped", "backoff": {shape}}}]}}"#
        ))
        .expect("a valid policy file");
        let harness = Harness::builder(APP)
            .function(failing("shaped", 4, "Error", StepOptions::new()))
            .retry_policies(policies)
            .jitter_sample(Some(SAMPLE))
            .start()
            .await
            .expect("the harness starts");
        let run_id = start_one(&harness, "shaped").await;
        let run = harness.run_until_finished(&run_id).await.expect("ends");
        assert_eq!(run.status, RunStatus::Completed, "{shape}");
        let attempts = harness
            .step_attempts(&run_id, "call-api")
            .await
            .expect("attempts");
        let expected: Vec<Duration> = (0..4)
            .map(|failed| {
                let ms = backoff.delay_ms(&BackoffKnobs::default(), failed, SAMPLE);
                Duration::from_millis(u64::try_from(ms).expect("a positive delay"))
            })
            .collect();
        assert_eq!(gaps(&attempts), expected, "{shape}");
    }
}

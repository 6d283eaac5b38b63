//! Retry policies beyond a count and a backoff (issue 8, features 1, 3, 4, 6, 9), against a real
//! `durin dev` and Rust SDK apps: a step's own policy sent as step options, rules per error class with their
//! own counters, cool-downs that spend no retry, a run-level retry budget, and each failed attempt's
//! explanation as the API shows it.

mod common;

use std::time::Duration;

use common::{Harness, RUN_TIMEOUT, start};
use durin_sdk::{Backoff, Context, Error, ErrorRule, Function, StepOptions};
use durin_testkit::Recorder;
use serde_json::{Value, json};

/// The error a step of `classify` raises on each attempt, by attempt number.
const CLASSIFY_ERRORS: [&str; 5] = [
    "TimeoutError",
    "TimeoutError",
    "Error",
    "TimeoutError",
    "TimeoutError",
];

/// A step with its own policy in code: 1 retry for ordinary errors, 3 for `TimeoutError` (own counter,
/// 40 ms apart), `ValidationError` never retried.
fn classify(seen: Recorder) -> Function {
    Function::new("classify")
        .trigger_event("app/classify")
        .handler(move |ctx: Context| {
            let seen = seen.clone();
            async move {
                let attempt = ctx.attempt;
                let options = StepOptions::new()
                    .retries(1)
                    .backoff(Backoff::fixed(Duration::from_millis(20)))
                    .rule(
                        ErrorRule::named("TimeoutError")
                            .retries(3)
                            .backoff(Backoff::fixed(Duration::from_millis(40))),
                    )
                    .rule(ErrorRule::named("ValidationError").never());
                let fetch = seen.clone();
                let fetched = ctx
                    .step
                    .run_with("fetch", options, || async move {
                        fetch.record("fetch", attempt);
                        let name = CLASSIFY_ERRORS
                            .get(attempt as usize)
                            .copied()
                            .unwrap_or("TimeoutError");
                        Err::<(), _>(Error::new(name, format!("attempt {attempt}")))
                    })
                    .await;
                let validate = seen.clone();
                let validated = ctx
                    .step
                    .run_with(
                        "validate",
                        StepOptions::new()
                            .retries(5)
                            .rule(ErrorRule::named("ValidationError").never()),
                        || async move {
                            validate.record("validate", attempt);
                            Err::<(), _>(Error::new("ValidationError", "the order has no lines"))
                        },
                    )
                    .await;
                Ok(json!({
                    "fetch_failed": fetched.is_err(),
                    "validate_failed": validated.is_err(),
                }))
            }
        })
}

/// A step rate-limited three times (Retry-After 1 s) with no retries of its own: the cool-downs carry it.
fn throttled(seen: Recorder) -> Function {
    Function::new("throttled")
        .trigger_event("app/throttled")
        .retries(0)
        .handler(move |ctx: Context| {
            let seen = seen.clone();
            async move {
                let attempt = ctx.attempt;
                ctx.step
                    .run_with(
                        "call-api",
                        StepOptions::new().cool_down(Duration::from_secs(10)),
                        || async move {
                            seen.record("call-api", attempt);
                            if attempt < 3 {
                                return Err(Error::retry_after("429", Duration::from_secs(1)));
                            }
                            Ok::<_, Error>(attempt)
                        },
                    )
                    .await
                    .map(|attempt| json!({ "succeeded_on": attempt }))
            }
        })
}

/// Two steps that each fail twice, under a Durin-side run budget of 3 retries: the second step's second
/// failure finds the budget spent.
fn budgeted(seen: Recorder) -> Function {
    Function::new("budgeted")
        .trigger_event("app/budgeted")
        .handler(move |ctx: Context| {
            let seen = seen.clone();
            async move {
                let attempt = ctx.attempt;
                let mut results = Vec::new();
                for step in ["first", "second"] {
                    let record = seen.clone();
                    let result = ctx
                        .step
                        .run(step, || async move {
                            record.record(step, attempt);
                            if attempt < 2 {
                                return Err(Error::msg("flaky"));
                            }
                            Ok::<_, Error>(())
                        })
                        .await;
                    results.push(result.is_ok());
                }
                Ok(json!({ "ok": results }))
            }
        })
}

const POLICIES: &str = r#"{"policies": [
    {"function": "test-app-budgeted", "run_retries": 3,
     "backoff": {"kind": "fixed", "interval_ms": 20}}
]}"#;

async fn finished_run(h: &Harness, name: &str) -> Value {
    let event = h.engine.send(name, json!({})).await.expect("send");
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .expect("the run ends");
    let run_id = run["run_id"].as_str().expect("run id");
    h.engine
        .data(&format!("/v1/runs/{run_id}"))
        .await
        .expect("the run")
}

/// The explanations of a step's attempts, in order.
async fn explanations(h: &Harness, run_id: &str, step: &str) -> Vec<Value> {
    let attempts = h.engine.attempts(run_id).await.expect("attempts");
    attempts
        .iter()
        .filter(|a| a["step_name"] == step)
        .map(|a| a["explanation"].clone())
        .collect()
}

fn field<'a>(explanations: &'a [Value], name: &str) -> Vec<&'a Value> {
    explanations.iter().map(|e| &e[name]).collect()
}

#[tokio::test]
async fn rules_count_each_error_class_on_its_own_counter_and_never_means_never() {
    let seen = Recorder::new();
    let h = start(vec![classify(seen.clone())], &[]).await;
    let run = finished_run(&h, "app/classify").await;
    assert_eq!(run["status"], "Completed", "{run}");
    assert_eq!(
        run["output"],
        json!({"fetch_failed": true, "validate_failed": true})
    );
    let run_id = run["run_id"].as_str().expect("run id");

    // T, T, Error, T, T: TimeoutError's counter reaches 4 > 3 on the fifth attempt, while the one
    // ordinary error spent the policy's single retry.
    assert_eq!(seen.attempts("fetch"), vec![0, 1, 2, 3, 4]);
    let fetch = explanations(&h, run_id, "fetch").await;
    let rule = |name: &str| json!(name);
    assert_eq!(
        field(&fetch, "rule"),
        vec![
            &rule("TimeoutError"),
            &rule("TimeoutError"),
            &Value::Null,
            &rule("TimeoutError"),
            &rule("TimeoutError")
        ]
    );
    assert_eq!(
        field(&fetch, "failures"),
        vec![&json!(1), &json!(2), &json!(1), &json!(3), &json!(4)]
    );
    assert_eq!(
        field(&fetch, "verdict"),
        vec![
            &json!("retry"),
            &json!("retry"),
            &json!("retry"),
            &json!("retry"),
            &json!("give_up")
        ]
    );
    // Each counter's own backoff: 40 ms for the rule, 20 ms for the policy.
    assert_eq!(
        field(&fetch, "delay_ms"),
        vec![&json!(40), &json!(40), &json!(20), &json!(40), &Value::Null]
    );
    for explanation in &fetch {
        assert_eq!(explanation["policy"], "the step's options (Rust SDK)");
    }
    assert_eq!(
        fetch[4]["reason"],
        "retries spent: failure 4 on rule TimeoutError, which allows 3 retries; the step fails"
    );

    // ValidationError: never, on the first attempt, though the step allows 5 retries.
    assert_eq!(seen.attempts("validate"), vec![0]);
    let validate = explanations(&h, run_id, "validate").await;
    assert_eq!(validate[0]["verdict"], "give_up");
    assert_eq!(
        validate[0]["reason"],
        "rule ValidationError says never retry; the step fails"
    );
}

#[tokio::test]
async fn cool_downs_wait_out_retry_after_without_spending_retries() {
    let seen = Recorder::new();
    let h = start(vec![throttled(seen.clone())], &[]).await;
    let run = finished_run(&h, "app/throttled").await;
    // The function allows no retries at all, yet three rate limits were waited out.
    assert_eq!(run["status"], "Completed", "{run}");
    assert_eq!(run["output"], json!({ "succeeded_on": 3 }));
    assert_eq!(seen.attempts("call-api"), vec![0, 1, 2, 3]);
    let run_id = run["run_id"].as_str().expect("run id");
    let calls = explanations(&h, run_id, "call-api").await;
    assert_eq!(field(&calls[..3], "verdict"), vec![&json!("cool_down"); 3]);
    for (i, explanation) in calls[..3].iter().enumerate() {
        assert_eq!(explanation["delay_ms"], 1000, "{explanation}");
        let used = 1000 * (i + 1);
        assert!(
            explanation["reason"]
                .as_str()
                .is_some_and(|r| r.contains(&format!("{used} of 10000 ms of cool-down used"))),
            "{explanation}"
        );
    }
    assert_eq!(
        calls[3],
        Value::Null,
        "the successful attempt has no explanation"
    );
}

#[tokio::test]
async fn a_run_budget_caps_the_retries_of_all_its_steps_together() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("policies.json");
    std::fs::write(&file, POLICIES).expect("write the policy file");
    let seen = Recorder::new();
    let h = start(
        vec![budgeted(seen.clone())],
        &["--retry-policies", file.to_str().expect("a UTF-8 path")],
    )
    .await;
    let run = finished_run(&h, "app/budgeted").await;
    assert_eq!(run["status"], "Completed", "{run}");
    // first: two retries (budget 2 of 3 used); second: one retry, then the budget is spent.
    assert_eq!(run["output"], json!({ "ok": [true, false] }));
    assert_eq!(seen.attempts("first"), vec![0, 1, 2]);
    assert_eq!(seen.attempts("second"), vec![0, 1]);
    let run_id = run["run_id"].as_str().expect("run id");
    let second = explanations(&h, run_id, "second").await;
    assert_eq!(second[0]["verdict"], "retry");
    assert_eq!(second[0]["run_retries_used"], 2);
    assert_eq!(second[1]["verdict"], "give_up");
    assert_eq!(second[1]["run_retries_used"], 3);
    assert_eq!(second[1]["run_retries"], 3);
    assert_eq!(
        second[1]["policy"],
        "the policy file's entry for the function"
    );
    assert_eq!(
        second[1]["reason"],
        "the run's retry budget is spent (3 of 3 retries taken by its steps); the step fails"
    );
}

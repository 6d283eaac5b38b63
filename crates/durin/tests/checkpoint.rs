//! Checkpointing with the Rust SDK: offered by `durin dev` by default, the SDK runs sequential steps one
//! after another in one call request and reports each to `/v1/checkpoint/{run}/async`; failures, parallel
//! steps and the runtime limit hand the run back to the engine the classic way.

// Test helpers: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{APP, RUN_TIMEOUT, start, start_configured, step_attempts};
use durin_sdk::{Checkpointing, Context, Error, Function};
use durin_testkit::Recorder;
use serde_json::{Value, json};

/// A function of `steps` sequential steps; records every call of its body (`body`) and every step
/// execution (`s0`, `s1`, ...), and fails step `flaky` on attempt 0 when given.
fn sequential(steps: usize, flaky: Option<usize>, seen: &Recorder) -> Function {
    let recorder = seen.clone();
    Function::new("sequence")
        .trigger_event("app/sequence")
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                recorder.record("body", ctx.attempt);
                let mut total = 0u64;
                for index in 0..steps {
                    let name = format!("s{index}");
                    let (recorder, attempt) = (recorder.clone(), ctx.attempt);
                    let step_name = name.clone();
                    let value: u64 = ctx
                        .step
                        .run(&name, || async move {
                            recorder.record(&step_name, attempt);
                            if flaky == Some(index) && attempt == 0 {
                                return Err(Error::msg("flaky step"));
                            }
                            Ok::<_, Error>(index as u64 + 1)
                        })
                        .await?;
                    total += value;
                }
                Ok(json!({ "total": total }))
            }
        })
}

async fn run_to_end(h: &common::Harness) -> (Value, Vec<Value>) {
    let event = h.engine.send("app/sequence", json!({})).await.unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();
    let run_id = run["run_id"].as_str().unwrap().to_owned();
    let attempts = h.engine.attempts(&run_id).await.unwrap();
    let run = h.engine.data(&format!("/v1/runs/{run_id}")).await.unwrap();
    (run, attempts)
}

#[tokio::test]
async fn sequential_steps_run_in_one_request_and_each_is_stored_as_it_finishes() {
    let seen = Recorder::new();
    let h = start(vec![sequential(5, None, &seen)], &[]).await;
    let (run, attempts) = run_to_end(&h).await;

    assert_eq!(run["status"], "Completed");
    assert_eq!(run["output"], json!({ "total": 15 }));
    // One call request ran the whole function.
    assert_eq!(seen.attempts("body"), vec![0]);
    for index in 0..5 {
        let name = format!("s{index}");
        assert_eq!(seen.attempts(&name), vec![0], "{name} ran once");
        assert_eq!(
            step_attempts(&attempts, &name),
            vec![(0, "ok".into())],
            "{name} is recorded once, as ok"
        );
    }
    let run_id = run["run_id"].as_str().unwrap();
    let steps = h
        .engine
        .data(&format!("/v1/runs/{run_id}/steps"))
        .await
        .unwrap();
    let outputs: Vec<Value> = steps
        .as_array()
        .unwrap()
        .iter()
        .filter(|step| step["name"].as_str().is_some_and(|n| n.starts_with('s')))
        .map(|step| step["output"].clone())
        .collect();
    assert_eq!(
        outputs,
        vec![json!(1), json!(2), json!(3), json!(4), json!(5)]
    );
}

#[tokio::test]
async fn without_checkpointing_every_step_is_its_own_request() {
    let seen = Recorder::new();
    let h = start(vec![sequential(3, None, &seen)], &["--no-checkpointing"]).await;
    let (run, _) = run_to_end(&h).await;

    assert_eq!(run["status"], "Completed");
    assert_eq!(run["output"], json!({ "total": 6 }));
    // The classic protocol: one request per step plus the one that returns.
    assert_eq!(seen.attempts("body"), vec![0, 0, 0, 0]);
}

#[tokio::test]
async fn a_client_without_checkpointing_answers_after_every_step() {
    let seen = Recorder::new();
    let h = start_configured(
        APP,
        |client| client.without_checkpointing(),
        vec![sequential(3, None, &seen)],
        &[],
    )
    .await;
    let (run, _) = run_to_end(&h).await;

    assert_eq!(run["output"], json!({ "total": 6 }));
    assert_eq!(seen.attempts("body"), vec![0, 0, 0, 0]);
}

#[tokio::test]
async fn a_failing_step_is_retried_on_its_own_counter_and_the_run_checkpoints_again() {
    let seen = Recorder::new();
    let h = start(
        vec![sequential(4, Some(1), &seen)],
        &["--backoff-scale", "0.01"],
    )
    .await;
    let (run, attempts) = run_to_end(&h).await;

    assert_eq!(run["status"], "Completed");
    assert_eq!(run["output"], json!({ "total": 10 }));
    assert_eq!(
        seen.attempts("s0"),
        vec![0],
        "a stored step never runs again"
    );
    assert_eq!(seen.attempts("s1"), vec![0, 1]);
    assert_eq!(seen.attempts("s2"), vec![0]);
    assert_eq!(seen.attempts("s3"), vec![0]);
    assert_eq!(
        step_attempts(&attempts, "s1"),
        vec![(0, "error".into()), (1, "ok".into())]
    );
    // The first request ran s0 and failed s1; the retry ran s1 alone; the next discovery ran s2 and s3.
    assert_eq!(seen.attempts("body"), vec![0, 1, 0]);
}

#[tokio::test]
async fn buffered_steps_are_reported_together_and_all_stored() {
    let seen = Recorder::new();
    let h = start_configured(
        APP,
        |client| {
            client.with_checkpointing(Checkpointing {
                buffered_steps: 4,
                max_runtime: Duration::from_secs(10),
            })
        },
        vec![sequential(10, None, &seen)],
        &[],
    )
    .await;
    let (run, attempts) = run_to_end(&h).await;

    assert_eq!(run["output"], json!({ "total": 55 }));
    assert_eq!(seen.attempts("body"), vec![0]);
    for index in 0..10 {
        let name = format!("s{index}");
        assert_eq!(step_attempts(&attempts, &name), vec![(0, "ok".into())]);
    }
}

#[tokio::test]
async fn past_its_runtime_limit_a_request_hands_the_next_step_back_to_the_engine() {
    let seen = Recorder::new();
    let h = start_configured(
        APP,
        |client| {
            client.with_checkpointing(Checkpointing {
                buffered_steps: 1,
                max_runtime: Duration::ZERO,
            })
        },
        vec![sequential(3, None, &seen)],
        &[],
    )
    .await;
    let (run, attempts) = run_to_end(&h).await;

    assert_eq!(run["output"], json!({ "total": 6 }));
    for index in 0..3 {
        let name = format!("s{index}");
        assert_eq!(seen.attempts(&name), vec![0]);
        assert_eq!(step_attempts(&attempts, &name), vec![(0, "ok".into())]);
    }
    // Each step is planned and then executed by its own request, then the body returns.
    assert!(
        seen.attempts("body").len() >= 4,
        "body calls: {:?}",
        seen.attempts("body")
    );
}

#[tokio::test]
async fn a_run_cancelled_mid_request_stops_at_its_next_checkpoint() {
    let seen = Recorder::new();
    let recorder = seen.clone();
    let function = Function::new("sequence")
        .trigger_event("app/sequence")
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                for index in 0..3 {
                    let name = format!("s{index}");
                    let (recorder, step_name) = (recorder.clone(), name.clone());
                    ctx.step
                        .run(&name, || async move {
                            recorder.record(&step_name, 0);
                            if index == 1 {
                                // Long enough for the test to cancel the run meanwhile.
                                tokio::time::sleep(Duration::from_millis(1500)).await;
                            }
                            Ok::<_, Error>(index)
                        })
                        .await?;
                }
                Ok(json!("done"))
            }
        });
    let h = start(vec![function], &[]).await;
    let event = h.engine.send("app/sequence", json!({})).await.unwrap();
    let deadline = std::time::Instant::now() + RUN_TIMEOUT;
    while seen.count("s1") == 0 {
        assert!(std::time::Instant::now() < deadline, "s1 never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let runs = h.engine.runs_of_event(&event).await.unwrap();
    let run_id = runs[0]["run_id"].as_str().unwrap().to_owned();
    let (status, _) = h
        .engine
        .delete(&format!("/v1/runs/{run_id}"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    // s1's checkpoint is refused as stale, so the request stops before s2.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(seen.count("s2"), 0, "no step runs after the cancellation");
    let run = h.engine.data(&format!("/v1/runs/{run_id}")).await.unwrap();
    assert_eq!(run["status"], "Cancelled");
    let steps = h
        .engine
        .data(&format!("/v1/runs/{run_id}/steps"))
        .await
        .unwrap();
    let stored: Vec<&str> = steps
        .as_array()
        .unwrap()
        .iter()
        .filter(|step| step["status"] == "completed")
        .filter_map(|step| step["name"].as_str())
        .collect();
    assert_eq!(
        stored,
        vec!["s0"],
        "only the step checkpointed before the cancel is stored"
    );
}

#[tokio::test]
async fn once_parallel_steps_end_the_steps_after_them_checkpoint_again() {
    let seen = Recorder::new();
    let recorder = seen.clone();
    let function = Function::new("fan-then-sequence")
        .trigger_event("app/sequence")
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                recorder.record("body", ctx.attempt);
                let (ra, rb) = (recorder.clone(), recorder.clone());
                let a = ctx.step.run("a", || async move {
                    ra.record("a", 0);
                    Ok::<_, Error>(1)
                });
                let b = ctx.step.run("b", || async move {
                    rb.record("b", 0);
                    Ok::<_, Error>(2)
                });
                let (a, b): (Result<u64, Error>, Result<u64, Error>) = futures::join!(a, b);
                let mut total = a? + b?;
                for index in 0..3u64 {
                    let name = format!("s{index}");
                    let (recorder, step_name) = (recorder.clone(), name.clone());
                    total += ctx
                        .step
                        .run(&name, || async move {
                            recorder.record(&step_name, 0);
                            Ok::<_, Error>(index)
                        })
                        .await?;
                }
                Ok(json!({ "total": total }))
            }
        });
    let h = start(vec![function], &[]).await;
    let (run, _) = run_to_end(&h).await;

    assert_eq!(run["output"], json!({ "total": 6 }));
    for step in ["a", "b", "s0", "s1", "s2"] {
        assert_eq!(seen.count(step), 1, "{step} ran once");
    }
    // The discovery that plans a and b, one request per branch, then one request for s0, s1 and s2.
    assert_eq!(
        seen.count("body"),
        4,
        "body calls: {:?}",
        seen.attempts("body")
    );
}

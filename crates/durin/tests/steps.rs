//! Step shapes beyond one sequential `step.run`: parallel steps (StepPlanned), sleeps, and step ids
//! repeated in a loop.

mod common;

use std::time::Duration;

use common::{RUN_TIMEOUT, start, step_attempts};
use durin_sdk::{Context, Error, Function};
use durin_testkit::Recorder;
use serde_json::{Value, json};

#[tokio::test]
async fn parallel_steps_each_run_once_with_their_own_retry_counter() {
    let seen = Recorder::new();
    let recorder = seen.clone();
    let function = Function::new("fan-out")
        .trigger_event("app/fan-out")
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                let attempt = ctx.attempt;
                let (ra, rb) = (recorder.clone(), recorder.clone());
                let a = ctx.step.run("a", || async move {
                    ra.record("a", attempt);
                    Ok::<_, Error>(json!("A"))
                });
                let b = ctx.step.run("b", || async move {
                    rb.record("b", attempt);
                    if attempt == 0 {
                        return Err(Error::msg("b is flaky"));
                    }
                    Ok(json!("B"))
                });
                let (a, b): (Result<Value, Error>, Result<Value, Error>) = futures::join!(a, b);
                Ok(json!([a?, b?]))
            }
        });
    let h = start(vec![function], &["--backoff-scale", "0.01"]).await;
    let event = h.engine.send("app/fan-out", json!({})).await.unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();

    assert_eq!(run["status"], "Completed");
    assert_eq!(seen.attempts("a"), vec![0]);
    assert_eq!(seen.attempts("b"), vec![0, 1]);
    let run_id = run["run_id"].as_str().unwrap();
    assert_eq!(
        h.engine.data(&format!("/v1/runs/{run_id}")).await.unwrap()["output"],
        json!(["A", "B"])
    );
    let attempts = h.engine.attempts(run_id).await.unwrap();
    assert_eq!(
        step_attempts(&attempts, "b"),
        vec![(0, "error".into()), (1, "ok".into())]
    );
}

#[tokio::test]
async fn a_sleep_resumes_the_run_after_its_duration() {
    let seen = Recorder::new();
    let recorder = seen.clone();
    let function = Function::new("nap")
        .trigger_event("app/nap")
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                let (r1, r2) = (recorder.clone(), recorder.clone());
                ctx.step
                    .run("before", || async move {
                        r1.record("step", 0);
                        Ok::<_, Error>(())
                    })
                    .await?;
                ctx.step.sleep("wait", Duration::from_secs(1)).await?;
                ctx.step
                    .run("after", || async move {
                        r2.record("step", 0);
                        Ok::<_, Error>(())
                    })
                    .await?;
                Ok(json!("rested"))
            }
        });
    let h = start(vec![function], &[]).await;
    let event = h.engine.send("app/nap", json!({})).await.unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();

    assert_eq!(run["status"], "Completed");
    let gaps = seen.gaps("step");
    assert_eq!(gaps.len(), 1);
    assert!((1.0..3.0).contains(&gaps[0]), "slept {:.3} s", gaps[0]);
}

#[tokio::test]
async fn a_step_id_repeated_in_a_loop_runs_once_per_iteration() {
    let seen = Recorder::new();
    let recorder = seen.clone();
    let function = Function::new("loop")
        .trigger_event("app/loop")
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                let mut total = 0;
                for i in 0..3u32 {
                    let r = recorder.clone();
                    let value: u32 = ctx
                        .step
                        .run("same", || async move {
                            r.record("same", i);
                            Ok::<_, Error>(i * 10)
                        })
                        .await?;
                    total += value;
                }
                Ok(json!(total))
            }
        });
    let h = start(vec![function], &[]).await;
    let event = h.engine.send("app/loop", json!({})).await.unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(run["status"], "Completed");
    assert_eq!(
        seen.attempts("same"),
        vec![0, 1, 2],
        "each iteration ran exactly once"
    );
    let output = h
        .engine
        .data(&format!("/v1/runs/{}", run["run_id"].as_str().unwrap()))
        .await
        .unwrap()["output"]
        .clone();
    assert_eq!(output, json!(30));
}

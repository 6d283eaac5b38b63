//! What an operator can do to runs through the API: cancel, retry now, rerun (from the start, from a
//! step, many at once), read the step timeline; and add an app by URL.

// Test helpers: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{APP, RUN_TIMEOUT, start};
use durin_sdk::{Context, Error, Function};
use durin_testkit::Recorder;
use serde_json::{Value, json};

/// Fails its body on attempt 0, so that (under the real table) a retry waits 15-45 s.
fn flaky(seen: &Recorder) -> Function {
    let recorder = seen.clone();
    Function::new("flaky")
        .trigger_event("app/flaky")
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            async move {
                recorder.record("body", ctx.attempt);
                if ctx.attempt == 0 {
                    return Err(Error::msg("first try fails"));
                }
                Ok(json!("done"))
            }
        })
}

async fn run_of(h: &common::Harness, event: &str) -> String {
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        if let Some(run) = h.engine.runs_of_event(event).await.unwrap().first() {
            return run["run_id"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no run for {event}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_for_scheduled_retry(h: &common::Harness, run_id: &str) -> Value {
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        let steps = h
            .engine
            .data(&format!("/v1/runs/{run_id}/steps"))
            .await
            .unwrap();
        if steps[0]["status"] == "scheduled" {
            return steps;
        }
        assert!(Instant::now() < deadline, "no retry was scheduled: {steps}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn cancel_stops_a_run_waiting_for_its_retry() {
    let seen = Recorder::new();
    let h = start(vec![flaky(&seen)], &[]).await;
    let event = h.engine.send("app/flaky", json!({})).await.unwrap();
    let run_id = run_of(&h, &event).await;
    let steps = wait_for_scheduled_retry(&h, &run_id).await;
    assert!(steps[0]["next_attempt_at_ms"].as_i64().is_some());

    let (status, body) = h
        .engine
        .delete(&format!("/v1/runs/{run_id}"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "Cancelled");
    assert_eq!(
        h.engine
            .data(&format!("/v1/runs/{run_id}/jobs"))
            .await
            .unwrap(),
        json!([])
    );
    let cancelled = h
        .engine
        .data("/v1/events?name=inngest/function.cancelled")
        .await
        .unwrap();
    assert_eq!(cancelled[0]["data"]["run_id"], run_id.as_str());
    // Cancelling again is a no-op; a finished run cannot be cancelled; an unknown one is not found.
    assert_eq!(
        h.engine
            .delete(&format!("/v1/runs/{run_id}"))
            .await
            .unwrap()
            .0,
        200
    );
    assert_eq!(
        h.engine
            .delete("/v1/runs/01NOSUCHRUN0000000000000000")
            .await
            .unwrap()
            .0,
        404
    );
    assert_eq!(seen.attempts("body"), vec![0]);
}

#[tokio::test]
async fn a_finished_run_cannot_be_cancelled() {
    let ok = Function::new("ok")
        .trigger_event("app/ok")
        .handler(|_ctx: Context| async { Ok(json!(1)) });
    let h = start(vec![ok], &[]).await;
    let event = h.engine.send("app/ok", json!({})).await.unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();
    let (status, body) = h
        .engine
        .delete(&format!("/v1/runs/{}", run["run_id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(status, 409);
    assert!(
        body["error"].as_str().unwrap().contains("Completed"),
        "{body}"
    );
}

#[tokio::test]
async fn retry_now_runs_a_waiting_retry_at_once() {
    let seen = Recorder::new();
    let h = start(vec![flaky(&seen)], &[]).await;
    let event = h.engine.send("app/flaky", json!({})).await.unwrap();
    let run_id = run_of(&h, &event).await;
    wait_for_scheduled_retry(&h, &run_id).await;
    let asked = Instant::now();
    let (status, body) = h
        .engine
        .post_json(&format!("/v1/runs/{run_id}/retry-now"), &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["jobs"], 1);
    let run = h.engine.wait_for_run(&run_id, RUN_TIMEOUT).await.unwrap();
    assert_eq!(run["status"], "Completed");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "the retry waited for its backoff"
    );
    assert_eq!(seen.attempts("body"), vec![0, 1]);
    let (status, _) = h
        .engine
        .post_json(&format!("/v1/runs/{run_id}/retry-now"), &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 409, "nothing is waiting any more");
}

/// Three steps; `third` fails for good until `fixed` is set.
fn three_steps(seen: &Recorder, fixed: Arc<AtomicBool>) -> Function {
    let recorder = seen.clone();
    Function::new("pipeline")
        .trigger_event("app/pipeline")
        .retries(0)
        .handler(move |ctx: Context| {
            let recorder = recorder.clone();
            let fixed = Arc::clone(&fixed);
            async move {
                let mut parts = Vec::new();
                for name in ["first", "second", "third"] {
                    let r = recorder.clone();
                    let fixed = Arc::clone(&fixed);
                    let part: String = ctx
                        .step
                        .run(name, || async move {
                            r.record(name, 0);
                            if name == "third" && !fixed.load(Ordering::SeqCst) {
                                return Err(Error::msg("third is broken"));
                            }
                            Ok::<_, Error>(name.to_uppercase())
                        })
                        .await?;
                    parts.push(part);
                }
                Ok(json!(parts))
            }
        })
}

#[tokio::test]
async fn rerun_from_a_step_keeps_the_earlier_results() {
    let seen = Recorder::new();
    let fixed = Arc::new(AtomicBool::new(false));
    let h = start(vec![three_steps(&seen, Arc::clone(&fixed))], &[]).await;
    let event = h.engine.send("app/pipeline", json!({})).await.unwrap();
    let failed = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(failed["status"], "Failed");
    let failed_id = failed["run_id"].as_str().unwrap();
    let steps = h
        .engine
        .data(&format!("/v1/runs/{failed_id}/steps"))
        .await
        .unwrap();
    let statuses: Vec<_> = steps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].clone(), s["status"].clone()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (json!("first"), json!("completed")),
            (json!("second"), json!("completed")),
            (json!("third"), json!("failed")),
            (json!("(function body)"), json!("failed")),
        ]
    );
    assert_eq!(
        steps[2]["attempts"][0]["error"]["message"],
        "third is broken"
    );

    fixed.store(true, Ordering::SeqCst);
    let (status, body) = h
        .engine
        .post_json(
            &format!("/v1/runs/{failed_id}/rerun"),
            &json!({ "from_step": "third" }),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let rerun_id = body["data"]["run_id"].as_str().unwrap().to_owned();
    let rerun = h.engine.wait_for_run(&rerun_id, RUN_TIMEOUT).await.unwrap();
    assert_eq!(rerun["status"], "Completed");
    assert_eq!(rerun["output"], json!(["FIRST", "SECOND", "THIRD"]));
    assert_eq!(rerun["original_run_id"], failed_id);
    assert_eq!(
        seen.count("first"),
        1,
        "kept results are not executed again"
    );
    assert_eq!(seen.count("second"), 1);
    assert_eq!(seen.count("third"), 2);

    // From the start, every step runs again.
    let (_, body) = h
        .engine
        .post_json(&format!("/v1/runs/{rerun_id}/rerun"), &json!({}))
        .await
        .unwrap();
    let again = h
        .engine
        .wait_for_run(body["data"]["run_id"].as_str().unwrap(), RUN_TIMEOUT)
        .await
        .unwrap();
    assert_eq!(again["status"], "Completed");
    assert_eq!(seen.count("first"), 2);
    // An unknown step is refused, naming it.
    let (status, body) = h
        .engine
        .post_json(
            &format!("/v1/runs/{failed_id}/rerun"),
            &json!({ "from_step": "fourth" }),
        )
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("fourth"), "{body}");
}

#[tokio::test]
async fn bulk_rerun_repeats_every_failed_run_of_a_function() {
    let seen = Recorder::new();
    let fixed = Arc::new(AtomicBool::new(false));
    let h = start(vec![three_steps(&seen, Arc::clone(&fixed))], &[]).await;
    let mut events = Vec::new();
    for n in 0..3 {
        events.push(
            h.engine
                .send("app/pipeline", json!({ "n": n }))
                .await
                .unwrap(),
        );
    }
    for event in &events {
        assert_eq!(
            h.engine.wait_for_run_end(event, RUN_TIMEOUT).await.unwrap()["status"],
            "Failed"
        );
    }
    fixed.store(true, Ordering::SeqCst);
    let (status, body) = h
        .engine
        .post_json(
            "/v1/runs/rerun",
            &json!({ "function_id": format!("{APP}-pipeline") }),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let run_ids = body["data"]["run_ids"].as_array().unwrap().clone();
    assert_eq!(run_ids.len(), 3);
    for run_id in run_ids {
        let run = h
            .engine
            .wait_for_run(run_id.as_str().unwrap(), RUN_TIMEOUT)
            .await
            .unwrap();
        assert_eq!(run["status"], "Completed");
    }
    let (status, body) = h
        .engine
        .post_json("/v1/runs/rerun", &json!({}))
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn an_app_can_be_added_by_url() {
    let ok = Function::new("ok")
        .trigger_event("app/ok")
        .handler(|_ctx: Context| async { Ok(json!(1)) });
    let h = start(vec![ok], &[]).await;
    let other_client = durin_sdk::Client::with_base_url("second-app", h.engine.url());
    let other = Function::new("other")
        .trigger_event("app/other")
        .handler(|_ctx: Context| async { Ok(json!(2)) });
    let served = durin_testkit::serve_app(durin_sdk::serve(other_client, vec![other]))
        .await
        .unwrap();
    let (status, body) = h
        .engine
        .post_json("/v1/apps", &json!({ "url": served.serve_url() }))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["function_count"], 1);
    assert_eq!(body["data"]["error"], Value::Null);
    let event = h.engine.send("app/other", json!({})).await.unwrap();
    assert_eq!(
        h.engine
            .wait_for_run_end(&event, RUN_TIMEOUT)
            .await
            .unwrap()["status"],
        "Completed"
    );
    let (status, body) = h
        .engine
        .post_json("/v1/apps", &json!({ "url": "not a url" }))
        .await
        .unwrap();
    assert_eq!(status, 400, "{body}");
}

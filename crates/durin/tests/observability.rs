//! Metrics and logs: `/metrics` in Prometheus format with runs, attempts, retries and the queue; log lines
//! that carry the attempt's `run_id`, `fn_id`, `step_id` and `attempt`, as text or JSON.

// Test helpers: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{APP, RUN_TIMEOUT, start};
use durin_sdk::{Context, Error, Function};
use serde_json::{Value, json};

fn flaky_step() -> Function {
    Function::new("flaky-step")
        .trigger_event("app/flaky")
        .handler(|ctx: Context| async move {
            let attempt = ctx.attempt;
            ctx.step
                .run("charge", || async move {
                    if attempt == 0 {
                        return Err(Error::msg("card network down"));
                    }
                    Ok::<_, Error>(json!("charged"))
                })
                .await
        })
}

/// The value of the sample `name{labels}` in a Prometheus text exposition.
fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let matches = series == name
                || (series.starts_with(&format!("{name}{{"))
                    && labels
                        .iter()
                        .all(|(k, v)| series.contains(&format!("{k}=\"{v}\""))));
            if labels.is_empty() && series != name {
                return None;
            }
            matches.then(|| value.parse().ok()).flatten()
        })
}

#[tokio::test]
async fn metrics_count_runs_attempts_and_retries() {
    let h = start(vec![flaky_step()], &["--backoff-scale", "0.01"]).await;
    let event = h.engine.send("app/flaky", json!({})).await.unwrap();
    assert_eq!(
        h.engine
            .wait_for_run_end(&event, RUN_TIMEOUT)
            .await
            .unwrap()["status"],
        "Completed"
    );

    let (status, response) = h.engine.get_text("/metrics").await.unwrap();
    assert_eq!(status, 200);
    let function = format!("{APP}-flaky-step");
    let f = function.as_str();
    assert_eq!(
        sample(&response, "durin_runs_started_total", &[("function", f)]),
        Some(1.0),
        "{response}"
    );
    assert_eq!(
        sample(&response, "durin_runs_completed_total", &[("function", f)]),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &response,
            "durin_attempts_total",
            &[("function", f), ("outcome", "error")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &response,
            "durin_retries_scheduled_total",
            &[("function", f)]
        ),
        Some(1.0)
    );
    assert!(
        sample(
            &response,
            "durin_attempt_duration_seconds_count",
            &[("function", f), ("outcome", "ok")]
        )
        .unwrap()
            >= 2.0
    );
    assert!(sample(&response, "durin_timer_lateness_seconds_count", &[]).unwrap() >= 3.0);
    assert_eq!(
        sample(&response, "durin_queue_jobs", &[("state", "scheduled")]),
        Some(0.0)
    );
    assert_eq!(
        sample(&response, "durin_events_received_total", &[]),
        Some(1.0)
    );
    let calls = sample(
        &response,
        "durin_app_request_duration_seconds_count",
        &[("function", f)],
    );
    assert!(
        calls.unwrap() >= 3.0,
        "one app request per attempt: {calls:?}"
    );
    let intake = sample(
        &response,
        "durin_http_request_duration_seconds_count",
        &[("route", "/e/{key}"), ("status", "200")],
    );
    assert_eq!(intake, Some(1.0), "{response}");
}

#[tokio::test]
async fn json_logs_carry_the_attempt_on_every_line() {
    let h = start(
        vec![flaky_step()],
        &["--backoff-scale", "0.01", "--log-format", "json"],
    )
    .await;
    let event = h.engine.send("app/flaky", json!({})).await.unwrap();
    let run = h
        .engine
        .wait_for_run_end(&event, RUN_TIMEOUT)
        .await
        .unwrap();
    let run_id = run["run_id"].as_str().unwrap();
    let lines: Vec<Value> = h
        .engine
        .log()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!lines.is_empty(), "no JSON log lines:\n{}", h.engine.log());
    let finished: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "attempt finished" && l["span"]["run_id"] == run_id)
        .collect();
    assert_eq!(finished.len(), 3, "one line per attempt: {lines:?}");
    for line in &finished {
        assert_eq!(line["span"]["fn_id"], format!("{APP}-flaky-step"));
        assert!(line["span"].get("attempt").is_some());
        assert!(line["span"].get("step_id").is_some());
    }
}

//! `GET /metrics`: the Prometheus exposition of everything the engine records, plus the queue's gauges read
//! from the store at scrape time.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use durin_engine::Engine;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// Seconds buckets for latency histograms: a millisecond up to two hours (the longest default backoff).
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0, 7200.0,
];

/// Installs the process-wide Prometheus recorder (once; later calls do nothing).
pub fn install_metrics() -> Result<(), String> {
    if RECORDER.get().is_some() {
        return Ok(());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    let _ = RECORDER.set(handle);
    Ok(())
}

pub(crate) async fn render(State(engine): State<Engine>) -> Response {
    let Some(handle) = RECORDER.get() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are not enabled in this process\n",
        )
            .into_response();
    };
    let now = jiff::Timestamp::now().as_millisecond();
    match engine.store().count_jobs(now).await {
        Ok(counts) => {
            metrics::gauge!("durin_queue_jobs", "state" => "due").set(counts.due as f64);
            metrics::gauge!("durin_queue_jobs", "state" => "scheduled")
                .set(counts.scheduled as f64);
            metrics::gauge!("durin_queue_jobs", "state" => "in_flight").set(counts.leased as f64);
        }
        Err(error) => tracing::warn!(%error, "cannot count jobs for /metrics"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

/// Records how long each HTTP request to the engine took, by route (the matched path, not the raw URL, so
/// ids do not explode the label set) and status.
pub(crate) async fn track_requests(
    matched: Option<axum::extract::MatchedPath>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = matched.map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = request.method().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics::histogram!(
        "durin_http_request_duration_seconds",
        "route" => route,
        "method" => method,
        "status" => response.status().as_u16().to_string()
    )
    .record(started.elapsed().as_secs_f64());
    response
}

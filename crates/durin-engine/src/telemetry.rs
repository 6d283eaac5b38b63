//! Metrics the engine records (names `durin_<noun>_<unit>`), through the `metrics` facade: the binary
//! decides where they go (the Prometheus exporter behind `/metrics`).

use durin_core::{AttemptOutcome, RunStatus};
use durin_store::AttemptFinish;

pub(crate) fn events_received(count: usize) {
    metrics::counter!("durin_events_received_total").increment(count as u64);
}

pub(crate) fn runs_started<'a>(function_ids: impl IntoIterator<Item = &'a str>) {
    for function in function_ids {
        metrics::counter!("durin_runs_started_total", "function" => function.to_owned())
            .increment(1);
    }
}

/// A request of events refused because intake was saturated (503 "engine busy").
pub(crate) fn intake_refused() {
    metrics::counter!("durin_events_refused_busy_total").increment(1);
}

/// An attempt's record could not be written at once (the store was unavailable) and is written again.
pub(crate) fn attempt_record_retried() {
    metrics::counter!("durin_attempt_record_retries_total").increment(1);
}

/// How long one call to an app took, from sending the request to reading the whole answer.
pub(crate) fn app_request(function: &str, took: std::time::Duration) {
    metrics::histogram!("durin_app_request_duration_seconds", "function" => function.to_owned())
        .record(took.as_secs_f64());
}

/// How late a job started after its due time.
pub(crate) fn timer_lateness(late_ms: i64) {
    metrics::histogram!("durin_timer_lateness_seconds").record(late_ms.max(0) as f64 / 1_000.0);
}

/// What one attempt contributes to the metrics, taken before the attempt is handed to the store (which
/// consumes it) and recorded once the store has accepted it.
pub(crate) struct AttemptFacts {
    function: String,
    outcome: &'static str,
    seconds: f64,
    retry_scheduled: bool,
    run_ended: Option<RunStatus>,
    runs_started: Vec<String>,
}

impl AttemptFacts {
    pub(crate) fn of(function: &str, finish: &AttemptFinish) -> Self {
        let attempt = &finish.attempt;
        Self {
            function: function.to_owned(),
            outcome: attempt.outcome.as_str(),
            seconds: (attempt.ended_at - attempt.started_at).max(0) as f64 / 1_000.0,
            retry_scheduled: attempt.next_attempt_at.is_some()
                && attempt.outcome != AttemptOutcome::Ok,
            run_ended: finish.finish_run.as_ref().map(|end| end.status),
            runs_started: finish
                .start_runs
                .iter()
                .map(|r| r.function_id.clone())
                .collect(),
        }
    }

    pub(crate) fn record(self) {
        let function = self.function;
        metrics::counter!("durin_attempts_total", "function" => function.clone(), "outcome" => self.outcome)
            .increment(1);
        metrics::histogram!("durin_attempt_duration_seconds", "function" => function.clone(), "outcome" => self.outcome)
            .record(self.seconds);
        if self.retry_scheduled {
            metrics::counter!("durin_retries_scheduled_total", "function" => function.clone())
                .increment(1);
        }
        if let Some(status) = self.run_ended {
            run_ended(&function, status);
        }
        runs_started(self.runs_started.iter().map(String::as_str));
    }
}

pub(crate) fn run_ended(function: &str, status: RunStatus) {
    let name = match status {
        RunStatus::Completed => "durin_runs_completed_total",
        RunStatus::Failed => "durin_runs_failed_total",
        RunStatus::Cancelled => "durin_runs_cancelled_total",
        RunStatus::Running | RunStatus::Paused => return,
    };
    metrics::counter!(name, "function" => function.to_owned()).increment(1);
}

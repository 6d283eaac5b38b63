//! A run's trace as Inngest's clients read it: the run at the root, one child span per step (named by the
//! user's step id, in the order the steps ran), and under a step that was retried or failed one span per
//! attempt. Built from the same step timeline as the REST API's `/v1/runs/{id}/steps`, so both agree on
//! where each step stands.

use durin_core::RunStatus;
use durin_store::{AttemptRecord, JobRecord, RunRecord, StepRecord};

use super::convert::run_span_status;
use super::output::OutputId;
use super::scalars::{Time, Ulid};
use super::types::{RunTraceSpan, RunTraceSpanStatus};
use crate::views::{self, StepStatus};

pub(crate) fn run_trace(
    run: &RunRecord,
    attempts: &[AttemptRecord],
    steps: &[StepRecord],
    jobs: &[JobRecord],
) -> RunTraceSpan {
    let timeline = crate::steps::timeline(run, attempts, steps, jobs);
    let children = timeline
        .iter()
        .filter_map(|step| {
            let step_id = step.step_id.as_deref()?;
            Some(step_span(run, step_id, step, steps))
        })
        .collect();
    let started_at = attempts.iter().map(|a| a.started_at).min();
    let output_id = matches!(run.status, RunStatus::Completed | RunStatus::Failed).then(|| {
        OutputId::Run {
            run_id: run.run_id.clone(),
        }
        .to_string()
    });
    RunTraceSpan {
        run_id: Ulid(run.run_id.clone()),
        span_id: run.run_id.clone(),
        trace_id: run.run_id.clone(),
        name: run.function_id.clone(),
        status: run_span_status(run.status),
        attempts: None,
        duration: duration(started_at.or(Some(run.started_at)), run.ended_at),
        output_id,
        queued_at: Time::from_millis(run.started_at),
        started_at: started_at.map(Time::from_millis),
        ended_at: run.ended_at.map(Time::from_millis),
        children_spans: children,
        step_id: None,
        is_root: true,
        parent_span_id: None,
        metadata: Vec::new(),
    }
}

fn step_span(
    run: &RunRecord,
    step_id: &str,
    step: &views::Step,
    steps: &[StepRecord],
) -> RunTraceSpan {
    let memo = steps.iter().find(|s| s.step_id == step_id).map(|s| &s.memo);
    let status = step_status(step.status);
    let last = step.attempts.last();
    // A memoized result is the step's output; a step that failed without one (its request failed, so the
    // run failed) shows its last attempt's error.
    let output_id = match (memo, last) {
        (Some(memo), _) if !memo.is_null() => Some(OutputId::Step {
            run_id: run.run_id.clone(),
            step_id: step_id.to_owned(),
        }),
        (_, Some(last))
            if status == RunTraceSpanStatus::Failed
                && last.error.as_ref().is_some_and(|e| !e.is_null()) =>
        {
            Some(attempt_output_id(run, last))
        }
        _ => None,
    }
    .map(|id| id.to_string());
    let succeeded_at_once = step.attempts.len() == 1 && status == RunTraceSpanStatus::Completed;
    let children = if succeeded_at_once {
        Vec::new()
    } else {
        step.attempts
            .iter()
            .map(|attempt| attempt_span(run, step_id, attempt))
            .collect()
    };
    let started_at = step.attempts.first().map(|a| a.started_at_ms);
    let ended_at = last.map(|a| a.ended_at_ms).filter(|_| ended(status));
    RunTraceSpan {
        run_id: Ulid(run.run_id.clone()),
        span_id: step_id.to_owned(),
        trace_id: run.run_id.clone(),
        name: step.name.clone(),
        status,
        attempts: i32::try_from(step.attempts.len()).ok(),
        duration: duration(started_at, ended_at),
        output_id,
        queued_at: Time::from_millis(started_at.unwrap_or(run.started_at)),
        started_at: started_at.map(Time::from_millis),
        ended_at: ended_at.map(Time::from_millis),
        children_spans: children,
        step_id: Some(step_id.to_owned()),
        is_root: false,
        parent_span_id: Some(run.run_id.clone()),
        metadata: Vec::new(),
    }
}

fn attempt_span(run: &RunRecord, step_id: &str, attempt: &views::Attempt) -> RunTraceSpan {
    let status = if attempt.outcome == views::AttemptOutcome::Ok {
        RunTraceSpanStatus::Completed
    } else {
        RunTraceSpanStatus::Failed
    };
    RunTraceSpan {
        run_id: Ulid(run.run_id.clone()),
        span_id: format!("{}:{}", attempt.job_id, attempt.attempt),
        trace_id: run.run_id.clone(),
        name: format!("Attempt {}", attempt.attempt),
        status,
        attempts: Some(1),
        duration: duration(Some(attempt.started_at_ms), Some(attempt.ended_at_ms)),
        output_id: Some(attempt_output_id(run, attempt).to_string()),
        queued_at: Time::from_millis(attempt.started_at_ms),
        started_at: Some(Time::from_millis(attempt.started_at_ms)),
        ended_at: Some(Time::from_millis(attempt.ended_at_ms)),
        children_spans: Vec::new(),
        step_id: Some(step_id.to_owned()),
        is_root: false,
        parent_span_id: Some(step_id.to_owned()),
        metadata: Vec::new(),
    }
}

fn attempt_output_id(run: &RunRecord, attempt: &views::Attempt) -> OutputId {
    OutputId::Attempt {
        run_id: run.run_id.clone(),
        job_id: attempt.job_id.clone(),
        attempt: attempt.attempt,
    }
}

fn step_status(status: StepStatus) -> RunTraceSpanStatus {
    match status {
        StepStatus::Completed => RunTraceSpanStatus::Completed,
        StepStatus::Failed => RunTraceSpanStatus::Failed,
        StepStatus::Running => RunTraceSpanStatus::Running,
        // Paused: out of retries, waiting for an operator to resume or fail the run.
        StepStatus::Waiting | StepStatus::Paused => RunTraceSpanStatus::Waiting,
        // Waiting in backoff for its next attempt.
        StepStatus::Scheduled => RunTraceSpanStatus::Queued,
        StepStatus::Cancelled => RunTraceSpanStatus::Cancelled,
    }
}

fn ended(status: RunTraceSpanStatus) -> bool {
    matches!(
        status,
        RunTraceSpanStatus::Completed | RunTraceSpanStatus::Failed | RunTraceSpanStatus::Cancelled
    )
}

fn duration(started_at: Option<i64>, ended_at: Option<i64>) -> Option<i32> {
    let (start, end) = (started_at?, ended_at?);
    i32::try_from(end.saturating_sub(start).max(0)).ok()
}

#[cfg(test)]
mod tests {
    use durin_core::{AttemptOutcome, JobKind};
    use serde_json::{Value, json};

    use super::*;

    fn run(status: RunStatus) -> RunRecord {
        RunRecord {
            run_id: "01RUN".into(),
            function_id: "app-fn".into(),
            event_internal_id: "01EVT".into(),
            status,
            started_at: 1_000,
            ended_at: (status != RunStatus::Running).then_some(9_000),
            output: Some(json!({"ok": true})),
            original_run_id: None,
        }
    }

    fn attempt(job: &str, step: Option<&str>, n: u32, outcome: AttemptOutcome) -> AttemptRecord {
        AttemptRecord {
            run_id: "01RUN".into(),
            job_id: job.into(),
            kind: JobKind::Discovery,
            step_id: step.map(str::to_owned),
            step_name: step.map(|s| format!("name-{s}")),
            attempt: n,
            started_at: 2_000 + i64::from(n) * 100,
            ended_at: 2_050 + i64::from(n) * 100,
            outcome,
            error: (outcome != AttemptOutcome::Ok)
                .then(|| json!({"name": "Error", "message": format!("try {n}")})),
            next_attempt_at: None,
            explanation: None,
        }
    }

    fn memo(step: &str, memo: Value) -> StepRecord {
        StepRecord {
            step_id: step.into(),
            name: format!("name-{step}"),
            memo,
        }
    }

    #[test]
    fn steps_are_children_of_the_run_in_order_with_retries_as_attempts() {
        let attempts = [
            attempt("j1", Some("s1"), 0, AttemptOutcome::Ok),
            attempt("j2", Some("s2"), 0, AttemptOutcome::Error),
            attempt("j2", Some("s2"), 1, AttemptOutcome::Ok),
            attempt("j3", None, 0, AttemptOutcome::Ok),
        ];
        let steps = [
            memo("s1", json!({"data": 1})),
            memo("s2", json!({"data": 2})),
        ];
        let trace = run_trace(&run(RunStatus::Completed), &attempts, &steps, &[]);

        assert_eq!(trace.status, RunTraceSpanStatus::Completed);
        assert_eq!(trace.output_id.as_deref(), Some("run:01RUN"));
        assert_eq!(trace.started_at, Some(Time::from_millis(2_000)));
        let names: Vec<_> = trace
            .children_spans
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["name-s1", "name-s2"], "the body is not a step");

        let first = &trace.children_spans[0];
        assert_eq!(first.output_id.as_deref(), Some("step:01RUN:s1"));
        assert!(first.children_spans.is_empty(), "one successful attempt");

        let retried = &trace.children_spans[1];
        assert_eq!(retried.status, RunTraceSpanStatus::Completed);
        assert_eq!(retried.attempts, Some(2));
        let attempts: Vec<_> = retried
            .children_spans
            .iter()
            .map(|a| (a.name.as_str(), a.status, a.output_id.as_deref()))
            .collect();
        assert_eq!(
            attempts,
            [
                (
                    "Attempt 0",
                    RunTraceSpanStatus::Failed,
                    Some("attempt:01RUN:j2:0")
                ),
                (
                    "Attempt 1",
                    RunTraceSpanStatus::Completed,
                    Some("attempt:01RUN:j2:1")
                ),
            ]
        );
    }

    #[test]
    fn a_step_that_failed_for_good_points_at_its_error() {
        let attempts = [attempt("j1", Some("s1"), 0, AttemptOutcome::NonRetriable)];
        let steps = [memo("s1", json!({"error": {"message": "no"}}))];
        let trace = run_trace(&run(RunStatus::Running), &attempts, &steps, &[]);
        assert_eq!(trace.status, RunTraceSpanStatus::Running);
        assert_eq!(trace.output_id, None, "a running run has no output yet");
        let step = &trace.children_spans[0];
        assert_eq!(step.status, RunTraceSpanStatus::Failed);
        assert_eq!(step.output_id.as_deref(), Some("step:01RUN:s1"));
        assert_eq!(step.children_spans.len(), 1);
    }

    #[test]
    fn a_failed_step_request_without_a_memo_shows_its_last_attempt() {
        let attempts = [attempt("j1", Some("s1"), 0, AttemptOutcome::Error)];
        let trace = run_trace(&run(RunStatus::Failed), &attempts, &[], &[]);
        let step = &trace.children_spans[0];
        assert_eq!(step.status, RunTraceSpanStatus::Failed);
        assert_eq!(step.output_id.as_deref(), Some("attempt:01RUN:j1:0"));
        assert_eq!(trace.output_id.as_deref(), Some("run:01RUN"));
    }
}

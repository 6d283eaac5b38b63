//! The run page's step timeline: each step (and the function body) with every attempt, its status, and
//! when it is tried next. Assembled from the attempt history, the memoized results and the pending jobs.

use durin_core::{AttemptOutcome, JobKind, RunStatus};
use durin_store::{AttemptRecord, JobRecord, RunRecord, StepRecord};
use serde_json::Value;

use crate::views::{self, Attempt, Step, StepStatus};

struct Group<'a> {
    step_id: Option<String>,
    name: String,
    attempts: Vec<&'a AttemptRecord>,
}

pub(crate) fn timeline(
    run: &RunRecord,
    attempts: &[AttemptRecord],
    steps: &[StepRecord],
    jobs: &[JobRecord],
) -> Vec<Step> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for attempt in attempts {
        let index = groups.iter().position(|g| g.step_id == attempt.step_id);
        match index {
            Some(i) => groups[i].attempts.push(attempt),
            None => groups.push(Group {
                step_id: attempt.step_id.clone(),
                name: attempt
                    .step_name
                    .clone()
                    .unwrap_or_else(|| "(function body)".to_owned()),
                attempts: vec![attempt],
            }),
        }
    }
    // Steps memoized without an attempt of their own (a rerun's kept results) ran before everything this
    // run attempted: they come first, in their completion order.
    let kept: Vec<Group<'_>> = steps
        .iter()
        .filter(|step| {
            !groups
                .iter()
                .any(|g| g.step_id.as_deref() == Some(step.step_id.as_str()))
        })
        .map(|step| Group {
            step_id: Some(step.step_id.clone()),
            name: step.name.clone(),
            attempts: Vec::new(),
        })
        .collect();
    groups.splice(0..0, kept);
    groups
        .iter()
        .map(|group| step_view(run, group, steps, jobs))
        .collect()
}

fn step_view(run: &RunRecord, group: &Group<'_>, steps: &[StepRecord], jobs: &[JobRecord]) -> Step {
    let memo = group
        .step_id
        .as_deref()
        .and_then(|id| steps.iter().find(|s| s.step_id == id))
        .map(|s| &s.memo);
    let last = group.attempts.last();
    // A paused run's other steps go on: they are shown as a running run's are.
    let running = matches!(run.status, RunStatus::Running | RunStatus::Paused);
    let paused = run.status == RunStatus::Paused && last.is_some_and(|a| paused_here(a));
    let next_attempt_at = last
        .and_then(|a| a.next_attempt_at)
        .filter(|_| running && memo.is_none());
    let waiting = group.step_id.as_deref().is_some_and(|id| {
        jobs.iter()
            .any(|j| matches!(&j.kind, JobKind::Timeout { step_id, .. } if step_id == id))
    });
    let (status, output, error) = match memo {
        Some(memo) if memo.get("error").is_some_and(|e| !e.is_null()) => {
            (StepStatus::Failed, Value::Null, memo["error"].clone())
        }
        Some(memo) => (
            StepStatus::Completed,
            memo.get("data").cloned().unwrap_or(Value::Null),
            Value::Null,
        ),
        None if paused => (
            StepStatus::Paused,
            Value::Null,
            last.and_then(|a| a.error.clone()).unwrap_or(Value::Null),
        ),
        None if waiting => (StepStatus::Waiting, Value::Null, Value::Null),
        None if next_attempt_at.is_some() => (StepStatus::Scheduled, Value::Null, Value::Null),
        None if group.step_id.is_none() => body_status(run, last),
        None if running => (StepStatus::Running, Value::Null, Value::Null),
        None => match last {
            Some(a) if a.outcome != AttemptOutcome::Ok => (
                StepStatus::Failed,
                Value::Null,
                a.error.clone().unwrap_or(Value::Null),
            ),
            _ => (StepStatus::Completed, Value::Null, Value::Null),
        },
    };
    Step {
        step_id: group.step_id.clone(),
        name: group.name.clone(),
        status,
        output,
        error,
        attempts: group.attempts.iter().map(|a| Attempt::from(*a)).collect(),
        next_attempt_at: next_attempt_at.map(views::rfc3339),
        next_attempt_at_ms: next_attempt_at,
    }
}

/// The attempt paused its run (its explanation's verdict), so its step waits for the run to be resumed.
fn paused_here(attempt: &AttemptRecord) -> bool {
    durin_engine::pausing_attempt(std::slice::from_ref(attempt)).is_some()
}

/// The function body's status follows the run's.
fn body_status(run: &RunRecord, last: Option<&&AttemptRecord>) -> (StepStatus, Value, Value) {
    match run.status {
        RunStatus::Completed => (
            StepStatus::Completed,
            run.output.clone().unwrap_or(Value::Null),
            Value::Null,
        ),
        RunStatus::Failed => (
            StepStatus::Failed,
            Value::Null,
            run.output.clone().unwrap_or(Value::Null),
        ),
        RunStatus::Cancelled => (StepStatus::Cancelled, Value::Null, Value::Null),
        RunStatus::Running | RunStatus::Paused => match last {
            Some(a) if a.outcome == AttemptOutcome::Ok => {
                (StepStatus::Completed, Value::Null, Value::Null)
            }
            _ => (StepStatus::Running, Value::Null, Value::Null),
        },
    }
}

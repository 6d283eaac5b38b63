//! The vocabulary of runs, jobs and attempts, with their stored text forms.

use serde::{Deserialize, Serialize};

/// A run's status, spelled as Inngest's REST API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RunStatus {
    Running,
    /// A step ran out of retries under a policy that pauses (issue 8): the run waits for an operator to
    /// resume or fail it. Not final.
    Paused,
    Completed,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}")]
pub struct UnknownStatus(pub String);

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "Running",
            RunStatus::Paused => "Paused",
            RunStatus::Completed => "Completed",
            RunStatus::Failed => "Failed",
            RunStatus::Cancelled => "Cancelled",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(self, RunStatus::Running | RunStatus::Paused)
    }
}

impl std::str::FromStr for RunStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            RunStatus::Running,
            RunStatus::Paused,
            RunStatus::Completed,
            RunStatus::Failed,
            RunStatus::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// What one job asks of the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobKind {
    /// Run the function body (`stepId=step`); it may execute the one new step it finds.
    Discovery,
    /// Execute one planned step (`stepId=<hashed id>`).
    Step { step_id: String, name: String },
    /// A step's wait (`waitForEvent`, `invoke`) ran out: resume the run without calling the app.
    Timeout { step_id: String, name: String },
}

impl JobKind {
    /// The hashed id and user id of the step the job is about, if any.
    pub fn step(&self) -> Option<(&str, &str)> {
        match self {
            JobKind::Discovery => None,
            JobKind::Step { step_id, name } | JobKind::Timeout { step_id, name } => {
                Some((step_id, name))
            }
        }
    }
}

/// How one attempt ended (retries.md R10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The job did its work (a step completed, a sleep or plan was recorded, the run finished).
    Ok,
    /// A retriable error.
    Error,
    /// A retriable error with a `Retry-After` time.
    RetryAfter,
    /// The app said not to retry.
    NonRetriable,
    /// The engine stopped while the attempt was in flight.
    Interrupted,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Ok => "ok",
            AttemptOutcome::Error => "error",
            AttemptOutcome::RetryAfter => "retry_after",
            AttemptOutcome::NonRetriable => "non_retriable",
            AttemptOutcome::Interrupted => "interrupted",
        }
    }
}

impl std::str::FromStr for AttemptOutcome {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            AttemptOutcome::Ok,
            AttemptOutcome::Error,
            AttemptOutcome::RetryAfter,
            AttemptOutcome::NonRetriable,
            AttemptOutcome::Interrupted,
        ]
        .into_iter()
        .find(|outcome| outcome.as_str() == s)
        .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RUN_STATUSES: [(RunStatus, &str); 5] = [
        (RunStatus::Running, "Running"),
        (RunStatus::Paused, "Paused"),
        (RunStatus::Completed, "Completed"),
        (RunStatus::Failed, "Failed"),
        (RunStatus::Cancelled, "Cancelled"),
    ];

    const OUTCOMES: [(AttemptOutcome, &str); 5] = [
        (AttemptOutcome::Ok, "ok"),
        (AttemptOutcome::Error, "error"),
        (AttemptOutcome::RetryAfter, "retry_after"),
        (AttemptOutcome::NonRetriable, "non_retriable"),
        (AttemptOutcome::Interrupted, "interrupted"),
    ];

    #[test]
    fn run_status_text_round_trips() {
        for (status, text) in RUN_STATUSES {
            assert_eq!(status.as_str(), text);
            assert_eq!(status.to_string(), text);
            assert_eq!(text.parse::<RunStatus>(), Ok(status));
        }
    }

    #[test]
    fn run_status_parses_any_case() {
        assert_eq!("running".parse::<RunStatus>(), Ok(RunStatus::Running));
        assert_eq!("COMPLETED".parse::<RunStatus>(), Ok(RunStatus::Completed));
        assert_eq!("fAiLeD".parse::<RunStatus>(), Ok(RunStatus::Failed));
    }

    #[test]
    fn run_status_refuses_unknown_text() {
        for text in ["", "Canceled", "Queued", " Running", "Running ", "Ünknown"] {
            assert_eq!(
                text.parse::<RunStatus>(),
                Err(UnknownStatus(text.to_owned())),
                "{text:?}"
            );
        }
        assert_eq!(
            UnknownStatus("Queued".to_owned()).to_string(),
            "unknown status \"Queued\""
        );
    }

    #[test]
    fn run_status_serde_matches_its_text() {
        for (status, text) in RUN_STATUSES {
            assert_eq!(serde_json::to_value(status).unwrap(), json!(text));
            assert_eq!(
                serde_json::from_value::<RunStatus>(json!(text)).unwrap(),
                status
            );
        }
    }

    #[test]
    fn only_running_is_not_final() {
        assert!(!RunStatus::Running.is_final());
        assert!(!RunStatus::Paused.is_final());
        assert!(RunStatus::Completed.is_final());
        assert!(RunStatus::Failed.is_final());
        assert!(RunStatus::Cancelled.is_final());
    }

    #[test]
    fn attempt_outcome_text_round_trips() {
        for (outcome, text) in OUTCOMES {
            assert_eq!(outcome.as_str(), text);
            assert_eq!(outcome.to_string(), text);
            assert_eq!(text.parse::<AttemptOutcome>(), Ok(outcome));
        }
    }

    #[test]
    fn attempt_outcome_text_is_exact() {
        for text in ["OK", "Error", "retry-after", "retryafter", "", "ok "] {
            assert_eq!(
                text.parse::<AttemptOutcome>(),
                Err(UnknownStatus(text.to_owned())),
                "{text:?}"
            );
        }
    }

    #[test]
    fn attempt_outcome_serde_matches_its_text() {
        for (outcome, text) in OUTCOMES {
            assert_eq!(serde_json::to_value(outcome).unwrap(), json!(text));
            assert_eq!(
                serde_json::from_value::<AttemptOutcome>(json!(text)).unwrap(),
                outcome
            );
        }
    }

    #[test]
    fn job_kind_serde() {
        assert_eq!(
            serde_json::to_value(JobKind::Discovery).unwrap(),
            json!({"kind": "discovery"})
        );
        let step = JobKind::Step {
            step_id: "e0996a37c13d44c3b06074939d43fa3759bd32c1".to_owned(),
            name: "first".to_owned(),
        };
        let json = serde_json::to_value(&step).unwrap();
        assert_eq!(
            json,
            json!({"kind": "step", "step_id": "e0996a37c13d44c3b06074939d43fa3759bd32c1", "name": "first"})
        );
        assert_eq!(serde_json::from_value::<JobKind>(json).unwrap(), step);
    }
}

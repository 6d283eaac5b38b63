//! The vocabulary of runs, jobs and attempts, with their stored text forms.

use serde::{Deserialize, Serialize};

/// A run's status, spelled as Inngest's REST API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RunStatus {
    Running,
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
            RunStatus::Completed => "Completed",
            RunStatus::Failed => "Failed",
            RunStatus::Cancelled => "Cancelled",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(self, RunStatus::Running)
    }
}

impl std::str::FromStr for RunStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            RunStatus::Running,
            RunStatus::Completed,
            RunStatus::Failed,
            RunStatus::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// What one job asks of the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobKind {
    /// Run the function body (`stepId=step`); it may execute the one new step it finds.
    Discovery,
    /// Execute one planned step (`stepId=<hashed id>`).
    Step { step_id: String, name: String },
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

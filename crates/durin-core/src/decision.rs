//! The one function that decides, for every error path, whether a job is tried again and when.

use crate::UnixMillis;
use crate::backoff::BackoffKnobs;
use crate::policy::RetryPolicy;

/// What the engine knows about an attempt that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedAttempt {
    /// The 0-based number of the attempt that failed.
    pub attempt: u32,
    /// The app said the failure is final (`X-Inngest-No-Retry: true`, a non-retriable error).
    pub non_retriable: bool,
    /// When the app asked to be tried again (`Retry-After`, already parsed and clamped).
    pub retry_at: Option<UnixMillis>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try the same job again as attempt `attempt`, not before `at`.
    Retry { attempt: u32, at: UnixMillis },
    /// The job has failed for good.
    GiveUp(GiveUpReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUpReason {
    NonRetriable,
    AttemptsExhausted,
}

/// Retry or give up (retries.md R1-R6). `jitter_ms` is a sample in `[0, JITTER_MAX_MS)` drawn by the caller.
pub fn decide(
    policy: &RetryPolicy,
    knobs: &BackoffKnobs,
    failed: &FailedAttempt,
    now_ms: UnixMillis,
    jitter_ms: u32,
) -> Decision {
    if failed.non_retriable {
        return Decision::GiveUp(GiveUpReason::NonRetriable);
    }
    let next = failed.attempt.saturating_add(1);
    if next >= policy.max_attempts() {
        return Decision::GiveUp(GiveUpReason::AttemptsExhausted);
    }
    let at = match failed.retry_at {
        Some(at) => at,
        None => now_ms + policy.backoff.delay_ms(knobs, failed.attempt, jitter_ms),
    };
    Decision::Retry { attempt: next, at }
}

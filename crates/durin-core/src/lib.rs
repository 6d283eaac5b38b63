//! Durin's domain rules: retry policy, backoff, Retry-After parsing, the retry decision, and the
//! run / job / attempt vocabulary.
//!
//! **Architecture invariant:** this crate does no I/O, reads no clock and draws no random numbers. Time
//! (`now_ms`) and the jitter sample come in as arguments, so every rule is a plain function that tests can
//! check exhaustively.

pub mod backoff;
pub mod decision;
pub mod expression;
pub mod expression_shape;
pub mod function;
pub mod jitter;
pub mod policy;
pub mod retry_after;
pub mod retry_state;
pub mod rules;
pub mod state;
pub mod verdict;

pub use backoff::{Backoff, BackoffError, BackoffKnobs, DEFAULT_TABLE_MS, JITTER_MAX_MS};
pub use decision::{Decision, FailedAttempt, GiveUpReason, decide};
pub use expression::{Expression, ExpressionError};
pub use function::{FunctionConfig, Trigger, TriggerError};
pub use jitter::Jitter;
pub use policy::{DEFAULT_RETRIES, MAX_RETRIES, MAX_RUN_RETRIES, PolicyOverride, RetryPolicy};
pub use retry_after::parse_retry_after;
pub use retry_state::RetryState;
pub use rules::{CoolDown, ErrorRule, OnExhausted};
pub use state::{AttemptOutcome, JobKind, RunStatus, UnknownStatus};
pub use verdict::{Explanation, Failure, Judgement, Next, Verdict, judge};

/// Unix time in milliseconds: the one time representation of the domain and of every store.
pub type UnixMillis = i64;

/// The source of "now". Implemented by the engine (wall clock) and by tests (manual clock).
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> UnixMillis;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    /// The shape of the manual clock tests use: time moves only when told to.
    struct ManualClock(AtomicI64);

    impl Clock for ManualClock {
        fn now_ms(&self) -> UnixMillis {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn rules_read_time_only_through_their_arguments() {
        let clock = ManualClock(AtomicI64::new(1_000_000));
        let policy = RetryPolicy::default();
        let failed = FailedAttempt {
            attempt: 0,
            non_retriable: false,
            retry_at: parse_retry_after("3", clock.now_ms()),
        };
        let first = decide(
            &policy,
            &BackoffKnobs::default(),
            &failed,
            clock.now_ms(),
            0,
        );
        clock.0.store(5_000_000, Ordering::SeqCst);
        // Same inputs, same answer, whatever the clock says now.
        let again = decide(&policy, &BackoffKnobs::default(), &failed, 1_000_000, 0);
        assert_eq!(first, again);
        assert_eq!(
            first,
            Decision::Retry {
                attempt: 1,
                at: 1_003_000
            }
        );
    }

    #[test]
    fn clock_is_object_safe() {
        let clock: Box<dyn Clock> = Box::new(ManualClock(AtomicI64::new(42)));
        assert_eq!(clock.now_ms(), 42);
    }
}

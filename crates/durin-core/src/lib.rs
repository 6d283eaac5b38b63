//! Durin's domain rules: retry policy, backoff, Retry-After parsing, the retry decision, and the
//! run / job / attempt vocabulary.
//!
//! **Architecture invariant:** this crate does no I/O, reads no clock and draws no random numbers. Time
//! (`now_ms`) and the jitter sample come in as arguments, so every rule is a plain function that tests can
//! check exhaustively.

pub mod backoff;
pub mod decision;
pub mod expression;
pub mod function;
pub mod policy;
pub mod retry_after;
pub mod state;

pub use backoff::{Backoff, BackoffKnobs, DEFAULT_TABLE_MS, JITTER_MAX_MS};
pub use decision::{Decision, FailedAttempt, GiveUpReason, decide};
pub use expression::{Expression, ExpressionError};
pub use function::{FunctionConfig, Trigger, TriggerError};
pub use policy::{DEFAULT_RETRIES, MAX_RETRIES, RetryPolicy};
pub use retry_after::parse_retry_after;
pub use state::{AttemptOutcome, JobKind, RunStatus, UnknownStatus};

/// Unix time in milliseconds: the one time representation of the domain and of every store.
pub type UnixMillis = i64;

/// The source of "now". Implemented by the engine (wall clock) and by tests (manual clock).
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> UnixMillis;
}

//! How many times a job may be tried (retries.md R1).

use serde::{Deserialize, Serialize};

use crate::backoff::Backoff;

/// Retries when the SDK sends none.
pub const DEFAULT_RETRIES: u32 = 4;
/// Larger configured values are clamped to this.
pub const MAX_RETRIES: u32 = 20;

/// The retry policy a job carries. Each job carries its own copy, so a step can later have a policy of its
/// own without a change to the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Retries after the first attempt: a job is tried at most `retries + 1` times.
    pub retries: u32,
    #[serde(default)]
    pub backoff: Backoff,
}

/// The result of reading a configured retry count: the policy and, when the value was out of range, a note
/// saying what was done with it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfiguredPolicy {
    pub policy: RetryPolicy,
    pub adjustment: Option<String>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::with_retries(DEFAULT_RETRIES)
    }
}

impl RetryPolicy {
    pub fn with_retries(retries: u32) -> Self {
        Self {
            retries: retries.min(MAX_RETRIES),
            backoff: Backoff::default(),
        }
    }

    /// Reads the wire value `steps.step.retries.attempts` (a retry count). Missing means the default;
    /// negative is treated as 0 and above [`MAX_RETRIES`] is clamped, each with a note.
    pub fn from_configured(retries: Option<i64>) -> ConfiguredPolicy {
        match retries {
            None => ConfiguredPolicy {
                policy: Self::default(),
                adjustment: None,
            },
            Some(n) if n < 0 => ConfiguredPolicy {
                policy: Self::with_retries(0),
                adjustment: Some(format!("retries {n} is negative; using 0")),
            },
            Some(n) if n > i64::from(MAX_RETRIES) => ConfiguredPolicy {
                policy: Self::with_retries(MAX_RETRIES),
                adjustment: Some(format!(
                    "retries {n} is above the maximum; clamped to {MAX_RETRIES}"
                )),
            },
            Some(n) => ConfiguredPolicy {
                policy: Self::with_retries(u32::try_from(n).unwrap_or(MAX_RETRIES)),
                adjustment: None,
            },
        }
    }

    /// `retries + 1`: what the call request sends as `ctx.max_attempts`.
    pub fn max_attempts(&self) -> u32 {
        self.retries + 1
    }
}

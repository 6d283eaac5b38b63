//! Delays between attempts (retries.md R4 and the development knobs).

use serde::{Deserialize, Serialize};

use crate::UnixMillis;

/// Inngest's default table, indexed by the attempt that just failed (clamped at the last entry).
pub const DEFAULT_TABLE_MS: [i64; 10] = [
    15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_200_000, 2_400_000, 3_600_000, 7_200_000,
];

/// Jitter is a whole number of milliseconds in `[0, JITTER_MAX_MS)`.
pub const JITTER_MAX_MS: u32 = 30_000;

/// The backoff a policy uses. Only the default table exists today; other shapes are added as variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Backoff {
    #[default]
    InngestTable,
}

/// Engine-wide knobs for development and tests (retries.md "Knobs").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffKnobs {
    /// Multiplies every table delay and its jitter (`--backoff-scale`).
    pub scale: f64,
    /// A fixed delay with no jitter replaces the table (`--retry-interval`).
    pub fixed_interval_ms: Option<i64>,
}

impl Default for BackoffKnobs {
    fn default() -> Self {
        Self {
            scale: 1.0,
            fixed_interval_ms: None,
        }
    }
}

impl Backoff {
    /// The delay after failed attempt `failed_attempt` (0-based). `jitter_ms` is the caller's sample in
    /// `[0, JITTER_MAX_MS)`; values above are clamped so that a bad sample cannot stretch the schedule.
    pub fn delay_ms(
        &self,
        knobs: &BackoffKnobs,
        failed_attempt: u32,
        jitter_ms: u32,
    ) -> UnixMillis {
        if let Some(fixed) = knobs.fixed_interval_ms {
            return fixed.max(0);
        }
        match self {
            Backoff::InngestTable => {
                let index = (failed_attempt as usize).min(DEFAULT_TABLE_MS.len() - 1);
                let jitter = i64::from(jitter_ms.min(JITTER_MAX_MS - 1));
                let unscaled = DEFAULT_TABLE_MS[index] + jitter;
                scale(unscaled, knobs.scale)
            }
        }
    }
}

fn scale(ms: i64, factor: f64) -> i64 {
    if !factor.is_finite() || factor <= 0.0 {
        return 0;
    }
    // Delays are at most a few hours, far inside f64's exact integer range.
    (ms as f64 * factor).round() as i64
}

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
    /// Multiplies every table delay and its jitter (`--backoff-scale`). A scale that is not a positive
    /// number (zero, negative, NaN) means no delay at all.
    pub scale: f64,
    /// A fixed delay with no jitter replaces the table (`--retry-interval`). It is not scaled.
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
    ///
    /// With a scale `s`, the result is `round(TABLE[n] * s) + floor(jitter * s)`: the base is rounded to
    /// the nearest millisecond and the jitter stays strictly below `JITTER_MAX_MS * s`, so `0.01` gives
    /// 150 ms plus a jitter in `[0, 300)` ms after the first failure.
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
                let index = usize::try_from(failed_attempt)
                    .unwrap_or(usize::MAX)
                    .min(DEFAULT_TABLE_MS.len() - 1);
                let jitter = i64::from(jitter_ms.min(JITTER_MAX_MS - 1));
                let base = DEFAULT_TABLE_MS[index];
                scale_round(base, knobs.scale).saturating_add(scale_floor(jitter, knobs.scale))
            }
        }
    }
}

/// Whether `factor` is a usable scale; anything else scales every delay to zero.
fn usable(factor: f64) -> bool {
    // `factor > 0.0` is false for NaN.
    factor > 0.0
}

/// `ms * factor`, rounded to the nearest millisecond (saturating on absurd factors).
fn scale_round(ms: i64, factor: f64) -> i64 {
    if !usable(factor) {
        return 0;
    }
    // Delays are at most a few hours, far inside f64's exact integer range; `as` saturates.
    (ms as f64 * factor).round() as i64
}

/// `ms * factor`, rounded down, so a scaled jitter stays below the scaled jitter bound.
fn scale_floor(ms: i64, factor: f64) -> i64 {
    if !usable(factor) {
        return 0;
    }
    // The tiny epsilon absorbs binary rounding (`100 * 0.29` is 28.999999999999996 in f64) without
    // ever lifting a value that is a whole `factor` below the bound.
    (ms as f64 * factor + 1e-6).floor() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECOND: i64 = 1_000;
    const MINUTE: i64 = 60 * SECOND;
    const HOUR: i64 = 60 * MINUTE;

    fn table(failed_attempt: u32, jitter_ms: u32) -> i64 {
        Backoff::InngestTable.delay_ms(&BackoffKnobs::default(), failed_attempt, jitter_ms)
    }

    fn scaled(scale: f64, failed_attempt: u32, jitter_ms: u32) -> i64 {
        let knobs = BackoffKnobs {
            scale,
            fixed_interval_ms: None,
        };
        Backoff::InngestTable.delay_ms(&knobs, failed_attempt, jitter_ms)
    }

    #[test]
    fn table_matches_the_protocol_notes() {
        assert_eq!(
            DEFAULT_TABLE_MS,
            [
                15 * SECOND,
                30 * SECOND,
                MINUTE,
                2 * MINUTE,
                5 * MINUTE,
                10 * MINUTE,
                20 * MINUTE,
                40 * MINUTE,
                HOUR,
                2 * HOUR,
            ]
        );
        assert_eq!(JITTER_MAX_MS, 30_000);
    }

    #[test]
    fn every_row_without_jitter() {
        let expected = [
            (0, 15 * SECOND),
            (1, 30 * SECOND),
            (2, MINUTE),
            (3, 2 * MINUTE),
            (4, 5 * MINUTE),
            (5, 10 * MINUTE),
            (6, 20 * MINUTE),
            (7, 40 * MINUTE),
            (8, HOUR),
            (9, 2 * HOUR),
        ];
        for (attempt, delay) in expected {
            assert_eq!(table(attempt, 0), delay, "failed attempt {attempt}");
        }
    }

    #[test]
    fn every_row_with_the_largest_jitter() {
        for (attempt, base) in DEFAULT_TABLE_MS.iter().enumerate() {
            let attempt = u32::try_from(attempt).unwrap();
            assert_eq!(
                table(attempt, 29_999),
                base + 29_999,
                "failed attempt {attempt}"
            );
        }
    }

    #[test]
    fn attempts_from_nine_on_use_the_last_row() {
        for attempt in [9, 10, 11, 19, 20, 100, u32::MAX - 1, u32::MAX] {
            assert_eq!(table(attempt, 0), 2 * HOUR, "failed attempt {attempt}");
            assert_eq!(table(attempt, 7), 2 * HOUR + 7, "failed attempt {attempt}");
        }
    }

    #[test]
    fn jitter_is_added_unchanged_inside_its_range() {
        for jitter in [0, 1, 999, 15_000, 29_998, 29_999] {
            assert_eq!(table(0, jitter), 15 * SECOND + i64::from(jitter));
        }
    }

    #[test]
    fn jitter_above_the_range_is_clamped() {
        for jitter in [30_000, 30_001, 1_000_000, u32::MAX] {
            assert_eq!(table(0, jitter), 15 * SECOND + 29_999, "jitter {jitter}");
            assert_eq!(table(9, jitter), 2 * HOUR + 29_999, "jitter {jitter}");
        }
    }

    #[test]
    fn default_retries_wait_about_15s_30s_1m_2m() {
        let waits: Vec<i64> = (0..4).map(|n| table(n, 0)).collect();
        assert_eq!(waits, [15 * SECOND, 30 * SECOND, MINUTE, 2 * MINUTE]);
    }

    #[test]
    fn scale_one_hundredth_gives_milliseconds() {
        assert_eq!(scaled(0.01, 0, 0), 150);
        assert_eq!(scaled(0.01, 1, 0), 300);
        assert_eq!(scaled(0.01, 2, 0), 600);
        assert_eq!(scaled(0.01, 9, 0), 72_000);
    }

    #[test]
    fn scale_one_hundredth_keeps_jitter_in_0_to_300ms() {
        for jitter in 0..JITTER_MAX_MS {
            let delay = scaled(0.01, 0, jitter);
            let scaled_jitter = delay - 150;
            assert!(
                (0..300).contains(&scaled_jitter),
                "jitter {jitter} gave {scaled_jitter}"
            );
        }
        assert_eq!(scaled(0.01, 0, 29_999), 150 + 299);
        assert_eq!(scaled(0.01, 0, 100), 151);
        assert_eq!(scaled(0.01, 0, u32::MAX), 150 + 299);
    }

    #[test]
    fn scaled_jitter_survives_binary_rounding() {
        // 100 * 0.29 is 28.999999999999996 in f64; the scaled jitter must still be 29.
        assert_eq!(scaled(0.29, 0, 100), 4_350 + 29);
    }

    #[test]
    fn scale_above_one_stretches_the_schedule() {
        assert_eq!(scaled(2.0, 0, 0), 30 * SECOND);
        assert_eq!(scaled(2.0, 0, 29_999), 30 * SECOND + 59_998);
        assert_eq!(scaled(10.0, 9, 0), 20 * HOUR);
    }

    #[test]
    fn unusable_scales_mean_no_delay() {
        for scale in [0.0, -0.0, -1.0, f64::NAN, f64::NEG_INFINITY] {
            assert_eq!(scaled(scale, 0, 12_345), 0, "scale {scale}");
            assert_eq!(scaled(scale, 9, 29_999), 0, "scale {scale}");
        }
    }

    #[test]
    fn infinite_scale_saturates_instead_of_panicking() {
        assert_eq!(scaled(f64::INFINITY, 0, 0), i64::MAX);
        assert_eq!(scaled(f64::MAX, 3, 29_999), i64::MAX);
    }

    #[test]
    fn fixed_interval_replaces_the_table_and_ignores_jitter() {
        let knobs = BackoffKnobs {
            scale: 1.0,
            fixed_interval_ms: Some(2_000),
        };
        for attempt in [0, 1, 5, 9, 20] {
            for jitter in [0, 1, 29_999, u32::MAX] {
                assert_eq!(
                    Backoff::InngestTable.delay_ms(&knobs, attempt, jitter),
                    2_000
                );
            }
        }
    }

    #[test]
    fn fixed_interval_is_not_scaled() {
        let knobs = BackoffKnobs {
            scale: 0.01,
            fixed_interval_ms: Some(3_000),
        };
        assert_eq!(Backoff::InngestTable.delay_ms(&knobs, 0, 0), 3_000);
    }

    #[test]
    fn fixed_interval_zero_and_negative_mean_no_delay() {
        for fixed in [0, -1, i64::MIN] {
            let knobs = BackoffKnobs {
                scale: 1.0,
                fixed_interval_ms: Some(fixed),
            };
            assert_eq!(Backoff::InngestTable.delay_ms(&knobs, 3, 500), 0);
        }
    }

    #[test]
    fn default_knobs_are_the_production_schedule() {
        let knobs = BackoffKnobs::default();
        assert_eq!(knobs.scale, 1.0);
        assert_eq!(knobs.fixed_interval_ms, None);
    }

    #[test]
    fn backoff_serializes_with_a_kind_tag() {
        let json = serde_json::to_value(Backoff::InngestTable).unwrap();
        assert_eq!(json, serde_json::json!({"kind": "inngest_table"}));
        let back: Backoff = serde_json::from_value(json).unwrap();
        assert_eq!(back, Backoff::InngestTable);
        assert_eq!(Backoff::default(), Backoff::InngestTable);
    }

    proptest! {
        #[test]
        fn delay_stays_within_the_scaled_row(
            attempt in any::<u32>(),
            jitter in 0..JITTER_MAX_MS,
            scale in 0.000_001f64..=10.0,
        ) {
            let base = DEFAULT_TABLE_MS[(attempt as usize).min(9)] as f64;
            let delay = scaled(scale, attempt, jitter) as f64;
            // Rounding the base moves it by at most half a millisecond.
            prop_assert!(delay >= base * scale - 0.5, "{delay} below {}", base * scale);
            prop_assert!(
                delay <= (base + 30_000.0) * scale + 0.5,
                "{delay} above {}",
                (base + 30_000.0) * scale
            );
            // And the scaled jitter never reaches the scaled bound.
            let jitter_part = delay - (base * scale).round();
            prop_assert!(jitter_part >= 0.0);
            prop_assert!(jitter_part < 30_000.0 * scale || jitter_part == 0.0);
        }

        #[test]
        fn unscaled_delay_is_row_plus_jitter(attempt in any::<u32>(), jitter in 0..JITTER_MAX_MS) {
            let base = DEFAULT_TABLE_MS[(attempt as usize).min(9)];
            prop_assert_eq!(table(attempt, jitter), base + i64::from(jitter));
        }

        #[test]
        fn delay_never_decreases_with_the_attempt(
            attempt in 0u32..40,
            jitter in 0..JITTER_MAX_MS,
            scale in 0.000_001f64..=10.0,
        ) {
            prop_assert!(scaled(scale, attempt + 1, jitter) >= scaled(scale, attempt, jitter));
        }

        #[test]
        fn fixed_interval_ignores_attempt_jitter_and_scale(
            fixed in 0i64..10_000_000,
            attempt in any::<u32>(),
            jitter in any::<u32>(),
            scale in -10.0f64..10.0,
        ) {
            let knobs = BackoffKnobs { scale, fixed_interval_ms: Some(fixed) };
            prop_assert_eq!(Backoff::InngestTable.delay_ms(&knobs, attempt, jitter), fixed);
        }
    }
}

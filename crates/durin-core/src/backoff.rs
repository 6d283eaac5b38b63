//! Delays between attempts: Inngest's table (retries.md R4, the default) and the shapes a retry policy may
//! choose instead (issue 8: the user's own table, exponential, fixed; each with its jitter), and the
//! development knobs that stretch or replace all of them.

use serde::{Deserialize, Serialize};

use crate::UnixMillis;
use crate::jitter::Jitter;

/// Inngest's default table, indexed by the attempt that just failed (clamped at the last entry).
pub const DEFAULT_TABLE_MS: [i64; 10] = [
    15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_200_000, 2_400_000, 3_600_000, 7_200_000,
];

/// Jitter is a whole number of milliseconds in `[0, JITTER_MAX_MS)`.
pub const JITTER_MAX_MS: u32 = 30_000;

/// Longest delay a configured backoff may give (a table row, an exponential maximum, a fixed interval, an
/// additive jitter): a week. Inngest's own table stops at 2 hours.
pub const BACKOFF_DELAY_MAX_MS: i64 = 7 * 24 * 60 * 60 * 1_000;
/// Most rows of a configured table.
pub const BACKOFF_TABLE_MAX_ROWS: usize = 100;
/// Largest exponential backoff coefficient.
pub const BACKOFF_COEFFICIENT_MAX: f64 = 100.0;

/// The backoff a policy uses. The names follow what users know: Temporal's initial interval, backoff
/// coefficient and maximum interval; Step Functions' jitter strategy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Backoff {
    /// Inngest's table with its additive 0-30 s jitter: what every policy uses unless configured.
    #[default]
    InngestTable,
    /// The user's own delays, indexed by the attempt that failed; the last row repeats.
    Table {
        delays_ms: Vec<i64>,
        #[serde(default)]
        jitter: Jitter,
    },
    /// `initial_interval_ms × backoff_coefficient^n` after failed attempt `n`, at most
    /// `maximum_interval_ms`.
    Exponential {
        initial_interval_ms: i64,
        backoff_coefficient: f64,
        maximum_interval_ms: i64,
        #[serde(default)]
        jitter: Jitter,
    },
    /// The same delay after every failure.
    Fixed {
        interval_ms: i64,
        #[serde(default)]
        jitter: Jitter,
    },
}

/// Why a configured backoff cannot be used; the message names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("backoff `{field}`: {problem}")]
pub struct BackoffError {
    pub field: &'static str,
    pub problem: String,
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
    /// With a scale `s`, the result is `round(fixed * s) + floor(random * s)`, where the jitter splits the
    /// base delay into the part always waited and the random part: for Inngest's table
    /// `round(TABLE[n] * s) + floor(jitter * s)`, so `0.01` gives 150 ms plus a jitter in `[0, 300)` ms after
    /// the first failure. `--retry-interval` replaces every shape and its jitter.
    pub fn delay_ms(
        &self,
        knobs: &BackoffKnobs,
        failed_attempt: u32,
        jitter_ms: u32,
    ) -> UnixMillis {
        if let Some(fixed) = knobs.fixed_interval_ms {
            return fixed.max(0);
        }
        let (fixed, random) = self.jitter().split(self.base_ms(failed_attempt), jitter_ms);
        scale_round(fixed, knobs.scale).saturating_add(scale_floor(random, knobs.scale))
    }

    /// The delay after failed attempt `failed_attempt` with the knobs applied but no jitter: what a
    /// full or equal jitter draws below, what an additive jitter adds to.
    pub fn nominal_ms(&self, knobs: &BackoffKnobs, failed_attempt: u32) -> UnixMillis {
        match knobs.fixed_interval_ms {
            Some(fixed) => fixed.max(0),
            None => scale_round(self.base_ms(failed_attempt), knobs.scale),
        }
    }

    /// The delay after failed attempt `failed_attempt` before jitter and knobs.
    pub fn base_ms(&self, failed_attempt: u32) -> i64 {
        let row = |rows: &[i64]| {
            let index = usize::try_from(failed_attempt).unwrap_or(usize::MAX);
            rows.get(index).or(rows.last()).copied().unwrap_or(0)
        };
        match self {
            Backoff::InngestTable => row(&DEFAULT_TABLE_MS),
            Backoff::Table { delays_ms, .. } => row(delays_ms),
            Backoff::Exponential {
                initial_interval_ms,
                backoff_coefficient,
                maximum_interval_ms,
                ..
            } => {
                let exponent = i32::try_from(failed_attempt).unwrap_or(i32::MAX);
                let grown = *initial_interval_ms as f64 * backoff_coefficient.powi(exponent);
                if grown.is_finite() && grown < *maximum_interval_ms as f64 {
                    // Below the maximum, itself an i64: the cast cannot saturate.
                    grown.round() as i64
                } else {
                    *maximum_interval_ms
                }
            }
            Backoff::Fixed { interval_ms, .. } => *interval_ms,
        }
    }

    /// The jitter this backoff spreads its delays with.
    pub fn jitter(&self) -> Jitter {
        match self {
            Backoff::InngestTable => Jitter::Additive {
                max_ms: i64::from(JITTER_MAX_MS),
            },
            Backoff::Table { jitter, .. }
            | Backoff::Exponential { jitter, .. }
            | Backoff::Fixed { jitter, .. } => *jitter,
        }
    }

    /// Checks a configured backoff: every delay in `[0, BACKOFF_DELAY_MAX_MS]`, a table of 1 to
    /// [`BACKOFF_TABLE_MAX_ROWS`] rows, an exponential that starts above zero, grows
    /// (`backoff_coefficient` in `[1, BACKOFF_COEFFICIENT_MAX]`) and is capped at or above its start.
    pub fn check(&self) -> Result<(), BackoffError> {
        let bad = |field: &'static str, problem: String| Err(BackoffError { field, problem });
        let delay = |field: &'static str, ms: i64| {
            if (0..=BACKOFF_DELAY_MAX_MS).contains(&ms) {
                Ok(())
            } else {
                bad(
                    field,
                    format!("{ms} ms is outside 0 to {BACKOFF_DELAY_MAX_MS} ms (a week)"),
                )
            }
        };
        match self {
            Backoff::InngestTable => {}
            Backoff::Table { delays_ms, .. } => {
                if delays_ms.is_empty() || delays_ms.len() > BACKOFF_TABLE_MAX_ROWS {
                    return bad(
                        "delays_ms",
                        format!(
                            "has {} rows; a table has 1 to {BACKOFF_TABLE_MAX_ROWS}",
                            delays_ms.len()
                        ),
                    );
                }
                for ms in delays_ms {
                    delay("delays_ms", *ms)?;
                }
            }
            Backoff::Exponential {
                initial_interval_ms,
                backoff_coefficient,
                maximum_interval_ms,
                ..
            } => {
                delay("initial_interval_ms", *initial_interval_ms)?;
                if *initial_interval_ms == 0 {
                    return bad("initial_interval_ms", "must be above 0".into());
                }
                if !(1.0..=BACKOFF_COEFFICIENT_MAX).contains(backoff_coefficient) {
                    return bad(
                        "backoff_coefficient",
                        format!("{backoff_coefficient} is outside 1 to {BACKOFF_COEFFICIENT_MAX}"),
                    );
                }
                delay("maximum_interval_ms", *maximum_interval_ms)?;
                if maximum_interval_ms < initial_interval_ms {
                    return bad(
                        "maximum_interval_ms",
                        format!(
                            "{maximum_interval_ms} ms is below initial_interval_ms ({initial_interval_ms} ms)"
                        ),
                    );
                }
            }
            Backoff::Fixed { interval_ms, .. } => delay("interval_ms", *interval_ms)?,
        }
        if let Jitter::Additive { max_ms } = self.jitter() {
            delay("jitter.max_ms", max_ms)?;
        }
        Ok(())
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

    fn exponential(initial: i64, coefficient: f64, maximum: i64, jitter: Jitter) -> Backoff {
        Backoff::Exponential {
            initial_interval_ms: initial,
            backoff_coefficient: coefficient,
            maximum_interval_ms: maximum,
            jitter,
        }
    }

    fn plain(backoff: &Backoff, failed_attempt: u32, jitter_ms: u32) -> i64 {
        backoff.delay_ms(&BackoffKnobs::default(), failed_attempt, jitter_ms)
    }

    #[test]
    fn a_configured_table_is_indexed_by_the_failed_attempt_and_its_last_row_repeats() {
        let backoff = Backoff::Table {
            delays_ms: vec![100, 5_000, 60_000],
            jitter: Jitter::None,
        };
        let delays: Vec<i64> = [0, 1, 2, 3, 10, u32::MAX]
            .iter()
            .map(|n| plain(&backoff, *n, 29_999))
            .collect();
        assert_eq!(delays, [100, 5_000, 60_000, 60_000, 60_000, 60_000]);
    }

    #[test]
    fn exponential_grows_by_its_coefficient_up_to_its_maximum() {
        let backoff = exponential(1_000, 2.0, 30_000, Jitter::None);
        let delays: Vec<i64> = (0..8).map(|n| plain(&backoff, n, 0)).collect();
        assert_eq!(
            delays,
            [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
        );
        assert_eq!(plain(&backoff, u32::MAX, 0), 30_000);
        // A fractional coefficient rounds to the millisecond: 1000 × 1.5^3 = 3375.
        assert_eq!(
            plain(&exponential(1_000, 1.5, 60_000, Jitter::None), 3, 0),
            3_375
        );
        // Coefficient 1: a constant interval.
        assert_eq!(plain(&exponential(700, 1.0, 700, Jitter::None), 40, 0), 700);
    }

    #[test]
    fn fixed_waits_the_same_after_every_failure() {
        let backoff = Backoff::Fixed {
            interval_ms: 2_500,
            jitter: Jitter::None,
        };
        for n in [0, 1, 9, 100, u32::MAX] {
            assert_eq!(plain(&backoff, n, 12_345), 2_500);
        }
    }

    #[test]
    fn each_jitter_spreads_a_configured_delay_over_its_range() {
        let with = |jitter| Backoff::Fixed {
            interval_ms: 10_000,
            jitter,
        };
        // Samples 0, the middle and the top of [0, JITTER_MAX_MS).
        let spread = |jitter| -> [i64; 3] {
            [0, 15_000, 29_999].map(|sample| plain(&with(jitter), 0, sample))
        };
        assert_eq!(spread(Jitter::None), [10_000, 10_000, 10_000]);
        assert_eq!(spread(Jitter::Full), [0, 5_000, 9_999]);
        assert_eq!(spread(Jitter::Equal), [5_000, 7_500, 9_999]);
        assert_eq!(
            spread(Jitter::Additive { max_ms: 1_000 }),
            [10_000, 10_500, 10_999]
        );
    }

    #[test]
    fn the_inngest_table_is_its_rows_with_additive_thirty_seconds() {
        assert_eq!(
            Backoff::InngestTable.jitter(),
            Jitter::Additive { max_ms: 30_000 }
        );
        let same = Backoff::Table {
            delays_ms: DEFAULT_TABLE_MS.to_vec(),
            jitter: Jitter::Additive { max_ms: 30_000 },
        };
        for n in 0..12 {
            for sample in [0, 1, 777, 29_999, u32::MAX] {
                assert_eq!(plain(&same, n, sample), table(n, sample));
            }
        }
    }

    #[test]
    fn the_knobs_apply_to_every_shape() {
        let scaled_knobs = BackoffKnobs {
            scale: 0.01,
            fixed_interval_ms: None,
        };
        let backoff = exponential(10_000, 3.0, 600_000, Jitter::Equal);
        // Attempt 1: 30 s, equal jitter: 15 s fixed + [0, 15 s); scaled 150 ms + [0, 150) ms.
        assert_eq!(backoff.delay_ms(&scaled_knobs, 1, 0), 150);
        assert_eq!(backoff.delay_ms(&scaled_knobs, 1, 29_999), 150 + 149);
        let fixed_knobs = BackoffKnobs {
            scale: 1.0,
            fixed_interval_ms: Some(1_234),
        };
        assert_eq!(backoff.delay_ms(&fixed_knobs, 5, 29_999), 1_234);
    }

    #[test]
    fn configured_shapes_serialize_with_the_names_users_know() {
        let json = serde_json::json!({
            "kind": "exponential",
            "initial_interval_ms": 1_000,
            "backoff_coefficient": 2.0,
            "maximum_interval_ms": 60_000,
            "jitter": {"kind": "full"},
        });
        let backoff: Backoff = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(backoff, exponential(1_000, 2.0, 60_000, Jitter::Full));
        assert_eq!(serde_json::to_value(&backoff).unwrap(), json);
        // No jitter named: none.
        let table: Backoff =
            serde_json::from_value(serde_json::json!({"kind": "table", "delays_ms": [1, 2]}))
                .unwrap();
        assert_eq!(table.jitter(), Jitter::None);
        let fixed: Backoff =
            serde_json::from_value(serde_json::json!({"kind": "fixed", "interval_ms": 5})).unwrap();
        assert_eq!(fixed.base_ms(3), 5);
        assert!(serde_json::from_value::<Backoff>(serde_json::json!({"kind": "linear"})).is_err());
    }

    #[test]
    fn checking_names_the_field_that_is_wrong() {
        let field = |backoff: Backoff| backoff.check().map_err(|e| e.field);
        assert_eq!(field(Backoff::InngestTable), Ok(()));
        assert_eq!(field(exponential(1_000, 2.0, 60_000, Jitter::Full)), Ok(()));
        let table = |delays_ms: Vec<i64>| Backoff::Table {
            delays_ms,
            jitter: Jitter::None,
        };
        assert_eq!(field(table(vec![])), Err("delays_ms"));
        assert_eq!(field(table(vec![0; 101])), Err("delays_ms"));
        assert_eq!(field(table(vec![10, -1])), Err("delays_ms"));
        assert_eq!(
            field(table(vec![BACKOFF_DELAY_MAX_MS + 1])),
            Err("delays_ms")
        );
        assert_eq!(field(table(vec![0, BACKOFF_DELAY_MAX_MS])), Ok(()));
        assert_eq!(
            field(exponential(0, 2.0, 60_000, Jitter::None)),
            Err("initial_interval_ms")
        );
        for coefficient in [0.5, 0.999, 100.5, f64::NAN, f64::INFINITY] {
            assert_eq!(
                field(exponential(1_000, coefficient, 60_000, Jitter::None)),
                Err("backoff_coefficient"),
                "{coefficient}"
            );
        }
        assert_eq!(
            field(exponential(1_000, 2.0, 999, Jitter::None)),
            Err("maximum_interval_ms")
        );
        assert_eq!(
            field(Backoff::Fixed {
                interval_ms: -5,
                jitter: Jitter::None
            }),
            Err("interval_ms")
        );
        assert_eq!(
            field(Backoff::Fixed {
                interval_ms: 5,
                jitter: Jitter::Additive { max_ms: -1 }
            }),
            Err("jitter.max_ms")
        );
        let message = exponential(1_000, 2.0, 999, Jitter::None)
            .check()
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "backoff `maximum_interval_ms`: 999 ms is below initial_interval_ms (1000 ms)"
        );
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
        fn a_checked_exponential_never_decreases_and_stays_within_its_bounds(
            initial in 1i64..=BACKOFF_DELAY_MAX_MS,
            coefficient in 1.0f64..=BACKOFF_COEFFICIENT_MAX,
            extra in 0i64..=BACKOFF_DELAY_MAX_MS,
            attempt in 0u32..200,
        ) {
            let maximum = (initial + extra).min(BACKOFF_DELAY_MAX_MS);
            let backoff = exponential(initial, coefficient, maximum, Jitter::None);
            prop_assert!(backoff.check().is_ok());
            let now = backoff.base_ms(attempt);
            prop_assert!((initial..=maximum).contains(&now), "{now}");
            prop_assert!(backoff.base_ms(attempt + 1) >= now);
        }

        #[test]
        fn every_checked_shape_and_jitter_gives_a_delay_within_its_range(
            rows in prop::collection::vec(0i64..=BACKOFF_DELAY_MAX_MS, 1..=BACKOFF_TABLE_MAX_ROWS),
            attempt in any::<u32>(),
            sample in any::<u32>(),
            max_ms in 0i64..=BACKOFF_DELAY_MAX_MS,
            which in 0usize..4,
        ) {
            let jitter = [Jitter::None, Jitter::Full, Jitter::Equal, Jitter::Additive { max_ms }][which];
            let backoff = Backoff::Table { delays_ms: rows, jitter };
            prop_assert!(backoff.check().is_ok());
            let base = backoff.base_ms(attempt);
            let delay = plain(&backoff, attempt, sample);
            let (low, high) = match jitter {
                Jitter::None => (base, base),
                Jitter::Full => (0, base),
                Jitter::Equal => (base / 2, base),
                Jitter::Additive { max_ms } => (base, base + max_ms),
            };
            prop_assert!(delay >= low && (delay < high || (delay == high && low == high)), "{delay} not in [{low}, {high})");
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

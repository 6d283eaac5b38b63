//! How a backoff delay is spread (issue 8's `none | full | equal | additive(max)`, with the strategy names
//! users know from Step Functions' `JitterStrategy` and AWS's backoff write-ups).
//!
//! Randomness stays outside the crate: the caller draws one sample in `[0, JITTER_MAX_MS)` per decision
//! (as for Inngest's additive 0-30 s jitter), and every strategy reads it as the fraction
//! `sample / JITTER_MAX_MS` of its range. With `Additive { max_ms: 30_000 }` the sample is the jitter in
//! milliseconds, exactly as the default table has always used it.

use serde::{Deserialize, Serialize};

use crate::backoff::JITTER_MAX_MS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Jitter {
    /// Exactly the delay.
    #[default]
    None,
    /// Anywhere in `[0, delay)`.
    Full,
    /// Half the delay, plus anywhere in the other half: `[delay / 2, delay)`.
    Equal,
    /// The delay plus anywhere in `[0, max_ms)`. Inngest's default is `Additive { max_ms: 30_000 }`.
    Additive { max_ms: i64 },
}

impl Jitter {
    /// Splits a delay of `base_ms` into the part every attempt waits and the random part, for the sample
    /// `sample` (clamped into `[0, JITTER_MAX_MS)`). The random part is strictly below its range unless
    /// the range is empty. Each part is scaled separately by the caller (`--backoff-scale`).
    pub(crate) fn split(&self, base_ms: i64, sample: u32) -> (i64, i64) {
        let base = base_ms.max(0);
        let (fixed, range) = match *self {
            Jitter::None => (base, 0),
            Jitter::Full => (0, base),
            Jitter::Equal => (base / 2, base - base / 2),
            Jitter::Additive { max_ms } => (base, max_ms.max(0)),
        };
        (fixed, fraction_of(range, sample))
    }
}

/// `range × sample / JITTER_MAX_MS`, rounded down, in integers (no float rounding at the edges).
fn fraction_of(range: i64, sample: u32) -> i64 {
    let sample = i128::from(sample.min(JITTER_MAX_MS - 1));
    let part = i128::from(range) * sample / i128::from(JITTER_MAX_MS);
    i64::try_from(part).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TOP: u32 = JITTER_MAX_MS - 1;

    #[test]
    fn none_is_the_delay() {
        for sample in [0, 1, 15_000, TOP, u32::MAX] {
            assert_eq!(Jitter::None.split(8_000, sample), (8_000, 0));
        }
    }

    #[test]
    fn full_spans_zero_to_just_below_the_delay() {
        assert_eq!(Jitter::Full.split(8_000, 0), (0, 0));
        assert_eq!(Jitter::Full.split(8_000, 15_000), (0, 4_000));
        assert_eq!(Jitter::Full.split(8_000, TOP), (0, 7_999));
        assert_eq!(Jitter::Full.split(8_000, u32::MAX), (0, 7_999));
    }

    #[test]
    fn equal_keeps_half_and_spreads_the_other_half() {
        assert_eq!(Jitter::Equal.split(8_000, 0), (4_000, 0));
        assert_eq!(Jitter::Equal.split(8_000, 15_000), (4_000, 2_000));
        assert_eq!(Jitter::Equal.split(8_000, TOP), (4_000, 3_999));
        // An odd delay: the halves are 2 and 3, so the total stays below 5.
        assert_eq!(Jitter::Equal.split(5, TOP), (2, 2));
    }

    #[test]
    fn additive_thirty_seconds_is_the_sample_itself() {
        let inngest = Jitter::Additive { max_ms: 30_000 };
        for sample in 0..JITTER_MAX_MS {
            assert_eq!(inngest.split(15_000, sample), (15_000, i64::from(sample)));
        }
        assert_eq!(inngest.split(15_000, u32::MAX), (15_000, 29_999));
    }

    #[test]
    fn additive_scales_the_sample_to_its_maximum() {
        let jitter = Jitter::Additive { max_ms: 3_000 };
        assert_eq!(jitter.split(1_000, 0), (1_000, 0));
        assert_eq!(jitter.split(1_000, 15_000), (1_000, 1_500));
        assert_eq!(jitter.split(1_000, TOP), (1_000, 2_999));
    }

    #[test]
    fn negative_inputs_are_treated_as_zero() {
        assert_eq!(Jitter::Full.split(-5, TOP), (0, 0));
        assert_eq!(Jitter::Additive { max_ms: -1 }.split(10, TOP), (10, 0));
    }

    #[test]
    fn serializes_with_a_kind_tag() {
        let cases = [
            (Jitter::None, serde_json::json!({"kind": "none"})),
            (Jitter::Full, serde_json::json!({"kind": "full"})),
            (Jitter::Equal, serde_json::json!({"kind": "equal"})),
            (
                Jitter::Additive { max_ms: 500 },
                serde_json::json!({"kind": "additive", "max_ms": 500}),
            ),
        ];
        for (jitter, json) in cases {
            assert_eq!(serde_json::to_value(jitter).unwrap(), json);
            assert_eq!(serde_json::from_value::<Jitter>(json).unwrap(), jitter);
        }
    }

    proptest! {
        #[test]
        fn every_strategy_stays_inside_its_range(base in 0i64..=10_000_000_000, sample in any::<u32>(), max in 0i64..=86_400_000) {
            let (fixed, random) = Jitter::Full.split(base, sample);
            prop_assert!(fixed == 0 && (random < base || base == 0) && random >= 0);
            let (fixed, random) = Jitter::Equal.split(base, sample);
            prop_assert!(fixed == base / 2 && random >= 0 && (fixed + random < base || base == 0));
            let (fixed, random) = Jitter::Additive { max_ms: max }.split(base, sample);
            prop_assert!(fixed == base && random >= 0 && (random < max || max == 0));
            prop_assert_eq!(Jitter::None.split(base, sample), (base, 0));
        }

        #[test]
        fn a_larger_sample_never_waits_less(base in 0i64..=10_000_000_000, a in any::<u32>(), b in any::<u32>()) {
            let (low, high) = (a.min(b), a.max(b));
            for jitter in [Jitter::None, Jitter::Full, Jitter::Equal, Jitter::Additive { max_ms: 30_000 }] {
                let (f1, r1) = jitter.split(base, low);
                let (f2, r2) = jitter.split(base, high);
                prop_assert!(f1 + r1 <= f2 + r2);
            }
        }
    }
}

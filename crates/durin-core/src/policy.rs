//! How many times a job may be tried (retries.md R1).

use serde::{Deserialize, Serialize};

use crate::backoff::Backoff;
use crate::rules::{CoolDown, ErrorRule, OnExhausted, check_rules};

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
    /// Rules per error class, matched in order; a failure no rule matches counts on `retries`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<ErrorRule>,
    /// `Retry-After` waits that spend no retry, up to a total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cool_down: Option<CoolDown>,
    #[serde(default, skip_serializing_if = "OnExhausted::is_fail")]
    pub on_exhausted: OnExhausted,
    /// Retries all steps of a run may take together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_retries: Option<u32>,
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
            rules: Vec::new(),
            cool_down: None,
            on_exhausted: OnExhausted::Fail,
            run_retries: None,
        }
    }

    /// The policy uses something only the engine can count (rules, cool-downs, a pause, a run budget):
    /// an SDK must then never treat an attempt as the last one, the engine decides when a step is done.
    pub fn decided_by_engine(&self) -> bool {
        !self.rules.is_empty()
            || self.cool_down.is_some()
            || self.on_exhausted == OnExhausted::Pause
            || self.run_retries.is_some()
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

    /// `retries + 1`: what the call request sends as `ctx.max_attempts`. A policy built or stored with
    /// more than [`MAX_RETRIES`] retries still allows at most `MAX_RETRIES + 1` attempts.
    pub fn max_attempts(&self) -> u32 {
        self.retries.min(MAX_RETRIES) + 1
    }
}

/// What a configured retry policy changes (issue 8); what it leaves out stays as it was.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<ErrorRule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cool_down: Option<CoolDown>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_exhausted: Option<OnExhausted>,
    /// Only on a function's policy: a step cannot set its run's budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_retries: Option<u32>,
}

/// Most retries a run budget may allow.
pub const MAX_RUN_RETRIES: u32 = 10_000;

impl PolicyOverride {
    /// `base` with this override's fields in place of its own.
    pub fn apply(&self, base: &RetryPolicy) -> RetryPolicy {
        RetryPolicy {
            retries: self.retries.map_or(base.retries, |r| r.min(MAX_RETRIES)),
            backoff: self.backoff.clone().unwrap_or_else(|| base.backoff.clone()),
            rules: self.rules.clone().unwrap_or_else(|| base.rules.clone()),
            cool_down: self.cool_down.or(base.cool_down),
            on_exhausted: self.on_exhausted.unwrap_or(base.on_exhausted),
            run_retries: self.run_retries.or(base.run_retries),
        }
    }

    /// The first problem with the override, naming the field: retries above [`MAX_RETRIES`], or a backoff
    /// that [`Backoff::check`] refuses.
    pub fn check(&self) -> Result<(), String> {
        if let Some(retries) = self.retries
            && retries > MAX_RETRIES
        {
            return Err(format!("`retries` is {retries}; the most is {MAX_RETRIES}"));
        }
        if let Some(backoff) = &self.backoff {
            backoff.check().map_err(|e| e.to_string())?;
        }
        if let Some(rules) = &self.rules {
            check_rules(rules)?;
        }
        if let Some(cool_down) = &self.cool_down {
            cool_down.check()?;
        }
        if let Some(budget) = self.run_retries
            && budget > MAX_RUN_RETRIES
        {
            return Err(format!(
                "`run_retries` is {budget}; the most is {MAX_RUN_RETRIES}"
            ));
        }
        Ok(())
    }

    /// As [`check`](Self::check), for a step's policy: a run's budget belongs to its function.
    pub fn check_for_step(&self) -> Result<(), String> {
        if self.run_retries.is_some() {
            return Err("`run_retries` belongs on a function's policy, not a step's".into());
        }
        self.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_override_replaces_only_what_it_names() {
        let base = RetryPolicy::with_retries(4);
        let fixed = Backoff::Fixed {
            interval_ms: 250,
            jitter: crate::Jitter::None,
        };
        let retries_only = PolicyOverride {
            retries: Some(1),
            backoff: None,
            ..PolicyOverride::default()
        };
        assert_eq!(
            retries_only.apply(&base),
            RetryPolicy {
                retries: 1,
                backoff: Backoff::InngestTable,
                ..RetryPolicy::default()
            }
        );
        let backoff_only = PolicyOverride {
            retries: None,
            backoff: Some(fixed.clone()),
            ..PolicyOverride::default()
        };
        assert_eq!(
            backoff_only.apply(&base),
            RetryPolicy {
                retries: 4,
                backoff: fixed,
                ..RetryPolicy::default()
            }
        );
        assert_eq!(PolicyOverride::default().apply(&base), base);
        // Never more than the maximum, even unchecked.
        let huge = PolicyOverride {
            retries: Some(1_000),
            backoff: None,
            ..PolicyOverride::default()
        };
        assert_eq!(huge.apply(&base).retries, MAX_RETRIES);
        assert!(huge.check().unwrap_err().contains("`retries` is 1000"));
    }

    #[test]
    fn an_override_with_a_bad_backoff_names_the_field() {
        let bad = PolicyOverride {
            retries: Some(2),
            backoff: Some(Backoff::Table {
                delays_ms: vec![],
                jitter: crate::Jitter::None,
            }),
            ..PolicyOverride::default()
        };
        assert!(bad.check().unwrap_err().contains("`delays_ms`"));
    }

    fn check(configured: Option<i64>, retries: u32, note: Option<&str>) {
        let got = RetryPolicy::from_configured(configured);
        assert_eq!(got.policy.retries, retries, "configured {configured:?}");
        assert_eq!(
            got.policy.max_attempts(),
            retries + 1,
            "configured {configured:?}"
        );
        assert_eq!(got.policy.backoff, Backoff::InngestTable);
        assert_eq!(got.adjustment.as_deref(), note, "configured {configured:?}");
    }

    #[test]
    fn constants() {
        assert_eq!(DEFAULT_RETRIES, 4);
        assert_eq!(MAX_RETRIES, 20);
    }

    #[test]
    fn missing_means_four_retries_five_attempts() {
        check(None, 4, None);
        assert_eq!(RetryPolicy::default().retries, 4);
        assert_eq!(RetryPolicy::default().max_attempts(), 5);
    }

    #[test]
    fn zero_means_one_attempt() {
        check(Some(0), 0, None);
    }

    #[test]
    fn values_in_range_are_kept() {
        for n in 0..=20 {
            check(Some(n), u32::try_from(n).unwrap(), None);
        }
    }

    #[test]
    fn twenty_is_the_maximum_without_a_note() {
        check(Some(20), 20, None);
    }

    #[test]
    fn above_twenty_is_clamped_with_a_note() {
        check(
            Some(21),
            20,
            Some("retries 21 is above the maximum; clamped to 20"),
        );
        check(
            Some(i64::MAX),
            20,
            Some("retries 9223372036854775807 is above the maximum; clamped to 20"),
        );
    }

    #[test]
    fn negative_is_zero_with_a_note() {
        check(Some(-1), 0, Some("retries -1 is negative; using 0"));
        check(
            Some(i64::MIN),
            0,
            Some("retries -9223372036854775808 is negative; using 0"),
        );
    }

    #[test]
    fn with_retries_clamps() {
        assert_eq!(RetryPolicy::with_retries(3).retries, 3);
        assert_eq!(RetryPolicy::with_retries(21).retries, 20);
        assert_eq!(RetryPolicy::with_retries(u32::MAX).retries, 20);
    }

    #[test]
    fn max_attempts_never_overflows_or_exceeds_the_maximum() {
        let policy = RetryPolicy {
            retries: u32::MAX,
            ..RetryPolicy::default()
        };
        assert_eq!(policy.max_attempts(), 21);
    }

    #[test]
    fn serde_round_trip_and_default_backoff() {
        let policy = RetryPolicy::with_retries(7);
        let json = serde_json::to_value(&policy).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"retries": 7, "backoff": {"kind": "inngest_table"}})
        );
        let back: RetryPolicy = serde_json::from_value(json).unwrap();
        assert_eq!(back, policy);
        let without_backoff: RetryPolicy =
            serde_json::from_value(serde_json::json!({"retries": 2})).unwrap();
        assert_eq!(without_backoff, RetryPolicy::with_retries(2));
    }

    proptest! {
        #[test]
        fn configured_always_lands_in_range(n in any::<i64>()) {
            let got = RetryPolicy::from_configured(Some(n));
            prop_assert!(got.policy.retries <= MAX_RETRIES);
            prop_assert_eq!(got.adjustment.is_some(), !(0..=20).contains(&n));
            if (0..=20).contains(&n) {
                prop_assert_eq!(i64::from(got.policy.retries), n);
            }
        }
    }
}

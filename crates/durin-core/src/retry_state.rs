//! A job's retry counters beyond its attempt number (issue 8): failures per error rule and the cool-downs
//! taken. Stored with the job; empty for every job whose policy has no rules and no cool-down.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RetryState {
    /// Failures each rule matched, by the rule's label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rule_failures: BTreeMap<String, u32>,
    /// Retries taken as cool-downs (a `Retry-After` that spent no retry).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cool_downs: u32,
    /// Milliseconds waited in those cool-downs.
    #[serde(default, skip_serializing_if = "is_zero_ms")]
    pub cool_down_ms: i64,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_ms(n: &i64) -> bool {
    *n == 0
}

impl RetryState {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Failures of `rule` so far.
    pub fn rule_failures(&self, rule: &str) -> u32 {
        self.rule_failures.get(rule).copied().unwrap_or(0)
    }

    /// Failures counted on the policy's own counter before attempt `attempt`: every earlier attempt
    /// failed, and those not matched by a rule nor taken as a cool-down were the policy's.
    pub fn policy_failures(&self, attempt: u32) -> u32 {
        let elsewhere = self
            .rule_failures
            .values()
            .fold(self.cool_downs, |sum, n| sum.saturating_add(*n));
        attempt.saturating_sub(elsewhere)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_counter_is_what_rules_and_cool_downs_did_not_take() {
        let empty = RetryState::default();
        assert!(empty.is_empty());
        assert_eq!(empty.policy_failures(3), 3);
        let mut state = RetryState::default();
        state.rule_failures.insert("TimeoutError".into(), 2);
        state.cool_downs = 1;
        assert_eq!(state.policy_failures(5), 2);
        assert_eq!(state.rule_failures("TimeoutError"), 2);
        assert_eq!(state.rule_failures("Other"), 0);
        // Never below zero, whatever was stored.
        assert_eq!(state.policy_failures(1), 0);
    }

    #[test]
    fn an_empty_state_serializes_to_an_empty_object() {
        assert_eq!(
            serde_json::to_value(RetryState::default()).unwrap(),
            serde_json::json!({})
        );
        let state: RetryState = serde_json::from_value(serde_json::json!({})).unwrap();
        assert!(state.is_empty());
    }
}

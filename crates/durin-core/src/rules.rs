//! The parts of a retry policy beyond a count and a backoff (issue 8): rules per error class, cool-downs
//! that spend no retry, and what happens when a step runs out of retries.

use serde::{Deserialize, Serialize};

use crate::backoff::Backoff;
use crate::policy::MAX_RETRIES;

/// Most rules one policy may list.
pub const MAX_RULES: usize = 32;
/// Longest total cool-down a policy may allow one step: a week, like the longest backoff delay.
pub const MAX_COOL_DOWN_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// A rule for one class of errors, matched on the error's name (exactly) and, when given, on a part of its
/// message. A matching failure is counted on the rule's own counter, not on the policy's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRule {
    /// The error's `name`, e.g. `TimeoutError`.
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_contains: Option<String>,
    /// Retries failures matching this rule get (its own counter).
    #[serde(default)]
    pub retries: u32,
    /// The rule's backoff; the policy's when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    /// Such an error fails the step at once, as a non-retriable error does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub never: bool,
}

impl ErrorRule {
    pub fn matches(&self, name: Option<&str>, message: Option<&str>) -> bool {
        name == Some(self.error.as_str())
            && self
                .message_contains
                .as_deref()
                .is_none_or(|part| message.is_some_and(|message| message.contains(part)))
    }

    /// The rule's counter key and its name in explanations: `TimeoutError`, or
    /// `TimeoutError ~ "upstream"` when it also matches on the message.
    pub fn label(&self) -> String {
        match &self.message_contains {
            Some(part) => format!("{} ~ {part:?}", self.error),
            None => self.error.clone(),
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.error.trim().is_empty() {
            return Err("`error` is blank".into());
        }
        if self.retries > MAX_RETRIES {
            return Err(format!(
                "`retries` is {}; the most is {MAX_RETRIES}",
                self.retries
            ));
        }
        if self.never && (self.retries > 0 || self.backoff.is_some()) {
            return Err("`never` cannot go with `retries` or `backoff`".into());
        }
        if let Some(backoff) = &self.backoff {
            backoff.check().map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// The first problem with a list of rules, naming the rule and the field.
pub fn check_rules(rules: &[ErrorRule]) -> Result<(), String> {
    if rules.len() > MAX_RULES {
        return Err(format!(
            "`rules` has {} entries; the most is {MAX_RULES}",
            rules.len()
        ));
    }
    let mut labels = std::collections::HashSet::new();
    for (index, rule) in rules.iter().enumerate() {
        rule.check().map_err(|e| format!("rules[{index}]: {e}"))?;
        if !labels.insert(rule.label()) {
            return Err(format!(
                "rules[{index}]: a second rule for {}",
                rule.label()
            ));
        }
    }
    Ok(())
}

/// A `Retry-After` wait (a rate limit) spends no retry, as long as the step's cool-downs add up to at most
/// `max_total_ms`; past that, a `Retry-After` counts as an ordinary failure again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoolDown {
    pub max_total_ms: i64,
}

impl CoolDown {
    pub fn check(&self) -> Result<(), String> {
        if !(1..=MAX_COOL_DOWN_MS).contains(&self.max_total_ms) {
            return Err(format!(
                "`cool_down.max_total_ms` is {}; it must be 1..={MAX_COOL_DOWN_MS}",
                self.max_total_ms
            ));
        }
        Ok(())
    }
}

/// What happens when a step (or the run's budget) runs out of retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExhausted {
    /// The step fails for good (the function body decides), as retries.md says.
    #[default]
    Fail,
    /// The run pauses until an operator resumes the step (with a fresh counter) or fails it.
    Pause,
}

impl OnExhausted {
    pub fn is_fail(&self) -> bool {
        *self == OnExhausted::Fail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(error: &str, part: Option<&str>) -> ErrorRule {
        ErrorRule {
            error: error.into(),
            message_contains: part.map(str::to_owned),
            retries: 3,
            backoff: None,
            never: false,
        }
    }

    #[test]
    fn a_rule_matches_the_exact_name_and_a_part_of_the_message() {
        let by_name = rule("TimeoutError", None);
        assert!(by_name.matches(Some("TimeoutError"), None));
        assert!(by_name.matches(Some("TimeoutError"), Some("anything")));
        assert!(!by_name.matches(Some("timeouterror"), None));
        assert!(!by_name.matches(Some("TimeoutErrorX"), None));
        assert!(!by_name.matches(None, Some("TimeoutError")));
        let by_message = rule("Error", Some("429"));
        assert!(by_message.matches(Some("Error"), Some("HTTP 429 Too Many")));
        assert!(!by_message.matches(Some("Error"), Some("HTTP 500")));
        assert!(!by_message.matches(Some("Error"), None));
        assert_eq!(by_message.label(), "Error ~ \"429\"");
        assert_eq!(by_name.label(), "TimeoutError");
    }

    #[test]
    fn bad_rules_are_refused_naming_the_rule_and_the_field() {
        let mut blank = rule(" ", None);
        assert_eq!(
            check_rules(std::slice::from_ref(&blank)).unwrap_err(),
            "rules[0]: `error` is blank"
        );
        blank.error = "E".into();
        blank.retries = 21;
        assert_eq!(
            check_rules(&[rule("A", None), blank]).unwrap_err(),
            "rules[1]: `retries` is 21; the most is 20"
        );
        let mut never = rule("E", None);
        never.never = true;
        assert!(
            check_rules(&[never])
                .unwrap_err()
                .contains("`never` cannot go")
        );
        assert!(
            check_rules(&[rule("E", None), rule("E", None)])
                .unwrap_err()
                .contains("a second rule for E")
        );
        assert!(check_rules(&[rule("E", None), rule("E", Some("x"))]).is_ok());
        let many: Vec<_> = (0..=MAX_RULES)
            .map(|i| rule(&format!("E{i}"), None))
            .collect();
        assert!(check_rules(&many).unwrap_err().contains("the most is 32"));
        let mut bad_backoff = rule("E", None);
        bad_backoff.backoff = Some(Backoff::Fixed {
            interval_ms: -1,
            jitter: crate::Jitter::None,
        });
        assert!(
            check_rules(&[bad_backoff])
                .unwrap_err()
                .starts_with("rules[0]: backoff")
        );
    }

    #[test]
    fn cool_down_bounds() {
        assert!(CoolDown { max_total_ms: 1 }.check().is_ok());
        let most = CoolDown {
            max_total_ms: MAX_COOL_DOWN_MS,
        };
        assert!(most.check().is_ok());
        assert!(
            CoolDown { max_total_ms: 0 }
                .check()
                .unwrap_err()
                .contains("`cool_down.max_total_ms` is 0")
        );
        let too_long = CoolDown {
            max_total_ms: MAX_COOL_DOWN_MS + 1,
        };
        assert!(too_long.check().is_err());
    }

    #[test]
    fn json_shape() {
        let rules: Vec<ErrorRule> = serde_json::from_value(serde_json::json!([
            {"error": "TimeoutError", "retries": 10, "backoff": {"kind": "fixed", "interval_ms": 500}},
            {"error": "ValidationError", "never": true},
            {"error": "Error", "message_contains": "429", "retries": 2}
        ]))
        .unwrap();
        assert_eq!(rules[0].retries, 10);
        assert!(rules[1].never && rules[1].retries == 0);
        assert_eq!(rules[2].message_contains.as_deref(), Some("429"));
        assert!(
            serde_json::from_value::<ErrorRule>(serde_json::json!({"error": "E", "retry": 1}))
                .is_err()
        );
        let on: OnExhausted = serde_json::from_value(serde_json::json!("pause")).unwrap();
        assert_eq!(on, OnExhausted::Pause);
    }
}

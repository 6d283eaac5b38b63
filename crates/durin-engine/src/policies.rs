//! Retry policies configured on Durin's side (issue 8), so that apps on the official SDKs get per-step
//! retry counts and backoffs without a change to their code: a file of entries keyed by function id and,
//! optionally, step id (the id the app gives the step).
//!
//! ```json
//! {"policies": [
//!   {"function": "shop-charge", "step": "call-bank", "retries": 10,
//!    "backoff": {"kind": "exponential", "initial_interval_ms": 1000, "backoff_coefficient": 2.0,
//!                "maximum_interval_ms": 60000, "jitter": {"kind": "full"}}},
//!   {"function": "shop-sync", "retries": 2}
//! ]}
//! ```
//!
//! A function entry replaces the function's own policy for every step and the body; a step entry replaces
//! it for that step only. Where an entry leaves `retries` or `backoff` out, the function's stays.

use std::collections::HashMap;

use durin_core::{PolicyOverride, RetryPolicy};
use serde::Deserialize;

/// The configured policies, by function id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetryPolicies {
    functions: HashMap<String, FunctionPolicies>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct FunctionPolicies {
    function: Option<PolicyOverride>,
    steps: HashMap<String, PolicyOverride>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    policies: Vec<PolicyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyEntry {
    function: String,
    #[serde(default)]
    step: Option<String>,
    #[serde(default)]
    retries: Option<u32>,
    #[serde(default)]
    backoff: Option<durin_core::Backoff>,
}

/// Why a policy file cannot be used; the message names the entry and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyFileError(String);

impl RetryPolicies {
    /// Reads a policy file (JSON). Refuses unknown fields, blank ids, two entries for the same function or
    /// step, and any value [`PolicyOverride::check`] refuses.
    pub fn from_json(text: &str) -> Result<Self, PolicyFileError> {
        let file: PolicyFile =
            serde_json::from_str(text).map_err(|e| PolicyFileError(e.to_string()))?;
        let mut policies = Self::default();
        for (index, entry) in file.policies.into_iter().enumerate() {
            let at = |problem: String| PolicyFileError(format!("policies[{index}]: {problem}"));
            if entry.function.trim().is_empty() {
                return Err(at("`function` is blank".into()));
            }
            let policy = PolicyOverride {
                retries: entry.retries,
                backoff: entry.backoff,
            };
            policy.check().map_err(at)?;
            let function = policies
                .functions
                .entry(entry.function.clone())
                .or_default();
            let taken = match entry.step {
                Some(step) if step.trim().is_empty() => return Err(at("`step` is blank".into())),
                Some(step) => function.steps.insert(step.clone(), policy).map(|_| step),
                None => function
                    .function
                    .replace(policy)
                    .map(|_| "(the function)".to_owned()),
            };
            if let Some(what) = taken {
                return Err(at(format!(
                    "a second policy for function {:?}, step {what}",
                    entry.function
                )));
            }
        }
        Ok(policies)
    }

    /// The function's policy once its configured entry, if any, is applied.
    pub(crate) fn for_function(&self, function_id: &str, base: &RetryPolicy) -> RetryPolicy {
        match self
            .functions
            .get(function_id)
            .and_then(|f| f.function.as_ref())
        {
            Some(policy) => policy.apply(base),
            None => base.clone(),
        }
    }

    /// The policy a step's failure is decided by: `function_policy` (the job's, the function entry already
    /// applied), with the step's entry applied over it.
    pub(crate) fn for_step(
        &self,
        function_id: &str,
        step: Option<&str>,
        function_policy: &RetryPolicy,
    ) -> RetryPolicy {
        let configured = step.and_then(|step| self.functions.get(function_id)?.steps.get(step));
        match configured {
            Some(policy) => policy.apply(function_policy),
            None => function_policy.clone(),
        }
    }

    /// What the call request tells the SDK as `ctx.max_attempts`: the most any step of the function (or
    /// its body) may take. An SDK treats the attempt it thinks is the last one specially (it reports the
    /// step as failed for good); it must never think so while Durin's policy for the step allows more.
    pub(crate) fn max_attempts(&self, function_id: &str, function_policy: &RetryPolicy) -> u32 {
        let steps = self.functions.get(function_id).map(|f| &f.steps);
        steps
            .into_iter()
            .flat_map(HashMap::values)
            .map(|step| step.apply(function_policy).max_attempts())
            .fold(function_policy.max_attempts(), u32::max)
    }

    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use durin_core::{Backoff, Jitter};

    const FILE: &str = r#"{"policies": [
        {"function": "shop-charge", "step": "call-bank", "retries": 10,
         "backoff": {"kind": "fixed", "interval_ms": 250}},
        {"function": "shop-charge", "step": "email", "retries": 0},
        {"function": "shop-sync", "retries": 2}
    ]}"#;

    #[test]
    fn step_entries_apply_to_their_step_and_function_entries_to_the_rest() {
        let policies = RetryPolicies::from_json(FILE).expect("a valid file");
        let default = RetryPolicy::default();
        let charge = policies.for_function("shop-charge", &default);
        assert_eq!(charge, default, "no function entry for shop-charge");
        assert_eq!(
            policies.for_step("shop-charge", Some("call-bank"), &charge),
            RetryPolicy {
                retries: 10,
                backoff: Backoff::Fixed {
                    interval_ms: 250,
                    jitter: Jitter::None
                }
            }
        );
        assert_eq!(
            policies
                .for_step("shop-charge", Some("email"), &charge)
                .retries,
            0
        );
        assert_eq!(
            policies.for_step("shop-charge", Some("other"), &charge),
            charge
        );
        assert_eq!(policies.for_step("shop-charge", None, &charge), charge);
        let sync = policies.for_function("shop-sync", &default);
        assert_eq!(sync.retries, 2);
        assert_eq!(sync.backoff, Backoff::InngestTable);
        assert_eq!(policies.for_function("unknown", &default), default);
    }

    #[test]
    fn the_sdk_is_told_the_most_attempts_any_step_may_take() {
        let policies = RetryPolicies::from_json(FILE).expect("a valid file");
        assert_eq!(
            policies.max_attempts("shop-charge", &RetryPolicy::default()),
            11
        );
        assert_eq!(
            policies.max_attempts("shop-sync", &RetryPolicy::with_retries(2)),
            3
        );
        assert_eq!(
            policies.max_attempts("unknown", &RetryPolicy::with_retries(0)),
            1
        );
    }

    #[test]
    fn a_bad_file_is_refused_naming_the_entry_and_the_field() {
        let refused = |text: &str| RetryPolicies::from_json(text).unwrap_err().to_string();
        assert!(refused("{").contains("EOF"));
        assert!(
            refused(r#"{"policies": [{"function": "f", "retry": 3}]}"#)
                .contains("unknown field `retry`")
        );
        assert_eq!(
            refused(r#"{"policies": [{"function": "f"}, {"function": " "}]}"#),
            "policies[1]: `function` is blank"
        );
        assert_eq!(
            refused(r#"{"policies": [{"function": "f", "step": ""}]}"#),
            "policies[0]: `step` is blank"
        );
        assert_eq!(
            refused(r#"{"policies": [{"function": "f", "retries": 21}]}"#),
            "policies[0]: `retries` is 21; the most is 20"
        );
        assert_eq!(
            refused(
                r#"{"policies": [{"function": "f", "backoff": {"kind": "exponential", "initial_interval_ms": 0, "backoff_coefficient": 2, "maximum_interval_ms": 10}}]}"#
            ),
            "policies[0]: backoff `initial_interval_ms`: must be above 0"
        );
        assert_eq!(
            refused(
                r#"{"policies": [{"function": "f", "step": "s", "retries": 1}, {"function": "f", "step": "s", "retries": 2}]}"#
            ),
            "policies[1]: a second policy for function \"f\", step s"
        );
        assert!(
            refused(r#"{"policies": [{"function": "f", "retries": -1}]}"#)
                .contains("invalid value")
        );
    }
}

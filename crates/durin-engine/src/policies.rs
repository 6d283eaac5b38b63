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
//!
//! The same document comes from the file given at start or from `PUT /v1/policies`; either way it is kept
//! in the store, so that every instance sharing it decides by the same one.

use std::collections::HashMap;

use durin_core::{FunctionConfig, PolicyOverride, RetryPolicy};
use serde::Deserialize;
use serde_json::Value;

/// The configured policies, by function id, with the document they were read from.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicies {
    functions: HashMap<String, FunctionPolicies>,
    /// The document as given (the file's JSON, or the API's body): what the API shows and the store keeps.
    document: Value,
}

impl Default for RetryPolicies {
    /// No policies: the document `{"policies": []}`.
    fn default() -> Self {
        Self {
            functions: HashMap::new(),
            document: serde_json::json!({ "policies": [] }),
        }
    }
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
    #[serde(default)]
    rules: Option<Vec<durin_core::ErrorRule>>,
    #[serde(default)]
    cool_down: Option<durin_core::CoolDown>,
    #[serde(default)]
    on_exhausted: Option<durin_core::OnExhausted>,
    #[serde(default)]
    run_retries: Option<u32>,
}

/// Where the policy deciding a failure came from, as explanations name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicySource {
    /// The function's own configuration, as the app registered it (or the default).
    Registered,
    /// The function's entry in the policy file.
    FileFunction,
    /// The step's own options, sent by the Rust SDK with the failure.
    StepOptions,
    /// The step's entry in the policy file.
    FileStep,
}

impl PolicySource {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            PolicySource::Registered => "the function's registered policy",
            PolicySource::FileFunction => "the policy file's entry for the function",
            PolicySource::StepOptions => "the step's options (Rust SDK)",
            PolicySource::FileStep => "the policy file's entry for the step",
        }
    }
}

/// The step's own policy in a failing op's `opts` (`{"durin": {"retry": {...}}}`, the Rust SDK's step
/// options), checked; `None` when the op carries none.
pub(crate) fn step_options(opts: &serde_json::Value) -> Option<Result<PolicyOverride, String>> {
    let policy = opts.get("durin")?.get("retry")?;
    Some(
        serde_json::from_value::<PolicyOverride>(policy.clone())
            .map_err(|e| format!("retry options: {e}"))
            .and_then(|policy| {
                policy
                    .check_for_step()
                    .map(|()| policy)
                    .map_err(|e| format!("retry options: {e}"))
            }),
    )
}

/// Why a policy file cannot be used; the message names the entry and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyFileError(String);

impl RetryPolicies {
    /// Reads a policy file (JSON). Refuses unknown fields, blank ids, two entries for the same function or
    /// step, and any value [`PolicyOverride::check`] refuses.
    pub fn from_json(text: &str) -> Result<Self, PolicyFileError> {
        // Parsed as the file's own shape first, so that an error names the line and column.
        let file: PolicyFile =
            serde_json::from_str(text).map_err(|e| PolicyFileError(e.to_string()))?;
        let document = serde_json::from_str(text).map_err(|e| PolicyFileError(e.to_string()))?;
        Self::from_file(file, document)
    }

    /// Reads a policy document already parsed as JSON (the API's body, the store's copy), with the checks
    /// of [`RetryPolicies::from_json`].
    pub fn from_value(document: Value) -> Result<Self, PolicyFileError> {
        let file =
            PolicyFile::deserialize(&document).map_err(|e| PolicyFileError(e.to_string()))?;
        Self::from_file(file, document)
    }

    /// The document the policies were read from, as given.
    pub fn document(&self) -> &Value {
        &self.document
    }

    fn from_file(file: PolicyFile, document: Value) -> Result<Self, PolicyFileError> {
        let mut policies = Self {
            functions: HashMap::new(),
            document,
        };
        for (index, entry) in file.policies.into_iter().enumerate() {
            let at = |problem: String| PolicyFileError(format!("policies[{index}]: {problem}"));
            if entry.function.trim().is_empty() {
                return Err(at("`function` is blank".into()));
            }
            let policy = PolicyOverride {
                retries: entry.retries,
                backoff: entry.backoff,
                rules: entry.rules,
                cool_down: entry.cool_down,
                on_exhausted: entry.on_exhausted,
                run_retries: entry.run_retries,
            };
            match entry.step {
                Some(_) => policy.check_for_step(),
                None => policy.check(),
            }
            .map_err(at)?;
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

    /// `function` as runs start it: its registered policy with its function entry, if any, applied.
    pub(crate) fn apply_to(&self, function: &FunctionConfig) -> FunctionConfig {
        FunctionConfig {
            policy: self.for_function(&function.id, &function.policy),
            ..function.clone()
        }
    }

    /// The policy a step's failure is decided by: `function_policy` (the job's, the function entry already
    /// applied), with the step's entry applied over it.
    #[cfg(test)]
    pub(crate) fn for_step(
        &self,
        function_id: &str,
        step: Option<&str>,
        function_policy: &RetryPolicy,
    ) -> RetryPolicy {
        match self.step_entry(function_id, step) {
            Some((policy, _)) => policy.apply(function_policy),
            None => function_policy.clone(),
        }
    }

    /// The step's entry, if the file has one.
    pub(crate) fn step_entry(
        &self,
        function_id: &str,
        step: Option<&str>,
    ) -> Option<(&PolicyOverride, PolicySource)> {
        let entry = self.functions.get(function_id)?.steps.get(step?)?;
        Some((entry, PolicySource::FileStep))
    }

    /// Where the function's policy (the job's) came from.
    pub(crate) fn function_source(&self, function_id: &str) -> PolicySource {
        match self
            .functions
            .get(function_id)
            .and_then(|f| f.function.as_ref())
        {
            Some(_) => PolicySource::FileFunction,
            None => PolicySource::Registered,
        }
    }

    /// What the call request tells the SDK as `ctx.max_attempts` for attempt `attempt`: the most any step
    /// of the function (or its body) may take. An SDK treats the attempt it thinks is the last one
    /// specially (it reports the step as failed for good); it must never think so while Durin's policy for
    /// the step allows more. Where only the engine can count (rules, cool-downs, a pause, a run budget), the
    /// SDK is always told one more attempt follows: the engine gives up by itself.
    pub(crate) fn max_attempts(
        &self,
        function_id: &str,
        function_policy: &RetryPolicy,
        attempt: u32,
    ) -> u32 {
        let steps = self.functions.get(function_id).map(|f| &f.steps);
        let policies: Vec<RetryPolicy> = steps
            .into_iter()
            .flat_map(HashMap::values)
            .map(|step| step.apply(function_policy))
            .collect();
        let most = policies
            .iter()
            .map(RetryPolicy::max_attempts)
            .fold(function_policy.max_attempts(), u32::max);
        let engine_decides = function_policy.decided_by_engine()
            || policies.iter().any(RetryPolicy::decided_by_engine);
        if engine_decides {
            most.max(attempt.saturating_add(2))
        } else {
            most
        }
    }

    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }
}

/// A policy document as the store holds it: the JSON and when it was last set.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    pub document: Value,
    /// Unix milliseconds.
    pub updated_at: durin_core::UnixMillis,
}

#[cfg(test)]
mod tests {
    use super::*;
    use durin_core::{Backoff, Jitter};
    use serde_json::json;

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
                },
                ..RetryPolicy::default()
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
            policies.max_attempts("shop-charge", &RetryPolicy::default(), 0),
            11
        );
        assert_eq!(
            policies.max_attempts("shop-sync", &RetryPolicy::with_retries(2), 0),
            3
        );
        assert_eq!(
            policies.max_attempts("unknown", &RetryPolicy::with_retries(0), 0),
            1
        );
    }

    #[test]
    fn entries_carry_rules_cool_downs_pauses_and_a_run_budget() {
        let policies = RetryPolicies::from_json(
            r#"{"policies": [
                {"function": "f", "run_retries": 12, "on_exhausted": "pause"},
                {"function": "f", "step": "s", "cool_down": {"max_total_ms": 60000},
                 "rules": [{"error": "TimeoutError", "retries": 9},
                           {"error": "ValidationError", "never": true}]}
            ]}"#,
        )
        .expect("a valid file");
        let function = policies.for_function("f", &RetryPolicy::default());
        assert_eq!(function.run_retries, Some(12));
        assert_eq!(function.on_exhausted, durin_core::OnExhausted::Pause);
        assert_eq!(policies.function_source("f"), PolicySource::FileFunction);
        assert_eq!(policies.function_source("g"), PolicySource::Registered);
        let step = policies.for_step("f", Some("s"), &function);
        assert_eq!(step.rules.len(), 2);
        assert_eq!(step.cool_down.map(|c| c.max_total_ms), Some(60_000));
        // What the step entry leaves out is the function's.
        assert_eq!(step.run_retries, Some(12));
        assert_eq!(step.on_exhausted, durin_core::OnExhausted::Pause);
        // Only the engine can count these: the SDK is always told another attempt follows.
        assert_eq!(policies.max_attempts("f", &function, 0), 5);
        assert_eq!(policies.max_attempts("f", &function, 7), 9);
        let plain = RetryPolicies::from_json(FILE).expect("a valid file");
        assert_eq!(
            plain.max_attempts("shop-sync", &RetryPolicy::with_retries(2), 7),
            3
        );
    }

    #[test]
    fn step_options_from_the_rust_sdk_are_read_and_checked() {
        let opts =
            json!({"durin": {"retry": {"retries": 2, "rules": [{"error": "E", "retries": 1}]}}});
        let policy = step_options(&opts).expect("present").expect("valid");
        assert_eq!(policy.retries, Some(2));
        assert!(step_options(&json!({})).is_none());
        assert!(step_options(&json!({"durin": {}})).is_none());
        let budget = json!({"durin": {"retry": {"run_retries": 2}}});
        assert_eq!(
            step_options(&budget).expect("present").unwrap_err(),
            "retry options: `run_retries` belongs on a function's policy, not a step's"
        );
        let unknown = json!({"durin": {"retry": {"retry": 2}}});
        assert!(
            step_options(&unknown)
                .expect("present")
                .unwrap_err()
                .contains("unknown field `retry`")
        );
    }

    #[test]
    fn a_document_reads_the_same_from_text_and_from_a_value_and_is_kept_as_given() {
        let from_text = RetryPolicies::from_json(FILE).expect("a valid file");
        let value: Value = serde_json::from_str(FILE).expect("JSON");
        let from_value = RetryPolicies::from_value(value.clone()).expect("a valid document");
        assert_eq!(from_text, from_value);
        assert_eq!(from_value.document(), &value);
        assert_eq!(
            RetryPolicies::default().document(),
            &json!({ "policies": [] })
        );
        let refused = RetryPolicies::from_value(json!({"policies": [
            {"function": "f", "backoff": {"kind": "exponential", "initial_interval_ms": 0,
             "backoff_coefficient": 2, "maximum_interval_ms": 10}}
        ]}))
        .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "policies[0]: backoff `initial_interval_ms`: must be above 0"
        );
        assert!(
            RetryPolicies::from_value(json!({"policy": []}))
                .unwrap_err()
                .to_string()
                .contains("unknown field `policy`")
        );
    }

    #[test]
    fn a_function_entry_is_applied_to_the_function_runs_start_with() {
        let policies = RetryPolicies::from_json(FILE).expect("a valid file");
        let function = FunctionConfig {
            id: "shop-sync".into(),
            name: "sync".into(),
            app_name: "shop".into(),
            url: "http://a".into(),
            triggers: Vec::new(),
            policy: RetryPolicy::default(),
        };
        assert_eq!(policies.apply_to(&function).policy.retries, 2);
        assert_eq!(RetryPolicies::default().apply_to(&function), function);
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
        assert_eq!(
            refused(r#"{"policies": [{"function": "f", "step": "s", "run_retries": 3}]}"#),
            "policies[0]: `run_retries` belongs on a function's policy, not a step's"
        );
        assert_eq!(
            refused(r#"{"policies": [{"function": "f", "rules": [{"error": ""}]}]}"#),
            "policies[0]: rules[0]: `error` is blank"
        );
        assert_eq!(
            refused(r#"{"policies": [{"function": "f", "cool_down": {"max_total_ms": 0}}]}"#),
            "policies[0]: `cool_down.max_total_ms` is 0; it must be 1..=604800000"
        );
        assert!(
            refused(r#"{"policies": [{"function": "f", "on_exhausted": "retry"}]}"#)
                .contains("unknown variant `retry`")
        );
    }
}

//! The app's registration payload (`POST /fn/register`) and the engine's reply.
//!
//! TypeScript spells `appName`/`deployType`, Python `appname`/`deploy_type`: both are accepted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub url: String,
    #[serde(
        default,
        rename = "deployType",
        alias = "deploy_type",
        skip_serializing_if = "Option::is_none"
    )]
    pub deploy_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    #[serde(rename = "appName", alias = "appname")]
    pub app_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<String>,
    #[serde(default)]
    pub functions: Vec<FunctionDef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDef {
    /// Composite id `<app>-<fn>`.
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub triggers: Vec<TriggerDef>,
    #[serde(default)]
    pub steps: BTreeMap<String, StepDef>,
    /// Every other option (concurrency, throttle, ...) kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl FunctionDef {
    /// The single step definition every SDK sends (key `step`), which carries the URL and retries.
    pub fn main_step(&self) -> Option<&StepDef> {
        self.steps
            .get(crate::DISCOVERY_STEP_ID)
            .or_else(|| self.steps.values().next())
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TriggerDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDef {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub runtime: StepRuntime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<RetriesDef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRuntime {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub url: String,
}

/// `attempts` is a retry count despite its name (0 = one attempt).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetriesDef {
    pub attempts: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterResponse {
    pub ok: bool,
    pub modified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_python_spelling() {
        let body = r#"{"url":"http://127.0.0.1:3940/api/inngest","deploy_type":"ping","framework":"flask",
            "appname":"probe-py-app","sdk":"py:v0.5.19","v":"0.1","functions":[]}"#;
        let request: RegisterRequest = serde_json::from_str(body).unwrap();
        assert_eq!(request.app_name, "probe-py-app");
        assert_eq!(request.deploy_type.as_deref(), Some("ping"));
    }

    #[test]
    fn reads_retries_and_triggers_of_the_ts_capture() {
        let body = r#"{"url":"http://x/api/inngest","deployType":"ping","appName":"probe-ts-app","functions":[
            {"id":"probe-ts-app-configured","name":"Configured fn",
             "triggers":[{"event":"probe/cfg","expression":"event.data.ok == true"},{"cron":"0 0 * * *"}],
             "steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://x/api/inngest?fnId=probe-ts-app-configured&stepId=step"},"retries":{"attempts":7}}},
             "throttle":{"limit":5,"period":"1m"}}]}"#;
        let request: RegisterRequest = serde_json::from_str(body).unwrap();
        let function = &request.functions[0];
        assert_eq!(function.triggers.len(), 2);
        assert_eq!(
            function.main_step().unwrap().retries,
            Some(RetriesDef { attempts: 7 })
        );
        assert!(function.extra.contains_key("throttle"));
    }
}

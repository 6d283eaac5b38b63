//! The call request: what the engine POSTs to an app to run a function body or one step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::EventPayload;

/// Body of `POST <app url>?fnId=<fn>&stepId=<step>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRequest {
    pub event: EventPayload,
    #[serde(default)]
    pub events: Vec<EventPayload>,
    /// Memoized step results keyed by hashed step id: `{"data": ..}`, `{"error": ..}` or `null`.
    #[serde(default)]
    pub steps: BTreeMap<String, Value>,
    #[serde(default = "unknown_version")]
    pub version: i64,
    /// Deprecated top-level flag that the Python SDK still requires.
    #[serde(default)]
    pub use_api: bool,
    pub ctx: CallContext,
}

fn unknown_version() -> i64 {
    -1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallContext {
    pub run_id: String,
    #[serde(default)]
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(default)]
    pub disable_immediate_execution: bool,
    #[serde(default)]
    pub use_api: bool,
    #[serde(default)]
    pub env: String,
    #[serde(default = "discovery")]
    pub step_id: String,
    #[serde(default)]
    pub stack: StepStack,
    /// Sent to let the TypeScript SDK checkpoint: it then runs several steps in one request and reports
    /// each to `POST /v1/checkpoint/{run_id}/async`, echoing `fn_id` and `qi_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fn_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qi_id: Option<String>,
}

/// Body of `POST /v1/checkpoint/{run_id}/async`: steps an SDK finished inside one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointRequest {
    #[serde(default)]
    pub run_id: String,
    #[serde(default)]
    pub fn_id: String,
    #[serde(default)]
    pub qi_id: String,
    #[serde(default)]
    pub steps: Vec<crate::Operation>,
}

fn discovery() -> String {
    crate::DISCOVERY_STEP_ID.to_owned()
}

/// Memoized step ids in completion order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepStack {
    #[serde(default)]
    pub stack: Vec<String>,
    #[serde(default)]
    pub current: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_ts_probe_request() {
        let body = r#"{"event":{"name":"probe/two","data":{"x":1},"id":"01KPROBEEVT0000000000000000","ts":1767225600000,"user":{}},
            "events":[{"name":"probe/two","data":{"x":1},"id":"01KPROBEEVT0000000000000000","ts":1767225600000,"user":{}}],
            "steps":{"e0996a37c13d44c3b06074939d43fa3759bd32c1":{"data":{"v":1}}},
            "ctx":{"run_id":"01KPROBERUN0000000000000000","attempt":0,"disable_immediate_execution":false,"use_api":false,
                   "env":"","step_id":"step","stack":{"stack":["e0996a37c13d44c3b06074939d43fa3759bd32c1"],"current":1}},
            "version":-1}"#;
        let request: CallRequest = serde_json::from_str(body).unwrap();
        assert_eq!(request.ctx.stack.current, 1);
        assert_eq!(request.event.name, "probe/two");
        assert_eq!(request.steps.len(), 1);
        assert_eq!(request.ctx.max_attempts, None);
    }

    #[test]
    fn serializes_top_level_use_api_for_python() {
        let request = CallRequest {
            event: EventPayload {
                id: None,
                name: "a/b".into(),
                data: Default::default(),
                user: Default::default(),
                ts: Some(1),
                v: None,
            },
            events: vec![],
            steps: BTreeMap::new(),
            version: -1,
            use_api: false,
            ctx: CallContext {
                run_id: "r".into(),
                attempt: 0,
                max_attempts: Some(5),
                disable_immediate_execution: false,
                use_api: false,
                env: String::new(),
                step_id: "step".into(),
                stack: StepStack::default(),
                fn_id: None,
                qi_id: None,
            },
        };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json["use_api"], Value::Bool(false));
        assert_eq!(json["ctx"]["max_attempts"], 5);
        assert_eq!(json["ctx"]["use_api"], Value::Bool(false));
    }
}

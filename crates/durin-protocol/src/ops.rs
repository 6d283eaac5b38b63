//! The operations an SDK answers with in a 206 response (one JSON array of ops).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Op codes by their wire names. Unknown codes are kept as [`OpCode::Unknown`] so that a newer SDK does not
/// make the whole response unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OpCode {
    None,
    Step,
    StepRun,
    StepError,
    StepFailed,
    StepPlanned,
    Sleep,
    WaitForEvent,
    InvokeFunction,
    RunComplete,
    #[serde(other)]
    Unknown,
}

/// One op of a 206 response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub op: OpCode,
    /// The hashed step id.
    #[serde(default)]
    pub id: String,
    /// Legacy field: the step name, or the sleep duration / awaited event name for those ops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        default,
        rename = "displayName",
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opts: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<SerializedError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userland: Option<UserlandId>,
    /// The wire name of an op this crate does not know (`op` is [`OpCode::Unknown`]), for error messages.
    #[serde(skip)]
    pub unknown_op: Option<String>,
}

impl Operation {
    /// The readable step id: the user's id when the SDK sent it, else the display name or the hash.
    pub fn user_step_id(&self) -> &str {
        self.userland
            .as_ref()
            .map(|u| u.id.as_str())
            .or(self.display_name.as_deref())
            .or(self.name.as_deref())
            .unwrap_or(&self.id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserlandId {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

/// An error as the SDKs serialize it. Fields other than name/message/stack (`code`, `__serialized`,
/// `cause`, ...) are kept verbatim in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SerializedError {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SerializedError {
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            message: message.into(),
            stack: None,
            extra: Map::new(),
        }
    }
}

/// Parses a 206 body: an array of ops, or a single op object (accepted by the reference server too).
pub fn parse_ops(body: &[u8]) -> Result<Vec<Operation>, serde_json::Error> {
    let items = match serde_json::from_slice::<Value>(body)? {
        Value::Array(items) => items,
        single => vec![single],
    };
    items.into_iter().map(parse_op).collect()
}

fn parse_op(item: Value) -> Result<Operation, serde_json::Error> {
    let name = item.get("op").and_then(Value::as_str).map(str::to_owned);
    let mut op: Operation = serde_json::from_value(item)?;
    if op.op == OpCode::Unknown {
        op.unknown_op = name;
    }
    Ok(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ts_step_error() {
        let body = br#"[{"id":"c53d2f1a9a8499bcb477be56c31caa5c76ae60f5","op":"StepError","name":"boom","opts":{},"displayName":"boom","userland":{"id":"boom"},"error":{"name":"Error","message":"plain failure","stack":"Error: plain failure","__serialized":true},"timing":{"a":1,"b":1},"data":null}]"#;
        let ops = parse_ops(body).unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].op, OpCode::StepError);
        let error = ops[0].error.as_ref().unwrap();
        assert_eq!(error.message, "plain failure");
        assert_eq!(error.extra["__serialized"], Value::Bool(true));
        assert_eq!(ops[0].user_step_id(), "boom");
    }

    #[test]
    fn parses_python_step_run_with_null_opts() {
        let body = br#"[{"displayName":"first","id":"e0996a37","name":"first","op":"StepRun","opts":null,"userland":{"id":"first","index":null},"data":{"v":1}}]"#;
        let ops = parse_ops(body).unwrap();
        assert_eq!(ops[0].op, OpCode::StepRun);
        assert_eq!(ops[0].opts, None);
    }

    #[test]
    fn unknown_op_codes_do_not_fail_parsing() {
        let ops = parse_ops(br#"{"op":"AIGateway","id":"x"}"#).unwrap();
        assert_eq!(ops[0].op, OpCode::Unknown);
        assert_eq!(ops[0].unknown_op.as_deref(), Some("AIGateway"));
    }
}

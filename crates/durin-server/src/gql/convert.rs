//! From Durin's records to the GraphQL types: statuses, error objects, event fields.

use async_graphql::ID;
use durin_core::RunStatus;
use durin_store::{EventRecord, RunRecord};
use serde_json::Value;

use super::scalars::{Time, Unknown};
use super::types::{FunctionRun, FunctionRunStatus, RunTraceSpanStatus, StepError};

pub(crate) fn run_status(status: RunStatus) -> FunctionRunStatus {
    match status {
        RunStatus::Running => FunctionRunStatus::Running,
        RunStatus::Paused => FunctionRunStatus::Paused,
        RunStatus::Completed => FunctionRunStatus::Completed,
        RunStatus::Failed => FunctionRunStatus::Failed,
        RunStatus::Cancelled => FunctionRunStatus::Cancelled,
    }
}

pub(crate) fn run_span_status(status: RunStatus) -> RunTraceSpanStatus {
    match status {
        RunStatus::Running => RunTraceSpanStatus::Running,
        RunStatus::Paused => RunTraceSpanStatus::Waiting,
        RunStatus::Completed => RunTraceSpanStatus::Completed,
        RunStatus::Failed => RunTraceSpanStatus::Failed,
        RunStatus::Cancelled => RunTraceSpanStatus::Cancelled,
    }
}

/// An error object as an SDK sends it (`{name, message, stack?, cause?}`). `message` is required by the
/// schema: an error that is not an object with a text `message` is shown whole as its message.
pub(crate) fn step_error(error: &Value) -> StepError {
    let text = |field: &str| error.get(field).and_then(Value::as_str).map(str::to_owned);
    let message = text("message").unwrap_or_else(|| match error {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    });
    StepError {
        message,
        name: text("name"),
        stack: text("stack"),
        cause: error
            .get("cause")
            .filter(|cause| !cause.is_null())
            .cloned()
            .map(Unknown),
    }
}

pub(crate) fn function_run(run: &RunRecord) -> FunctionRun {
    FunctionRun {
        id: ID::from(run.run_id.as_str()),
        function_id: run.function_id.clone(),
        status: Some(run_status(run.status)),
        started_at: Some(Time::from_millis(run.started_at)),
        finished_at: run.ended_at.map(Time::from_millis),
        output: run.output.as_ref().map(Value::to_string),
        event_id: ID::from(run.event_internal_id.as_str()),
    }
}

/// The event's `id` field (always set once accepted: Durin fills in the internal id).
pub(crate) fn event_id_field(event: &EventRecord) -> Option<String> {
    event
        .payload
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The event's `ts`, or when it was received.
pub(crate) fn event_ts(event: &EventRecord) -> i64 {
    event
        .payload
        .get("ts")
        .and_then(Value::as_i64)
        .unwrap_or(event.received_at)
}

pub(crate) fn event_data(event: &EventRecord) -> Value {
    event
        .payload
        .get("data")
        .cloned()
        .unwrap_or_else(|| Value::Object(serde_json::Map::new()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_sdk_error_object_keeps_its_fields() {
        let error = step_error(&json!({
            "name": "MyError", "message": "boom", "stack": "at f()", "cause": {"message": "inner"}
        }));
        assert_eq!(error.message, "boom");
        assert_eq!(error.name.as_deref(), Some("MyError"));
        assert_eq!(error.stack.as_deref(), Some("at f()"));
        assert_eq!(error.cause, Some(Unknown(json!({"message": "inner"}))));
    }

    #[test]
    fn an_error_without_a_message_is_its_own_message() {
        assert_eq!(step_error(&json!("plain text")).message, "plain text");
        let odd = step_error(&json!({"code": 7}));
        assert_eq!(odd.message, r#"{"code":7}"#);
        assert_eq!(odd.name, None);
        assert_eq!(
            step_error(&json!({"message": "m", "cause": null})).cause,
            None
        );
    }
}

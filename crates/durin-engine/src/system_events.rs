//! `inngest/function.finished` and `inngest/function.failed` (retries.md R9): real events that can start
//! runs, such as the SDKs' failure handlers.

use durin_core::{FunctionConfig, RunStatus};
use durin_store::{NewEvent, NewRun, RunState};
use serde_json::{Value, json};
use ulid::Ulid;

use crate::intake::runs_for;

pub(crate) const FUNCTION_FINISHED: &str = "inngest/function.finished";
pub(crate) const FUNCTION_FAILED: &str = "inngest/function.failed";
pub(crate) const FUNCTION_INVOKED: &str = "inngest/function.invoked";
pub(crate) const FUNCTION_CANCELLED: &str = "inngest/function.cancelled";

/// The events announcing the end of `state`'s run, and the runs they start.
pub(crate) fn run_ended(
    state: &RunState,
    status: RunStatus,
    output: Option<&Value>,
    functions: &[FunctionConfig],
    now: i64,
) -> (Vec<NewEvent>, Vec<NewRun>) {
    let trigger_name = state
        .event
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // A failure handler's own end announces nothing, or handlers could trigger each other forever.
    if trigger_name == FUNCTION_FINISHED || trigger_name == FUNCTION_FAILED {
        return (Vec::new(), Vec::new());
    }
    let mut data = json!({
        "function_id": state.run.function_id,
        "run_id": state.run.run_id,
        "event": state.event,
        "events": state.events,
        "_inngest": { "status": status.as_str() },
    });
    // An invoked run's end carries the invoker's correlation id, which its waiting step matches on.
    if let Some(correlation_id) = state.event["data"]["_inngest"].get("correlation_id") {
        data["correlation_id"] = correlation_id.clone();
    }
    match (status, output) {
        (RunStatus::Failed, Some(error)) => data["error"] = error_for_handlers(error),
        (_, Some(result)) if !result.is_null() => data["result"] = result.clone(),
        _ => {}
    }
    let mut events = vec![event(
        FUNCTION_FINISHED,
        Ulid::generate().to_string(),
        data.clone(),
        now,
    )];
    // The run id is the event id, so a failure or a cancellation is announced at most once.
    match status {
        RunStatus::Failed => {
            events.push(event(FUNCTION_FAILED, state.run.run_id.clone(), data, now))
        }
        RunStatus::Cancelled => events.push(event(
            FUNCTION_CANCELLED,
            state.run.run_id.clone(),
            data,
            now,
        )),
        RunStatus::Running | RunStatus::Paused | RunStatus::Completed => {}
    }
    let runs = events
        .iter()
        .flat_map(|e| runs_for(functions, e, now))
        .collect();
    (events, runs)
}

fn event(name: &str, id: String, data: Value, now: i64) -> NewEvent {
    NewEvent {
        internal_id: Ulid::generate().to_string(),
        name: name.to_owned(),
        payload: json!({ "id": id, "name": name, "data": data, "user": {}, "ts": now }),
        received_at: now,
    }
}

/// The failed run's error as failure handlers read it: `name`, `message` and `error` always present, the
/// app's other fields (stack, code, ...) kept.
fn error_for_handlers(output: &Value) -> Value {
    let mut error = match output {
        Value::Object(object) => object.clone(),
        other => {
            let mut object = serde_json::Map::new();
            object.insert("message".into(), Value::String(other.to_string()));
            object
        }
    };
    let name = error
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("Error")
        .to_owned();
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    error
        .entry("name")
        .or_insert_with(|| Value::String(name.clone()));
    error
        .entry("message")
        .or_insert_with(|| Value::String(message.clone()));
    error
        .entry("error")
        .or_insert_with(|| Value::String(format!("{name}: {message}")));
    Value::Object(error)
}

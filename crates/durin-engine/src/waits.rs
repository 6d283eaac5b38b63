//! Steps that wait for an event: `step.waitForEvent` and `step.invoke` (which waits for the invoked run's
//! `inngest/function.finished`). A wait is a stored pause with a timeout job; an event that matches it, on
//! intake or emitted by the engine, ends it in the same commit as the event.

use std::collections::BTreeSet;

use durin_core::{Expression, FunctionConfig, JobKind};
use durin_protocol::Operation;
use durin_store::{
    NewEvent, NewJob, NewPause, NewRun, PauseKind, PauseRecord, PauseResolution, StoreError,
};
use serde_json::{Map, Value, json};
use ulid::Ulid;

use crate::duration::{MAX_SLEEP_MS, parse_duration_ms};
use crate::engine::Engine;
use crate::system_events::{FUNCTION_FINISHED, FUNCTION_INVOKED};

/// Why a wait op cannot start.
#[derive(Debug)]
pub(crate) enum WaitError {
    /// The op itself is malformed: the run fails.
    Invalid(String),
    /// The op is fine but its step fails (an invoke of a function that does not exist): the function
    /// gets a catchable step error.
    StepFails(String),
}

impl From<String> for WaitError {
    fn from(message: String) -> Self {
        WaitError::Invalid(message)
    }
}

impl From<&str> for WaitError {
    fn from(message: &str) -> Self {
        WaitError::Invalid(message.to_owned())
    }
}

/// What a wait op asks for.
pub(crate) struct Wait {
    pub(crate) pause: NewPause,
    /// For `invoke`: the event and the run it starts.
    pub(crate) invoke: Option<(NewEvent, NewRun)>,
}

fn opt<'a>(op: &'a Operation, key: &str) -> Option<&'a Value> {
    op.opts
        .as_ref()
        .and_then(|o| o.get(key))
        .filter(|v| !v.is_null())
}

fn expires_at(op: &Operation, now: i64) -> Result<i64, String> {
    match opt(op, "timeout") {
        None => Ok(now + MAX_SLEEP_MS),
        Some(Value::String(text)) => parse_duration_ms(text)
            .map(|ms| now + ms)
            .ok_or_else(|| format!("cannot read the timeout {text:?}")),
        Some(other) => Err(format!(
            "the timeout must be a duration string, not {other}"
        )),
    }
}

/// A sleep until `wake`: a pause no event matches (its event name is empty), ended by its timeout job.
pub(crate) fn sleep(
    op: &Operation,
    run_id: &str,
    policy: &durin_core::RetryPolicy,
    wake: i64,
) -> NewPause {
    NewPause {
        pause_id: Ulid::generate().to_string(),
        run_id: run_id.to_owned(),
        step_id: op.id.clone(),
        step_name: op.user_step_id().to_owned(),
        kind: PauseKind::Sleep,
        event_name: String::new(),
        expression: None,
        timeout_memo: Value::Null,
        policy: policy.clone(),
        expires_at: wake,
    }
}

/// `WaitForEvent`: the event name travels in `name` (or `opts.event`), the condition in `opts.if`.
pub(crate) fn wait_for_event(
    op: &Operation,
    run_id: &str,
    job: &NewJob,
    now: i64,
) -> Result<Wait, WaitError> {
    // The Go SDK sends `opts.event: ""` and the name in `name`: an empty field is a missing one.
    let event_name = opt(op, "event")
        .and_then(Value::as_str)
        .filter(|event| !event.is_empty())
        .or(op.name.as_deref())
        .filter(|n| !n.is_empty())
        .ok_or("waitForEvent names no event")?
        .to_owned();
    let expression = match opt(op, "if").and_then(Value::as_str) {
        Some(text) => {
            Expression::parse(text).map_err(|e| format!("the `if` expression {text:?}: {e}"))?;
            Some(text.to_owned())
        }
        None => None,
    };
    Ok(Wait {
        pause: NewPause {
            pause_id: Ulid::generate().to_string(),
            run_id: run_id.to_owned(),
            step_id: op.id.clone(),
            step_name: op.user_step_id().to_owned(),
            kind: PauseKind::WaitForEvent,
            event_name,
            expression,
            timeout_memo: Value::Null,
            policy: job.policy.clone(),
            expires_at: expires_at(op, now)?,
        },
        invoke: None,
    })
}

/// `InvokeFunction`: starts a run of `opts.function_id` with `opts.payload`, and waits for it to end.
pub(crate) fn invoke(
    op: &Operation,
    run_id: &str,
    job: &NewJob,
    functions: &[FunctionConfig],
    now: i64,
) -> Result<Wait, WaitError> {
    let function_id = opt(op, "function_id")
        .and_then(Value::as_str)
        .ok_or("invoke names no function_id")?;
    let target = functions
        .iter()
        .find(|f| f.id == function_id)
        // Inngest's wording: SDKs compare it.
        .ok_or_else(|| {
            WaitError::StepFails(format!("could not find function with ID: {function_id}"))
        })?;
    let payload = opt(op, "payload").cloned().unwrap_or_else(|| json!({}));
    let correlation_id = format!("{run_id}.{}", op.id);
    let mut data = payload
        .get("data")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut meta = Map::new();
    meta.insert("fn_id".into(), json!(function_id));
    meta.insert("correlation_id".into(), json!(correlation_id));
    data.insert("_inngest".into(), Value::Object(meta));
    let event_id = Ulid::generate().to_string();
    let event = NewEvent {
        internal_id: event_id.clone(),
        name: FUNCTION_INVOKED.to_owned(),
        payload: json!({
            "id": event_id,
            "name": FUNCTION_INVOKED,
            "data": data,
            "user": payload.get("user").filter(|u| u.is_object()).cloned().unwrap_or_else(|| json!({})),
            "ts": now,
        }),
        received_at: now,
    };
    let run = NewRun {
        run_id: Ulid::generate().to_string(),
        function_id: target.id.clone(),
        event_internal_id: event_id,
        idempotency_key: correlation_id.clone(),
        started_at: now,
        policy: target.policy.clone(),
    };
    let timeout_error = json!({
        "name": "InngestInvokeTimeoutError",
        // Inngest's wording: SDKs without a typed timeout error can only recognise it by its message.
        "message": "Timed out waiting for invoked function to complete",
    });
    Ok(Wait {
        pause: NewPause {
            pause_id: Ulid::generate().to_string(),
            run_id: run_id.to_owned(),
            step_id: op.id.clone(),
            step_name: op.user_step_id().to_owned(),
            kind: PauseKind::Invoke,
            event_name: FUNCTION_FINISHED.to_owned(),
            expression: Some(format!("async.data.correlation_id == '{correlation_id}'")),
            timeout_memo: json!({ "error": timeout_error }),
            policy: job.policy.clone(),
            expires_at: expires_at(op, now)?,
        },
        invoke: Some((event, run)),
    })
}

impl Engine {
    /// The pauses these events end: for each pending pause, the first event with its name whose
    /// condition holds (`event` is the paused run's trigger, `async` the candidate).
    pub(crate) async fn resolutions_for(
        &self,
        events: &[NewEvent],
    ) -> Result<Vec<PauseResolution>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = events
            .iter()
            .map(|e| e.name.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let pauses = self.inner.store.pending_pauses(&names).await?;
        let now = self.now();
        Ok(pauses
            .into_iter()
            .filter_map(|pause| {
                let event = events
                    .iter()
                    .find(|e| e.name == pause.event_name && condition_holds(&pause, &e.payload))?;
                Some(PauseResolution {
                    pause_id: pause.pause_id.clone(),
                    memo: Some(memo_for(&pause, &event.payload)),
                    discovery: NewJob {
                        job_id: Ulid::generate().to_string(),
                        run_id: pause.run_id.clone(),
                        kind: JobKind::Discovery,
                        policy: pause.policy.clone(),
                        due_at: now,
                    },
                })
            })
            .collect())
    }
}

fn condition_holds(pause: &PauseRecord, candidate: &Value) -> bool {
    match &pause.expression {
        None => true,
        Some(text) => Expression::parse(text)
            .map(|e| e.evaluate(&[("event", &pause.trigger_event), ("async", candidate)]))
            .unwrap_or(false),
    }
}

/// `waitForEvent` resumes with the event itself; `invoke` with the invoked run's result or error.
fn memo_for(pause: &PauseRecord, event: &Value) -> Value {
    match pause.kind {
        PauseKind::WaitForEvent | PauseKind::Sleep => event.clone(),
        PauseKind::Invoke => {
            let data = &event["data"];
            match data.get("error").filter(|e| !e.is_null()) {
                Some(error) => json!({ "error": error }),
                None => json!({ "data": data.get("result").cloned().unwrap_or(Value::Null) }),
            }
        }
    }
}

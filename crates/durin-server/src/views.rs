//! JSON shapes of the REST API. Inngest's shapes where Inngest has the endpoint (events, runs), Durin's own
//! for attempts, jobs, apps and functions. Times are RFC 3339 strings; Durin's own shapes add `_ms` fields.

use durin_core::FunctionConfig;
use durin_store::{AppRecord, AttemptRecord, EventRecord, JobRecord, RunRecord};
use serde::Serialize;
use serde_json::{Value, json};

pub(crate) fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|ts| ts.to_string())
        .unwrap_or_default()
}

/// `{"data": ..., "metadata": {...}}`, as every v1 answer is wrapped.
pub(crate) fn wrapped(data: impl Serialize, now_ms: i64) -> Value {
    json!({ "data": data, "metadata": { "fetched_at": rfc3339(now_ms), "cached_until": null } })
}

pub(crate) fn event(record: &EventRecord) -> Value {
    let p = &record.payload;
    json!({
        "internal_id": record.internal_id,
        "account_id": "",
        "environment_id": "",
        "source": "",
        "source_id": null,
        "received_at": rfc3339(record.received_at),
        "id": p.get("id").cloned().unwrap_or(Value::Null),
        "name": record.name,
        "data": p.get("data").cloned().unwrap_or_else(|| json!({})),
        "user": p.get("user").cloned().unwrap_or_else(|| json!({})),
        "ts": p.get("ts").cloned().unwrap_or(Value::Null),
        "v": p.get("v").cloned().unwrap_or(Value::Null),
    })
}

pub(crate) fn run(record: &RunRecord) -> Value {
    json!({
        "run_id": record.run_id,
        "run_started_at": rfc3339(record.started_at),
        "function_id": record.function_id,
        "function_version": 1,
        "environment_id": "",
        "event_id": record.event_internal_id,
        "status": record.status.as_str(),
        "ended_at": record.ended_at.map(rfc3339),
        "output": record.output,
        "original_run_id": record.original_run_id,
    })
}

pub(crate) fn attempt(record: &AttemptRecord) -> Value {
    json!({
        "job_id": record.job_id,
        "kind": record.kind,
        "step_id": record.step_id,
        "step_name": record.step_name,
        "attempt": record.attempt,
        "started_at": rfc3339(record.started_at),
        "ended_at": rfc3339(record.ended_at),
        "started_at_ms": record.started_at,
        "ended_at_ms": record.ended_at,
        "duration_ms": record.ended_at - record.started_at,
        "outcome": record.outcome.as_str(),
        "error": record.error,
        "next_attempt_at": record.next_attempt_at.map(rfc3339),
        "next_attempt_at_ms": record.next_attempt_at,
    })
}

pub(crate) fn job(record: &JobRecord, position: usize) -> Value {
    json!({
        "job_id": record.job_id,
        "kind": record.kind,
        "at": rfc3339(record.due_at),
        "at_ms": record.due_at,
        "position": position,
        "attempt": record.attempt,
        "leased": record.leased,
    })
}

pub(crate) fn app(record: &AppRecord) -> Value {
    json!({
        "name": record.name,
        "url": record.url,
        "sdk": record.sdk,
        "framework": record.framework,
        "synced_at": record.synced_at.map(rfc3339),
        "error": record.error,
        "function_count": record.function_count,
    })
}

pub(crate) fn function(config: &FunctionConfig) -> Value {
    json!({
        "id": config.id,
        "name": config.name,
        "app": config.app_name,
        "url": config.url,
        "triggers": config.triggers,
        "retries": config.policy.retries,
        "max_attempts": config.policy.max_attempts(),
    })
}

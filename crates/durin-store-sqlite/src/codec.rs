//! Conversions between rows and records.

use durin_core::{JobKind, RetryPolicy, RunStatus};
use durin_store::{RunRecord, StoreError};
use rusqlite::Row;
use serde_json::Value;

pub(crate) fn unavailable(error: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub(crate) fn to_json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(corrupt)
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(corrupt)
}

pub(crate) fn optional_json(text: Option<String>) -> Result<Option<Value>, StoreError> {
    text.as_deref().map(from_json).transpose()
}

/// Columns: run_id, function_id, event_internal_id, status, started_at, ended_at, output, original_run_id.
pub(crate) const RUN_COLUMNS: &str =
    "run_id, function_id, event_internal_id, status, started_at, ended_at, output, original_run_id";
/// How many columns `RUN_COLUMNS` holds; a query's further columns start at this index.
pub(crate) const RUN_COLUMN_COUNT: usize = 8;

pub(crate) fn run_from_row(row: &Row<'_>) -> Result<RunRecord, StoreError> {
    let status: String = row.get(3).map_err(unavailable)?;
    Ok(RunRecord {
        run_id: row.get(0).map_err(unavailable)?,
        function_id: row.get(1).map_err(unavailable)?,
        event_internal_id: row.get(2).map_err(unavailable)?,
        status: status.parse::<RunStatus>().map_err(corrupt)?,
        started_at: row.get(4).map_err(unavailable)?,
        ended_at: row.get(5).map_err(unavailable)?,
        output: optional_json(row.get(6).map_err(unavailable)?)?,
        original_run_id: row.get(7).map_err(unavailable)?,
    })
}

/// Stored form of a job kind: (kind, step_id, step_name).
pub(crate) fn job_kind_columns(kind: &JobKind) -> (&'static str, &str, &str) {
    match kind {
        JobKind::Discovery => ("discovery", "", ""),
        JobKind::Step { step_id, name } => ("step", step_id, name),
        JobKind::Timeout { step_id, name } => ("timeout", step_id, name),
    }
}

pub(crate) fn job_kind_from_columns(
    kind: &str,
    step_id: String,
    name: String,
) -> Result<JobKind, StoreError> {
    match kind {
        "discovery" => Ok(JobKind::Discovery),
        "step" => Ok(JobKind::Step { step_id, name }),
        "timeout" => Ok(JobKind::Timeout { step_id, name }),
        other => Err(corrupt(format!("unknown job kind {other:?}"))),
    }
}

pub(crate) fn policy_from_json(text: &str) -> Result<RetryPolicy, StoreError> {
    from_json(text)
}

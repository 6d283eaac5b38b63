//! Conversions between rows and records. JSON is stored as the text serde_json writes, as in SQLite, so
//! values come back exactly as given (JSONB would reject `\u0000` in strings and rewrite numbers).

use durin_core::{JobKind, RetryPolicy, RunStatus};
use durin_store::RunRecord;
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::error::{Result, corrupt};

/// Column `index` of `row`, decoded as `T`.
pub(crate) fn get<'r, T>(row: &'r PgRow, index: usize) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    Ok(row.try_get(index)?)
}

pub(crate) fn to_json(value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(corrupt)
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(corrupt)
}

pub(crate) fn optional_json(text: Option<String>) -> Result<Option<Value>> {
    text.as_deref().map(from_json).transpose()
}

/// Attempt numbers are `u32` in records and BIGINT in the table.
pub(crate) fn attempt_from_column(value: i64) -> Result<u32> {
    u32::try_from(value).map_err(|_| corrupt(format!("attempt number {value} out of range")))
}

/// A `usize` limit as a SQL `LIMIT` (BIGINT).
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The run columns, in the order [`run_from_row`] reads them; a query's further columns start at
/// [`RUN_COLUMN_COUNT`]. A macro so that queries stay `&'static str`.
macro_rules! run_columns {
    () => {
        "run_id, function_id, event_internal_id, status, started_at, ended_at, output, original_run_id"
    };
}
pub(crate) use run_columns;

pub(crate) const RUN_COLUMN_COUNT: usize = 8;

pub(crate) fn run_from_row(row: &PgRow) -> Result<RunRecord> {
    let status: String = get(row, 3)?;
    Ok(RunRecord {
        run_id: get(row, 0)?,
        function_id: get(row, 1)?,
        event_internal_id: get(row, 2)?,
        status: status.parse::<RunStatus>().map_err(corrupt)?,
        started_at: get(row, 4)?,
        ended_at: get(row, 5)?,
        output: optional_json(get(row, 6)?)?,
        original_run_id: get(row, 7)?,
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

pub(crate) fn job_kind_from_columns(kind: &str, step_id: String, name: String) -> Result<JobKind> {
    match kind {
        "discovery" => Ok(JobKind::Discovery),
        "step" => Ok(JobKind::Step { step_id, name }),
        "timeout" => Ok(JobKind::Timeout { step_id, name }),
        other => Err(corrupt(format!("unknown job kind {other:?}"))),
    }
}

pub(crate) fn policy_from_json(text: &str) -> Result<RetryPolicy> {
    from_json(text)
}

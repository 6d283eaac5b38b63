//! Read queries.

use durin_core::{AttemptOutcome, FunctionConfig, UnixMillis};
use durin_store::{
    AppRecord, AttemptRecord, EventQuery, EventRecord, JobCounts, JobRecord, PAUSED_DUE_AT,
    RunQuery, RunRecord, RunState, StepRecord, StoreError,
};
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use crate::codec::{
    RUN_COLUMN_COUNT, attempt_from_column, from_json, get, job_kind_from_columns, optional_json,
    run_columns, run_from_row, sql_limit,
};
use crate::error::{Result, corrupt};

/// The most rows one listing returns (as in SQLite).
const MAX_PAGE: usize = 1000;

pub(crate) async fn list_apps(c: &mut PgConnection) -> Result<Vec<AppRecord>> {
    let rows = sqlx::query(
        "SELECT a.url, a.name, a.sdk, a.framework, a.synced_at, a.error,
                (SELECT count(*) FROM functions f WHERE f.app_url = a.url AND NOT f.archived)
         FROM apps a ORDER BY a.name",
    )
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|row| {
            let count: i64 = get(row, 6)?;
            Ok(AppRecord {
                url: get(row, 0)?,
                name: get(row, 1)?,
                sdk: get(row, 2)?,
                framework: get(row, 3)?,
                synced_at: get(row, 4)?,
                error: get(row, 5)?,
                function_count: u32::try_from(count).unwrap_or(u32::MAX),
            })
        })
        .collect()
}

pub(crate) async fn list_functions(c: &mut PgConnection) -> Result<Vec<FunctionConfig>> {
    let configs: Vec<String> =
        sqlx::query_scalar("SELECT config FROM functions WHERE NOT archived ORDER BY id")
            .fetch_all(&mut *c)
            .await?;
    configs.iter().map(|text| from_json(text)).collect()
}

pub(crate) async fn next_wake_at(c: &mut PgConnection) -> Result<Option<UnixMillis>> {
    // Paused jobs are never due.
    Ok(sqlx::query_scalar(
        "SELECT min(coalesce(leased_until, due_at)) FROM jobs
         WHERE coalesce(leased_until, due_at) < $1",
    )
    .bind(PAUSED_DUE_AT)
    .fetch_one(&mut *c)
    .await?)
}

async fn function_config(
    c: &mut PgConnection,
    function_id: &str,
) -> Result<Option<FunctionConfig>> {
    let text: Option<String> = sqlx::query_scalar("SELECT config FROM functions WHERE id = $1")
        .bind(function_id)
        .fetch_optional(&mut *c)
        .await?;
    text.as_deref().map(from_json).transpose()
}

/// Several statements: run it in a snapshot (`Db::snapshot`).
pub(crate) async fn load_run_state(c: &mut PgConnection, run_id: &str) -> Result<RunState> {
    let row = sqlx::query(concat!(
        "SELECT ",
        run_columns!(),
        ", request_version, disable_immediate, retries_used FROM runs WHERE run_id = $1"
    ))
    .bind(run_id)
    .fetch_optional(&mut *c)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("run {run_id}")))?;
    let run = run_from_row(&row)?;
    let request_version: i64 = get(&row, RUN_COLUMN_COUNT)?;
    let disable_immediate: bool = get(&row, RUN_COLUMN_COUNT + 1)?;
    let retries_used: i64 = get(&row, RUN_COLUMN_COUNT + 2)?;
    let retries_used = u32::try_from(retries_used)
        .map_err(|_| corrupt(format!("run {run_id} has {retries_used} retries used")))?;
    let function = function_config(c, &run.function_id).await?;
    let event = get_event(c, &run.event_internal_id)
        .await?
        .map(|e| e.payload)
        .ok_or_else(|| {
            corrupt(format!(
                "run {run_id} has no event {}",
                run.event_internal_id
            ))
        })?;
    let stored: Vec<(String, String)> =
        sqlx::query_as("SELECT step_id, memo FROM steps WHERE run_id = $1 ORDER BY position")
            .bind(run_id)
            .fetch_all(&mut *c)
            .await?;
    let mut steps_bytes = 0u64;
    let steps = stored
        .into_iter()
        .map(|(id, memo)| {
            steps_bytes += memo.len() as u64;
            Ok((id, from_json::<Value>(&memo)?))
        })
        .collect::<Result<Vec<_>>>()?;
    let waiting_steps: Vec<String> =
        sqlx::query_scalar("SELECT step_id FROM pauses WHERE run_id = $1 ORDER BY step_id")
            .bind(run_id)
            .fetch_all(&mut *c)
            .await?;
    Ok(RunState {
        waiting_steps,
        events: vec![event.clone()],
        event,
        run,
        function,
        steps,
        steps_bytes,
        request_version,
        disable_immediate_execution: disable_immediate,
        retries_used,
    })
}

fn event_from_row(row: &PgRow) -> Result<EventRecord> {
    let payload: String = get(row, 2)?;
    Ok(EventRecord {
        internal_id: get(row, 0)?,
        name: get(row, 1)?,
        payload: from_json(&payload)?,
        received_at: get(row, 3)?,
    })
}

pub(crate) async fn get_event(
    c: &mut PgConnection,
    internal_id: &str,
) -> Result<Option<EventRecord>> {
    sqlx::query("SELECT internal_id, name, payload, received_at FROM events WHERE internal_id = $1")
        .bind(internal_id)
        .fetch_optional(&mut *c)
        .await?
        .as_ref()
        .map(event_from_row)
        .transpose()
}

pub(crate) async fn list_events(
    c: &mut PgConnection,
    query: &EventQuery,
) -> Result<Vec<EventRecord>> {
    let rows = sqlx::query(
        "SELECT internal_id, name, payload, received_at FROM events
         WHERE ($1::text IS NULL OR name = $1) AND ($2::bigint IS NULL OR received_at > $2)
           AND ($3::bigint IS NULL OR received_at < $3) AND ($4::text IS NULL OR internal_id < $4)
         ORDER BY internal_id DESC LIMIT $5",
    )
    .bind(&query.name)
    .bind(query.received_after)
    .bind(query.received_before)
    .bind(&query.cursor)
    .bind(sql_limit(query.limit.clamp(1, MAX_PAGE)))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(event_from_row).collect()
}

pub(crate) async fn runs_for_event(
    c: &mut PgConnection,
    internal_id: &str,
) -> Result<Vec<RunRecord>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        run_columns!(),
        " FROM runs WHERE event_internal_id = $1 ORDER BY run_id"
    ))
    .bind(internal_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(run_from_row).collect()
}

pub(crate) async fn get_run(c: &mut PgConnection, run_id: &str) -> Result<Option<RunRecord>> {
    sqlx::query(concat!(
        "SELECT ",
        run_columns!(),
        " FROM runs WHERE run_id = $1"
    ))
    .bind(run_id)
    .fetch_optional(&mut *c)
    .await?
    .as_ref()
    .map(run_from_row)
    .transpose()
}

pub(crate) async fn list_runs(c: &mut PgConnection, query: &RunQuery) -> Result<Vec<RunRecord>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        run_columns!(),
        " FROM runs
         WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR function_id = $2)
           AND ($3::bigint IS NULL OR started_at >= $3) AND ($4::text IS NULL OR run_id < $4)
         ORDER BY run_id DESC LIMIT $5"
    ))
    .bind(query.status.map(|s| s.as_str()))
    .bind(&query.function_id)
    .bind(query.started_after)
    .bind(&query.cursor)
    .bind(sql_limit(query.limit.clamp(1, MAX_PAGE)))
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(run_from_row).collect()
}

pub(crate) async fn attempts_for_run(
    c: &mut PgConnection,
    run_id: &str,
) -> Result<Vec<AttemptRecord>> {
    let rows = sqlx::query(
        "SELECT run_id, job_id, kind, step_id, step_name, attempt, started_at, ended_at, outcome, error,
                next_attempt_at, explanation
         FROM attempts WHERE run_id = $1 ORDER BY seq",
    )
    .bind(run_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = get(row, 2)?;
            let step_id: Option<String> = get(row, 3)?;
            let step_name: Option<String> = get(row, 4)?;
            let outcome: String = get(row, 8)?;
            Ok(AttemptRecord {
                run_id: get(row, 0)?,
                job_id: get(row, 1)?,
                kind: job_kind_from_columns(
                    &kind,
                    step_id.clone().unwrap_or_default(),
                    step_name.clone().unwrap_or_default(),
                )?,
                step_id,
                step_name,
                attempt: attempt_from_column(get(row, 5)?)?,
                started_at: get(row, 6)?,
                ended_at: get(row, 7)?,
                outcome: outcome.parse::<AttemptOutcome>().map_err(corrupt)?,
                error: optional_json(get(row, 9)?)?,
                next_attempt_at: get(row, 10)?,
                explanation: optional_json(get(row, 11)?)?,
            })
        })
        .collect()
}

pub(crate) async fn jobs_for_run(c: &mut PgConnection, run_id: &str) -> Result<Vec<JobRecord>> {
    let rows = sqlx::query(
        "SELECT job_id, kind, step_id, step_name, attempt, due_at, leased_until IS NOT NULL FROM jobs
         WHERE run_id = $1 ORDER BY due_at",
    )
    .bind(run_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = get(row, 1)?;
            Ok(JobRecord {
                job_id: get(row, 0)?,
                kind: job_kind_from_columns(&kind, get(row, 2)?, get(row, 3)?)?,
                attempt: attempt_from_column(get(row, 4)?)?,
                due_at: get(row, 5)?,
                leased: get(row, 6)?,
            })
        })
        .collect()
}

pub(crate) async fn steps_for_run(c: &mut PgConnection, run_id: &str) -> Result<Vec<StepRecord>> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT step_id, name, memo FROM steps WHERE run_id = $1 ORDER BY position")
            .bind(run_id)
            .fetch_all(&mut *c)
            .await?;
    rows.into_iter()
        .map(|(step_id, name, memo)| {
            Ok(StepRecord {
                step_id,
                name,
                memo: from_json(&memo)?,
            })
        })
        .collect()
}

pub(crate) async fn count_jobs(c: &mut PgConnection, now: UnixMillis) -> Result<JobCounts> {
    let (due, scheduled, leased): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE leased_until IS NULL AND due_at <= $1),
                count(*) FILTER (WHERE leased_until IS NULL AND due_at > $1 AND due_at < $2),
                count(*) FILTER (WHERE leased_until IS NOT NULL)
         FROM jobs",
    )
    .bind(now)
    .bind(PAUSED_DUE_AT)
    .fetch_one(&mut *c)
    .await?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(JobCounts {
        due: count(due),
        scheduled: count(scheduled),
        leased: count(leased),
    })
}

//! Read queries (run on the reader pool).

use durin_core::{AttemptOutcome, FunctionConfig, UnixMillis};
use durin_store::{
    AppRecord, AttemptRecord, EventQuery, EventRecord, JobCounts, JobRecord, PAUSED_DUE_AT, Result,
    RunQuery, RunRecord, RunState, StepRecord, StoreError,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::codec::{
    RUN_COLUMN_COUNT, RUN_COLUMNS, corrupt, from_json, job_kind_from_columns, optional_json,
    run_from_row, unavailable,
};

pub(crate) fn list_apps(c: &Connection) -> Result<Vec<AppRecord>> {
    let mut statement = c
        .prepare_cached(
            "SELECT a.url, a.name, a.sdk, a.framework, a.synced_at, a.error,
                    (SELECT count(*) FROM functions f WHERE f.app_url = a.url AND f.archived = 0)
             FROM apps a ORDER BY a.name",
        )
        .map_err(unavailable)?;
    let rows = statement
        .query_map([], |row| {
            Ok(AppRecord {
                url: row.get(0)?,
                name: row.get(1)?,
                sdk: row.get(2)?,
                framework: row.get(3)?,
                synced_at: row.get(4)?,
                error: row.get(5)?,
                function_count: row.get(6)?,
            })
        })
        .map_err(unavailable)?;
    rows.collect::<Result<_, _>>().map_err(unavailable)
}

pub(crate) fn list_functions(c: &Connection) -> Result<Vec<FunctionConfig>> {
    let mut statement = c
        .prepare_cached("SELECT config FROM functions WHERE archived = 0 ORDER BY id")
        .map_err(unavailable)?;
    let configs = statement
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(unavailable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unavailable)?;
    configs.iter().map(|text| from_json(text)).collect()
}

pub(crate) fn next_wake_at(c: &Connection) -> Result<Option<UnixMillis>> {
    // Paused jobs are never due.
    c.prepare_cached(
        "SELECT min(coalesce(leased_until, due_at)) FROM jobs WHERE coalesce(leased_until, due_at) < ?1",
    )
    .map_err(unavailable)?
    .query_row(params![PAUSED_DUE_AT], |row| row.get(0))
        .map_err(unavailable)
}

fn function_config(c: &Connection, function_id: &str) -> Result<Option<FunctionConfig>> {
    let text: Option<String> = c
        .prepare_cached("SELECT config FROM functions WHERE id = ?1")
        .map_err(unavailable)?
        .query_row(params![function_id], |row| row.get(0))
        .optional()
        .map_err(unavailable)?;
    text.as_deref().map(from_json).transpose()
}

pub(crate) fn load_run_state(c: &Connection, run_id: &str) -> Result<RunState> {
    let (run, request_version, disable_immediate, retries_used) = c
        .prepare_cached(&format!(
            "SELECT {RUN_COLUMNS}, request_version, disable_immediate, retries_used FROM runs WHERE run_id = ?1"
        ))
        .map_err(unavailable)?
        .query_row(params![run_id], |row| {
            Ok((
                run_from_row(row),
                row.get::<_, i64>(RUN_COLUMN_COUNT)?,
                row.get::<_, bool>(RUN_COLUMN_COUNT + 1)?,
                row.get::<_, u32>(RUN_COLUMN_COUNT + 2)?,
            ))
        })
        .optional()
        .map_err(unavailable)?
        .ok_or_else(|| StoreError::NotFound(format!("run {run_id}")))?;
    let run = run?;
    let function = function_config(c, &run.function_id)?;
    let event = get_event(c, &run.event_internal_id)?
        .map(|e| e.payload)
        .ok_or_else(|| {
            corrupt(format!(
                "run {run_id} has no event {}",
                run.event_internal_id
            ))
        })?;
    let mut statement = c
        .prepare_cached("SELECT step_id, memo FROM steps WHERE run_id = ?1 ORDER BY position")
        .map_err(unavailable)?;
    let mut steps_bytes = 0u64;
    let steps = statement
        .query_map(params![run_id], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .map_err(unavailable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unavailable)?
        .into_iter()
        .map(|(id, memo)| {
            steps_bytes += memo.len() as u64;
            Ok((id, from_json::<Value>(&memo)?))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut statement = c
        .prepare_cached("SELECT step_id FROM pauses WHERE run_id = ?1 ORDER BY step_id")
        .map_err(unavailable)?;
    let waiting_steps = statement
        .query_map(params![run_id], |row| row.get::<_, String>(0))
        .map_err(unavailable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unavailable)?;
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

fn event_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, i64)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn to_event(
    (internal_id, name, payload, received_at): (String, String, String, i64),
) -> Result<EventRecord> {
    Ok(EventRecord {
        internal_id,
        name,
        payload: from_json(&payload)?,
        received_at,
    })
}

pub(crate) fn get_event(c: &Connection, internal_id: &str) -> Result<Option<EventRecord>> {
    c.prepare_cached(
        "SELECT internal_id, name, payload, received_at FROM events WHERE internal_id = ?1",
    )
    .map_err(unavailable)?
    .query_row(params![internal_id], event_from_row)
    .optional()
    .map_err(unavailable)?
    .map(to_event)
    .transpose()
}

pub(crate) fn list_events(c: &Connection, query: &EventQuery) -> Result<Vec<EventRecord>> {
    let limit = i64::try_from(query.limit.clamp(1, 1000)).unwrap_or(100);
    let mut statement = c
        .prepare_cached(
            "SELECT internal_id, name, payload, received_at FROM events
             WHERE (?1 IS NULL OR name = ?1) AND (?2 IS NULL OR received_at > ?2)
               AND (?3 IS NULL OR received_at < ?3) AND (?4 IS NULL OR internal_id < ?4)
             ORDER BY internal_id DESC LIMIT ?5",
        )
        .map_err(unavailable)?;
    let rows = statement
        .query_map(
            params![
                query.name,
                query.received_after,
                query.received_before,
                query.cursor,
                limit
            ],
            event_from_row,
        )
        .map_err(unavailable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unavailable)?;
    rows.into_iter().map(to_event).collect()
}

fn query_runs(c: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<RunRecord>> {
    let mut statement = c.prepare_cached(sql).map_err(unavailable)?;
    let mut rows = statement.query(params).map_err(unavailable)?;
    let mut runs = Vec::new();
    while let Some(row) = rows.next().map_err(unavailable)? {
        runs.push(run_from_row(row)?);
    }
    Ok(runs)
}

pub(crate) fn runs_for_event(c: &Connection, internal_id: &str) -> Result<Vec<RunRecord>> {
    query_runs(
        c,
        &format!("SELECT {RUN_COLUMNS} FROM runs WHERE event_internal_id = ?1 ORDER BY run_id"),
        params![internal_id],
    )
}

pub(crate) fn get_run(c: &Connection, run_id: &str) -> Result<Option<RunRecord>> {
    Ok(query_runs(
        c,
        &format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?1"),
        params![run_id],
    )?
    .into_iter()
    .next())
}

pub(crate) fn list_runs(c: &Connection, query: &RunQuery) -> Result<Vec<RunRecord>> {
    let limit = i64::try_from(query.limit.clamp(1, 1000)).unwrap_or(100);
    query_runs(
        c,
        &format!(
            "SELECT {RUN_COLUMNS} FROM runs
             WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR function_id = ?2) AND (?3 IS NULL OR started_at >= ?3)
               AND (?5 IS NULL OR run_id < ?5)
             ORDER BY run_id DESC LIMIT ?4"
        ),
        params![query.status.map(|s| s.as_str()), query.function_id, query.started_after, limit, query.cursor],
    )
}

pub(crate) fn attempts_for_run(c: &Connection, run_id: &str) -> Result<Vec<AttemptRecord>> {
    let mut statement = c
        .prepare_cached(
            "SELECT run_id, job_id, kind, step_id, step_name, attempt, started_at, ended_at, outcome, error,
                    next_attempt_at, explanation
             FROM attempts WHERE run_id = ?1 ORDER BY seq",
        )
        .map_err(unavailable)?;
    let mut rows = statement.query(params![run_id]).map_err(unavailable)?;
    let mut attempts = Vec::new();
    while let Some(row) = rows.next().map_err(unavailable)? {
        let kind: String = row.get(2).map_err(unavailable)?;
        let step_id: Option<String> = row.get(3).map_err(unavailable)?;
        let step_name: Option<String> = row.get(4).map_err(unavailable)?;
        let outcome: String = row.get(8).map_err(unavailable)?;
        attempts.push(AttemptRecord {
            run_id: row.get(0).map_err(unavailable)?,
            job_id: row.get(1).map_err(unavailable)?,
            kind: job_kind_from_columns(
                &kind,
                step_id.clone().unwrap_or_default(),
                step_name.clone().unwrap_or_default(),
            )?,
            step_id,
            step_name,
            attempt: row.get(5).map_err(unavailable)?,
            started_at: row.get(6).map_err(unavailable)?,
            ended_at: row.get(7).map_err(unavailable)?,
            outcome: outcome.parse::<AttemptOutcome>().map_err(corrupt)?,
            error: optional_json(row.get(9).map_err(unavailable)?)?,
            next_attempt_at: row.get(10).map_err(unavailable)?,
            explanation: optional_json(row.get(11).map_err(unavailable)?)?,
        });
    }
    Ok(attempts)
}

pub(crate) fn jobs_for_run(c: &Connection, run_id: &str) -> Result<Vec<JobRecord>> {
    let mut statement = c
        .prepare_cached(
            "SELECT job_id, kind, step_id, step_name, attempt, due_at, leased_until FROM jobs
             WHERE run_id = ?1 ORDER BY due_at",
        )
        .map_err(unavailable)?;
    let mut rows = statement.query(params![run_id]).map_err(unavailable)?;
    let mut jobs = Vec::new();
    while let Some(row) = rows.next().map_err(unavailable)? {
        let kind: String = row.get(1).map_err(unavailable)?;
        let leased: Option<i64> = row.get(6).map_err(unavailable)?;
        jobs.push(JobRecord {
            job_id: row.get(0).map_err(unavailable)?,
            kind: job_kind_from_columns(
                &kind,
                row.get(2).map_err(unavailable)?,
                row.get(3).map_err(unavailable)?,
            )?,
            attempt: row.get(4).map_err(unavailable)?,
            due_at: row.get(5).map_err(unavailable)?,
            leased: leased.is_some(),
        });
    }
    Ok(jobs)
}

pub(crate) fn steps_for_run(c: &Connection, run_id: &str) -> Result<Vec<StepRecord>> {
    let mut statement = c
        .prepare_cached("SELECT step_id, name, memo FROM steps WHERE run_id = ?1 ORDER BY position")
        .map_err(unavailable)?;
    let rows = statement
        .query_map(params![run_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .map_err(unavailable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unavailable)?;
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

pub(crate) fn count_jobs(c: &Connection, now: i64) -> Result<JobCounts> {
    c.prepare_cached(
        "SELECT coalesce(sum(leased_until IS NULL AND due_at <= ?1), 0),
                coalesce(sum(leased_until IS NULL AND due_at > ?1 AND due_at < ?2), 0),
                coalesce(sum(leased_until IS NOT NULL), 0)
         FROM jobs",
    )
    .map_err(unavailable)?
    .query_row(params![now, PAUSED_DUE_AT], |row| {
        let count = |i: usize| row.get::<_, i64>(i).map(|n| u64::try_from(n).unwrap_or(0));
        Ok(JobCounts {
            due: count(0)?,
            scheduled: count(1)?,
            leased: count(2)?,
        })
    })
    .map_err(unavailable)
}

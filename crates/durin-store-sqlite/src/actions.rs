//! Operator actions: cancel a run, rerun one, retry a waiting job now.

use durin_core::{JobKind, UnixMillis};
use durin_store::{NewEvent, NewRun, PAUSED_DUE_AT, Result, RunFinal, RunRecord, StepMemo};
use rusqlite::{Connection, params};

use crate::codec::{to_json, unavailable};
use crate::intake::{insert_events, insert_job, insert_runs};
use crate::{pauses, reads};

pub(crate) fn cancel_run(
    c: &Connection,
    run_id: &str,
    ended_at: UnixMillis,
    emit_events: &[NewEvent],
    start_runs: &[NewRun],
) -> Result<Option<RunRecord>> {
    let cancelled = c
        .prepare_cached(
            "UPDATE runs SET status = 'Cancelled', ended_at = ?2
             WHERE run_id = ?1 AND status IN ('Running', 'Paused')",
        )
        .map_err(unavailable)?
        .execute(params![run_id, ended_at])
        .map_err(unavailable)?;
    if cancelled == 1 {
        c.prepare_cached("DELETE FROM jobs WHERE run_id = ?1")
            .map_err(unavailable)?
            .execute(params![run_id])
            .map_err(unavailable)?;
        pauses::delete_for_run(c, run_id)?;
        insert_events(c, emit_events)?;
        insert_runs(c, start_runs)?;
    }
    reads::get_run(c, run_id)
}

pub(crate) fn fail_paused_run(
    c: &Connection,
    run_id: &str,
    end: &RunFinal,
    emit_events: &[NewEvent],
    start_runs: &[NewRun],
) -> Result<Option<RunRecord>> {
    let output = end.output.as_ref().map(to_json).transpose()?;
    let failed = c
        .prepare_cached(
            "UPDATE runs SET status = 'Failed', output = ?2, ended_at = ?3
             WHERE run_id = ?1 AND status = 'Paused'",
        )
        .map_err(unavailable)?
        .execute(params![run_id, output, end.ended_at])
        .map_err(unavailable)?;
    if failed == 1 {
        c.prepare_cached("DELETE FROM jobs WHERE run_id = ?1")
            .map_err(unavailable)?
            .execute(params![run_id])
            .map_err(unavailable)?;
        pauses::delete_for_run(c, run_id)?;
        insert_events(c, emit_events)?;
        insert_runs(c, start_runs)?;
    }
    reads::get_run(c, run_id)
}

pub(crate) fn resume_run(
    c: &Connection,
    run_id: &str,
    now: UnixMillis,
) -> Result<Option<RunRecord>> {
    let resumed = c
        .prepare_cached(
            "UPDATE runs SET status = 'Running' WHERE run_id = ?1 AND status = 'Paused'",
        )
        .map_err(unavailable)?
        .execute(params![run_id])
        .map_err(unavailable)?;
    if resumed == 1 {
        let paused: Vec<String> = c
            .prepare_cached("SELECT job_id FROM jobs WHERE run_id = ?1 AND due_at = ?2")
            .map_err(unavailable)?
            .query_map(params![run_id, PAUSED_DUE_AT], |row| row.get(0))
            .map_err(unavailable)?
            .collect::<std::result::Result<_, _>>()
            .map_err(unavailable)?;
        let mut fresh = c
            .prepare_cached(
                "UPDATE jobs SET job_id = ?2, attempt = 0, retry_state = NULL, due_at = ?3, leased_until = NULL
                 WHERE job_id = ?1",
            )
            .map_err(unavailable)?;
        for job_id in paused {
            let new_id = ulid::Ulid::generate().to_string();
            fresh
                .execute(params![job_id, new_id, now])
                .map_err(unavailable)?;
        }
    }
    reads::get_run(c, run_id)
}

pub(crate) fn start_rerun(
    c: &Connection,
    run: &NewRun,
    original_run_id: &str,
    memos: &[StepMemo],
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO runs (run_id, function_id, event_internal_id, idempotency_key, status, started_at, original_run_id)
         VALUES (?1, ?2, ?3, ?4, 'Running', ?5, ?6)",
    )
    .map_err(unavailable)?
    .execute(params![
        run.run_id,
        run.function_id,
        run.event_internal_id,
        run.idempotency_key,
        run.started_at,
        original_run_id
    ])
    .map_err(unavailable)?;
    let mut insert = c
        .prepare_cached(
            "INSERT INTO steps (run_id, step_id, name, position, memo) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(unavailable)?;
    for (position, memo) in memos.iter().enumerate() {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        insert
            .execute(params![
                run.run_id,
                memo.step_id,
                memo.name,
                position,
                to_json(&memo.memo)?
            ])
            .map_err(unavailable)?;
    }
    insert_job(
        c,
        &format!("{}-0", run.run_id),
        &run.run_id,
        &JobKind::Discovery,
        0,
        &to_json(&run.policy)?,
        run.started_at,
    )
}

pub(crate) fn retry_now(c: &Connection, run_id: &str, now: UnixMillis) -> Result<u64> {
    let changed = c
        .prepare_cached(
            "UPDATE jobs SET due_at = ?2
             WHERE run_id = ?1 AND attempt > 0 AND leased_until IS NULL AND due_at > ?2 AND due_at < ?3",
        )
        .map_err(unavailable)?
        .execute(params![run_id, now, PAUSED_DUE_AT])
        .map_err(unavailable)?;
    Ok(changed as u64)
}

//! The durable queue: claiming due jobs and applying an attempt's outcome.

use durin_core::{JobKind, UnixMillis};
use durin_store::{AttemptFinish, ClaimedJob, JobUpdate, PAUSED_DUE_AT, Result, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::codec::{
    from_json, job_kind_columns, job_kind_from_columns, policy_from_json, to_json, unavailable,
};
use crate::intake::{insert_events, insert_job, insert_runs};
use crate::pauses;

pub(crate) fn claim_due_jobs(
    c: &Connection,
    now: UnixMillis,
    limit: usize,
    lease_ms: i64,
) -> Result<Vec<ClaimedJob>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut select = c
        .prepare_cached(
            "SELECT j.job_id, j.run_id, r.function_id, j.kind, j.step_id, j.step_name, j.attempt, j.policy,
                    j.due_at, j.leased_until, j.retry_state
             FROM jobs j JOIN runs r ON r.run_id = j.run_id
             WHERE coalesce(j.leased_until, j.due_at) <= ?1
             ORDER BY coalesce(j.leased_until, j.due_at)
             LIMIT ?2",
        )
        .map_err(unavailable)?;
    let mut rows = select.query(params![now, limit]).map_err(unavailable)?;
    let mut jobs = Vec::new();
    while let Some(row) = rows.next().map_err(unavailable)? {
        let kind: String = row.get(3).map_err(unavailable)?;
        let policy: String = row.get(7).map_err(unavailable)?;
        let leased_until: Option<i64> = row.get(9).map_err(unavailable)?;
        let retry_state: Option<String> = row.get(10).map_err(unavailable)?;
        jobs.push(ClaimedJob {
            job_id: row.get(0).map_err(unavailable)?,
            run_id: row.get(1).map_err(unavailable)?,
            function_id: row.get(2).map_err(unavailable)?,
            kind: job_kind_from_columns(
                &kind,
                row.get(4).map_err(unavailable)?,
                row.get(5).map_err(unavailable)?,
            )?,
            attempt: row.get(6).map_err(unavailable)?,
            policy: policy_from_json(&policy)?,
            retry_state: retry_state
                .as_deref()
                .map(from_json)
                .transpose()?
                .unwrap_or_default(),
            due_at: row.get(8).map_err(unavailable)?,
            interrupted: leased_until.is_some(),
            leased_until: now + lease_ms,
        });
    }
    let mut lease = c
        .prepare_cached("UPDATE jobs SET leased_until = ?2 WHERE job_id = ?1")
        .map_err(unavailable)?;
    for job in &jobs {
        lease
            .execute(params![job.job_id, now + lease_ms])
            .map_err(unavailable)?;
    }
    Ok(jobs)
}

pub(crate) fn expire_all_leases(c: &Connection) -> Result<u64> {
    let changed = c
        .execute(
            "UPDATE jobs SET leased_until = 0 WHERE leased_until IS NOT NULL",
            [],
        )
        .map_err(unavailable)?;
    Ok(changed as u64)
}

/// The error for a finish whose job was claimed again, or finished, since its lease.
pub(crate) fn lease_lost(finish: &AttemptFinish) -> StoreError {
    StoreError::LeaseLost(format!(
        "job {} of run {} was claimed again after attempt {}'s lease expired",
        finish.attempt.job_id, finish.attempt.run_id, finish.attempt.attempt
    ))
}

/// Fencing. While the run is running, the job must still be held by this lease (same attempt, same
/// lease expiry). Once it ended, the job is gone either way (ended by its run, or taken over and finished
/// by another claim); then the attempt must not have been recorded already (by the claim that took it over,
/// as interrupted).
fn check_lease(c: &Connection, finish: &AttemptFinish, lease: i64, running: bool) -> Result<()> {
    let attempt = &finish.attempt;
    let held = if running {
        let job: Option<(u32, Option<i64>)> = c
            .prepare_cached("SELECT attempt, leased_until FROM jobs WHERE job_id = ?1")
            .map_err(unavailable)?
            .query_row(params![attempt.job_id], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .map_err(unavailable)?;
        job == Some((attempt.attempt, Some(lease)))
    } else {
        let recorded: bool = c
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM attempts WHERE run_id = ?1 AND job_id = ?2 AND attempt = ?3)",
            )
            .map_err(unavailable)?
            .query_row(
                params![attempt.run_id, attempt.job_id, attempt.attempt],
                |row| row.get(0),
            )
            .map_err(unavailable)?;
        !recorded
    };
    if held {
        Ok(())
    } else {
        Err(lease_lost(finish))
    }
}

pub(crate) fn finish_attempt(c: &Connection, finish: &AttemptFinish) -> Result<()> {
    let attempt = &finish.attempt;
    let status: Option<String> = c
        .prepare_cached("SELECT status FROM runs WHERE run_id = ?1")
        .map_err(unavailable)?
        .query_row(params![attempt.run_id], |row| row.get(0))
        .optional()
        .map_err(unavailable)?;
    let Some(status) = status else {
        return Err(StoreError::NotFound(format!("run {}", attempt.run_id)));
    };
    if let Some(lease) = finish.lease {
        check_lease(c, finish, lease, is_live(&status))?;
    }
    record_attempt(c, finish)?;
    if !is_live(&status) {
        // Cancelled (or finished by a concurrent job) meanwhile: keep the record, drop the job.
        delete_job(c, &attempt.job_id)?;
        return Ok(());
    }

    match &finish.job {
        JobUpdate::Retry {
            attempt,
            due_at,
            state,
            spends_run_retry,
        } => {
            let state = (!state.is_empty()).then(|| to_json(state)).transpose()?;
            c.prepare_cached(
                "UPDATE jobs SET attempt = ?2, due_at = ?3, retry_state = ?4, leased_until = NULL, rerun = 0
                 WHERE job_id = ?1",
            )
            .map_err(unavailable)?
            .execute(params![finish.attempt.job_id, attempt, due_at, state])
            .map_err(unavailable)?;
            if *spends_run_retry {
                c.prepare_cached(
                    "UPDATE runs SET retries_used = retries_used + 1 WHERE run_id = ?1",
                )
                .map_err(unavailable)?
                .execute(params![finish.attempt.run_id])
                .map_err(unavailable)?;
            }
        }
        JobUpdate::Pause => {
            c.prepare_cached(
                "UPDATE jobs SET due_at = ?2, leased_until = NULL, rerun = 0 WHERE job_id = ?1",
            )
            .map_err(unavailable)?
            .execute(params![finish.attempt.job_id, PAUSED_DUE_AT])
            .map_err(unavailable)?;
            c.prepare_cached("UPDATE runs SET status = 'Paused' WHERE run_id = ?1")
                .map_err(unavailable)?
                .execute(params![finish.attempt.run_id])
                .map_err(unavailable)?;
        }
        JobUpdate::Remove => remove_job(c, &attempt.job_id, attempt.ended_at)?,
        JobUpdate::Keep => {}
    }

    if !finish.memos.is_empty() {
        let mut position: i64 = c
            .prepare_cached("SELECT coalesce(max(position) + 1, 0) FROM steps WHERE run_id = ?1")
            .map_err(unavailable)?
            .query_row(params![attempt.run_id], |row| row.get(0))
            .map_err(unavailable)?;
        let mut insert = c
            .prepare_cached(
                "INSERT INTO steps (run_id, step_id, name, position, memo) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO NOTHING",
            )
            .map_err(unavailable)?;
        for memo in &finish.memos {
            let inserted = insert
                .execute(params![
                    attempt.run_id,
                    memo.step_id,
                    memo.name,
                    position,
                    to_json(&memo.memo)?
                ])
                .map_err(unavailable)?;
            position += i64::try_from(inserted).unwrap_or(1);
        }
    }

    // Before the jobs: enqueueing the discovery that ends the parallel branches lifts the flag again.
    if finish.request_version.is_some() || finish.disable_immediate_execution {
        c.prepare_cached(
            "UPDATE runs SET request_version = coalesce(?2, request_version),
                 disable_immediate = max(disable_immediate, ?3) WHERE run_id = ?1",
        )
        .map_err(unavailable)?
        .execute(params![
            attempt.run_id,
            finish.request_version,
            finish.disable_immediate_execution
        ])
        .map_err(unavailable)?;
    }

    for job in &finish.enqueue {
        // A step already memoized needs no job (an SDK re-reporting a finished parallel step).
        if let JobKind::Step { step_id, .. } = &job.kind
            && is_memoized(c, &job.run_id, step_id)?
        {
            continue;
        }
        insert_job(
            c,
            &job.job_id,
            &job.run_id,
            &job.kind,
            0,
            &to_json(&job.policy)?,
            job.due_at,
        )?;
    }

    for pause in &finish.pauses {
        pauses::insert(c, pause)?;
    }

    if let Some(end) = &finish.finish_run {
        let output = end.output.as_ref().map(to_json).transpose()?;
        c.prepare_cached(
            "UPDATE runs SET status = ?2, output = ?3, ended_at = ?4 WHERE run_id = ?1",
        )
        .map_err(unavailable)?
        .execute(params![
            attempt.run_id,
            end.status.as_str(),
            output,
            end.ended_at
        ])
        .map_err(unavailable)?;
        c.prepare_cached("DELETE FROM jobs WHERE run_id = ?1")
            .map_err(unavailable)?
            .execute(params![attempt.run_id])
            .map_err(unavailable)?;
        pauses::delete_for_run(c, &attempt.run_id)?;
    }

    insert_events(c, &finish.emit_events)?;
    insert_runs(c, &finish.start_runs)?;
    pauses::resolve(c, &finish.resolve_pauses)?;
    Ok(())
}

fn record_attempt(c: &Connection, finish: &AttemptFinish) -> Result<()> {
    let a = &finish.attempt;
    let (kind, _, _) = job_kind_columns(&a.kind);
    let error = a.error.as_ref().map(to_json).transpose()?;
    c.prepare_cached(
        "INSERT INTO attempts (run_id, job_id, kind, step_id, step_name, attempt, started_at, ended_at, outcome,
                               error, next_attempt_at, explanation)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )
    .map_err(unavailable)?
    .execute(params![
        a.run_id,
        a.job_id,
        kind,
        a.step_id,
        a.step_name,
        a.attempt,
        a.started_at,
        a.ended_at,
        a.outcome.as_str(),
        error,
        a.next_attempt_at,
        a.explanation.as_ref().map(to_json).transpose()?
    ])
    .map_err(unavailable)?;
    Ok(())
}

/// Removes a finished job; one marked to run again is replaced by a fresh discovery job, due at `now`.
/// A run whose jobs still move: running, or paused with other steps still going.
pub(crate) fn is_live(status: &str) -> bool {
    status == "Running" || status == "Paused"
}

fn remove_job(c: &Connection, job_id: &str, now: i64) -> Result<()> {
    let rerun: Option<(String, String)> = c
        .prepare_cached("SELECT run_id, policy FROM jobs WHERE job_id = ?1 AND rerun = 1")
        .map_err(unavailable)?
        .query_row(params![job_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .map_err(unavailable)?;
    delete_job(c, job_id)?;
    if let Some((run_id, policy)) = rerun {
        let fresh = ulid::Ulid::generate().to_string();
        insert_job(c, &fresh, &run_id, &JobKind::Discovery, 0, &policy, now)?;
    }
    Ok(())
}

fn delete_job(c: &Connection, job_id: &str) -> Result<()> {
    c.prepare_cached("DELETE FROM jobs WHERE job_id = ?1")
        .map_err(unavailable)?
        .execute(params![job_id])
        .map_err(unavailable)?;
    Ok(())
}

fn is_memoized(c: &Connection, run_id: &str, step_id: &str) -> Result<bool> {
    c.prepare_cached("SELECT 1 FROM steps WHERE run_id = ?1 AND step_id = ?2")
        .map_err(unavailable)?
        .query_row(params![run_id, step_id], |_| Ok(()))
        .optional()
        .map_err(unavailable)
        .map(|found| found.is_some())
}

//! Operator actions: cancel a run, rerun one, retry a waiting job now, resume or fail a paused run.

use durin_core::UnixMillis;
use durin_store::{NewEvent, NewRun, PAUSED_DUE_AT, RunFinal, RunRecord, StepMemo};
use sqlx::PgConnection;

use crate::codec::to_json;
use crate::error::Result;
use crate::intake::{insert_events, insert_first_discovery, insert_runs};
use crate::{locks, pauses, reads};

/// What `cancel_run` is asked to do.
pub(crate) struct Cancel<'a> {
    pub(crate) run_id: &'a str,
    pub(crate) ended_at: UnixMillis,
    pub(crate) emit_events: &'a [NewEvent],
    pub(crate) start_runs: &'a [NewRun],
}

pub(crate) async fn cancel_run(
    c: &mut PgConnection,
    cancel: &Cancel<'_>,
) -> Result<Option<RunRecord>> {
    // The update locks the run: a finish of one of its jobs waits, then finds it no longer live. A paused
    // run is cancelled too.
    let cancelled = sqlx::query(
        "UPDATE runs SET status = 'Cancelled', ended_at = $2
         WHERE run_id = $1 AND status IN ('Running', 'Paused')",
    )
    .bind(cancel.run_id)
    .bind(cancel.ended_at)
    .execute(&mut *c)
    .await?
    .rows_affected();
    if cancelled == 1 {
        sqlx::query("DELETE FROM jobs WHERE run_id = $1")
            .bind(cancel.run_id)
            .execute(&mut *c)
            .await?;
        pauses::delete_for_run(c, cancel.run_id).await?;
        insert_events(c, cancel.emit_events).await?;
        insert_runs(c, cancel.start_runs).await?;
    }
    reads::get_run(c, cancel.run_id).await
}

/// What `fail_paused_run` is asked to do.
pub(crate) struct FailPaused<'a> {
    pub(crate) run_id: &'a str,
    pub(crate) end: &'a RunFinal,
    pub(crate) emit_events: &'a [NewEvent],
    pub(crate) start_runs: &'a [NewRun],
}

/// Fails a paused run (only a paused one): `Failed` with the output, its jobs and pauses gone, its events
/// and the runs they start stored.
pub(crate) async fn fail_paused_run(
    c: &mut PgConnection,
    fail: &FailPaused<'_>,
) -> Result<Option<RunRecord>> {
    let statuses = locks::lock_runs(c, &[fail.run_id]).await?;
    if statuses.get(fail.run_id).map(String::as_str) == Some("Paused") {
        let output = fail.end.output.as_ref().map(to_json).transpose()?;
        sqlx::query(
            "UPDATE runs SET status = 'Failed', output = $2, ended_at = $3 WHERE run_id = $1",
        )
        .bind(fail.run_id)
        .bind(output)
        .bind(fail.end.ended_at)
        .execute(&mut *c)
        .await?;
        sqlx::query("DELETE FROM jobs WHERE run_id = $1")
            .bind(fail.run_id)
            .execute(&mut *c)
            .await?;
        pauses::delete_for_run(c, fail.run_id).await?;
        insert_events(c, fail.emit_events).await?;
        insert_runs(c, fail.start_runs).await?;
    }
    reads::get_run(c, fail.run_id).await
}

/// Resumes a paused run (only a paused one): each paused job becomes a fresh job (a new id, attempt 0, no
/// counters) due at `now`, and the run is running again.
pub(crate) async fn resume_run(
    c: &mut PgConnection,
    run_id: &str,
    now: UnixMillis,
) -> Result<Option<RunRecord>> {
    let statuses = locks::lock_runs(c, &[run_id]).await?;
    if statuses.get(run_id).map(String::as_str) == Some("Paused") {
        sqlx::query("UPDATE runs SET status = 'Running' WHERE run_id = $1")
            .bind(run_id)
            .execute(&mut *c)
            .await?;
        let paused: Vec<String> = sqlx::query_scalar(
            "SELECT job_id FROM jobs WHERE run_id = $1 AND due_at = $2 ORDER BY job_id",
        )
        .bind(run_id)
        .bind(PAUSED_DUE_AT)
        .fetch_all(&mut *c)
        .await?;
        for job_id in paused {
            // Due now: the trigger of migration 2 announces it to the other instances.
            sqlx::query(
                "UPDATE jobs SET job_id = $2, attempt = 0, retry_state = NULL, due_at = $3,
                     leased_until = NULL, leased_by = NULL
                 WHERE job_id = $1",
            )
            .bind(&job_id)
            .bind(ulid::Ulid::generate().to_string())
            .bind(now)
            .execute(&mut *c)
            .await?;
        }
    }
    reads::get_run(c, run_id).await
}

/// What `start_rerun` is asked to do.
pub(crate) struct Rerun<'a> {
    pub(crate) run: &'a NewRun,
    pub(crate) original_run_id: &'a str,
    pub(crate) memos: &'a [StepMemo],
}

pub(crate) async fn start_rerun(c: &mut PgConnection, rerun: &Rerun<'_>) -> Result<()> {
    let run = rerun.run;
    sqlx::query(
        "INSERT INTO runs (run_id, function_id, event_internal_id, idempotency_key, status, started_at,
                           original_run_id)
         VALUES ($1, $2, $3, $4, 'Running', $5, $6)",
    )
    .bind(&run.run_id)
    .bind(&run.function_id)
    .bind(&run.event_internal_id)
    .bind(&run.idempotency_key)
    .bind(run.started_at)
    .bind(rerun.original_run_id)
    .execute(&mut *c)
    .await?;
    for (position, memo) in rerun.memos.iter().enumerate() {
        sqlx::query(
            "INSERT INTO steps (run_id, step_id, name, position, memo) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&run.run_id)
        .bind(&memo.step_id)
        .bind(&memo.name)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(to_json(&memo.memo)?)
        .execute(&mut *c)
        .await?;
    }
    insert_first_discovery(c, run).await
}

pub(crate) async fn retry_now(c: &mut PgConnection, run_id: &str, now: UnixMillis) -> Result<u64> {
    // Taking turns with the run's other writers keeps the lock order (run, then its jobs) everywhere.
    locks::lock_runs(c, &[run_id]).await?;
    // Paused jobs wait for `resume_run`, not in backoff.
    Ok(sqlx::query(
        "UPDATE jobs SET due_at = $2
         WHERE run_id = $1 AND attempt > 0 AND leased_until IS NULL AND due_at > $2 AND due_at < $3",
    )
    .bind(run_id)
    .bind(now)
    .bind(PAUSED_DUE_AT)
    .execute(&mut *c)
    .await?
    .rows_affected())
}

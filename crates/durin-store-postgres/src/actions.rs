//! Operator actions: cancel a run, rerun one, retry a waiting job now.

use durin_core::UnixMillis;
use durin_store::{NewEvent, NewRun, RunRecord, StepMemo};
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
    // The update locks the run: a finish of one of its jobs waits, then finds it no longer running.
    let cancelled = sqlx::query(
        "UPDATE runs SET status = 'Cancelled', ended_at = $2 WHERE run_id = $1 AND status = 'Running'",
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
    Ok(sqlx::query(
        "UPDATE jobs SET due_at = $2
         WHERE run_id = $1 AND attempt > 0 AND leased_until IS NULL AND due_at > $2",
    )
    .bind(run_id)
    .bind(now)
    .execute(&mut *c)
    .await?
    .rows_affected())
}

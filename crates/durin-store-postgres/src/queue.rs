//! The durable queue: claiming due jobs and applying an attempt's outcome.

use durin_core::{JobKind, UnixMillis};
use durin_store::{AttemptFinish, ClaimedJob, JobUpdate, PAUSED_DUE_AT, StoreError};
use sqlx::PgConnection;

use crate::codec::{
    attempt_from_column, from_json, get, job_kind_columns, job_kind_from_columns, policy_from_json,
    sql_limit, to_json,
};
use crate::error::Result;
use crate::intake::{NewJobRow, insert_events, insert_job, insert_runs};
use crate::{locks, pauses};

/// What `claim_due_jobs` is asked for, by which instance.
pub(crate) struct Claim<'a> {
    pub(crate) now: UnixMillis,
    pub(crate) limit: usize,
    pub(crate) lease_ms: i64,
    pub(crate) instance_id: &'a str,
}

/// Leases due jobs in one statement. `SKIP LOCKED` passes over jobs another instance is leasing (or a
/// writer holds) right now, so no two claims return the same job; a job whose lease expired is due again
/// and comes back as interrupted.
pub(crate) async fn claim_due_jobs(
    c: &mut PgConnection,
    claim: &Claim<'_>,
) -> Result<Vec<ClaimedJob>> {
    let rows = sqlx::query(
        "WITH due AS (
             SELECT j.job_id, r.function_id, j.leased_until IS NOT NULL AS interrupted,
                    coalesce(j.leased_until, j.due_at) AS wake_at
             FROM jobs j JOIN runs r ON r.run_id = j.run_id
             WHERE coalesce(j.leased_until, j.due_at) <= $1
             ORDER BY coalesce(j.leased_until, j.due_at), j.job_id
             LIMIT $2
             FOR UPDATE OF j SKIP LOCKED
         ), leased AS (
             UPDATE jobs j SET leased_until = $3, leased_by = $4
             FROM due WHERE j.job_id = due.job_id
             RETURNING j.job_id, j.run_id, due.function_id, j.kind, j.step_id, j.step_name, j.attempt,
                       j.policy, j.due_at, due.interrupted, due.wake_at, j.retry_state
         )
         SELECT job_id, run_id, function_id, kind, step_id, step_name, attempt, policy, due_at, interrupted,
                retry_state
         FROM leased ORDER BY wake_at, job_id",
    )
    .bind(claim.now)
    .bind(sql_limit(claim.limit))
    .bind(claim.now.saturating_add(claim.lease_ms))
    .bind(claim.instance_id)
    .fetch_all(&mut *c)
    .await?;
    let leased_until = claim.now.saturating_add(claim.lease_ms);
    rows.iter()
        .map(|row| {
            let kind: String = get(row, 3)?;
            let policy: String = get(row, 7)?;
            let retry_state: Option<String> = get(row, 10)?;
            Ok(ClaimedJob {
                job_id: get(row, 0)?,
                run_id: get(row, 1)?,
                function_id: get(row, 2)?,
                kind: job_kind_from_columns(&kind, get(row, 4)?, get(row, 5)?)?,
                attempt: attempt_from_column(get(row, 6)?)?,
                policy: policy_from_json(&policy)?,
                // NULL is the empty state.
                retry_state: retry_state
                    .as_deref()
                    .map(from_json)
                    .transpose()?
                    .unwrap_or_default(),
                due_at: get(row, 8)?,
                interrupted: get(row, 9)?,
                leased_until,
            })
        })
        .collect()
}

/// Expires the leases this instance holds: with several instances on one database, every other lease may
/// belong to a live instance whose attempt is still in flight. Leases of an instance that is gone expire by
/// themselves.
pub(crate) async fn expire_own_leases(c: &mut PgConnection, instance_id: &str) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE jobs SET leased_until = 0 WHERE leased_until IS NOT NULL AND leased_by = $1",
    )
    .bind(instance_id)
    .execute(&mut *c)
    .await?
    .rows_affected())
}

/// Every run whose jobs, steps or pauses this finish may change: the ones to lock first.
async fn runs_to_lock(c: &mut PgConnection, finish: &AttemptFinish) -> Result<Vec<String>> {
    let resolved: Vec<&str> = finish
        .resolve_pauses
        .iter()
        .map(|resolution| resolution.pause_id.as_str())
        .collect();
    let mut runs = locks::runs_of_pauses(c, &resolved).await?;
    runs.push(finish.attempt.run_id.clone());
    runs.extend(finish.enqueue.iter().map(|job| job.run_id.clone()));
    runs.extend(finish.pauses.iter().map(|pause| pause.run_id.clone()));
    Ok(runs)
}

/// A run whose jobs still move: running, or paused with other steps still going.
pub(crate) fn is_live(status: &str) -> bool {
    status == "Running" || status == "Paused"
}

/// Fencing (the run's row is locked by the caller). While the run is live (`is_live`), the job must still be held
/// by this lease (same attempt, same lease expiry; the job row is locked too, so that no claim slips in
/// between). Once it ended, the job is gone either way (ended by its run, or taken over and finished by
/// another claim); then the attempt must not have been recorded already (by the claim that took it over).
async fn check_lease(
    c: &mut PgConnection,
    finish: &AttemptFinish,
    lease: UnixMillis,
    live: bool,
) -> Result<()> {
    let attempt = &finish.attempt;
    let held = if live {
        let job: Option<(i64, Option<i64>)> =
            sqlx::query_as("SELECT attempt, leased_until FROM jobs WHERE job_id = $1 FOR UPDATE")
                .bind(&attempt.job_id)
                .fetch_optional(&mut *c)
                .await?;
        job == Some((i64::from(attempt.attempt), Some(lease)))
    } else {
        let recorded: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM attempts WHERE run_id = $1 AND job_id = $2 AND attempt = $3)",
        )
        .bind(&attempt.run_id)
        .bind(&attempt.job_id)
        .bind(i64::from(attempt.attempt))
        .fetch_one(&mut *c)
        .await?;
        !recorded
    };
    if held {
        return Ok(());
    }
    Err(StoreError::LeaseLost(format!(
        "job {} of run {} was claimed again after attempt {}'s lease expired",
        attempt.job_id, attempt.run_id, attempt.attempt
    ))
    .into())
}

pub(crate) async fn finish_attempt(c: &mut PgConnection, finish: &AttemptFinish) -> Result<()> {
    let attempt = &finish.attempt;
    let runs = runs_to_lock(c, finish).await?;
    let run_ids: Vec<&str> = runs.iter().map(String::as_str).collect();
    let statuses = locks::lock_runs(c, &run_ids).await?;
    let Some(status) = statuses.get(&attempt.run_id) else {
        return Err(StoreError::NotFound(format!("run {}", attempt.run_id)).into());
    };
    if let Some(lease) = finish.lease {
        check_lease(c, finish, lease, is_live(status)).await?;
    }
    record_attempt(c, finish).await?;
    if !is_live(status) {
        // Cancelled (or finished by a concurrent job) meanwhile: keep the record, drop the job.
        delete_job(c, &attempt.job_id).await?;
        return Ok(());
    }

    match &finish.job {
        JobUpdate::Retry {
            attempt: next,
            due_at,
            state,
            spends_run_retry,
        } => {
            // The empty state is stored as NULL.
            let state = (!state.is_empty()).then(|| to_json(state)).transpose()?;
            sqlx::query(
                "UPDATE jobs SET attempt = $2, due_at = $3, retry_state = $4, leased_until = NULL,
                     leased_by = NULL, rerun = FALSE
                 WHERE job_id = $1",
            )
            .bind(&attempt.job_id)
            .bind(i64::from(*next))
            .bind(*due_at)
            .bind(state)
            .execute(&mut *c)
            .await?;
            if *spends_run_retry {
                sqlx::query("UPDATE runs SET retries_used = retries_used + 1 WHERE run_id = $1")
                    .bind(&attempt.run_id)
                    .execute(&mut *c)
                    .await?;
            }
        }
        JobUpdate::Pause => {
            // Never due (and never announced: its wake time is never within the trigger's window).
            sqlx::query(
                "UPDATE jobs SET due_at = $2, leased_until = NULL, leased_by = NULL, rerun = FALSE
                 WHERE job_id = $1",
            )
            .bind(&attempt.job_id)
            .bind(PAUSED_DUE_AT)
            .execute(&mut *c)
            .await?;
            sqlx::query("UPDATE runs SET status = 'Paused' WHERE run_id = $1")
                .bind(&attempt.run_id)
                .execute(&mut *c)
                .await?;
        }
        JobUpdate::Remove => remove_job(c, &attempt.job_id, attempt.ended_at).await?,
        JobUpdate::Keep => {}
    }

    if !finish.memos.is_empty() {
        let mut position: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(position) + 1, 0) FROM steps WHERE run_id = $1",
        )
        .bind(&attempt.run_id)
        .fetch_one(&mut *c)
        .await?;
        for memo in &finish.memos {
            let inserted = sqlx::query(
                "INSERT INTO steps (run_id, step_id, name, position, memo) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING",
            )
            .bind(&attempt.run_id)
            .bind(&memo.step_id)
            .bind(&memo.name)
            .bind(position)
            .bind(to_json(&memo.memo)?)
            .execute(&mut *c)
            .await?
            .rows_affected();
            position += i64::try_from(inserted).unwrap_or(1);
        }
    }

    // Before the jobs: enqueueing the discovery that ends the parallel branches lifts the flag again.
    if finish.request_version.is_some() || finish.disable_immediate_execution {
        sqlx::query(
            "UPDATE runs SET request_version = coalesce($2, request_version),
                 disable_immediate = disable_immediate OR $3 WHERE run_id = $1",
        )
        .bind(&attempt.run_id)
        .bind(finish.request_version)
        .bind(finish.disable_immediate_execution)
        .execute(&mut *c)
        .await?;
    }

    for job in &finish.enqueue {
        // A step already memoized needs no job (an SDK re-reporting a finished parallel step).
        if let JobKind::Step { step_id, .. } = &job.kind
            && is_memoized(c, &job.run_id, step_id).await?
        {
            continue;
        }
        insert_job(
            c,
            &NewJobRow {
                job_id: &job.job_id,
                run_id: &job.run_id,
                kind: &job.kind,
                attempt: 0,
                policy_json: &to_json(&job.policy)?,
                due_at: job.due_at,
            },
        )
        .await?;
    }

    for pause in &finish.pauses {
        pauses::insert(c, pause).await?;
    }

    if let Some(end) = &finish.finish_run {
        let output = end.output.as_ref().map(to_json).transpose()?;
        sqlx::query("UPDATE runs SET status = $2, output = $3, ended_at = $4 WHERE run_id = $1")
            .bind(&attempt.run_id)
            .bind(end.status.as_str())
            .bind(output)
            .bind(end.ended_at)
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM jobs WHERE run_id = $1")
            .bind(&attempt.run_id)
            .execute(&mut *c)
            .await?;
        pauses::delete_for_run(c, &attempt.run_id).await?;
    }

    insert_events(c, &finish.emit_events).await?;
    insert_runs(c, &finish.start_runs).await?;
    pauses::resolve(c, &finish.resolve_pauses).await?;
    Ok(())
}

async fn record_attempt(c: &mut PgConnection, finish: &AttemptFinish) -> Result<()> {
    let a = &finish.attempt;
    let (kind, _, _) = job_kind_columns(&a.kind);
    let error = a.error.as_ref().map(to_json).transpose()?;
    sqlx::query(
        "INSERT INTO attempts (run_id, job_id, kind, step_id, step_name, attempt, started_at, ended_at, outcome,
                               error, next_attempt_at, explanation)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&a.run_id)
    .bind(&a.job_id)
    .bind(kind)
    .bind(&a.step_id)
    .bind(&a.step_name)
    .bind(i64::from(a.attempt))
    .bind(a.started_at)
    .bind(a.ended_at)
    .bind(a.outcome.as_str())
    .bind(error)
    .bind(a.next_attempt_at)
    .bind(a.explanation.as_ref().map(to_json).transpose()?)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Removes a finished job; one marked to run again is replaced by a fresh discovery job, due at `now`.
async fn remove_job(c: &mut PgConnection, job_id: &str, now: UnixMillis) -> Result<()> {
    let rerun: Option<(String, String)> =
        sqlx::query_as("DELETE FROM jobs WHERE job_id = $1 RETURNING run_id, policy, rerun")
            .bind(job_id)
            .fetch_optional(&mut *c)
            .await?
            .and_then(|(run_id, policy, rerun): (String, String, bool)| {
                rerun.then_some((run_id, policy))
            });
    if let Some((run_id, policy)) = rerun {
        let fresh = ulid::Ulid::generate().to_string();
        insert_job(
            c,
            &NewJobRow {
                job_id: &fresh,
                run_id: &run_id,
                kind: &JobKind::Discovery,
                attempt: 0,
                policy_json: &policy,
                due_at: now,
            },
        )
        .await?;
    }
    Ok(())
}

async fn delete_job(c: &mut PgConnection, job_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM jobs WHERE job_id = $1")
        .bind(job_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn is_memoized(c: &mut PgConnection, run_id: &str, step_id: &str) -> Result<bool> {
    Ok(
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM steps WHERE run_id = $1 AND step_id = $2)",
        )
        .bind(run_id)
        .bind(step_id)
        .fetch_one(&mut *c)
        .await?,
    )
}

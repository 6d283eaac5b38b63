//! Writes for app syncs and event intake.

use durin_core::{JobKind, UnixMillis};
use durin_store::{AcceptOutcome, AppSync, NewEvent, NewRun, PauseResolution};
use sqlx::PgConnection;

use crate::codec::{job_kind_columns, to_json};
use crate::error::Result;
use crate::{locks, pauses};

pub(crate) async fn save_app_sync(c: &mut PgConnection, sync: &AppSync) -> Result<()> {
    // The upsert locks the app's row first: two instances syncing the same app take turns.
    sqlx::query(
        "INSERT INTO apps (url, name, sdk, framework, synced_at, error) VALUES ($1, $2, $3, $4, $5, NULL)
         ON CONFLICT (url) DO UPDATE SET name = excluded.name, sdk = excluded.sdk,
             framework = excluded.framework, synced_at = excluded.synced_at, error = NULL",
    )
    .bind(&sync.url)
    .bind(&sync.name)
    .bind(&sync.sdk)
    .bind(&sync.framework)
    .bind(sync.synced_at)
    .execute(&mut *c)
    .await?;
    // An app renamed or moved keeps one row per URL; functions are keyed by their composite id.
    sqlx::query("UPDATE functions SET archived = TRUE, updated_at = $2 WHERE app_url = $1")
        .bind(&sync.url)
        .bind(sync.synced_at)
        .execute(&mut *c)
        .await?;
    for function in &sync.functions {
        sqlx::query(
            "INSERT INTO functions (id, app_url, config, archived, updated_at) VALUES ($1, $2, $3, FALSE, $4)
             ON CONFLICT (id) DO UPDATE SET app_url = excluded.app_url, config = excluded.config,
                 archived = FALSE, updated_at = excluded.updated_at",
        )
        .bind(&function.id)
        .bind(&sync.url)
        .bind(to_json(function)?)
        .bind(sync.synced_at)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

pub(crate) async fn save_app_error(c: &mut PgConnection, url: &str, error: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO apps (url, name, error) VALUES ($1, $1, $2)
         ON CONFLICT (url) DO UPDATE SET error = excluded.error",
    )
    .bind(url)
    .bind(error)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Stores events and the runs they start, and ends the pauses the events resolve.
pub(crate) async fn accept_events_resolving(
    c: &mut PgConnection,
    events: &[NewEvent],
    runs: &[NewRun],
    resolutions: &[PauseResolution],
) -> Result<AcceptOutcome> {
    let pause_ids: Vec<&str> = resolutions.iter().map(|r| r.pause_id.as_str()).collect();
    let paused_runs = locks::runs_of_pauses(c, &pause_ids).await?;
    let paused_runs: Vec<&str> = paused_runs.iter().map(String::as_str).collect();
    locks::lock_runs(c, &paused_runs).await?;
    insert_events(c, events).await?;
    let created_runs = insert_runs(c, runs).await?;
    pauses::resolve(c, resolutions).await?;
    Ok(AcceptOutcome { created_runs })
}

/// Stores events; one whose id is stored already (by anyone) is kept as it was.
pub(crate) async fn insert_events(c: &mut PgConnection, events: &[NewEvent]) -> Result<()> {
    // In id order, so that two instances storing the same events cannot wait for each other; the sort is
    // stable, so of two events with one id the first given is kept, as in SQLite.
    let mut ordered: Vec<&NewEvent> = events.iter().collect();
    ordered.sort_by(|a, b| a.internal_id.cmp(&b.internal_id));
    for event in ordered {
        sqlx::query(
            "INSERT INTO events (internal_id, name, payload, received_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (internal_id) DO NOTHING",
        )
        .bind(&event.internal_id)
        .bind(&event.name)
        .bind(to_json(&event.payload)?)
        .bind(event.received_at)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

/// Inserts runs and their first discovery job; returns the ids of the runs created (duplicates skipped).
/// The unique constraints decide, so a run is created once however many instances accept it at once.
pub(crate) async fn insert_runs(c: &mut PgConnection, runs: &[NewRun]) -> Result<Vec<String>> {
    let mut created = Vec::new();
    for run in runs {
        let inserted = sqlx::query(
            "INSERT INTO runs (run_id, function_id, event_internal_id, idempotency_key, status, started_at)
             VALUES ($1, $2, $3, $4, 'Running', $5) ON CONFLICT DO NOTHING",
        )
        .bind(&run.run_id)
        .bind(&run.function_id)
        .bind(&run.event_internal_id)
        .bind(&run.idempotency_key)
        .bind(run.started_at)
        .execute(&mut *c)
        .await?
        .rows_affected();
        if inserted == 1 {
            insert_first_discovery(c, run).await?;
            created.push(run.run_id.clone());
        }
    }
    Ok(created)
}

/// A job as `insert_job` writes it.
pub(crate) struct NewJobRow<'a> {
    pub(crate) job_id: &'a str,
    pub(crate) run_id: &'a str,
    pub(crate) kind: &'a JobKind,
    pub(crate) attempt: u32,
    pub(crate) policy_json: &'a str,
    pub(crate) due_at: UnixMillis,
}

/// The discovery job a new run starts with (id `<run id>-0`), due when the run starts.
pub(crate) async fn insert_first_discovery(c: &mut PgConnection, run: &NewRun) -> Result<()> {
    insert_job(
        c,
        &NewJobRow {
            job_id: &format!("{}-0", run.run_id),
            run_id: &run.run_id,
            kind: &JobKind::Discovery,
            attempt: 0,
            policy_json: &to_json(&run.policy)?,
            due_at: run.started_at,
        },
    )
    .await
}

/// Enqueues a job unless the run already has a job of the same kind and step. A discovery requested while
/// the run's discovery job is in flight marks that job to run again when it is done: its request was built
/// from older state. A discovery is not enqueued while the run still has branches outstanding (planned
/// steps, waits, sleeps): the last branch to end enqueues it (Inngest's default parallel mode, "wait"),
/// and lifts the run's `disable_immediate` flag.
///
/// The caller holds the run's lock (`locks::lock_runs`), or created the run in this transaction: the
/// outstanding branches read here cannot change before the commit.
pub(crate) async fn insert_job(c: &mut PgConnection, job: &NewJobRow<'_>) -> Result<()> {
    if *job.kind == JobKind::Discovery {
        if has_outstanding_branches(c, job.run_id).await? {
            return Ok(());
        }
        // The parallel branches are over: steps may run at once again (Inngest lifts ForceStepPlan here).
        sqlx::query(
            "UPDATE runs SET disable_immediate = FALSE WHERE run_id = $1 AND disable_immediate",
        )
        .bind(job.run_id)
        .execute(&mut *c)
        .await?;
    }
    let (kind, step_id, step_name) = job_kind_columns(job.kind);
    // The upsert locks the existing job even when it changes nothing, so a claim cannot lease it (and
    // load the run's state) before this transaction's results are committed. A job id taken by another
    // job is skipped, as SQLite's second `ON CONFLICT DO NOTHING` does.
    sqlx::query(
        "INSERT INTO jobs (job_id, run_id, kind, step_id, step_name, attempt, policy, due_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8
         WHERE NOT EXISTS (
             SELECT 1 FROM jobs WHERE job_id = $1 AND (run_id, kind, step_id) IS DISTINCT FROM ($2, $3, $4)
         )
         ON CONFLICT (run_id, kind, step_id) DO UPDATE SET rerun = TRUE
             WHERE jobs.kind = 'discovery' AND jobs.leased_until IS NOT NULL",
    )
    .bind(job.job_id)
    .bind(job.run_id)
    .bind(kind)
    .bind(step_id)
    .bind(step_name)
    .bind(i64::from(job.attempt))
    .bind(job.policy_json)
    .bind(job.due_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn has_outstanding_branches(c: &mut PgConnection, run_id: &str) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE run_id = $1 AND kind IN ('step', 'timeout'))",
    )
    .bind(run_id)
    .fetch_one(&mut *c)
    .await?)
}

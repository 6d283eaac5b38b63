//! Writes for app syncs and event intake.

use durin_core::{JobKind, UnixMillis};
use durin_store::{AcceptOutcome, AppSync, NewEvent, NewRun, Result};
use rusqlite::{Connection, OptionalExtension, params};

use crate::codec::{job_kind_columns, to_json, unavailable};

pub(crate) fn save_app_sync(c: &Connection, sync: &AppSync) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO apps (url, name, sdk, framework, synced_at, error) VALUES (?1, ?2, ?3, ?4, ?5, NULL)
         ON CONFLICT (url) DO UPDATE SET name = excluded.name, sdk = excluded.sdk,
             framework = excluded.framework, synced_at = excluded.synced_at, error = NULL",
    )
    .map_err(unavailable)?
    .execute(params![sync.url, sync.name, sync.sdk, sync.framework, sync.synced_at])
    .map_err(unavailable)?;
    // An app renamed or moved keeps one row per URL; functions are keyed by their composite id.
    c.prepare_cached("UPDATE functions SET archived = 1, updated_at = ?2 WHERE app_url = ?1")
        .map_err(unavailable)?
        .execute(params![sync.url, sync.synced_at])
        .map_err(unavailable)?;
    let mut upsert = c
        .prepare_cached(
            "INSERT INTO functions (id, app_url, config, archived, updated_at) VALUES (?1, ?2, ?3, 0, ?4)
             ON CONFLICT (id) DO UPDATE SET app_url = excluded.app_url, config = excluded.config,
                 archived = 0, updated_at = excluded.updated_at",
        )
        .map_err(unavailable)?;
    for function in &sync.functions {
        upsert
            .execute(params![
                function.id,
                sync.url,
                to_json(function)?,
                sync.synced_at
            ])
            .map_err(unavailable)?;
    }
    Ok(())
}

pub(crate) fn save_app_error(
    c: &Connection,
    url: &str,
    error: &str,
    _at: UnixMillis,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO apps (url, name, error) VALUES (?1, ?1, ?2)
         ON CONFLICT (url) DO UPDATE SET error = excluded.error",
    )
    .map_err(unavailable)?
    .execute(params![url, error])
    .map_err(unavailable)?;
    Ok(())
}

pub(crate) fn accept_events(
    c: &Connection,
    events: &[NewEvent],
    runs: &[NewRun],
) -> Result<AcceptOutcome> {
    insert_events(c, events)?;
    let created_runs = insert_runs(c, runs)?;
    Ok(AcceptOutcome { created_runs })
}

pub(crate) fn insert_events(c: &Connection, events: &[NewEvent]) -> Result<()> {
    let mut insert = c
        .prepare_cached(
            "INSERT INTO events (internal_id, name, payload, received_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (internal_id) DO NOTHING",
        )
        .map_err(unavailable)?;
    for event in events {
        insert
            .execute(params![
                event.internal_id,
                event.name,
                to_json(&event.payload)?,
                event.received_at
            ])
            .map_err(unavailable)?;
    }
    Ok(())
}

/// Inserts runs and their first discovery job; returns the ids of the runs created (duplicates skipped).
pub(crate) fn insert_runs(c: &Connection, runs: &[NewRun]) -> Result<Vec<String>> {
    let mut insert_run = c
        .prepare_cached(
            "INSERT INTO runs (run_id, function_id, event_internal_id, idempotency_key, status, started_at)
             VALUES (?1, ?2, ?3, ?4, 'Running', ?5) ON CONFLICT DO NOTHING",
        )
        .map_err(unavailable)?;
    let mut created = Vec::new();
    for run in runs {
        let inserted = insert_run
            .execute(params![
                run.run_id,
                run.function_id,
                run.event_internal_id,
                run.idempotency_key,
                run.started_at
            ])
            .map_err(unavailable)?;
        if inserted == 1 {
            insert_job(
                c,
                &format!("{}-0", run.run_id),
                &run.run_id,
                &JobKind::Discovery,
                0,
                &to_json(&run.policy)?,
                run.started_at,
            )?;
            created.push(run.run_id.clone());
        }
    }
    Ok(created)
}

/// Enqueues a job unless the run already has a job of the same kind and step. A discovery requested while
/// the run's discovery job is in flight marks that job to run again when it is done: its request was built
/// from older state. A discovery is not enqueued while the run still has branches outstanding (planned
/// steps, waits, sleeps): the last branch to end enqueues it (Inngest's default parallel mode, "wait"),
/// and lifts the run's `disable_immediate` flag.
pub(crate) fn insert_job(
    c: &Connection,
    job_id: &str,
    run_id: &str,
    kind: &JobKind,
    attempt: u32,
    policy_json: &str,
    due_at: UnixMillis,
) -> Result<()> {
    if *kind == JobKind::Discovery {
        if has_outstanding_branches(c, run_id)? {
            return Ok(());
        }
        // The parallel branches are over: steps may run at once again (Inngest lifts ForceStepPlan here).
        c.prepare_cached(
            "UPDATE runs SET disable_immediate = 0 WHERE run_id = ?1 AND disable_immediate <> 0",
        )
        .map_err(unavailable)?
        .execute(params![run_id])
        .map_err(unavailable)?;
    }
    let (kind, step_id, step_name) = job_kind_columns(kind);
    c.prepare_cached(
        "INSERT INTO jobs (job_id, run_id, kind, step_id, step_name, attempt, policy, due_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (run_id, kind, step_id) DO UPDATE SET rerun = 1
             WHERE jobs.kind = 'discovery' AND jobs.leased_until IS NOT NULL
         ON CONFLICT DO NOTHING",
    )
    .map_err(unavailable)?
    .execute(params![
        job_id,
        run_id,
        kind,
        step_id,
        step_name,
        attempt,
        policy_json,
        due_at
    ])
    .map_err(unavailable)?;
    Ok(())
}

fn has_outstanding_branches(c: &Connection, run_id: &str) -> Result<bool> {
    c.prepare_cached("SELECT 1 FROM jobs WHERE run_id = ?1 AND kind IN ('step', 'timeout') LIMIT 1")
        .map_err(unavailable)?
        .query_row(params![run_id], |_| Ok(()))
        .optional()
        .map_err(unavailable)
        .map(|found| found.is_some())
}

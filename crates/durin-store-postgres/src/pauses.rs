//! Pauses: steps waiting for an event (`waitForEvent`, `invoke`), each with a timeout job of the same id.

use durin_core::JobKind;
use durin_store::{NewPause, PauseKind, PauseRecord, PauseResolution};
use serde_json::Value;
use sqlx::PgConnection;

use crate::codec::{from_json, get, policy_from_json, to_json};
use crate::error::{Result, corrupt};
use crate::intake::{NewJobRow, insert_job};

/// Stores a pause and its timeout job. The caller holds the run's lock.
pub(crate) async fn insert(c: &mut PgConnection, pause: &NewPause) -> Result<()> {
    let policy = to_json(&pause.policy)?;
    sqlx::query(
        "INSERT INTO pauses (pause_id, run_id, step_id, step_name, kind, event_name, expression, timeout_memo,
                             policy, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
    )
    .bind(&pause.pause_id)
    .bind(&pause.run_id)
    .bind(&pause.step_id)
    .bind(&pause.step_name)
    .bind(pause.kind.as_str())
    .bind(&pause.event_name)
    .bind(&pause.expression)
    .bind(to_json(&pause.timeout_memo)?)
    .bind(&policy)
    .bind(pause.expires_at)
    .execute(&mut *c)
    .await?;
    let timeout = JobKind::Timeout {
        step_id: pause.step_id.clone(),
        name: pause.step_name.clone(),
    };
    insert_job(
        c,
        &NewJobRow {
            job_id: &pause.pause_id,
            run_id: &pause.run_id,
            kind: &timeout,
            attempt: 0,
            policy_json: &policy,
            due_at: pause.expires_at,
        },
    )
    .await
}

/// Applies each resolution whose pause is still pending and whose run is still live (running, or paused:
/// a paused run's other branches go on). The caller holds the locks of the pauses' runs, so an event and a
/// timeout resolving one pause at once take turns and the second finds the pause gone.
pub(crate) async fn resolve(c: &mut PgConnection, resolutions: &[PauseResolution]) -> Result<()> {
    for resolution in resolutions {
        let pending: Option<(String, String, String, String)> = sqlx::query_as(
            "SELECT p.run_id, p.step_id, p.step_name, p.timeout_memo FROM pauses p
             JOIN runs r ON r.run_id = p.run_id AND r.status IN ('Running', 'Paused')
             WHERE p.pause_id = $1",
        )
        .bind(&resolution.pause_id)
        .fetch_optional(&mut *c)
        .await?;
        let Some((run_id, step_id, step_name, timeout_memo)) = pending else {
            continue;
        };
        let memo = match &resolution.memo {
            Some(memo) => memo.clone(),
            None => from_json::<Value>(&timeout_memo)?,
        };
        sqlx::query("DELETE FROM pauses WHERE pause_id = $1")
            .bind(&resolution.pause_id)
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM jobs WHERE job_id = $1")
            .bind(&resolution.pause_id)
            .execute(&mut *c)
            .await?;
        sqlx::query(
            "INSERT INTO steps (run_id, step_id, name, position, memo)
             VALUES ($1, $2, $3, (SELECT coalesce(max(position) + 1, 0) FROM steps WHERE run_id = $1), $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(&run_id)
        .bind(&step_id)
        .bind(&step_name)
        .bind(to_json(&memo)?)
        .execute(&mut *c)
        .await?;
        let job = &resolution.discovery;
        insert_job(
            c,
            &NewJobRow {
                job_id: &job.job_id,
                run_id: &run_id,
                kind: &job.kind,
                attempt: 0,
                policy_json: &to_json(&job.policy)?,
                due_at: job.due_at,
            },
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn delete_for_run(c: &mut PgConnection, run_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM pauses WHERE run_id = $1")
        .bind(run_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Pending pauses (of live runs: running or paused) for the event names, name by name in the order given,
/// each name's pauses by id.
pub(crate) async fn pending(
    c: &mut PgConnection,
    event_names: &[String],
) -> Result<Vec<PauseRecord>> {
    let rows = sqlx::query(
        "SELECT p.pause_id, p.run_id, p.step_id, p.step_name, p.kind, p.event_name, p.expression, p.policy,
                p.expires_at, e.payload
         FROM unnest($1::text[]) WITH ORDINALITY AS wanted(name, position)
         JOIN pauses p ON p.event_name = wanted.name
         JOIN runs r ON r.run_id = p.run_id
         JOIN events e ON e.internal_id = r.event_internal_id
         WHERE r.status IN ('Running', 'Paused')
         ORDER BY wanted.position, p.pause_id",
    )
    .bind(event_names)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = get(row, 4)?;
            let policy: String = get(row, 7)?;
            let payload: String = get(row, 9)?;
            Ok(PauseRecord {
                pause_id: get(row, 0)?,
                run_id: get(row, 1)?,
                step_id: get(row, 2)?,
                step_name: get(row, 3)?,
                kind: match kind.as_str() {
                    "wait_for_event" => PauseKind::WaitForEvent,
                    "invoke" => PauseKind::Invoke,
                    "sleep" => PauseKind::Sleep,
                    other => return Err(corrupt(format!("unknown pause kind {other:?}"))),
                },
                event_name: get(row, 5)?,
                expression: get(row, 6)?,
                policy: policy_from_json(&policy)?,
                expires_at: get(row, 8)?,
                trigger_event: from_json(&payload)?,
            })
        })
        .collect()
}

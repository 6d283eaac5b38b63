//! Pauses: steps waiting for an event (`waitForEvent`, `invoke`), each with a timeout job of the same id.

use durin_core::JobKind;
use durin_store::{NewPause, PauseKind, PauseRecord, PauseResolution, Result};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::codec::{corrupt, from_json, policy_from_json, to_json, unavailable};
use crate::intake::insert_job;

pub(crate) fn insert(c: &Connection, pause: &NewPause) -> Result<()> {
    let policy = to_json(&pause.policy)?;
    c.prepare_cached(
        "INSERT INTO pauses (pause_id, run_id, step_id, step_name, kind, event_name, expression, timeout_memo,
                             policy, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
    )
    .map_err(unavailable)?
    .execute(params![
        pause.pause_id,
        pause.run_id,
        pause.step_id,
        pause.step_name,
        pause.kind.as_str(),
        pause.event_name,
        pause.expression,
        to_json(&pause.timeout_memo)?,
        policy,
        pause.expires_at
    ])
    .map_err(unavailable)?;
    let timeout = JobKind::Timeout {
        step_id: pause.step_id.clone(),
        name: pause.step_name.clone(),
    };
    insert_job(
        c,
        &pause.pause_id,
        &pause.run_id,
        &timeout,
        0,
        &policy,
        pause.expires_at,
    )
}

// In a join, `column = ?1` lets SQLite's constant propagation depend on the bound value, so the statement
// would be compiled again on every execution; `CAST(?1 AS TEXT)` keeps one plan (the same index is used).
const RESOLVE_SQL: &str = "SELECT p.run_id, p.step_id, p.step_name, p.timeout_memo FROM pauses p
     JOIN runs r ON r.run_id = p.run_id AND r.status IN ('Running', 'Paused')
     WHERE p.pause_id = CAST(?1 AS TEXT)";

const PENDING_SQL: &str = "SELECT p.pause_id, p.run_id, p.step_id, p.step_name, p.kind, p.event_name, p.expression,
        p.policy, p.expires_at, e.payload
     FROM pauses p JOIN runs r ON r.run_id = p.run_id JOIN events e ON e.internal_id = r.event_internal_id
     WHERE p.event_name = CAST(?1 AS TEXT) AND r.status IN ('Running', 'Paused')
     ORDER BY p.pause_id";

/// Applies each resolution whose pause is still pending and whose run is still running.
pub(crate) fn resolve(c: &Connection, resolutions: &[PauseResolution]) -> Result<()> {
    for resolution in resolutions {
        let pending: Option<(String, String, String, String)> = c
            .prepare_cached(RESOLVE_SQL)
            .map_err(unavailable)?
            .query_row(params![resolution.pause_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .optional()
            .map_err(unavailable)?;
        let Some((run_id, step_id, step_name, timeout_memo)) = pending else {
            continue;
        };
        let memo = match &resolution.memo {
            Some(memo) => memo.clone(),
            None => from_json::<Value>(&timeout_memo)?,
        };
        c.prepare_cached("DELETE FROM pauses WHERE pause_id = ?1")
            .map_err(unavailable)?
            .execute(params![resolution.pause_id])
            .map_err(unavailable)?;
        c.prepare_cached("DELETE FROM jobs WHERE job_id = ?1")
            .map_err(unavailable)?
            .execute(params![resolution.pause_id])
            .map_err(unavailable)?;
        c.prepare_cached(
            "INSERT INTO steps (run_id, step_id, name, position, memo)
             VALUES (?1, ?2, ?3, (SELECT coalesce(max(position) + 1, 0) FROM steps WHERE run_id = ?1), ?4)
             ON CONFLICT DO NOTHING",
        )
        .map_err(unavailable)?
        .execute(params![run_id, step_id, step_name, to_json(&memo)?])
        .map_err(unavailable)?;
        let job = &resolution.discovery;
        insert_job(
            c,
            &job.job_id,
            &run_id,
            &job.kind,
            0,
            &to_json(&job.policy)?,
            job.due_at,
        )?;
    }
    Ok(())
}

pub(crate) fn delete_for_run(c: &Connection, run_id: &str) -> Result<()> {
    c.prepare_cached("DELETE FROM pauses WHERE run_id = ?1")
        .map_err(unavailable)?
        .execute(params![run_id])
        .map_err(unavailable)?;
    Ok(())
}

pub(crate) fn pending(c: &Connection, event_names: &[String]) -> Result<Vec<PauseRecord>> {
    let mut statement = c.prepare_cached(PENDING_SQL).map_err(unavailable)?;
    let mut pauses = Vec::new();
    for name in event_names {
        let mut rows = statement.query(params![name]).map_err(unavailable)?;
        while let Some(row) = rows.next().map_err(unavailable)? {
            let kind: String = row.get(4).map_err(unavailable)?;
            let policy: String = row.get(7).map_err(unavailable)?;
            let payload: String = row.get(9).map_err(unavailable)?;
            pauses.push(PauseRecord {
                pause_id: row.get(0).map_err(unavailable)?,
                run_id: row.get(1).map_err(unavailable)?,
                step_id: row.get(2).map_err(unavailable)?,
                step_name: row.get(3).map_err(unavailable)?,
                kind: match kind.as_str() {
                    "wait_for_event" => PauseKind::WaitForEvent,
                    "invoke" => PauseKind::Invoke,
                    "sleep" => PauseKind::Sleep,
                    other => return Err(corrupt(format!("unknown pause kind {other:?}"))),
                },
                event_name: row.get(5).map_err(unavailable)?,
                expression: row.get(6).map_err(unavailable)?,
                policy: policy_from_json(&policy)?,
                expires_at: row.get(8).map_err(unavailable)?,
                trigger_event: from_json(&payload)?,
            });
        }
    }
    Ok(pauses)
}

#[cfg(test)]
mod tests {
    use durin_store::StoreError;
    use rusqlite::StatementStatus;

    use super::*;

    #[test]
    fn the_pause_lookups_keep_their_compiled_plan_across_values() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let c = crate::connection::open_writer(&dir.path().join("store.db"))?;
        let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        pending(&c, &names)?;
        pending(&c, &names)?;
        let compiled_again = |sql: &str| -> Result<i32> {
            let statement = c.prepare_cached(sql).map_err(unavailable)?;
            Ok(statement.get_status(StatementStatus::RePrepare))
        };
        assert_eq!(compiled_again(PENDING_SQL)?, 0);
        for pause_id in ["p1", "p2", "p3"] {
            c.prepare_cached(RESOLVE_SQL)
                .map_err(unavailable)?
                .query_row(params![pause_id], |_| Ok(()))
                .optional()
                .map_err(unavailable)?;
        }
        assert_eq!(compiled_again(RESOLVE_SQL)?, 0);
        Ok(())
    }
}

//! Run locks. SQLite has one writer; here several instances write at once, and some decisions read a run's
//! jobs before writing them: "enqueue the discovery only when no branch is outstanding", "append after the
//! last step position", "resolve the pause if still pending". Every write that changes a run's jobs, steps
//! or pauses therefore locks the run's row first (`FOR UPDATE`), so such writes of one run take turns. Locks
//! are taken in one statement, in run id order, so that two writers cannot wait for each other.

use std::collections::BTreeMap;

use sqlx::PgConnection;

use crate::codec::get;
use crate::error::Result;

/// Locks the rows of `run_ids` (those that exist) until the transaction ends; returns their statuses.
pub(crate) async fn lock_runs(
    c: &mut PgConnection,
    run_ids: &[&str],
) -> Result<BTreeMap<String, String>> {
    if run_ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut ids: Vec<&str> = run_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let rows = sqlx::query(
        "SELECT run_id, status FROM runs WHERE run_id = ANY($1) ORDER BY run_id FOR UPDATE",
    )
    .bind(&ids)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|row| Ok((get(row, 0)?, get(row, 1)?)))
        .collect()
}

/// The runs the given pauses belong to (a pause never changes run, so this needs no lock).
pub(crate) async fn runs_of_pauses(
    c: &mut PgConnection,
    pause_ids: &[&str],
) -> Result<Vec<String>> {
    if pause_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query("SELECT DISTINCT run_id FROM pauses WHERE pause_id = ANY($1)")
        .bind(pause_ids)
        .fetch_all(&mut *c)
        .await?;
    rows.iter().map(|row| get(row, 0)).collect()
}

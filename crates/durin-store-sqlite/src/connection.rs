//! Opening connections and applying the embedded migrations.

use std::path::Path;
use std::time::Duration;

use durin_store::{Result, StoreError};
use rusqlite::{Connection, OpenFlags};

use crate::codec::unavailable;

/// Migrations in order; `PRAGMA user_version` records how many have been applied. Append only.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_pauses.sql"),
    include_str!("../migrations/0003_job_rerun.sql"),
    include_str!("../migrations/0004_rerun.sql"),
    include_str!("../migrations/0005_steps_order.sql"),
    include_str!("../migrations/0006_retry_policies.sql"),
    include_str!("../migrations/0007_retry_policy_document.sql"),
];

pub(crate) fn open_writer(path: &Path) -> Result<Connection> {
    let connection = Connection::open(path).map_err(unavailable)?;
    configure(&connection)?;
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(unavailable)?;
    migrate(&connection)?;
    Ok(connection)
}

pub(crate) fn open_reader(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let connection = Connection::open_with_flags(path, flags).map_err(unavailable)?;
    configure(&connection)?;
    Ok(connection)
}

fn configure(connection: &Connection) -> Result<()> {
    connection
        .busy_timeout(Duration::from_secs(5))
        .map_err(unavailable)?;
    // FULL: a commit is on disk before the caller hears of it (an acknowledged event survives power loss).
    connection
        .pragma_update(None, "synchronous", "FULL")
        .map_err(unavailable)?;
    connection
        .pragma_update(None, "foreign_keys", "ON")
        .map_err(unavailable)?;
    connection.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn migrate(connection: &Connection) -> Result<()> {
    let applied: i64 = connection
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(unavailable)?;
    let applied = usize::try_from(applied)
        .map_err(|_| StoreError::Corrupt("negative user_version".into()))?;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "the database has schema version {applied}, newer than this build knows ({})",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = index + 1;
        connection
            .execute_batch(&format!(
                "BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {version}; COMMIT;"
            ))
            .map_err(unavailable)?;
        tracing::info!(version, "applied store migration");
    }
    Ok(())
}

//! Connecting to PostgreSQL and applying the embedded migrations.

use std::str::FromStr;

use durin_store::StoreError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::PostgresOptions;
use crate::error::{Result, corrupt};

/// Migrations in order; the table `durin_schema_migrations` records which have been applied. Append only.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_wakeups.sql"),
    include_str!("../migrations/0003_retry_policies.sql"),
    include_str!("../migrations/0004_retry_policy_document.sql"),
];

/// The advisory lock held while migrating, so that instances starting together migrate one at a time and
/// the later ones find the schema done. Any fixed number: it only has to be Durin's own ("durin" + 1).
const MIGRATION_LOCK: i64 = 0x0064_7572_696e_0001;

/// The connection settings of `options.url`; an error names what is wrong with the URL.
pub(crate) fn connect_options(options: &PostgresOptions) -> Result<PgConnectOptions> {
    Ok(PgConnectOptions::from_str(&options.url)?.application_name("durin"))
}

/// The pool, connected (one connection at least) and migrated.
pub(crate) async fn connect(options: &PostgresOptions) -> Result<PgPool> {
    let connect = connect_options(options)?;
    // One connection first, on its own: the pool would only report that it timed out, this says why
    // (refused, authentication, no such database).
    match tokio::time::timeout(
        options.acquire_timeout,
        PgConnection::connect_with(&connect),
    )
    .await
    {
        Ok(first) => first?.close().await?,
        Err(_) => {
            return Err(StoreError::Unavailable(format!(
                "no connection within {:?}",
                options.acquire_timeout
            ))
            .into());
        }
    }
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect)
        .await?;
    migrate(&pool).await?;
    Ok(pool)
}

/// Applies the pending migrations in one transaction, under the migration lock.
async fn migrate(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await?;
    // Transaction-scoped: released by the commit (or the rollback), never left behind.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS durin_schema_migrations (
             version    BIGINT PRIMARY KEY,
             applied_at BIGINT NOT NULL
         )",
    )
    .execute(&mut *tx)
    .await?;
    let applied: i64 =
        sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM durin_schema_migrations")
            .fetch_one(&mut *tx)
            .await?;
    let applied = usize::try_from(applied)
        .map_err(|_| corrupt(format!("negative schema version {applied}")))?;
    if applied > MIGRATIONS.len() {
        return Err(corrupt(format!(
            "the database has schema version {applied}, newer than this build knows ({})",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = i64::try_from(index + 1).unwrap_or(i64::MAX);
        sqlx::raw_sql(*sql).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO durin_schema_migrations (version, applied_at)
             VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
        )
        .bind(version)
        .execute(&mut *tx)
        .await?;
        tracing::info!(version, "applied store migration");
    }
    tx.commit().await?;
    Ok(())
}

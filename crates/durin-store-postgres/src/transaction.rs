//! Running one store method as one transaction.
//!
//! Writes run at READ COMMITTED and lock the rows of the runs they change first (see `locks`), so that
//! each statement after the lock sees what concurrent writers of those runs committed. A write PostgreSQL
//! aborts to break a deadlock is run again from the start: it applied nothing. Reads that take several
//! statements run in one REPEATABLE READ snapshot.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use durin_store::StoreError;
use sqlx::{PgConnection, PgPool};

use crate::error::{Error, Result};

/// The future of one unit of work on a connection (boxed: the closures below return one per call).
pub(crate) type Work<'c, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'c>>;

/// Tries of a write aborted by a concurrent transaction before giving up.
const MAX_TRIES: u32 = 8;
/// Pause before trying again, times the number of tries so far.
const RETRY_PAUSE: Duration = Duration::from_millis(2);

#[derive(Clone)]
pub(crate) struct Db {
    pool: PgPool,
}

impl Db {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Runs `work` on `input` in one read-write transaction and commits it.
    pub(crate) async fn write<I, T>(
        &self,
        input: &I,
        work: impl for<'c> Fn(&'c mut PgConnection, &'c I) -> Work<'c, T>,
    ) -> Result<T, StoreError>
    where
        I: Sync + ?Sized,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.write_once(input, &work).await {
                Err(Error::Conflict { code, message }) if tries < MAX_TRIES => {
                    tracing::debug!(%code, %message, tries, "store transaction aborted; trying again");
                    tokio::time::sleep(RETRY_PAUSE * tries).await;
                }
                result => return result.map_err(StoreError::from),
            }
        }
    }

    async fn write_once<I, T>(
        &self,
        input: &I,
        work: &impl for<'c> Fn(&'c mut PgConnection, &'c I) -> Work<'c, T>,
    ) -> Result<T>
    where
        I: Sync + ?Sized,
    {
        let mut tx = self.pool.begin().await?;
        // On an error the transaction is dropped, which rolls it back.
        let value = work(&mut tx, input).await?;
        tx.commit().await?;
        Ok(value)
    }

    /// Runs `work` (several statements) in one read-only snapshot: it sees no commit that lands meanwhile.
    pub(crate) async fn snapshot<I, T>(
        &self,
        input: &I,
        work: impl for<'c> Fn(&'c mut PgConnection, &'c I) -> Work<'c, T>,
    ) -> Result<T, StoreError>
    where
        I: Sync + ?Sized,
    {
        let read = async {
            let mut tx = self
                .pool
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .await?;
            let value = work(&mut tx, input).await?;
            tx.commit().await?;
            Ok::<T, Error>(value)
        };
        read.await.map_err(StoreError::from)
    }

    /// Runs `work` (one statement, which is its own transaction) on a pooled connection.
    pub(crate) async fn read<I, T>(
        &self,
        input: &I,
        work: impl for<'c> Fn(&'c mut PgConnection, &'c I) -> Work<'c, T>,
    ) -> Result<T, StoreError>
    where
        I: Sync + ?Sized,
    {
        let read = async {
            let mut connection = self.pool.acquire().await?;
            let value = work(&mut connection, input).await?;
            Ok::<T, Error>(value)
        };
        read.await.map_err(StoreError::from)
    }
}

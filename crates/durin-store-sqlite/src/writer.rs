//! The writer thread: group commit of every queued write in one transaction.

use std::sync::mpsc;
use std::thread;

use durin_store::{Result, StoreError};
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::codec::unavailable;

/// Called with the commit's result once the batch holding the write is committed (or not).
type Completion = Box<dyn FnOnce(Result<()>) + Send>;
/// Given no connection, the job does not run and reports the batch's error.
type WriteJob = Box<dyn FnOnce(Option<&Connection>) -> Completion + Send>;

/// Most writes a single transaction takes; bounds the latency a write can add to its neighbours.
const MAX_BATCH: usize = 512;

#[derive(Clone)]
pub(crate) struct Writer {
    sender: mpsc::Sender<WriteJob>,
}

impl Writer {
    pub(crate) fn start(connection: Connection) -> Result<Self> {
        let (sender, receiver) = mpsc::channel::<WriteJob>();
        thread::Builder::new()
            .name("durin-sqlite-writer".into())
            .spawn(move || run(connection, receiver))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer thread: {e}")))?;
        Ok(Self { sender })
    }

    /// Runs `write` inside the next group transaction; resolves once that transaction is durable.
    pub(crate) async fn write<R, F>(&self, write: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: WriteJob = Box::new(move |connection| {
            let result = match connection {
                Some(connection) => in_savepoint(connection, write),
                None => Err(StoreError::Unavailable("not run".into())),
            };
            Box::new(move |commit: Result<()>| {
                let _ = reply.send(commit.and(result));
            })
        });
        self.sender
            .send(job)
            .map_err(|_| StoreError::Unavailable("the writer thread has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the writer thread has stopped".into()))?
    }
}

fn in_savepoint<R>(
    connection: &Connection,
    write: impl FnOnce(&Connection) -> Result<R>,
) -> Result<R> {
    // Cached: every write runs these two, so they are compiled once rather than parsed each time.
    let run = |sql: &str| {
        connection
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute([]))
            .map_err(unavailable)
    };
    run("SAVEPOINT write")?;
    match write(connection) {
        Ok(value) => {
            run("RELEASE write")?;
            Ok(value)
        }
        Err(error) => {
            connection
                .execute_batch("ROLLBACK TO write; RELEASE write")
                .map_err(unavailable)?;
            Err(error)
        }
    }
}

fn run(connection: Connection, receiver: mpsc::Receiver<WriteJob>) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let commit = commit_batch(&connection, batch);
        if let Err(error) = commit {
            tracing::error!(%error, "group commit failed");
        }
    }
}

fn commit_batch(connection: &Connection, batch: Vec<WriteJob>) -> Result<()> {
    if let Err(error) = connection.execute_batch("BEGIN IMMEDIATE") {
        let error = unavailable(error);
        for job in batch {
            job(None)(Err(error.clone()));
        }
        return Err(error);
    }
    // SQLite may roll a whole transaction back by itself (disk full, I/O error). Once that happened, the
    // rest of the batch must not run in autocommit mode, and nothing of the batch may count as committed.
    let mut rolled_back = false;
    let completions: Vec<Completion> = batch
        .into_iter()
        .map(|job| {
            rolled_back = rolled_back || connection.is_autocommit();
            job((!rolled_back).then_some(connection))
        })
        .collect();
    let commit = if rolled_back || connection.is_autocommit() {
        Err(StoreError::Unavailable(
            "the database rolled the transaction back (is the disk full?)".into(),
        ))
    } else {
        connection.execute_batch("COMMIT").map_err(unavailable)
    };
    if commit.is_err() {
        let _ = connection.execute_batch("ROLLBACK");
    }
    for completion in completions {
        completion(commit.clone());
    }
    commit
}

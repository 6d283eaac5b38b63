//! `SqliteStore`: the `Store` trait on the writer thread and the reader pool.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use durin_core::{FunctionConfig, UnixMillis};
use durin_store::*;
use rusqlite::Connection;

use crate::codec::unavailable;
use crate::connection::{open_reader, open_writer};
use crate::writer::Writer;
use crate::{actions, intake, pauses, policies, queue, reads};

/// Idle read connections kept for reuse: enough for every concurrent read of a busy engine, so reads do not
/// open (and configure) a fresh connection each time.
const MAX_IDLE_READERS: usize = 64;

#[derive(Clone)]
pub struct SqliteStore {
    writer: Writer,
    readers: Arc<ReaderPool>,
}

struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self> {
        let writer = Writer::start(open_writer(path)?)?;
        Ok(Self {
            writer,
            readers: Arc::new(ReaderPool {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    async fn read<R, F>(&self, read: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let pool = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || {
            let connection = match pool.idle.lock().ok().and_then(|mut idle| idle.pop()) {
                Some(connection) => connection,
                None => open_reader(&pool.path)?,
            };
            let result = in_snapshot(&connection, read);
            // A connection still inside a transaction would serve a stale snapshot: never reuse it.
            if connection.is_autocommit()
                && let Ok(mut idle) = pool.idle.lock()
                && idle.len() < MAX_IDLE_READERS
            {
                idle.push(connection);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("read task failed: {e}")))?
    }
}

/// Runs `read` in one read transaction, so that all its statements see the same snapshot (one store
/// method is one transaction): without it, a commit landing between two statements of, say,
/// `load_run_state` showed a run with a memo but without the request version saved with it.
fn in_snapshot<R>(
    connection: &Connection,
    read: impl FnOnce(&Connection) -> Result<R>,
) -> Result<R> {
    let snapshot = connection.unchecked_transaction().map_err(unavailable)?;
    let value = read(&snapshot)?;
    snapshot.commit().map_err(unavailable)?;
    Ok(value)
}

#[async_trait]
impl Store for SqliteStore {
    async fn save_app_sync(&self, sync: AppSync) -> Result<()> {
        self.writer
            .write(move |c| intake::save_app_sync(c, &sync))
            .await
    }

    async fn save_app_error(&self, url: &str, error: &str, at: UnixMillis) -> Result<()> {
        let (url, error) = (url.to_owned(), error.to_owned());
        self.writer
            .write(move |c| intake::save_app_error(c, &url, &error, at))
            .await
    }

    async fn list_apps(&self) -> Result<Vec<AppRecord>> {
        self.read(reads::list_apps).await
    }

    async fn list_functions(&self) -> Result<Vec<FunctionConfig>> {
        self.read(reads::list_functions).await
    }

    async fn retry_policies(&self) -> Result<Option<(serde_json::Value, UnixMillis)>> {
        self.read(policies::load).await
    }

    async fn save_retry_policies(&self, document: serde_json::Value, at: UnixMillis) -> Result<()> {
        self.writer
            .write(move |c| policies::save(c, &document, at))
            .await
    }

    async fn accept_events_resolving(
        &self,
        events: Vec<NewEvent>,
        runs: Vec<NewRun>,
        resolutions: Vec<PauseResolution>,
    ) -> Result<AcceptOutcome> {
        self.writer
            .write(move |c| {
                let outcome = intake::accept_events(c, &events, &runs)?;
                pauses::resolve(c, &resolutions)?;
                Ok(outcome)
            })
            .await
    }

    async fn pending_pauses(&self, event_names: &[String]) -> Result<Vec<PauseRecord>> {
        let names = event_names.to_vec();
        self.read(move |c| pauses::pending(c, &names)).await
    }

    async fn claim_due_jobs(
        &self,
        now: UnixMillis,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<ClaimedJob>> {
        self.writer
            .write(move |c| queue::claim_due_jobs(c, now, limit, lease_ms))
            .await
    }

    async fn next_wake_at(&self) -> Result<Option<UnixMillis>> {
        self.read(reads::next_wake_at).await
    }

    async fn expire_all_leases(&self) -> Result<u64> {
        self.writer.write(queue::expire_all_leases).await
    }

    async fn load_run_state(&self, run_id: &str) -> Result<RunState> {
        let run_id = run_id.to_owned();
        self.read(move |c| reads::load_run_state(c, &run_id)).await
    }

    async fn finish_attempt(&self, finish: AttemptFinish) -> Result<()> {
        self.writer
            .write(move |c| queue::finish_attempt(c, &finish))
            .await
    }

    async fn cancel_run(
        &self,
        run_id: &str,
        ended_at: UnixMillis,
        emit_events: Vec<NewEvent>,
        start_runs: Vec<NewRun>,
    ) -> Result<Option<RunRecord>> {
        let run_id = run_id.to_owned();
        self.writer
            .write(move |c| actions::cancel_run(c, &run_id, ended_at, &emit_events, &start_runs))
            .await
    }

    async fn fail_paused_run(
        &self,
        run_id: &str,
        end: RunFinal,
        emit_events: Vec<NewEvent>,
        start_runs: Vec<NewRun>,
    ) -> Result<Option<RunRecord>> {
        let run_id = run_id.to_owned();
        self.writer
            .write(move |c| actions::fail_paused_run(c, &run_id, &end, &emit_events, &start_runs))
            .await
    }

    async fn resume_run(&self, run_id: &str, now: UnixMillis) -> Result<Option<RunRecord>> {
        let run_id = run_id.to_owned();
        self.writer
            .write(move |c| actions::resume_run(c, &run_id, now))
            .await
    }

    async fn start_rerun(
        &self,
        run: NewRun,
        original_run_id: &str,
        memos: Vec<StepMemo>,
    ) -> Result<()> {
        let original = original_run_id.to_owned();
        self.writer
            .write(move |c| actions::start_rerun(c, &run, &original, &memos))
            .await
    }

    async fn retry_now(&self, run_id: &str, now: UnixMillis) -> Result<u64> {
        let run_id = run_id.to_owned();
        self.writer
            .write(move |c| actions::retry_now(c, &run_id, now))
            .await
    }

    async fn count_jobs(&self, now: UnixMillis) -> Result<JobCounts> {
        self.read(move |c| reads::count_jobs(c, now)).await
    }

    async fn steps_for_run(&self, run_id: &str) -> Result<Vec<StepRecord>> {
        let id = run_id.to_owned();
        self.read(move |c| reads::steps_for_run(c, &id)).await
    }

    async fn get_event(&self, internal_id: &str) -> Result<Option<EventRecord>> {
        let id = internal_id.to_owned();
        self.read(move |c| reads::get_event(c, &id)).await
    }

    async fn list_events(&self, query: EventQuery) -> Result<Vec<EventRecord>> {
        self.read(move |c| reads::list_events(c, &query)).await
    }

    async fn runs_for_event(&self, internal_id: &str) -> Result<Vec<RunRecord>> {
        let id = internal_id.to_owned();
        self.read(move |c| reads::runs_for_event(c, &id)).await
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<RunRecord>> {
        let id = run_id.to_owned();
        self.read(move |c| reads::get_run(c, &id)).await
    }

    async fn list_runs(&self, query: RunQuery) -> Result<Vec<RunRecord>> {
        self.read(move |c| reads::list_runs(c, &query)).await
    }

    async fn attempts_for_run(&self, run_id: &str) -> Result<Vec<AttemptRecord>> {
        let id = run_id.to_owned();
        self.read(move |c| reads::attempts_for_run(c, &id)).await
    }

    async fn jobs_for_run(&self, run_id: &str) -> Result<Vec<JobRecord>> {
        let id = run_id.to_owned();
        self.read(move |c| reads::jobs_for_run(c, &id)).await
    }
}

//! The store trait every Durin backend implements, the records it reads and writes, and its errors.
//!
//! **Architecture invariant:** one store method is one transaction. Recording an attempt, saving a step's
//! result, moving the job on and enqueueing what follows happen atomically in [`Store::finish_attempt`],
//! so a crash at any point leaves either all of it or none. No transaction handle crosses this trait, and
//! no driver error type appears in it.

#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod records;

use async_trait::async_trait;
use durin_core::{FunctionConfig, UnixMillis};

pub use error::{Result, StoreError};
pub use records::*;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- apps and functions ---

    /// Records a successful sync: the app row and its functions; functions of the app that are no longer
    /// sent are archived (kept for history, never triggered).
    async fn save_app_sync(&self, sync: AppSync) -> Result<()>;
    /// Records that syncing the app at `url` failed (for example: unreachable). Keeps its functions.
    async fn save_app_error(&self, url: &str, error: &str, at: UnixMillis) -> Result<()>;
    async fn list_apps(&self) -> Result<Vec<AppRecord>>;
    /// Active (not archived) functions.
    async fn list_functions(&self) -> Result<Vec<FunctionConfig>>;
    /// Completes when another process sharing this store may have changed the functions (an app synced
    /// through it), so that this one reloads them before matching more events. A hint with the
    /// guarantees of [`Store::wait_for_jobs`]; the default never completes.
    async fn wait_for_functions(&self) {
        std::future::pending::<()>().await;
    }

    // --- retry policies ---

    /// The retry policy document (the JSON of a `--retry-policies` file, or of `PUT /v1/policies`) and when
    /// it was saved; `None` before one ever was. The store keeps it as given: checking it is the engine's.
    async fn retry_policies(&self) -> Result<Option<(serde_json::Value, UnixMillis)>>;
    /// Replaces the retry policy document. Other processes sharing the store hear of it through
    /// [`Store::wait_for_functions`] (runs take their function's policy when they start).
    async fn save_retry_policies(&self, document: serde_json::Value, at: UnixMillis) -> Result<()>;

    // --- intake ---

    /// Stores events and the runs they start (each with its first job), in one durable commit. An event
    /// whose internal id is already stored is kept as it was (a re-sent request); a run whose
    /// `(function_id, idempotency_key)` already exists is skipped.
    async fn accept_events(
        &self,
        events: Vec<NewEvent>,
        runs: Vec<NewRun>,
    ) -> Result<AcceptOutcome> {
        self.accept_events_resolving(events, runs, Vec::new()).await
    }
    /// [`Store::accept_events`], also ending the pauses the events resolve, in the same commit.
    async fn accept_events_resolving(
        &self,
        events: Vec<NewEvent>,
        runs: Vec<NewRun>,
        resolutions: Vec<PauseResolution>,
    ) -> Result<AcceptOutcome>;
    /// Pending pauses (of running runs) waiting for any of these event names.
    async fn pending_pauses(&self, event_names: &[String]) -> Result<Vec<PauseRecord>>;

    // --- queue ---

    /// Leases up to `limit` jobs due at `now`, until `now + lease_ms`. A job whose earlier lease expired is
    /// returned with `interrupted = true`: its attempt was in flight when an engine stopped.
    async fn claim_due_jobs(
        &self,
        now: UnixMillis,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<ClaimedJob>>;
    /// The earliest due time of an unleased job, or of a lease's expiry.
    async fn next_wake_at(&self) -> Result<Option<UnixMillis>>;
    /// Completes when another process sharing this store may have made a job due soon (enqueued one,
    /// released one for a retry, expired a lease), so that its scheduler looks again before its next
    /// planned look. A hint: it may complete when nothing changed, and it may miss a change (the
    /// scheduler still looks at least once a second). Cancel-safe: a wake-up that arrives while nobody
    /// waits is kept for the next call. The default never completes: a store with a single user hears
    /// about its own jobs from the engine itself.
    async fn wait_for_jobs(&self) {
        std::future::pending::<()>().await;
    }
    /// Expires every lease at once. For a single-process store at start-up: whatever was leased belonged to
    /// a process that is gone.
    async fn expire_all_leases(&self) -> Result<u64>;
    /// Everything needed to build a call request for a run.
    async fn load_run_state(&self, run_id: &str) -> Result<RunState>;
    /// Records one attempt and applies its consequences, atomically.
    async fn finish_attempt(&self, finish: AttemptFinish) -> Result<()>;

    // --- operator actions ---

    /// Cancels a running run: status `Cancelled`, its jobs and pauses removed, `emit_events` and
    /// `start_runs` stored, in one commit. A run that already ended is left as it is. Returns the run as it
    /// is afterwards, or `None` when there is no such run.
    async fn cancel_run(
        &self,
        run_id: &str,
        ended_at: UnixMillis,
        emit_events: Vec<NewEvent>,
        start_runs: Vec<NewRun>,
    ) -> Result<Option<RunRecord>>;
    /// Starts `run` as a rerun of `original_run_id`, with `memos` (earlier steps' results) already stored,
    /// and its first discovery job.
    async fn start_rerun(
        &self,
        run: NewRun,
        original_run_id: &str,
        memos: Vec<StepMemo>,
    ) -> Result<()>;
    /// Fails a paused run: status `Failed` with `end`'s output, its jobs and pauses removed, `emit_events`
    /// and `start_runs` stored, in one commit. A run that is not paused is left as it is. Returns the run
    /// as it is afterwards, or `None` when there is no such run.
    async fn fail_paused_run(
        &self,
        run_id: &str,
        end: RunFinal,
        emit_events: Vec<NewEvent>,
        start_runs: Vec<NewRun>,
    ) -> Result<Option<RunRecord>>;
    /// Resumes a paused run: each paused job becomes a fresh job (a new id, attempt 0, no counters) due
    /// at `now`, and the run `Running` again. A run that is not paused is left as it is. Returns the run as
    /// it is afterwards, or `None` when there is no such run.
    async fn resume_run(&self, run_id: &str, now: UnixMillis) -> Result<Option<RunRecord>>;
    /// Makes every job of the run that waits in backoff (attempt > 0, not leased) due at `now`. Returns
    /// how many.
    async fn retry_now(&self, run_id: &str, now: UnixMillis) -> Result<u64>;

    // --- reads for the API ---

    /// How many jobs are due now, waiting for a later time, and leased (in flight) at `now`.
    async fn count_jobs(&self, now: UnixMillis) -> Result<JobCounts>;
    /// Memoized steps in completion order, with their user ids.
    async fn steps_for_run(&self, run_id: &str) -> Result<Vec<StepRecord>>;

    async fn get_event(&self, internal_id: &str) -> Result<Option<EventRecord>>;
    async fn list_events(&self, query: EventQuery) -> Result<Vec<EventRecord>>;
    async fn runs_for_event(&self, internal_id: &str) -> Result<Vec<RunRecord>>;
    async fn get_run(&self, run_id: &str) -> Result<Option<RunRecord>>;
    async fn list_runs(&self, query: RunQuery) -> Result<Vec<RunRecord>>;
    async fn attempts_for_run(&self, run_id: &str) -> Result<Vec<AttemptRecord>>;
    async fn jobs_for_run(&self, run_id: &str) -> Result<Vec<JobRecord>>;
}

//! `PostgresStore`: the `Store` trait, one method one transaction.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use durin_core::{FunctionConfig, UnixMillis};
use durin_store::*;

use crate::actions::{Cancel, FailPaused, Rerun};
use crate::connection::{connect, connect_options};
use crate::error::Error;
use crate::queue::Claim;
use crate::transaction::Db;
use crate::wakeups::Wakeups;
use crate::{actions, intake, pauses, policies, queue, reads};

/// Connections a store keeps by default: enough for the engine's concurrent attempts and the API's reads,
/// few enough that several instances fit in PostgreSQL's default `max_connections` (100).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;

/// How long a call waits for a connection (opening one included) before the store reports itself
/// unavailable, by default. Short, so that while the database is away the event API answers 503 within
/// seconds rather than holding every sender for half a minute; the scheduler tries its writes again.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A database URL PostgreSQL's URL syntax refuses; the text says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidUrl(pub String);

/// How to connect to PostgreSQL.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/database?sslmode=...`; `options=-c search_path=...` picks a
    /// schema other than the default.
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// Names this instance's leases; see [`PostgresStore::instance_id`]. Must differ from every other live
    /// instance's.
    pub instance_id: String,
}

impl PostgresOptions {
    /// Options for `url` with the defaults and a fresh, random instance id.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            instance_id: ulid::Ulid::generate().to_string(),
        }
    }

    /// Checks the URL without connecting; the error says what is wrong with it (never the password).
    pub fn check_url(&self) -> std::result::Result<(), InvalidUrl> {
        match connect_options(self) {
            Ok(_) => Ok(()),
            Err(Error::Store(StoreError::Unavailable(message) | StoreError::Corrupt(message))) => {
                Err(InvalidUrl(message))
            }
            Err(other) => Err(InvalidUrl(other.to_string())),
        }
    }

    /// The URL without its password, for logs and messages.
    pub fn redacted_url(&self) -> String {
        without_password(&self.url)
    }
}

/// Shows the URL without its password, so that options can be logged.
impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &without_password(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("instance_id", &self.instance_id)
            .finish()
    }
}

/// `scheme://user:password@host/...` as `scheme://user:***@host/...`.
fn without_password(url: &str) -> String {
    let authority_start = url.find("://").map_or(0, |at| at + 3);
    let authority_end = url[authority_start..]
        .find(['/', '?'])
        .map_or(url.len(), |at| authority_start + at);
    let authority = &url[authority_start..authority_end];
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!(
                "{}{user}:***@{host}{}",
                &url[..authority_start],
                &url[authority_end..]
            ),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[derive(Clone)]
pub struct PostgresStore {
    db: Db,
    instance_id: String,
    wakeups: Arc<Wakeups>,
}

impl PostgresStore {
    /// Connects to the database at `url` and applies pending migrations. Several instances may do so at
    /// once: they migrate one after the other.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(PostgresOptions::new(url)).await
    }

    pub async fn connect_with(options: PostgresOptions) -> Result<Self> {
        let pool = connect(&options).await?;
        Ok(Self {
            db: Db::new(pool),
            wakeups: Arc::new(Wakeups::new(connect_options(&options)?)),
            instance_id: options.instance_id,
        })
    }

    /// The id this store leases jobs under. [`Store::expire_all_leases`] expires only the leases taken
    /// under it: an instance restarted with the same id gets its interrupted jobs back at once; the leases
    /// of an instance that never comes back expire when their time is up.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn save_app_sync(&self, sync: AppSync) -> Result<()> {
        self.db
            .write(&sync, |c, sync| Box::pin(intake::save_app_sync(c, sync)))
            .await
    }

    async fn save_app_error(&self, url: &str, error: &str, _at: UnixMillis) -> Result<()> {
        self.db
            .write(&(url, error), |c, (url, error)| {
                Box::pin(intake::save_app_error(c, url, error))
            })
            .await
    }

    async fn list_apps(&self) -> Result<Vec<AppRecord>> {
        self.db
            .read(&(), |c, ()| Box::pin(reads::list_apps(c)))
            .await
    }

    async fn list_functions(&self) -> Result<Vec<FunctionConfig>> {
        self.db
            .read(&(), |c, ()| Box::pin(reads::list_functions(c)))
            .await
    }

    async fn retry_policies(&self) -> Result<Option<(serde_json::Value, UnixMillis)>> {
        self.db.read(&(), |c, ()| Box::pin(policies::load(c))).await
    }

    async fn save_retry_policies(&self, document: serde_json::Value, at: UnixMillis) -> Result<()> {
        self.db
            .write(&(document, at), |c, (document, at)| {
                Box::pin(policies::save(c, document, *at))
            })
            .await
    }

    async fn accept_events_resolving(
        &self,
        events: Vec<NewEvent>,
        runs: Vec<NewRun>,
        resolutions: Vec<PauseResolution>,
    ) -> Result<AcceptOutcome> {
        self.db
            .write(
                &(events, runs, resolutions),
                |c, (events, runs, resolutions)| {
                    Box::pin(intake::accept_events_resolving(
                        c,
                        events,
                        runs,
                        resolutions,
                    ))
                },
            )
            .await
    }

    async fn pending_pauses(&self, event_names: &[String]) -> Result<Vec<PauseRecord>> {
        self.db
            .read(event_names, |c, names| Box::pin(pauses::pending(c, names)))
            .await
    }

    async fn claim_due_jobs(
        &self,
        now: UnixMillis,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<ClaimedJob>> {
        let claim = Claim {
            now,
            limit,
            lease_ms,
            instance_id: &self.instance_id,
        };
        self.db
            .write(&claim, |c, claim| Box::pin(queue::claim_due_jobs(c, claim)))
            .await
    }

    async fn next_wake_at(&self) -> Result<Option<UnixMillis>> {
        self.db
            .read(&(), |c, ()| Box::pin(reads::next_wake_at(c)))
            .await
    }

    async fn wait_for_jobs(&self) {
        self.wakeups.jobs().await;
    }

    async fn wait_for_functions(&self) {
        self.wakeups.functions().await;
    }

    async fn expire_all_leases(&self) -> Result<u64> {
        self.db
            .write(self.instance_id.as_str(), |c, instance| {
                Box::pin(queue::expire_own_leases(c, instance))
            })
            .await
    }

    async fn load_run_state(&self, run_id: &str) -> Result<RunState> {
        self.db
            .snapshot(run_id, |c, run_id| {
                Box::pin(reads::load_run_state(c, run_id))
            })
            .await
    }

    async fn finish_attempt(&self, finish: AttemptFinish) -> Result<()> {
        self.db
            .write(&finish, |c, finish| {
                Box::pin(queue::finish_attempt(c, finish))
            })
            .await
    }

    async fn cancel_run(
        &self,
        run_id: &str,
        ended_at: UnixMillis,
        emit_events: Vec<NewEvent>,
        start_runs: Vec<NewRun>,
    ) -> Result<Option<RunRecord>> {
        let cancel = Cancel {
            run_id,
            ended_at,
            emit_events: &emit_events,
            start_runs: &start_runs,
        };
        self.db
            .write(&cancel, |c, cancel| {
                Box::pin(actions::cancel_run(c, cancel))
            })
            .await
    }

    async fn fail_paused_run(
        &self,
        run_id: &str,
        end: RunFinal,
        emit_events: Vec<NewEvent>,
        start_runs: Vec<NewRun>,
    ) -> Result<Option<RunRecord>> {
        let fail = FailPaused {
            run_id,
            end: &end,
            emit_events: &emit_events,
            start_runs: &start_runs,
        };
        self.db
            .write(&fail, |c, fail| Box::pin(actions::fail_paused_run(c, fail)))
            .await
    }

    async fn resume_run(&self, run_id: &str, now: UnixMillis) -> Result<Option<RunRecord>> {
        self.db
            .write(&(run_id, now), |c, (run_id, now)| {
                Box::pin(actions::resume_run(c, run_id, *now))
            })
            .await
    }

    async fn start_rerun(
        &self,
        run: NewRun,
        original_run_id: &str,
        memos: Vec<StepMemo>,
    ) -> Result<()> {
        let rerun = Rerun {
            run: &run,
            original_run_id,
            memos: &memos,
        };
        self.db
            .write(&rerun, |c, rerun| Box::pin(actions::start_rerun(c, rerun)))
            .await
    }

    async fn retry_now(&self, run_id: &str, now: UnixMillis) -> Result<u64> {
        self.db
            .write(&(run_id, now), |c, (run_id, now)| {
                Box::pin(actions::retry_now(c, run_id, *now))
            })
            .await
    }

    async fn count_jobs(&self, now: UnixMillis) -> Result<JobCounts> {
        self.db
            .read(&now, |c, now| Box::pin(reads::count_jobs(c, *now)))
            .await
    }

    async fn steps_for_run(&self, run_id: &str) -> Result<Vec<StepRecord>> {
        self.db
            .read(run_id, |c, run_id| {
                Box::pin(reads::steps_for_run(c, run_id))
            })
            .await
    }

    async fn get_event(&self, internal_id: &str) -> Result<Option<EventRecord>> {
        self.db
            .read(internal_id, |c, id| Box::pin(reads::get_event(c, id)))
            .await
    }

    async fn list_events(&self, query: EventQuery) -> Result<Vec<EventRecord>> {
        self.db
            .read(&query, |c, query| Box::pin(reads::list_events(c, query)))
            .await
    }

    async fn runs_for_event(&self, internal_id: &str) -> Result<Vec<RunRecord>> {
        self.db
            .read(internal_id, |c, id| Box::pin(reads::runs_for_event(c, id)))
            .await
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<RunRecord>> {
        self.db
            .read(run_id, |c, run_id| Box::pin(reads::get_run(c, run_id)))
            .await
    }

    async fn list_runs(&self, query: RunQuery) -> Result<Vec<RunRecord>> {
        self.db
            .read(&query, |c, query| Box::pin(reads::list_runs(c, query)))
            .await
    }

    async fn attempts_for_run(&self, run_id: &str) -> Result<Vec<AttemptRecord>> {
        self.db
            .read(run_id, |c, run_id| {
                Box::pin(reads::attempts_for_run(c, run_id))
            })
            .await
    }

    async fn jobs_for_run(&self, run_id: &str) -> Result<Vec<JobRecord>> {
        self.db
            .read(run_id, |c, run_id| Box::pin(reads::jobs_for_run(c, run_id)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn the_password_is_hidden_from_debug_output() {
        let check = |url: &str, shown: &str| assert_eq!(without_password(url), shown, "{url}");
        check(
            "postgres://durin:s3cr%40t@db.internal:5432/durin?sslmode=require",
            "postgres://durin:***@db.internal:5432/durin?sslmode=require",
        );
        check(
            "postgres://durin@127.0.0.1/durin",
            "postgres://durin@127.0.0.1/durin",
        );
        check("postgres://127.0.0.1/durin", "postgres://127.0.0.1/durin");
        check("postgres://u:p@host", "postgres://u:***@host");
    }
}

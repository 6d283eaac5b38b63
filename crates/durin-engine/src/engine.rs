//! The `Engine` handle: shared state and the entry points the server and the binary call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use durin_core::{Clock, FunctionConfig};
use durin_store::Store;
use tokio::sync::{Notify, Semaphore};

use crate::backpressure::IntakeGate;
use crate::clock::SystemClock;
use crate::config::EngineConfig;
use crate::dispatches::Dispatches;
use crate::error::EngineError;
use crate::policies::{PolicyDocument, RetryPolicies};

/// Longest a connection to an app may take to open (at most the request timeout).
pub(crate) const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A cheap, clonable handle to a running engine.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: EngineConfig,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) http: reqwest::Client,
    /// Active functions, reloaded from the store after every sync, and the retry policies, reloaded with
    /// them.
    pub(crate) functions: RwLock<Registry>,
    /// Counts the writes to the functions by registrations (made under the write lock), so that a
    /// periodic refresh that read the store before one of them does not undo it.
    pub(crate) registrations: AtomicU64,
    /// Counts the writes of the retry policies through this engine (made under the write lock), for the
    /// same reason.
    pub(crate) policy_writes: AtomicU64,
    /// Wakes the scheduler when jobs were enqueued.
    pub(crate) wake: Notify,
    pub(crate) in_flight: Arc<Semaphore>,
    /// Call requests in flight that may checkpoint.
    pub(crate) dispatches: Dispatches,
    /// Bounds the requests of events being stored at once.
    pub(crate) intake: IntakeGate,
}

/// The functions as the apps registered them, the Durin-side retry policies, and the functions with their
/// policy entries applied: what runs start with. Kept together, so that no reader sees one without the
/// other.
#[derive(Default)]
pub(crate) struct Registry {
    registered: Arc<Vec<FunctionConfig>>,
    policies: Arc<RetryPolicies>,
    effective: Arc<Vec<FunctionConfig>>,
}

impl Registry {
    fn new(registered: Arc<Vec<FunctionConfig>>, policies: Arc<RetryPolicies>) -> Self {
        let effective = if policies.is_empty() {
            Arc::clone(&registered)
        } else {
            Arc::new(registered.iter().map(|f| policies.apply_to(f)).collect())
        };
        Self {
            registered,
            policies,
            effective,
        }
    }

    fn with_functions(&self, registered: Vec<FunctionConfig>) -> Self {
        Self::new(Arc::new(registered), Arc::clone(&self.policies))
    }

    fn with_policies(&self, policies: Arc<RetryPolicies>) -> Self {
        Self::new(Arc::clone(&self.registered), policies)
    }
}

impl Engine {
    /// Builds an engine on `store`. `exclusive_store` says this process is the store's only user (the
    /// embedded SQLite store): leases left by a previous process are then expired at once, so attempts
    /// interrupted by a crash are retried immediately instead of after their lease.
    pub async fn new(
        store: Arc<dyn Store>,
        config: EngineConfig,
        exclusive_store: bool,
    ) -> Result<Self, EngineError> {
        Self::with_clock(store, config, exclusive_store, Arc::new(SystemClock)).await
    }

    pub async fn with_clock(
        store: Arc<dyn Store>,
        config: EngineConfig,
        exclusive_store: bool,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, EngineError> {
        if exclusive_store {
            let expired = store.expire_all_leases().await?;
            if expired > 0 {
                tracing::warn!(
                    jobs = expired,
                    "attempts were in flight when the engine stopped; retrying them"
                );
            }
        }
        let functions = store.list_functions().await?;
        let policies = Arc::new(start_policies(&*store, &config, clock.now_ms()).await?);
        let http = reqwest::Client::builder()
            .user_agent(concat!("durin/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64)
            // An app that drops connection attempts (a firewall, a host gone) fails the attempt soon
            // as unreachable rather than at the end of the whole request timeout.
            .connect_timeout(CONNECT_TIMEOUT.min(config.request_timeout))
            .build()
            .map_err(|e| {
                EngineError::Store(durin_store::StoreError::Unavailable(format!(
                    "http client: {e}"
                )))
            })?;
        let in_flight = Arc::new(Semaphore::new(config.max_in_flight.max(1)));
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                config,
                clock,
                http,
                functions: RwLock::new(Registry::new(Arc::new(functions), policies)),
                registrations: AtomicU64::new(0),
                policy_writes: AtomicU64::new(0),
                wake: Notify::new(),
                in_flight,
                dispatches: Dispatches::default(),
                intake: IntakeGate::default(),
            }),
        })
    }

    /// Starts the scheduler, the app sync loop and the watch for functions changed through other
    /// instances in the background.
    pub fn start(&self) {
        tokio::spawn(crate::scheduler::run(self.clone()));
        tokio::spawn(crate::sync::run(self.clone()));
        tokio::spawn(crate::sync::watch_functions(self.clone()));
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        match self.inner.functions.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn registry_mut(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        match self.inner.functions.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The active functions as runs start with them: each with its Durin-side function entry applied.
    pub(crate) fn functions(&self) -> Arc<Vec<FunctionConfig>> {
        Arc::clone(&self.registry().effective)
    }

    /// The Durin-side retry policies this engine decides by now.
    pub fn retry_policies(&self) -> Arc<RetryPolicies> {
        Arc::clone(&self.registry().policies)
    }

    /// The active functions from the store, each with its Durin-side function entry applied (what runs
    /// start with), for the API.
    pub async fn list_functions(&self) -> Result<Vec<FunctionConfig>, EngineError> {
        let functions = self.inner.store.list_functions().await?;
        let policies = self.retry_policies();
        Ok(functions.iter().map(|f| policies.apply_to(f)).collect())
    }

    pub(crate) async fn reload_functions(&self) -> Result<(), EngineError> {
        let functions = self.inner.store.list_functions().await?;
        let mut guard = self.registry_mut();
        *guard = guard.with_functions(functions);
        self.inner.registrations.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Reloads the functions from the store unless a registration wrote the cache meanwhile: its sync may
    /// not have been stored when this read the store, and it reloads the cache itself once it is.
    pub(crate) async fn refresh_functions(&self) -> Result<(), EngineError> {
        let before = self.inner.registrations.load(Ordering::SeqCst);
        let functions = self.inner.store.list_functions().await?;
        let mut guard = self.registry_mut();
        if self.inner.registrations.load(Ordering::SeqCst) == before {
            *guard = guard.with_functions(functions);
        }
        Ok(())
    }

    /// Reloads the retry policy document from the store (another instance may have set it), unless this
    /// engine set one meanwhile. A stored document this build cannot read is logged and the policies in
    /// force are kept.
    pub(crate) async fn refresh_retry_policies(&self) -> Result<(), EngineError> {
        let before = self.inner.policy_writes.load(Ordering::SeqCst);
        let Some((document, _)) = self.inner.store.retry_policies().await? else {
            return Ok(());
        };
        if self.retry_policies().document() == &document {
            return Ok(());
        }
        let policies = match RetryPolicies::from_value(document) {
            Ok(policies) => Arc::new(policies),
            Err(error) => {
                tracing::error!(%error, "the stored retry policies cannot be read; keeping the ones in force");
                return Ok(());
            }
        };
        let mut guard = self.registry_mut();
        if self.inner.policy_writes.load(Ordering::SeqCst) == before {
            *guard = guard.with_policies(policies);
            tracing::info!("retry policies reloaded from the store");
        }
        Ok(())
    }

    /// Checks a retry policy document (as a `--retry-policies` file is checked), stores it for every
    /// instance sharing the store, and decides by it from now on. A function entry applies to runs started
    /// from now on, a step entry to failures from now on. The error names the entry and the field.
    pub async fn set_retry_policies(
        &self,
        document: serde_json::Value,
    ) -> Result<PolicyDocument, EngineError> {
        let policies = Arc::new(RetryPolicies::from_value(document)?);
        let now = self.now();
        self.inner
            .store
            .save_retry_policies(policies.document().clone(), now)
            .await?;
        let document = policies.document().clone();
        {
            let mut guard = self.registry_mut();
            *guard = guard.with_policies(policies);
            self.inner.policy_writes.fetch_add(1, Ordering::SeqCst);
        }
        tracing::info!("retry policies set through the API");
        Ok(PolicyDocument {
            document,
            updated_at: now,
        })
    }

    /// The retry policy document as stored, `None` when none was ever set.
    pub async fn retry_policy_document(&self) -> Result<Option<PolicyDocument>, EngineError> {
        Ok(self
            .inner
            .store
            .retry_policies()
            .await?
            .map(|(document, updated_at)| PolicyDocument {
                document,
                updated_at,
            }))
    }

    /// Puts an app's functions in the cache in place of the ones it had.
    pub(crate) fn replace_app_functions(&self, app_name: &str, functions: &[FunctionConfig]) {
        let mut guard = self.registry_mut();
        let mut merged: Vec<FunctionConfig> = guard
            .registered
            .iter()
            .filter(|f| f.app_name != app_name && !functions.iter().any(|new| new.id == f.id))
            .cloned()
            .collect();
        merged.extend(functions.iter().cloned());
        *guard = guard.with_functions(merged);
        self.inner.registrations.fetch_add(1, Ordering::SeqCst);
    }

    /// Makes the scheduler look for due jobs now rather than at its next planned look. The engine calls it
    /// whenever it enqueues work; a test harness driving a manual clock calls it after moving the clock.
    pub fn wake_scheduler(&self) {
        self.inner.wake.notify_one();
    }
}

/// The retry policies an engine starts with. A `--retry-policies` file wins: it is stored, replacing any
/// document set through the API before, so that the file an operator deploys is what every instance
/// decides by. Without one, the stored document (if any) is read.
async fn start_policies(
    store: &dyn Store,
    config: &EngineConfig,
    now: i64,
) -> Result<RetryPolicies, EngineError> {
    if let Some(file) = &config.retry_policies {
        store
            .save_retry_policies(file.document().clone(), now)
            .await?;
        return Ok(RetryPolicies::clone(file));
    }
    match store.retry_policies().await? {
        None => Ok(RetryPolicies::default()),
        Some((document, _)) => RetryPolicies::from_value(document).map_err(|error| {
            EngineError::Store(durin_store::StoreError::Corrupt(format!(
                "the stored retry policies: {error}"
            )))
        }),
    }
}

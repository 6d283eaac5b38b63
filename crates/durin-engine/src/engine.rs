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
    /// Active functions, reloaded from the store after every sync.
    pub(crate) functions: RwLock<Arc<Vec<FunctionConfig>>>,
    /// Counts the writes to `functions` by registrations (made under its write lock), so that a periodic
    /// refresh that read the store before one of them does not undo it.
    pub(crate) registrations: AtomicU64,
    /// Wakes the scheduler when jobs were enqueued.
    pub(crate) wake: Notify,
    pub(crate) in_flight: Arc<Semaphore>,
    /// Call requests in flight that may checkpoint.
    pub(crate) dispatches: Dispatches,
    /// Bounds the requests of events being stored at once.
    pub(crate) intake: IntakeGate,
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
                functions: RwLock::new(Arc::new(functions)),
                registrations: AtomicU64::new(0),
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

    pub(crate) fn functions(&self) -> Arc<Vec<FunctionConfig>> {
        match self.inner.functions.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub(crate) async fn reload_functions(&self) -> Result<(), EngineError> {
        let functions = Arc::new(self.inner.store.list_functions().await?);
        let mut guard = match self.inner.functions.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = functions;
        self.inner.registrations.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Reloads the functions from the store unless a registration wrote the cache meanwhile: its sync may
    /// not have been stored when this read the store, and it reloads the cache itself once it is.
    pub(crate) async fn refresh_functions(&self) -> Result<(), EngineError> {
        let before = self.inner.registrations.load(Ordering::SeqCst);
        let functions = Arc::new(self.inner.store.list_functions().await?);
        let mut guard = match self.inner.functions.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if self.inner.registrations.load(Ordering::SeqCst) == before {
            *guard = functions;
        }
        Ok(())
    }

    /// Puts an app's functions in the cache in place of the ones it had.
    pub(crate) fn replace_app_functions(&self, app_name: &str, functions: &[FunctionConfig]) {
        let mut merged: Vec<FunctionConfig> = self
            .functions()
            .iter()
            .filter(|f| f.app_name != app_name && !functions.iter().any(|new| new.id == f.id))
            .cloned()
            .collect();
        merged.extend(functions.iter().cloned());
        let merged = Arc::new(merged);
        let mut guard = match self.inner.functions.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = merged;
        self.inner.registrations.fetch_add(1, Ordering::SeqCst);
    }

    /// Makes the scheduler look for due jobs now rather than at its next planned look. The engine calls it
    /// whenever it enqueues work; a test harness driving a manual clock calls it after moving the clock.
    pub fn wake_scheduler(&self) {
        self.inner.wake.notify_one();
    }
}

//! Setting a harness up: the store, the engine on a manual clock, its HTTP surface, and the app.

use std::sync::Arc;
use std::time::Duration;

use durin_core::UnixMillis;
use durin_engine::{Engine, EngineConfig, RetryPolicies};
use durin_sdk::{Client, Function, SERVE_PATH};
use durin_store_sqlite::SqliteStore;

use crate::clock::{DEFAULT_START_MS, ManualClock};
use crate::error::{HarnessError, Result};
use crate::harness::{Harness, Limits};
use crate::served::{listen, serve};

/// How many times [`Harness::run_until_finished`] moves the clock before giving up, unless told otherwise.
pub const DEFAULT_MAX_ADVANCES: u32 = 1_000;
/// How long, in real time, the harness waits for the work due now to finish, unless told otherwise.
pub const DEFAULT_SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

type ClientSetup = Box<dyn FnOnce(Client) -> Client + Send>;
type EngineSetup = Box<dyn FnOnce(&mut EngineConfig) + Send>;

/// Options of a [`Harness`]; [`HarnessBuilder::start`] starts it.
pub struct HarnessBuilder {
    app_id: String,
    functions: Vec<Function>,
    start_ms: UnixMillis,
    jitter_sample: Option<u32>,
    retry_policies: Option<RetryPolicies>,
    max_advances: u32,
    settle_timeout: Duration,
    client_setup: Option<ClientSetup>,
    engine_setup: Option<EngineSetup>,
}

impl HarnessBuilder {
    pub(crate) fn new(app_id: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            functions: Vec::new(),
            start_ms: DEFAULT_START_MS,
            jitter_sample: Some(0),
            retry_policies: None,
            max_advances: DEFAULT_MAX_ADVANCES,
            settle_timeout: DEFAULT_SETTLE_TIMEOUT,
            client_setup: None,
            engine_setup: None,
        }
    }

    /// Serves `function` in the app.
    pub fn function(mut self, function: Function) -> Self {
        self.functions.push(function);
        self
    }

    /// Serves `functions` in the app.
    pub fn functions(mut self, functions: impl IntoIterator<Item = Function>) -> Self {
        self.functions.extend(functions);
        self
    }

    /// Where the clock starts (Unix milliseconds); [`DEFAULT_START_MS`] unless set.
    pub fn start_at(mut self, start_ms: UnixMillis) -> Self {
        self.start_ms = start_ms;
        self
    }

    /// The jitter sample every backoff uses, in `[0, JITTER_MAX_MS)`: `Some(0)` (no jitter) unless set;
    /// `None` draws one at random per failure, as `durin dev` does.
    pub fn jitter_sample(mut self, sample: Option<u32>) -> Self {
        self.jitter_sample = sample;
        self
    }

    /// Retry policies configured on Durin's side, as `durin dev --retry-policies` reads them. Function
    /// ids are `<app id>-<function slug>` (see [`Harness::function_id`]).
    pub fn retry_policies(mut self, policies: RetryPolicies) -> Self {
        self.retry_policies = Some(policies);
        self
    }

    /// How many times [`Harness::run_until_finished`] and [`Harness::advance`] may move the clock to the
    /// next wake-up before giving up ([`DEFAULT_MAX_ADVANCES`] unless set).
    pub fn max_advances(mut self, advances: u32) -> Self {
        self.max_advances = advances;
        self
    }

    /// How long, in real time, the work due now may take before the harness gives up
    /// ([`DEFAULT_SETTLE_TIMEOUT`] unless set).
    pub fn settle_timeout(mut self, timeout: Duration) -> Self {
        self.settle_timeout = timeout;
        self
    }

    /// Sets up the app's client (for example `|c| c.without_checkpointing()`). Its engine URL is the
    /// harness's.
    pub fn configure_client(
        mut self,
        setup: impl FnOnce(Client) -> Client + Send + 'static,
    ) -> Self {
        self.client_setup = Some(Box::new(setup));
        self
    }

    /// Adjusts the engine's configuration after the harness has filled it in (for example
    /// `checkpointing` or `knobs`). Leave `discovery` off and `poll_interval` at `None`: the harness
    /// syncs the app itself, once.
    pub fn configure_engine(
        mut self,
        setup: impl FnOnce(&mut EngineConfig) + Send + 'static,
    ) -> Self {
        self.engine_setup = Some(Box::new(setup));
        self
    }

    /// Opens a SQLite store in a temporary directory, starts an engine on a [`ManualClock`] with its HTTP
    /// surface on loopback, serves the app on loopback and syncs it. Must be called inside a Tokio
    /// runtime (`#[tokio::test]`).
    pub async fn start(self) -> Result<Harness> {
        let dir = tempfile::tempdir().map_err(HarnessError::TempDir)?;
        let store = Arc::new(SqliteStore::open(&dir.path().join("durin.db"))?);
        let clock = Arc::new(ManualClock::new(self.start_ms));

        let (engine_listener, engine_address) = listen().await?;
        let (app_listener, app_address) = listen().await?;
        let engine_url = format!("http://{engine_address}");
        let serve_url = format!("http://{app_address}{SERVE_PATH}");

        let mut config = EngineConfig {
            discovery: false,
            poll_interval: None,
            jitter_sample: self.jitter_sample,
            retry_policies: self.retry_policies.map(Arc::new),
            public_url: engine_url.clone(),
            ..EngineConfig::default()
        };
        if let Some(setup) = self.engine_setup {
            setup(&mut config);
        }
        let engine = Engine::with_clock(store, config, true, clock.clone()).await?;
        engine.start();
        let engine_server = serve(
            engine_listener,
            engine_address,
            durin_server::app(engine.clone()),
        );

        let mut client = Client::with_base_url(&self.app_id, engine_url);
        if let Some(setup) = self.client_setup {
            client = setup(client);
        }
        let app_server = serve(
            app_listener,
            app_address,
            durin_sdk::serve(client.clone(), self.functions),
        );
        engine
            .sync_app(&serve_url)
            .await
            .map_err(|message| HarnessError::Sync {
                url: serve_url.clone(),
                message,
            })?;

        Ok(Harness {
            app_server,
            engine_server,
            engine,
            client,
            clock,
            limits: Limits {
                max_advances: self.max_advances,
                settle_timeout: self.settle_timeout,
            },
            _dir: dir,
        })
    }
}

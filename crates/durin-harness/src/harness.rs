//! The running harness: its parts, sending events, and reading what the engine recorded.

use std::sync::Arc;
use std::time::Duration;

use durin_core::{Clock, UnixMillis};
use durin_engine::Engine;
use durin_sdk::{Client, Event, Function};
use durin_store::{AttemptRecord, RunRecord, Store};

use crate::builder::HarnessBuilder;
use crate::clock::ManualClock;
use crate::error::{HarnessError, Result};
use crate::served::Served;

/// An engine on a manual clock, with one Rust SDK app synced to it. See the crate documentation.
pub struct Harness {
    // Dropped first: the servers stop before the store's directory is removed.
    pub(crate) app_server: Served,
    pub(crate) engine_server: Served,
    pub(crate) engine: Engine,
    pub(crate) client: Client,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) limits: Limits,
    pub(crate) _dir: tempfile::TempDir,
}

/// Bounds on driving the clock.
pub(crate) struct Limits {
    pub(crate) max_advances: u32,
    pub(crate) settle_timeout: Duration,
}

impl Harness {
    /// A harness for the app `app_id`, to configure before [`HarnessBuilder::start`].
    pub fn builder(app_id: impl Into<String>) -> HarnessBuilder {
        HarnessBuilder::new(app_id)
    }

    /// Starts a harness serving `functions` as the app `app_id`, with the defaults: the clock at
    /// [`crate::DEFAULT_START_MS`], no jitter, no Durin-side retry policies.
    pub async fn start(
        app_id: impl Into<String>,
        functions: impl IntoIterator<Item = Function>,
    ) -> Result<Self> {
        Self::builder(app_id).functions(functions).start().await
    }

    /// The harness's time, in Unix milliseconds.
    pub fn now_ms(&self) -> UnixMillis {
        self.clock.now_ms()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.engine.store()
    }

    /// The app's client; its engine URL is the harness's engine.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The engine's base URL (its REST API is under `/v1`).
    pub fn engine_url(&self) -> String {
        format!("http://{}", self.engine_server.address)
    }

    /// The URL the app is served at.
    pub fn serve_url(&self) -> String {
        format!(
            "http://{}{}",
            self.app_server.address,
            durin_sdk::SERVE_PATH
        )
    }

    /// The engine's id of the function with `slug` (`<app id>-<slug>`), as retry policies name it.
    pub fn function_id(&self, slug: &str) -> String {
        format!("{}-{slug}", self.client.app_id())
    }

    /// Sends `event` (received at the harness's time) and returns the ids of the runs it started. Nothing
    /// runs until the clock is driven ([`Harness::settle`], [`Harness::run_until_finished`], ...).
    pub async fn send(&self, event: Event) -> Result<Vec<String>> {
        let value =
            serde_json::to_value(&event).map_err(|e| HarnessError::InvalidEvent(e.to_string()))?;
        let mut run_ids = Vec::new();
        for event_id in self.engine.accept_events(vec![value], None).await? {
            let runs = self.store().runs_for_event(&event_id).await?;
            run_ids.extend(runs.into_iter().map(|run| run.run_id));
        }
        Ok(run_ids)
    }

    /// The run as it is now.
    pub async fn run(&self, run_id: &str) -> Result<RunRecord> {
        self.store()
            .get_run(run_id)
            .await?
            .ok_or_else(|| HarnessError::NoSuchRun(run_id.to_owned()))
    }

    /// Every attempt the engine recorded for the run, in order; times are the harness's milliseconds.
    pub async fn attempts(&self, run_id: &str) -> Result<Vec<AttemptRecord>> {
        Ok(self.store().attempts_for_run(run_id).await?)
    }

    /// The attempts of one step, by the id the function gave it (`step.run("charge", ..)`).
    pub async fn step_attempts(&self, run_id: &str, step: &str) -> Result<Vec<AttemptRecord>> {
        let mut attempts = self.attempts(run_id).await?;
        attempts.retain(|attempt| attempt.step_name.as_deref() == Some(step));
        Ok(attempts)
    }
}

/// The time between the starts of consecutive attempts: `gaps(&a)[n]` is how long after attempt `n`
/// attempt `n + 1` started.
pub fn gaps(attempts: &[AttemptRecord]) -> Vec<Duration> {
    attempts
        .windows(2)
        .map(|pair| {
            let ms = pair[1].started_at.saturating_sub(pair[0].started_at);
            Duration::from_millis(u64::try_from(ms).unwrap_or(0))
        })
        .collect()
}

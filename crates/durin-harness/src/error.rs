//! What can go wrong while starting a harness or driving its clock.

use std::time::Duration;

use durin_core::RunStatus;
use durin_engine::EngineError;
use durin_store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum HarnessError {
    /// The temporary directory for the store could not be created.
    #[error("cannot create the store's temporary directory: {0}")]
    TempDir(#[source] std::io::Error),
    /// A loopback socket for the engine or the app could not be opened.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Listen(#[source] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The engine could not sync the app (its registration was refused, or the app did not answer).
    #[error("the app at {url} did not sync: {message}")]
    Sync { url: String, message: String },
    /// The event could not be turned into JSON.
    #[error("the event cannot be sent: {0}")]
    InvalidEvent(String),
    #[error("no run {0}")]
    NoSuchRun(String),
    /// The run has not ended, nothing is in flight and nothing is scheduled: it would never end.
    #[error("run {run_id} is {status:?} with nothing in flight and nothing scheduled")]
    Stuck { run_id: String, status: RunStatus },
    /// The run had not ended after the clock was moved to this many wake-ups.
    #[error("run {run_id} is still {status:?} after {advances} clock advances")]
    TooManyAdvances {
        run_id: String,
        status: RunStatus,
        advances: u32,
    },
    /// [`crate::Harness::advance`] met this many wake-ups before its target and stopped at the last.
    #[error("stopped at {now_ms} after {advances} wake-ups on the way to {target_ms}")]
    AdvanceLimit {
        advances: u32,
        now_ms: i64,
        target_ms: i64,
    },
    /// Work due now was still waiting or in flight after this much real time (a hung function, an app
    /// that stopped answering).
    #[error("after {waited:?} of real time, {due} jobs were still due and {in_flight} in flight")]
    Unsettled {
        waited: Duration,
        due: u64,
        in_flight: u64,
    },
}

pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

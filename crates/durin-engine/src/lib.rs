//! Durin's engine: app sync, event intake and trigger matching, the durable queue with its timers, and the
//! executor that calls apps and turns their answers into stored attempts.
//!
//! **Architecture invariant:** every failure path goes through `durin_core::decide`; the engine draws the
//! jitter sample and reads the clock, the domain decides. All state lives in the [`Store`]: the engine keeps
//! only caches it can rebuild (the function list, the retry policies), wake-ups it can recompute (the next
//! due time) and the call requests it has in flight.

mod actions;
mod backpressure;
mod checkpoint;
mod clock;
mod config;
mod dispatches;
mod duration;
mod engine;
mod error;
mod executor;
mod intake;
mod limits;
mod outcome;
mod paused;
mod policies;
mod register;
mod scheduler;
mod signing;
mod sync;
mod system_events;
mod telemetry;
mod waits;

pub use actions::{BULK_RERUN_MAX, RerunFilter};
pub use backpressure::{
    BUSY_RETRY_AFTER_SECS, INTAKE_MAX_IN_FLIGHT, INTAKE_MAX_WAIT, INTAKE_MAX_WAITING, IntakePermit,
};
pub use clock::SystemClock;
pub use config::{EngineConfig, EventKey, Security};
pub use duration::parse_duration_ms;
pub use engine::Engine;
pub use error::{EngineError, IntakeError, RegisterError};
pub use intake::{EVENT_MAX_BYTES, EVENTS_PER_REQUEST_MAX};
pub use limits::{DEFAULT_MAX_RUN_STATE_BYTES, DEFAULT_MAX_STEPS_PER_RUN, RunLimits};
pub use paused::pausing_attempt;
pub use policies::{PolicyDocument, PolicyFileError, RetryPolicies};
pub use register::{FUNCTION_ID_MAX_BYTES, FUNCTIONS_PER_APP_MAX, TRIGGERS_PER_FUNCTION_MAX};

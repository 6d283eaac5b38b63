//! Durin's engine: app sync, event intake and trigger matching, the durable queue with its timers, and the
//! executor that calls apps and turns their answers into stored attempts.
//!
//! **Architecture invariant:** every failure path goes through `durin_core::decide`; the engine draws the
//! jitter sample and reads the clock, the domain decides. All state lives in the [`Store`]: the engine keeps
//! only caches it can rebuild (the function list), wake-ups it can recompute (the next due time) and the
//! call requests it has in flight.

mod actions;
mod checkpoint;
mod clock;
mod config;
mod dispatches;
mod duration;
mod engine;
mod error;
mod executor;
mod intake;
mod outcome;
mod register;
mod scheduler;
mod sync;
mod system_events;
mod telemetry;
mod waits;

pub use actions::{BULK_RERUN_MAX, RerunFilter};
pub use clock::SystemClock;
pub use config::EngineConfig;
pub use duration::parse_duration_ms;
pub use engine::Engine;
pub use error::{EngineError, IntakeError, RegisterError};
pub use intake::{EVENT_MAX_BYTES, EVENTS_PER_REQUEST_MAX};

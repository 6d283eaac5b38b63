//! Test Rust SDK functions against a real Durin engine running in the test's own process on a manual
//! clock, so that a retry schedule of minutes or hours is asserted to the millisecond in milliseconds of
//! real time: "attempt 3 happened 1 m after attempt 2".
//!
//! [`Harness::start`] opens a SQLite store in a temporary directory, starts the engine on a
//! [`ManualClock`] (with its HTTP surface on loopback, which the SDK registers and checkpoints through),
//! serves the functions as a Rust SDK app on loopback and syncs it. Nothing moves the clock but the
//! harness: [`Harness::run_until_finished`] lets the engine do the work due now and, while the run has not
//! ended, jumps to the next wake-up the store knows of; [`Harness::advance`] steps by hand. Backoff jitter
//! is fixed at 0 unless [`HarnessBuilder::jitter_sample`] says otherwise, so every delay is exact.
//!
//! ```
//! use std::time::Duration;
//!
//! use durin_harness::{Harness, gaps};
//! use durin_sdk::{Context, Error, Event, Function};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let flaky = Function::new("flaky")
//!     .trigger_event("app/go")
//!     .handler(|ctx: Context| async move {
//!         let attempt = ctx.attempt;
//!         ctx.step
//!             .run("call-api", || async move {
//!                 if attempt < 2 {
//!                     return Err(Error::msg("the API is down"));
//!                 }
//!                 Ok::<_, Error>(())
//!             })
//!             .await?;
//!         Ok(serde_json::json!({ "ok": true }))
//!     });
//! let harness = Harness::start("my-app", [flaky]).await?;
//! let runs = harness.send(Event::new("app/go", serde_json::json!({}))).await?;
//! harness.run_until_finished(&runs[0]).await?;
//! let attempts = harness.step_attempts(&runs[0], "call-api").await?;
//! assert_eq!(
//!     gaps(&attempts),
//!     [Duration::from_secs(15), Duration::from_secs(30)]
//! );
//! # Ok(())
//! # }
//! ```
//!
//! Wall-clock time inside functions (`step.sleep_until(SystemTime)`, `Error::retry_at`) is not the
//! harness's time: use durations (`step.sleep`, `Error::retry_after`) in code tested this way.
//!
//! **Architecture invariant:** a dev-only library. It drives a real engine through its public API and
//! its one store; it never moves the clock while an attempt is in flight (leases come from the clock),
//! and it adds no behaviour to the engine that `durin dev` lacks.

mod builder;
mod clock;
mod drive;
mod error;
mod harness;
mod served;

pub use builder::{DEFAULT_MAX_ADVANCES, DEFAULT_SETTLE_TIMEOUT, HarnessBuilder};
pub use clock::{DEFAULT_START_MS, ManualClock};
pub use error::{HarnessError, Result};
pub use harness::{Harness, gaps};

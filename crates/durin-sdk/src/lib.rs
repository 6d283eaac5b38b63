//! Durin's Rust SDK: write durable functions whose steps are retried, memoized and resumed by the engine,
//! and serve them over HTTP with axum, speaking the Inngest SDK protocol.
//!
//! ```no_run
//! use durin_sdk::{Client, Context, Error, Function, serve};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new("my-app");
//! let function = Function::new("greet")
//!     .trigger_event("app/user.created")
//!     .handler(|ctx: Context| async move {
//!         let n: u32 = ctx.step.run("count", || async { Ok::<_, Error>(1) }).await?;
//!         Ok(serde_json::json!({ "n": n }))
//!     });
//! let router = serve(client.clone(), vec![function]);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! tokio::spawn(async move { axum::serve(listener, router).await });
//! client.sync("http://127.0.0.1:3000/api/inngest").await?;
//! # Ok(())
//! # }
//! ```
//!
//! # A step's own retry policy
//!
//! [`Step::run_with`] is [`Step::run`] with [`StepOptions`]: the step's own retries, [`Backoff`] (with its
//! [`Jitter`]), [`ErrorRule`]s per error name (their own retry count and backoff, or `never`), a cool-down
//! that lets Retry-After waits spend no retry, and whether the run fails or pauses ([`OnExhausted`]) when
//! the retries are spent. Steps without options keep the function's retries (`Function::retries`).
//!
//! ```no_run
//! use std::time::Duration;
//! use durin_sdk::{Backoff, Context, Error, ErrorRule, Jitter, StepOptions};
//!
//! # async fn charge(ctx: Context) -> Result<(), Error> {
//! let receipt: String = ctx
//!     .step
//!     .run_with(
//!         "call-bank",
//!         StepOptions::new()
//!             .retries(10)
//!             .backoff(
//!                 Backoff::exponential(Duration::from_secs(1), 2.0, Duration::from_secs(60))
//!                     .jitter(Jitter::Full),
//!             )
//!             .rule(ErrorRule::named("ValidationError").never()),
//!         || async { Ok::<_, Error>("receipt-1".to_owned()) },
//!     )
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! The engine applies the policy: such a step reports each retriable failure as a retry, with the policy
//! in the op's `opts` (`{"durin": {"retry": ..}}`), and the engine decides when it has failed for good.
//! Options that [`StepOptions::check`] refuses (e.g. more than 20 retries) fail the function at once.
//!
//! This crate depends on `durin-protocol` only: it must never depend on the engine, and it keeps no state
//! between requests (every request replays the function from the memoized step results it carries).

mod auth;
mod checkpoint;
mod client;
mod error;
mod exec;
mod function;
mod retry_options;
mod serve;
mod step;
mod time;

pub use checkpoint::Checkpointing;
pub use client::{Client, Event};
pub use durin_protocol::EventPayload;
pub use error::{ClientError, Error, RetryAt, StepError};
pub use function::{Context, Function};
pub use retry_options::{
    Backoff, ErrorRule, Jitter, OnExhausted, RetryOptions, StepOptions, StepOptionsError,
};
pub use serve::{SERVE_PATH, serve};
pub use step::{Step, idempotency_key};

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
//! This crate depends on `durin-protocol` only: it must never depend on the engine, and it keeps no state
//! between requests (every request replays the function from the memoized step results it carries).

mod auth;
mod checkpoint;
mod client;
mod error;
mod exec;
mod function;
mod serve;
mod step;
mod time;

pub use checkpoint::Checkpointing;
pub use client::{Client, Event};
pub use durin_protocol::EventPayload;
pub use error::{ClientError, Error, RetryAt, StepError};
pub use function::{Context, Function};
pub use serve::{SERVE_PATH, serve};
pub use step::{Step, idempotency_key};

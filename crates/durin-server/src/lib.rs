//! Durin's HTTP surface: the event API (`/e/{key}`), app registration (`/fn/register`) and the REST API
//! (`/v1`). Handlers are thin: extract, call the engine or the store, shape the answer.
//!
//! **Architecture invariant:** no engine logic lives here; every write goes through `durin_engine::Engine`.

mod api_error;
mod events;
mod register;
mod rest;
mod steps;
mod views;

use axum::Router;
use axum::routing::{get, post};
use durin_engine::Engine;

pub use api_error::ApiError;

/// The whole HTTP application for one engine.
pub fn app(engine: Engine) -> Router {
    Router::new()
        .route("/e/{key}", post(events::send))
        .route("/fn/register", post(register::register))
        .route("/health", get(|| async { "ok" }))
        .nest("/v1", rest::routes())
        .with_state(engine)
}

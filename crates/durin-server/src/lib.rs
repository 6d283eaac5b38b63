//! Durin's HTTP surface: the event API (`/e/{key}`), app registration (`/fn/register`), the REST API
//! (`/v1`) and the read-only GraphQL endpoint the official SDKs' test suites read results through
//! (`/v0/gql`). Handlers are thin: extract, call the engine or the store, shape the answer.
//!
//! **Architecture invariant:** no engine logic lives here; every write goes through `durin_engine::Engine`.

mod api_error;
mod auth;
mod dashboard;
mod events;
mod gql;
mod metrics;
mod openapi;
mod register;
mod rest;
mod session;
mod steps;
mod views;

use axum::Router;
use axum::routing::{get, post};
use durin_engine::Engine;

pub use api_error::ApiError;
pub use metrics::install_metrics;

/// The whole HTTP application for one engine.
pub fn app(engine: Engine) -> Router {
    Router::new()
        .route("/e/{key}", post(events::send))
        .route("/fn/register", post(register::register))
        .route("/health", get(|| async { "ok" }))
        .route("/metrics", get(metrics::render))
        .route("/openapi.json", get(openapi::serve))
        .nest("/v1", rest::routes())
        .merge(gql::routes())
        .merge(dashboard::routes())
        .route(session::LOGIN_PATH, post(session::login))
        .route(session::LOGOUT_PATH, post(session::logout))
        .route_layer(axum::middleware::from_fn(metrics::track_requests))
        // Outermost, so that it also covers paths no route matches: in production, default-deny.
        .layer(axum::middleware::from_fn_with_state(
            engine.clone(),
            auth::guard,
        ))
        .with_state(engine)
}

//! `GET /openapi.json`: the OpenAPI document of the whole HTTP API, generated from the code with `utoipa`.
//!
//! The `/v1` paths come from the REST router itself (`rest::api`, built with `utoipa_axum`); the event and
//! register APIs and the GraphQL endpoint from their handlers' `#[utoipa::path]`; response shapes from the types in `views`. This
//! module adds only what has no Rust type of its own in this crate: the schemas of request bodies that are
//! wire types of `durin-protocol` (read by the engine, mirrored here field for field), and the paths of the
//! plain-text routes served outside this crate's handlers (`/health`, `/metrics`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa::openapi::OpenApi as Document;
use utoipa::{OpenApi, ToSchema};

use crate::api_error::{ApiError, ErrorBody};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Durin",
        description = "Durin's HTTP API: the event API (`/e/{key}`), app registration (`/fn/register`) \
            and the REST API (`/v1`). Every `/v1` answer is wrapped as `{\"data\": ..., \"metadata\": \
            {...}}`; errors are `{\"error\": \"<message>\", \"status\": N}`. Times are RFC 3339 strings; \
            Durin's own shapes add `*_ms` fields (Unix milliseconds)."
    ),
    paths(
        crate::events::send,
        crate::register::register,
        crate::gql::http::graphql,
        crate::session::login,
        crate::session::logout,
        health,
        metrics,
        serve
    ),
    tags(
        (name = "events", description = "Send and read events."),
        (name = "runs", description = "Read and steer runs: steps, attempts, jobs, cancel, rerun, retry."),
        (name = "apps", description = "Apps and their functions."),
        (name = "policies", description = "Durin-side retry policies, shared by every instance."),
        (name = "sdk", description = "Calls the SDKs make besides registering."),
        (name = "operations", description = "Health, metrics and this document."),
    )
)]
struct ApiDoc;

/// The whole document: the paths of this module and of the handlers it lists, and the `/v1` router's.
pub(crate) fn document() -> Document {
    ApiDoc::openapi().nest("/v1", crate::rest::api().into_openapi())
}

/// Rendered once, on the first request.
static DOCUMENT: LazyLock<Result<String, String>> = LazyLock::new(|| {
    document()
        .to_pretty_json()
        .map_err(|error| error.to_string())
});

/// The OpenAPI document
///
/// This document (OpenAPI 3.1), generated from the code.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI document.", body = Object),
        (status = 500, description = "The document could not be rendered.", body = ErrorBody),
    ),
)]
pub(crate) async fn serve() -> Response {
    match DOCUMENT.as_ref() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json.as_str()).into_response(),
        Err(error) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot render the OpenAPI document: {error}"),
        )
        .into_response(),
    }
}

/// Health check
///
/// Answers `ok` while the server is up.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses(
        (
            status = 200,
            description = "The server is up.",
            body = String,
            content_type = "text/plain",
            example = "ok",
        ),
    ),
)]
#[expect(dead_code, reason = "documents the `/health` route of `app()`")]
fn health() {}

/// Prometheus metrics
///
/// The Prometheus text exposition of the engine's metrics (runs, attempts, queue depth, latencies).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (
            status = 200,
            description = "The metrics.",
            body = String,
            content_type = "text/plain; version=0.0.4",
        ),
        (
            status = 503,
            description = "Metrics are not enabled in this process.",
            body = String,
            content_type = "text/plain",
        ),
    ),
)]
#[expect(dead_code, reason = "documents the `/metrics` route of `app()`")]
fn metrics() {}

// Request bodies that are `durin-protocol` wire types, mirrored for their schemas (the protocol crates do
// not depend on utoipa). They are never built: the handlers read the protocol types.

/// An event as sent. `name` is the only required field.
#[derive(ToSchema)]
#[expect(dead_code, reason = "the schema of `durin_protocol::EventPayload`")]
pub(crate) struct EventPayload {
    /// The event's id: a second event with the same id is accepted but starts no run.
    id: Option<String>,
    name: String,
    /// `null` or absent means `{}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    data: Option<serde_json::Map<String, Value>>,
    /// `null` or absent means `{}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    user: Option<serde_json::Map<String, Value>>,
    /// Unix milliseconds.
    ts: Option<i64>,
    /// The event's version.
    v: Option<String>,
}

/// One event or an array of events.
#[derive(ToSchema)]
#[serde(untagged)]
#[expect(dead_code, reason = "the schema of the `POST /e/{key}` body")]
pub(crate) enum SendEventsBody {
    One(EventPayload),
    Many(Vec<EventPayload>),
}

/// An SDK's registration. The Python SDK's spellings `appname` and `deploy_type` are accepted too.
#[derive(ToSchema)]
#[expect(dead_code, reason = "the schema of `durin_protocol::RegisterRequest`")]
pub(crate) struct RegisterRequest {
    /// The app's serve URL.
    url: String,
    #[serde(rename = "deployType")]
    deploy_type: Option<String>,
    framework: Option<String>,
    #[serde(rename = "appName")]
    app_name: String,
    /// The SDK and its version, e.g. `js:v3.40.0`.
    sdk: Option<String>,
    v: Option<String>,
    #[serde(default)]
    functions: Vec<FunctionDef>,
}

/// A function as an SDK registers it. Other options (concurrency, throttle, ...) are kept verbatim.
#[derive(ToSchema)]
#[expect(dead_code, reason = "the schema of `durin_protocol::FunctionDef`")]
struct FunctionDef {
    /// Composite id `<app>-<fn>`.
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    triggers: Vec<TriggerDef>,
    /// By step id; every SDK sends one, `step`.
    #[serde(default)]
    steps: BTreeMap<String, StepDef>,
}

/// An event trigger (`event`, optional `expression`) or a cron trigger (`cron`).
#[derive(ToSchema)]
#[expect(dead_code, reason = "the schema of `durin_protocol::TriggerDef`")]
struct TriggerDef {
    event: Option<String>,
    expression: Option<String>,
    cron: Option<String>,
}

#[derive(ToSchema)]
#[expect(dead_code, reason = "the schema of `durin_protocol::StepDef`")]
struct StepDef {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    runtime: StepRuntime,
    retries: Option<RetriesDef>,
}

#[derive(ToSchema)]
#[expect(dead_code, reason = "the schema of `durin_protocol::StepRuntime`")]
struct StepRuntime {
    #[serde(rename = "type", default)]
    kind: String,
    /// Where the engine calls the function.
    url: String,
}

#[derive(ToSchema)]
#[expect(dead_code, reason = "the schema of `durin_protocol::RetriesDef`")]
struct RetriesDef {
    /// A retry count despite its name (0 = one attempt).
    attempts: i64,
}

/// Steps an SDK finished inside one request.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "the schema of `durin_protocol::CheckpointRequest`"
)]
pub(crate) struct CheckpointRequest {
    #[serde(default)]
    run_id: String,
    #[serde(default)]
    fn_id: String,
    #[serde(default)]
    qi_id: String,
    #[serde(default)]
    steps: Vec<Operation>,
}

/// One step operation, as in an SDK's `206` answer.
#[derive(ToSchema)]
#[expect(dead_code, reason = "the schema of `durin_protocol::Operation`")]
struct Operation {
    /// The opcode, e.g. `StepRun`, `Sleep`, `WaitForEvent`, `InvokeFunction`, `StepError`.
    op: String,
    /// The hashed step id.
    #[serde(default)]
    id: String,
    name: Option<String>,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
    opts: Option<Value>,
    data: Option<Value>,
    error: Option<Value>,
    /// `{"id": "<the user's step id>", ...}`.
    userland: Option<Value>,
}

//! The HTTP surface the engine talks to: `GET` introspection, `PUT` sync, `POST` call requests.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use durin_protocol::{CallRequest, EventPayload, headers};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Instrument;

use crate::client::{Client, FRAMEWORK, SDK_HEADER};
use crate::exec::{self, Reply};
use crate::function::Function;

/// The path `serve` mounts its routes at.
pub const SERVE_PATH: &str = "/api/inngest";

/// Call requests carry the run's state; the engine keeps it under ~4 MiB, allow some slack.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

struct App {
    client: Client,
    functions: Vec<Function>,
}

impl App {
    fn function(&self, fn_id: &str) -> Option<&Function> {
        let app_id = self.client.app_id();
        self.functions
            .iter()
            .find(|function| function.wire_id(app_id) == fn_id || function.slug() == fn_id)
    }
}

/// The router serving `functions` at `/api/inngest` (GET introspection, PUT sync, POST calls).
/// The functions are also remembered by `client`, for [`Client::sync`].
pub fn serve(client: Client, functions: Vec<Function>) -> Router {
    client.add_functions(&functions);
    let app = Arc::new(App { client, functions });
    Router::new()
        .route(SERVE_PATH, get(introspect).put(sync).post(call))
        .layer(axum::middleware::map_response(sdk_headers))
        .with_state(app)
}

/// Every answer carries the SDK headers and is JSON, including the router's own 404/405.
async fn sdk_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(headers::SDK, HeaderValue::from_static(SDK_HEADER));
    headers.insert(headers::REQ_VERSION, HeaderValue::from_static("2"));
    headers.insert(headers::FRAMEWORK, HeaderValue::from_static(FRAMEWORK));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn introspect(State(app): State<Arc<App>>) -> Reply {
    Reply::json(
        StatusCode::OK,
        json!({
            "schema_version": "2024-05-24",
            "function_count": app.functions.len(),
            "has_event_key": app.client.has_event_key(),
            "has_signing_key": app.client.keys().is_some(),
            "mode": if app.client.keys().is_some() { "cloud" } else { "dev" },
        }),
    )
}

#[derive(Deserialize)]
struct SyncBody {
    url: Option<String>,
}

async fn sync(
    State(app): State<Arc<App>>,
    OriginalUri(uri): OriginalUri,
    request_headers: HeaderMap,
    body: Bytes,
) -> Reply {
    // A forged sync could point the engine at another URL.
    if let Err(refused) = check_signature(&app, &request_headers, &body) {
        return refused;
    }
    let query = query_params(&uri);
    let from_body = serde_json::from_slice::<SyncBody>(&body)
        .ok()
        .and_then(|body| body.url)
        .filter(|url| !url.is_empty());
    let serve_url = from_body.unwrap_or_else(|| {
        let host = request_headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .or_else(|| uri.authority().map(|authority| authority.as_str()))
            .unwrap_or("127.0.0.1");
        let scheme = request_headers
            .get("x-forwarded-proto")
            .and_then(|proto| proto.to_str().ok())
            .unwrap_or("http");
        format!("{scheme}://{host}{}", uri.path())
    });
    let server_kind = request_headers
        .get(headers::SERVER_KIND)
        .and_then(|kind| kind.to_str().ok())
        .unwrap_or(headers::SERVER_KIND_DEV);
    let deploy_id = query.get("deployId").map(String::as_str);
    match app
        .client
        .register(&serve_url, server_kind, deploy_id)
        .await
    {
        Ok(reply) => {
            let modified = reply.is_none_or(|reply| reply.modified);
            tracing::info!(url = %serve_url, "registered with the engine");
            Reply::json(
                StatusCode::OK,
                json!({"message": "Successfully registered", "modified": modified}),
            )
        }
        Err(error) => {
            tracing::warn!(url = %serve_url, %error, "registration failed");
            Reply::json(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"message": error.to_string(), "modified": false}),
            )
        }
    }
}

async fn call(State(app): State<Arc<App>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(error) => {
            return Reply::problem(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                format!("unreadable request body: {error}"),
            )
            .into_response();
        }
    };
    if let Err(refused) = check_signature(&app, &parts.headers, &body) {
        return refused.into_response();
    }
    let query = query_params(&parts.uri);
    if query.get("probe").is_some_and(|probe| probe == "trust") {
        return (StatusCode::OK, Body::empty()).into_response();
    }
    let Some(fn_id) = query.get("fnId") else {
        return Reply::problem(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "missing query parameter fnId",
        )
        .into_response();
    };
    let Some(function) = app.function(fn_id) else {
        return Reply::problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "FunctionNotFound",
            format!(
                "function {fn_id:?} is not served by app {:?}",
                app.client.app_id()
            ),
        )
        .into_response();
    };
    let Some(handler) = function.handler_fn() else {
        return Reply::problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "FunctionHasNoHandler",
            format!("function {fn_id:?} was defined without a handler"),
        )
        .into_response();
    };
    let mut call: CallRequest = match serde_json::from_slice(&body) {
        Ok(call) => call,
        Err(error) => {
            return Reply::problem(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                format!("malformed call request body: {error}"),
            )
            .into_response();
        }
    };
    if (call.use_api || call.ctx.use_api)
        && let Err(error) = load_from_api(&app.client, &mut call).await
    {
        return Reply::problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "StateUnavailable",
            format!("could not load the run state from the engine: {error}"),
        )
        .into_response();
    }
    let target = query
        .get("stepId")
        .cloned()
        .unwrap_or_else(|| call.ctx.step_id.clone());
    let span = tracing::debug_span!(
        "call",
        fn_id = %fn_id,
        run_id = %call.ctx.run_id,
        step_id = %target,
        attempt = call.ctx.attempt
    );
    exec::execute(&app.client, handler, call, &target)
        .instrument(span)
        .await
        .into_response()
}

/// In production mode (a signing key), a request must be signed by the engine: 401 otherwise.
fn check_signature(app: &App, request_headers: &HeaderMap, body: &[u8]) -> Result<(), Reply> {
    let Some(keys) = app.client.keys() else {
        return Ok(());
    };
    let signature = request_headers
        .get(headers::SIGNATURE)
        .and_then(|value| value.to_str().ok());
    keys.verify(signature, body).map_err(|error| {
        tracing::warn!(%error, "refused a request that is not signed with the signing key");
        Reply::problem(StatusCode::UNAUTHORIZED, "Unauthorized", error.to_string())
    })
}

/// A call request too large to carry the run's state says `use_api`: fetch events and steps from the API.
async fn load_from_api(client: &Client, call: &mut CallRequest) -> Result<(), crate::ClientError> {
    let run_id = &call.ctx.run_id;
    let events: Vec<EventPayload> = client.get_json(&format!("/v0/runs/{run_id}/batch")).await?;
    let steps: std::collections::BTreeMap<String, Value> = client
        .get_json(&format!("/v0/runs/{run_id}/actions"))
        .await?;
    if let Some(first) = events.first() {
        call.event = first.clone();
    }
    call.events = events;
    call.steps = steps;
    Ok(())
}

fn query_params(uri: &axum::http::Uri) -> HashMap<String, String> {
    Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|Query(params)| params)
        .unwrap_or_default()
}

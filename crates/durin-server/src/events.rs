//! `POST /e/{key}`: one event or an array; answered once the events are durable.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use durin_engine::{EVENT_MAX_BYTES, EVENTS_PER_REQUEST_MAX, Engine};
use durin_protocol::headers;

use crate::api_error::ApiError;
use crate::openapi::SendEventsBody;
use crate::views::SendEventsResponse;

/// A request body may hold a full batch of maximum-size events, up to this many bytes.
pub(crate) const EVENT_BODY_MAX_BYTES: usize = 16 * 1024 * 1024;

/// Send events
///
/// Accepts one event or an array of events and answers once they are durable, with their ids in request
/// order. Each event starts a run of every function it triggers.
#[utoipa::path(
    post,
    path = "/e/{key}",
    tag = "events",
    params(
        ("key" = String, Path, description = "The event key: any non-blank string for `durin dev`, one of its `--event-key`s for `durin serve`."),
        (
            "x-inngest-event-id-seed" = Option<String>,
            Header,
            description = "Seeds the event ids, so that a retried request gets the same ids."
        ),
    ),
    request_body(content = SendEventsBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The events are stored.", body = SendEventsResponse),
        (
            status = 400,
            description = "The body is not an event or an array of events.",
            body = SendEventsResponse,
        ),
        (
            status = 401,
            description = "The event key is blank, or (`durin serve`) not one of the engine's event keys.",
            body = SendEventsResponse,
        ),
        (
            status = 413,
            description = "Too many events, or an event or the body is too large.",
            body = SendEventsResponse,
        ),
        (
            status = 503,
            description = "The store is unavailable, or the engine is busy storing other events: nothing \
                           of the request was stored; send it again after `Retry-After` seconds.",
            body = SendEventsResponse,
            headers(("Retry-After" = u64, description = "Seconds to wait before sending again.")),
        ),
    ),
)]
pub(crate) async fn send(
    State(engine): State<Engine>,
    Path(key): Path<String>,
    request_headers: HeaderMap,
    body: Body,
) -> Response {
    if key.trim().is_empty() {
        return refuse(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "an event key is required in the path",
        ));
    }
    // Before the body is read: a burst beyond what the store can take is refused, not buffered.
    let _permit = match engine.intake_permit().await {
        Ok(permit) => permit,
        Err(error) => return refuse(error.into()),
    };
    let bytes = match axum::body::to_bytes(body, EVENT_BODY_MAX_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return refuse(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request body is larger than {EVENT_BODY_MAX_BYTES} bytes (at most {EVENTS_PER_REQUEST_MAX} events of {EVENT_MAX_BYTES} bytes each)"
                ),
            ));
        }
    };
    let seed = request_headers
        .get(headers::EVENT_ID_SEED)
        .and_then(|v| v.to_str().ok());
    match engine.accept_event_body(&bytes, seed).await {
        Ok(ids) => Json(SendEventsResponse {
            ids,
            status: 200,
            error: None,
        })
        .into_response(),
        Err(error) => refuse(error.into()),
    }
}

/// Event API errors keep Inngest's shape: `{"ids": [], "status": N, "error": "..."}`.
fn refuse(error: ApiError) -> Response {
    let retry_after = error.retry_after();
    let body = SendEventsResponse {
        ids: Vec::new(),
        status: error.status.as_u16(),
        error: Some(error.message),
    };
    let mut response = (error.status, Json(body)).into_response();
    if let Some((name, value)) = retry_after
        && let Ok(value) = axum::http::HeaderValue::from_str(&value)
    {
        response.headers_mut().insert(name, value);
    }
    response
}

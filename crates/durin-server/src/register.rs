//! `POST /fn/register`: both the TypeScript and the Python spellings of the payload.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use durin_engine::Engine;
use durin_protocol::{RegisterRequest, headers};

use crate::api_error::{ApiError, ErrorBody};
use crate::views::RegisterResponse;

/// Register an app
///
/// An SDK registers its app and functions (the TypeScript spelling `appName`/`deployType` or the Python
/// spelling `appname`/`deploy_type`).
#[utoipa::path(
    post,
    path = "/fn/register",
    tag = "apps",
    params(
        (
            "x-inngest-expected-server-kind" = Option<String>,
            Header,
            description = "The server kind the SDK expects (`dev` for `durin dev`, `cloud` for `durin serve`); any other value is refused."
        ),
    ),
    request_body(content = crate::openapi::RegisterRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The app is registered.", body = RegisterResponse),
        (
            status = 400,
            description = "The payload is invalid, or the server kind is not the expected one.",
            body = ErrorBody,
        ),
        (status = 413, description = "The payload is larger than 2 MiB.", body = ErrorBody),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
pub(crate) async fn register(
    State(engine): State<Engine>,
    request_headers: HeaderMap,
    payload: Result<Json<RegisterRequest>, JsonRejection>,
) -> Result<Json<RegisterResponse>, ApiError> {
    // 413 over the body limit; every other refusal of the payload is a 400, as the SDKs expect.
    let Json(request) = payload.map_err(|rejection| {
        let status = match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(
            status,
            format!("invalid register payload: {}", rejection.body_text()),
        )
    })?;
    let expected_kind = request_headers
        .get(headers::EXPECTED_SERVER_KIND)
        .and_then(|v| v.to_str().ok());
    Ok(Json(engine.register(request, expected_kind).await?.into()))
}

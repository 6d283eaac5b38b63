//! `POST /fn/register`: both the TypeScript and the Python spellings of the payload.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::HeaderMap;
use durin_engine::Engine;
use durin_protocol::{RegisterRequest, RegisterResponse, headers};

use crate::api_error::ApiError;

pub(crate) async fn register(
    State(engine): State<Engine>,
    request_headers: HeaderMap,
    payload: Result<Json<RegisterRequest>, JsonRejection>,
) -> Result<Json<RegisterResponse>, ApiError> {
    let Json(request) = payload.map_err(|rejection| {
        ApiError::bad_request(format!(
            "invalid register payload: {}",
            rejection.body_text()
        ))
    })?;
    let expected_kind = request_headers
        .get(headers::EXPECTED_SERVER_KIND)
        .and_then(|v| v.to_str().ok());
    Ok(Json(engine.register(request, expected_kind).await?))
}

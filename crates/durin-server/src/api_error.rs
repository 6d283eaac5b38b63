//! The one error type handlers return: a status and a JSON body that names the problem.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use durin_engine::{EngineError, IntakeError, RegisterError};
use durin_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, what)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

/// The body of every REST API error (`/v1`, `/fn/register`): the problem, and the HTTP status repeated.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// A message naming the problem.
    pub(crate) error: String,
    pub(crate) status: u16,
}

/// Seconds a client should wait before sending again after a 503 (the store unavailable, the engine busy)
/// or a 429.
pub(crate) const RETRY_AFTER_SECS: u64 = durin_engine::BUSY_RETRY_AFTER_SECS;

impl ApiError {
    /// The `Retry-After` header this error's answer carries, if any: a refusal the client may send again.
    pub(crate) fn retry_after(&self) -> Option<(axum::http::HeaderName, String)> {
        matches!(
            self.status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        )
        .then(|| {
            (
                axum::http::header::RETRY_AFTER,
                RETRY_AFTER_SECS.to_string(),
            )
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self.retry_after();
        let body = ErrorBody {
            error: self.message,
            status: self.status.as_u16(),
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some((name, value)) = retry_after
            && let Ok(value) = axum::http::HeaderValue::from_str(&value)
        {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => Self::not_found(format!("not found: {what}")),
            StoreError::Unavailable(_) | StoreError::Corrupt(_) | StoreError::LeaseLost(_) => {
                tracing::error!(%error, "store error");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
            }
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::Store(error) => error.into(),
            EngineError::Intake(error) => error.into(),
            EngineError::Register(error) => error.into(),
            EngineError::Policies(error) => Self::bad_request(error.to_string()),
            EngineError::Stale(message) => Self::new(StatusCode::CONFLICT, message),
            EngineError::InvalidRequest(message) => Self::bad_request(message),
            EngineError::Busy { message, .. } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
            }
        }
    }
}

impl From<IntakeError> for ApiError {
    fn from(error: IntakeError) -> Self {
        let status = match error {
            IntakeError::TooLarge { .. } | IntakeError::TooMany { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, error.to_string())
    }
}

impl From<RegisterError> for ApiError {
    fn from(error: RegisterError) -> Self {
        Self::bad_request(error.to_string())
    }
}

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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            status: self.status.as_u16(),
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => Self::not_found(format!("not found: {what}")),
            StoreError::Unavailable(_) | StoreError::Corrupt(_) => {
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
            EngineError::Stale(message) => Self::new(StatusCode::CONFLICT, message),
            EngineError::InvalidRequest(message) => Self::bad_request(message),
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

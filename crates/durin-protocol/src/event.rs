//! Events as sent to `POST /e/{key}` and as handed to functions.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An event as it travels on the wire. `name` is the only required field on intake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPayload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub data: Map<String, Value>,
    #[serde(default)]
    pub user: Map<String, Value>,
    /// Milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<String>,
}

/// The answer to `POST /e/{key}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendEventsResponse {
    pub ids: Vec<String>,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

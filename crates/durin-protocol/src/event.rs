//! Events as sent to `POST /e/{key}` and as handed to functions.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An event as it travels on the wire. `name` is the only required field on intake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPayload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub data: Map<String, Value>,
    #[serde(default, deserialize_with = "null_as_empty")]
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

/// Some SDKs send `"user": null`; it means no user data, as a missing key does.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_data_and_user_read_as_empty() {
        let event: EventPayload =
            serde_json::from_str(r#"{"name":"a","data":null,"user":null}"#).unwrap();
        assert!(event.data.is_empty() && event.user.is_empty());
    }
}

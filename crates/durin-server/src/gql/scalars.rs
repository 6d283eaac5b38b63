//! The custom scalars of Inngest's schema that the queries here use, under Inngest's names: a query declares
//! its variables with these names (`$id: ULID!`), and validation compares them by name.

use async_graphql::{InputValueError, InputValueResult, NewType, Scalar, ScalarType, Value};
use serde::{Deserialize, Serialize};

/// A ULID, as text. Durin's run and event ids are ULIDs; an input that is not one is refused at validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ulid(pub(crate) String);

#[Scalar(name = "ULID")]
impl ScalarType for Ulid {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) if ulid::Ulid::from_string(text).is_ok() => Ok(Self(text.clone())),
            Value::String(text) => Err(InputValueError::custom(format!("not a ULID: {text:?}"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// An RFC 3339 time.
#[derive(Debug, Clone, PartialEq, Eq, NewType)]
#[graphql(name = "Time")]
pub(crate) struct Time(pub(crate) String);

impl Time {
    pub(crate) fn from_millis(ms: i64) -> Self {
        Self(crate::views::rfc3339(ms))
    }
}

/// Inngest's `Bytes`: raw JSON carried as a string (outputs, event payloads), which clients parse again.
#[derive(Debug, Clone, PartialEq, Eq, NewType)]
#[graphql(name = "Bytes")]
pub(crate) struct Bytes(pub(crate) String);

impl Bytes {
    pub(crate) fn json(value: &serde_json::Value) -> Self {
        Self(value.to_string())
    }
}

/// The scope of a span's metadata (`run`, `step`, ...). Durin records none; the type exists so that
/// queries selecting it validate.
#[derive(Debug, Clone, PartialEq, Eq, NewType)]
#[graphql(name = "SpanMetadataScope")]
pub(crate) struct SpanMetadataScope(pub(crate) String);

/// The kind of a span's metadata (`inngest.ai`, ...).
#[derive(Debug, Clone, PartialEq, Eq, NewType)]
#[graphql(name = "SpanMetadataKind")]
pub(crate) struct SpanMetadataKind(pub(crate) String);

/// A span's metadata values: a JSON object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct SpanMetadataValues(pub(crate) serde_json::Value);

async_graphql::scalar!(SpanMetadataValues, "SpanMetadataValues");

/// Any JSON value (a step error's `cause`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Unknown(pub(crate) serde_json::Value);

async_graphql::scalar!(Unknown, "Unknown");

//! A registered function as the engine sees it: its triggers and its retry policy.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::expression::{Expression, ExpressionError};
use crate::policy::RetryPolicy;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionConfig {
    /// Composite id `<app>-<fn>`, as the SDKs send it.
    pub id: String,
    pub name: String,
    pub app_name: String,
    /// Where the engine POSTs call requests (without the `fnId`/`stepId` query, which it adds).
    pub url: String,
    pub triggers: Vec<Trigger>,
    pub policy: RetryPolicy,
}

impl FunctionConfig {
    /// Whether an event with this name and body starts a run of this function.
    pub fn is_triggered_by(&self, name: &str, event: &Value) -> bool {
        self.triggers.iter().any(|t| t.matches(name, event))
    }
}

/// An event trigger with an optional filter expression. Cron triggers are kept aside by the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<Expression>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    #[error("trigger has an empty event name")]
    EmptyEvent,
    #[error("trigger expression {expression:?}: {source}")]
    Expression {
        expression: String,
        source: ExpressionError,
    },
}

impl Trigger {
    pub fn new(event: &str, expression: Option<&str>) -> Result<Self, TriggerError> {
        if event.trim().is_empty() {
            return Err(TriggerError::EmptyEvent);
        }
        let expression = match expression.map(str::trim).filter(|e| !e.is_empty()) {
            None => None,
            Some(text) => {
                Some(
                    Expression::parse(text).map_err(|source| TriggerError::Expression {
                        expression: text.to_owned(),
                        source,
                    })?,
                )
            }
        };
        Ok(Self {
            event: event.to_owned(),
            expression,
        })
    }

    /// `event` is the whole event object (`name`, `data`, ...), visible to the expression as `event`.
    pub fn matches(&self, name: &str, event: &Value) -> bool {
        self.event == name && self.expression.as_ref().is_none_or(|e| e.matches(event))
    }
}

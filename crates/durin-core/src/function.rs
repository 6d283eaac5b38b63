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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn function(triggers: Vec<Trigger>) -> FunctionConfig {
        FunctionConfig {
            id: "app-fn".to_owned(),
            name: "Fn".to_owned(),
            app_name: "app".to_owned(),
            url: "http://127.0.0.1:3000/api/inngest".to_owned(),
            triggers,
            policy: RetryPolicy::default(),
        }
    }

    #[test]
    fn plain_event_trigger() {
        let trigger = Trigger::new("app/user.created", None).unwrap();
        assert_eq!(trigger.expression, None);
        assert!(trigger.matches("app/user.created", &json!({"data": {}})));
        assert!(!trigger.matches("app/user.deleted", &json!({"data": {}})));
        assert!(!trigger.matches("APP/USER.CREATED", &json!({"data": {}})));
    }

    #[test]
    fn failure_handler_trigger() {
        let trigger = Trigger::new(
            "inngest/function.failed",
            Some("event.data.function_id == 'app-fn'"),
        )
        .unwrap();
        let ours = json!({"name": "inngest/function.failed", "data": {"function_id": "app-fn"}});
        let theirs =
            json!({"name": "inngest/function.failed", "data": {"function_id": "app-other"}});
        assert!(trigger.matches("inngest/function.failed", &ours));
        assert!(!trigger.matches("inngest/function.failed", &theirs));
        assert!(!trigger.matches("inngest/function.finished", &ours));
    }

    #[test]
    fn blank_expressions_mean_none() {
        for blank in ["", "   ", "\n\t"] {
            let trigger = Trigger::new("e", Some(blank)).unwrap();
            assert_eq!(trigger.expression, None, "{blank:?}");
        }
    }

    #[test]
    fn expressions_are_trimmed() {
        let trigger = Trigger::new("e", Some("  event.data.ok == true  ")).unwrap();
        assert_eq!(
            trigger.expression.as_ref().map(Expression::source),
            Some("event.data.ok == true")
        );
    }

    #[test]
    fn empty_event_names_are_refused() {
        assert_eq!(Trigger::new("", None), Err(TriggerError::EmptyEvent));
        assert_eq!(
            Trigger::new("  ", Some("event.data.ok == true")),
            Err(TriggerError::EmptyEvent)
        );
    }

    #[test]
    fn invalid_expressions_are_refused_with_their_text() {
        let error = Trigger::new("e", Some("event.data.x >")).unwrap_err();
        assert!(matches!(
            &error,
            TriggerError::Expression { expression, source: ExpressionError::Syntax(_) } if expression == "event.data.x >"
        ));
        assert!(
            error
                .to_string()
                .starts_with("trigger expression \"event.data.x >\": ")
        );
    }

    #[test]
    fn any_trigger_starts_a_run() {
        let config = function(vec![
            Trigger::new("a", None).unwrap(),
            Trigger::new("b", Some("event.data.ok == true")).unwrap(),
        ]);
        assert!(config.is_triggered_by("a", &json!({"data": {}})));
        assert!(config.is_triggered_by("b", &json!({"data": {"ok": true}})));
        assert!(!config.is_triggered_by("b", &json!({"data": {"ok": false}})));
        assert!(!config.is_triggered_by("c", &json!({"data": {"ok": true}})));
    }

    #[test]
    fn no_triggers_nothing_starts_it() {
        assert!(!function(Vec::new()).is_triggered_by("a", &json!({})));
    }

    #[test]
    fn trigger_serde_omits_a_missing_expression() {
        let plain = Trigger::new("a", None).unwrap();
        assert_eq!(serde_json::to_value(&plain).unwrap(), json!({"event": "a"}));
        let filtered = Trigger::new("b", Some("event.data.ok == true")).unwrap();
        let json = serde_json::to_value(&filtered).unwrap();
        assert_eq!(
            json,
            json!({"event": "b", "expression": "event.data.ok == true"})
        );
        assert_eq!(serde_json::from_value::<Trigger>(json).unwrap(), filtered);
        assert_eq!(
            serde_json::from_value::<Trigger>(json!({"event": "a"})).unwrap(),
            plain
        );
    }

    #[test]
    fn function_config_round_trips() {
        let config = function(vec![
            Trigger::new(
                "inngest/function.failed",
                Some("event.data.function_id == 'app-fn'"),
            )
            .unwrap(),
        ]);
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(
            serde_json::from_str::<FunctionConfig>(&json).unwrap(),
            config
        );
    }
}

//! Filter expressions in Inngest's expression language, CEL: trigger filters (`event.data.ok == true`),
//! the SDKs' failure-handler filters (`event.data.function_id == 'app-fn'`) and, later, `waitForEvent`
//! conditions (`event.data.id == async.data.id`). Parsing and evaluation are the `cel` crate's.
//!
//! An expression that does not parse is refused when registered, with the parser's message. One that fails
//! while evaluating (a missing key, a type mismatch) does not match: an event lacking a field never
//! satisfies a filter on it.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest expression accepted, in bytes.
pub const EXPRESSION_MAX_BYTES: usize = 4 * 1024;

/// A compiled expression. Serialized as its source text and compiled again when read.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Expression {
    source: String,
    program: Arc<cel::Program>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    #[error("the expression is empty")]
    Empty,
    #[error("the expression is {0} bytes; the limit is {EXPRESSION_MAX_BYTES}")]
    TooLong(usize),
    #[error("the expression is too complex: {0}")]
    TooComplex(String),
    #[error("cannot parse the expression: {0}")]
    Syntax(String),
}

impl Expression {
    pub fn parse(source: &str) -> Result<Self, ExpressionError> {
        if source.trim().is_empty() {
            return Err(ExpressionError::Empty);
        }
        if source.len() > EXPRESSION_MAX_BYTES {
            return Err(ExpressionError::TooLong(source.len()));
        }
        crate::expression_shape::check(source).map_err(ExpressionError::TooComplex)?;
        // The parser panics on some malformed input; a panic here must refuse the expression, not
        // take the engine down.
        let compiled = std::panic::catch_unwind(|| cel::Program::compile(source))
            .map_err(|_| ExpressionError::Syntax("the parser could not read it".into()))?;
        let program = compiled.map_err(|error| ExpressionError::Syntax(syntax_message(&error)))?;
        Ok(Self {
            source: source.to_owned(),
            program: Arc::new(program),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates with the event bound to `event`. True only when the result is the boolean `true`.
    pub fn matches(&self, event: &Value) -> bool {
        self.evaluate(&[("event", event)])
    }

    /// Evaluates with the given variables bound (e.g. `event` and `async` for a `waitForEvent`).
    pub fn evaluate(&self, variables: &[(&str, &Value)]) -> bool {
        let mut context = cel::Context::default();
        for (name, value) in variables {
            if context.add_variable(*name, (*value).clone()).is_err() {
                return false;
            }
        }
        matches!(self.program.execute(&context), Ok(cel::Value::Bool(true)))
    }
}

/// The parser's first message, without its internal position bookkeeping.
fn syntax_message(error: &cel::ParseErrors) -> String {
    match error.errors.first() {
        Some(first) => format!(
            "{} (line {}, column {})",
            first.msg,
            first.pos.0,
            first.pos.1 + 1
        ),
        None => "invalid syntax".into(),
    }
}

impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expression").field(&self.source).finish()
    }
}

impl TryFrom<String> for Expression {
    type Error = ExpressionError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Expression> for String {
    fn from(value: Expression) -> Self {
        value.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn failed_event(function_id: &str) -> Value {
        json!({
            "name": "inngest/function.failed",
            "data": {
                "function_id": function_id,
                "run_id": "01J00000000000000000000000",
                "error": {"name": "Error", "message": "boom"},
            },
        })
    }

    fn check(source: &str, event: &Value, expected: bool) {
        let expression = Expression::parse(source).unwrap();
        assert_eq!(expression.matches(event), expected, "{source} on {event}");
    }

    #[test]
    fn the_sdk_failure_handler_filter() {
        let source = "event.data.function_id == 'app-fn'";
        check(source, &failed_event("app-fn"), true);
        check(source, &failed_event("app-other"), false);
        check(source, &failed_event("app-fn-failure"), false);
    }

    #[test]
    fn the_register_capture_filter() {
        let source = "event.data.ok == true";
        check(source, &json!({"data": {"ok": true}}), true);
        check(source, &json!({"data": {"ok": false}}), false);
        check(source, &json!({"data": {"ok": "true"}}), false);
    }

    #[test]
    fn a_missing_field_never_matches() {
        check(
            "event.data.function_id == 'app-fn'",
            &json!({"data": {}}),
            false,
        );
        check(
            "event.data.function_id != 'app-fn'",
            &json!({"data": {}}),
            false,
        );
        check("event.data.a.b == 1", &json!({"data": {"a": 3}}), false);
    }

    #[test]
    fn comparisons_and_logic() {
        let event = json!({"name": "e", "data": {"n": 3, "f": 2.5, "s": "x", "tags": ["a", "b"], "user": {"plan": "pro"}}});
        check("event.data.n == 3", &event, true);
        check("event.data.n > 2 && event.data.n < 4", &event, true);
        check("event.data.f >= 2.5", &event, true);
        check("event.data.s != 'y' || event.data.n == 0", &event, true);
        check("!(event.data.s == 'x')", &event, false);
        check("'a' in event.data.tags", &event, true);
        check(
            "event.data.user.plan == 'pro' && event.name == 'e'",
            &event,
            true,
        );
        check("event.data.s.startsWith('x')", &event, true);
        check("size(event.data.tags) == 2", &event, true);
        check("has(event.data.missing)", &event, false);
    }

    #[test]
    fn quotes_may_hold_operators() {
        let event = json!({"data": {"s": "a && b == c", "t": "z"}});
        check(
            "event.data.s == 'a && b == c' && event.data.t == 'z'",
            &event,
            true,
        );
        check(r#"event.data.s == "a && b == c""#, &event, true);
    }

    #[test]
    fn two_variables_for_wait_for_event() {
        let expression = Expression::parse("event.data.id == async.data.id").unwrap();
        let trigger = json!({"data": {"id": 7}});
        assert!(
            expression.evaluate(&[("event", &trigger), ("async", &json!({"data": {"id": 7}}))])
        );
        assert!(
            !expression.evaluate(&[("event", &trigger), ("async", &json!({"data": {"id": 8}}))])
        );
    }

    #[test]
    fn a_non_boolean_result_does_not_match() {
        check("event.data.n", &json!({"data": {"n": 1}}), false);
        check("event.data.s", &json!({"data": {"s": "true"}}), false);
    }

    #[test]
    fn refuses_what_does_not_parse() {
        for source in [
            "event.data.x >",
            "event.data.x == 'open",
            "&& a",
            "event..data",
        ] {
            assert!(
                matches!(Expression::parse(source), Err(ExpressionError::Syntax(_))),
                "{source}"
            );
        }
        assert_eq!(Expression::parse("  "), Err(ExpressionError::Empty));
        let long = format!("event.data.x == '{}'", "a".repeat(EXPRESSION_MAX_BYTES));
        assert!(matches!(
            Expression::parse(&long),
            Err(ExpressionError::TooLong(_))
        ));
    }

    #[test]
    fn serializes_as_its_source() {
        let expression = Expression::parse("event.data.a == 1").unwrap();
        let text = serde_json::to_string(&expression).unwrap();
        assert_eq!(text, r#""event.data.a == 1""#);
        let back: Expression = serde_json::from_str(&text).unwrap();
        assert_eq!(back, expression);
        assert!(serde_json::from_str::<Expression>(r#""event.data.a ==""#).is_err());
    }

    proptest! {
        #[test]
        fn never_panics_on_any_text(source in ".{0,80}") {
            if let Ok(expression) = Expression::parse(&source) {
                let _ = expression.matches(&json!({"data": {"a": 1}}));
            }
        }

        #[test]
        fn string_equality_matches_exactly(value in "[a-zA-Z0-9 _-]{0,20}", other in "[a-zA-Z0-9 _-]{0,20}") {
            let expression = Expression::parse(&format!("event.data.s == '{value}'")).unwrap();
            let same = json!({"data": {"s": value.clone()}});
            let different = json!({"data": {"s": other.clone()}});
            prop_assert!(expression.matches(&same));
            prop_assert_eq!(expression.matches(&different), other == value);
        }
    }
}

//! Trigger filter expressions: the subset of Inngest's expression language that the SDKs' own
//! registrations use — comparisons of `event.*` paths with literals (`==`, `!=`), joined by `&&`.
//! Anything else is refused at registration with a clear error rather than silently never matching.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A parsed filter. Stored as its source text and re-parsed on load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Expression {
    source: String,
    clauses: Vec<Clause>,
}

#[derive(Debug, Clone, PartialEq)]
struct Clause {
    path: Vec<String>,
    negated: bool,
    literal: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    #[error("expected `<path> == <literal>` or `<path> != <literal>` in {0:?}")]
    UnsupportedClause(String),
    #[error("the path {0:?} must start with `event.`")]
    UnknownRoot(String),
    #[error("cannot read the literal {0:?}")]
    BadLiteral(String),
}

impl Expression {
    pub fn parse(source: &str) -> Result<Self, ExpressionError> {
        let clauses = split_clauses(source)
            .into_iter()
            .map(parse_clause)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            source: source.to_owned(),
            clauses,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against the event object, bound to the name `event`. A path that leads nowhere (a missing
    /// key, or a step into a non-object) equals no literal, not even `null`: `==` is false and `!=` true.
    pub fn matches(&self, event: &Value) -> bool {
        self.clauses.iter().all(|clause| {
            let found = clause
                .path
                .iter()
                .try_fold(event, |value, key| value.get(key));
            let equal = found.is_some_and(|v| values_equal(v, &clause.literal));
            equal != clause.negated
        })
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

/// Splits on `&&` outside quotes.
fn split_clauses(source: &str) -> Vec<&str> {
    let mut clauses = Vec::new();
    let mut rest = source;
    while let Some((at, _)) = find_outside_quotes(rest, &["&&"]) {
        clauses.push(&rest[..at]);
        rest = &rest[at + 2..];
    }
    clauses.push(rest);
    clauses
}

fn parse_clause(clause: &str) -> Result<Clause, ExpressionError> {
    let text = clause.trim();
    // The first comparison operator outside quotes splits the clause, whichever it is.
    let Some((at, operator)) = find_outside_quotes(text, &["==", "!="]) else {
        return Err(ExpressionError::UnsupportedClause(text.to_owned()));
    };
    let (left, right) = (text[..at].trim(), text[at + operator.len()..].trim());
    let negated = operator == "!=";
    let path: Vec<&str> = left.split('.').collect();
    let valid_segment =
        |p: &&str| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_');
    if path.first() != Some(&"event") || path.len() < 2 || !path.iter().all(valid_segment) {
        return Err(ExpressionError::UnknownRoot(left.to_owned()));
    }
    let literal = parse_literal(right)?;
    Ok(Clause {
        path: path[1..].iter().map(|p| (*p).to_owned()).collect(),
        negated,
        literal,
    })
}

/// The byte index and text of the first of `operators` that occurs outside a quoted string. Quotes are
/// `'` or `"`; inside them a backslash escapes the next character.
fn find_outside_quotes<'o>(text: &str, operators: &[&'o str]) -> Option<(usize, &'o str)> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None => {
                if let Some(op) = operators.iter().find(|op| text[i..].starts_with(**op)) {
                    return Some((i, op));
                }
            }
        }
    }
    None
}

/// A string in single or double quotes, a number, `true`, `false` or `null`.
fn parse_literal(text: &str) -> Result<Value, ExpressionError> {
    let bad = || ExpressionError::BadLiteral(text.to_owned());
    if let Some(body) = text.strip_prefix('\'') {
        return unquote(body, '\'').map(Value::String).ok_or_else(bad);
    }
    if let Some(body) = text.strip_prefix('"') {
        return unquote(body, '"').map(Value::String).ok_or_else(bad);
    }
    let value: Value = serde_json::from_str(text).map_err(|_| bad())?;
    match value {
        Value::Array(_) | Value::Object(_) | Value::String(_) => Err(bad()),
        scalar => Ok(scalar),
    }
}

/// The contents of a string whose opening `quote` has been taken off: everything up to the closing quote,
/// which must end the text. Escapes: `\\`, `\'`, `\"`, `\/`, `\n`, `\r`, `\t`, `\uXXXX`.
fn unquote(body: &str, quote: char) -> Option<String> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                e @ ('\\' | '\'' | '"' | '/') => out.push(e),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    if hex.len() != 4 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return None;
                    }
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                _ => return None,
            },
            c if c == quote => return chars.as_str().is_empty().then_some(out),
            c => out.push(c),
        }
    }
    // No closing quote.
    None
}

/// Equality as the expression language has it: numbers compare by value (`1 == 1.0`), exactly when
/// both are integers; everything else structurally.
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                match (x.as_f64(), y.as_f64()) {
                    (Some(x), Some(y)) => x == y,
                    _ => false,
                }
            }
        }
        _ => a == b,
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
                "event": {"name": "app/user.created", "data": {}},
            },
        })
    }

    /// Parses `source` and checks it against `event`.
    fn check(source: &str, event: &Value, expected: bool) {
        let expression = Expression::parse(source).unwrap();
        assert_eq!(expression.matches(event), expected, "{source} on {event}");
    }

    fn rejects(source: &str) -> ExpressionError {
        match Expression::parse(source) {
            Ok(parsed) => panic!("{source:?} parsed as {parsed:?}"),
            Err(error) => error,
        }
    }

    // --- the forms the SDKs register ---

    #[test]
    fn failure_handler_expression() {
        let source = "event.data.function_id == 'app-fn'";
        check(source, &failed_event("app-fn"), true);
        check(source, &failed_event("app-other"), false);
        check(source, &failed_event("app-fn-failure"), false);
        check(source, &json!({"data": {}}), false);
    }

    #[test]
    fn boolean_literal_from_the_register_capture() {
        let source = "event.data.ok == true";
        check(source, &json!({"data": {"ok": true}}), true);
        check(source, &json!({"data": {"ok": false}}), false);
        check(source, &json!({"data": {"ok": "true"}}), false);
        check(source, &json!({"data": {"ok": 1}}), false);
        check(source, &json!({"data": {}}), false);
    }

    // --- literals ---

    #[test]
    fn double_quoted_strings() {
        check(r#"event.data.s == "x""#, &json!({"data": {"s": "x"}}), true);
        check(
            r#"event.data.s == "x""#,
            &json!({"data": {"s": "y"}}),
            false,
        );
    }

    #[test]
    fn numbers_compare_by_value() {
        let event = json!({"data": {"n": 3, "f": 2.5, "neg": -7, "big": 18446744073709551615u64}});
        check("event.data.n == 3", &event, true);
        check("event.data.n == 3.0", &event, true);
        check("event.data.n == 4", &event, false);
        check("event.data.f == 2.5", &event, true);
        check("event.data.f == 2", &event, false);
        check("event.data.neg == -7", &event, true);
        check("event.data.n == 3e0", &event, true);
        check("event.data.big == 18446744073709551615", &event, true);
        check("event.data.big == 18446744073709551614", &event, false);
    }

    #[test]
    fn large_integers_compare_exactly() {
        // Both round to the same f64; they are still different integers.
        let event = json!({"data": {"id": 9_007_199_254_740_993i64}});
        check("event.data.id == 9007199254740993", &event, true);
        check("event.data.id == 9007199254740992", &event, false);
    }

    #[test]
    fn a_number_never_equals_its_text() {
        check("event.data.n == '3'", &json!({"data": {"n": 3}}), false);
        check("event.data.n == 3", &json!({"data": {"n": "3"}}), false);
    }

    #[test]
    fn null_literal() {
        check("event.data.x == null", &json!({"data": {"x": null}}), true);
        check("event.data.x != null", &json!({"data": {"x": null}}), false);
        check("event.data.x != null", &json!({"data": {"x": 0}}), true);
    }

    #[test]
    fn escapes_in_strings() {
        check(
            r"event.data.s == 'it\'s'",
            &json!({"data": {"s": "it's"}}),
            true,
        );
        check(
            r#"event.data.s == "say \"hi\"""#,
            &json!({"data": {"s": "say \"hi\""}}),
            true,
        );
        check(
            r"event.data.s == 'back\\slash'",
            &json!({"data": {"s": "back\\slash"}}),
            true,
        );
        check(
            r"event.data.s == 'a\nb\tc\u00e9'",
            &json!({"data": {"s": "a\nb\tcé"}}),
            true,
        );
        check(
            "event.data.s == 'héllo'",
            &json!({"data": {"s": "héllo"}}),
            true,
        );
    }

    #[test]
    fn empty_string_literal() {
        check("event.data.s == ''", &json!({"data": {"s": ""}}), true);
        check(r#"event.data.s == """#, &json!({"data": {"s": "x"}}), false);
    }

    // --- operators ---

    #[test]
    fn not_equal() {
        let source = "event.data.function_id != 'app-fn'";
        check(source, &failed_event("app-fn"), false);
        check(source, &failed_event("app-other"), true);
    }

    #[test]
    fn and_needs_every_clause() {
        let source = "event.data.a == 1 && event.data.b == 'x' && event.name == 'e'";
        check(
            source,
            &json!({"name": "e", "data": {"a": 1, "b": "x"}}),
            true,
        );
        check(
            source,
            &json!({"name": "e", "data": {"a": 2, "b": "x"}}),
            false,
        );
        check(
            source,
            &json!({"name": "e", "data": {"a": 1, "b": "y"}}),
            false,
        );
        check(
            source,
            &json!({"name": "f", "data": {"a": 1, "b": "x"}}),
            false,
        );
    }

    #[test]
    fn and_with_not_equal() {
        let source = "event.data.a != 1&&event.data.b == 2";
        check(source, &json!({"data": {"a": 0, "b": 2}}), true);
        check(source, &json!({"data": {"a": 1, "b": 2}}), false);
    }

    #[test]
    fn whitespace_is_free() {
        check(
            "  event.data.a==1   &&event.data.b   !=   'x'  ",
            &json!({"data": {"a": 1, "b": "y"}}),
            true,
        );
    }

    #[test]
    fn quotes_may_hold_operators() {
        let event = json!({"data": {"s": "a && b == c != d"}});
        check("event.data.s == 'a && b == c != d'", &event, true);
        check(r#"event.data.s == "a && b == c != d""#, &event, true);
        check("event.data.s != 'a && b'", &event, true);
        check(
            "event.data.s == 'x&&y' && event.data.t == 'z'",
            &json!({"data": {"s": "x&&y", "t": "z"}}),
            true,
        );
        let parsed = Expression::parse("event.data.s == 'x&&y' && event.data.t == 'z'").unwrap();
        assert_eq!(parsed.clauses.len(), 2);
    }

    #[test]
    fn escaped_quotes_do_not_end_the_string() {
        let event = json!({"data": {"s": "x\" == \"y", "t": "q"}});
        check(
            r#"event.data.s == "x\" == \"y" && event.data.t == 'q'"#,
            &event,
            true,
        );
        check(
            r"event.data.s != 'a\' && b' && event.data.t == 'q'",
            &event,
            true,
        );
        let parsed =
            Expression::parse(r"event.data.s != 'a\' && b' && event.data.t == 'q'").unwrap();
        assert_eq!(parsed.clauses.len(), 2);
        assert_eq!(parsed.clauses[0].literal, json!("a' && b"));
    }

    // --- paths ---

    #[test]
    fn deep_and_top_level_paths() {
        let event =
            json!({"name": "app/x", "id": "e1", "data": {"user": {"plan": {"tier": "pro"}}}});
        check("event.data.user.plan.tier == 'pro'", &event, true);
        check("event.name == 'app/x'", &event, true);
        check("event.id == 'e1'", &event, true);
        check(
            "event.data.user_id == 1",
            &json!({"data": {"user_id": 1}}),
            true,
        );
    }

    #[test]
    fn missing_paths_equal_nothing() {
        let event = json!({"data": {"a": 1, "s": "text", "list": [1, 2]}});
        check("event.data.missing == 1", &event, false);
        check("event.data.missing == null", &event, false);
        check("event.data.missing != 1", &event, true);
        check("event.nothing.at.all == 'x'", &event, false);
        check("event.nothing.at.all != 'x'", &event, true);
        // Stepping into a scalar or an array leads nowhere.
        check("event.data.a.b == 1", &event, false);
        check("event.data.s.len == 4", &event, false);
        check("event.data.list.0 == 1", &event, false);
        check("event.data.a == 1", &json!("not an object"), false);
        check("event.data.a == 1", &Value::Null, false);
    }

    // --- rejected forms ---

    #[test]
    fn unsupported_operators_are_rejected() {
        for source in [
            "event.data.x > 3",
            "event.data.x >= 3",
            "event.data.x < 3",
            "event.data.x <= 3",
            "event.data.x = 3",
            "event.data.x",
            "true",
            "",
            "   ",
            "event.data.x == 1 &&",
            "&& event.data.x == 1",
            "event.data.x == 1 && && event.data.y == 2",
            "event.data.x.startsWith('a')",
        ] {
            assert!(
                matches!(rejects(source), ExpressionError::UnsupportedClause(_)),
                "{source:?}"
            );
        }
    }

    #[test]
    fn other_roots_and_bad_paths_are_rejected() {
        for source in [
            "foo.bar == 1",
            "async.data.x == 1",
            "event == 1",
            "event. == 1",
            "event..data == 1",
            "event.data. == 1",
            "event.data['x'] == 1",
            "event.data.x-y == 1",
            "(event.data.x == 1)",
            "!(event.data.x == 1)",
            "'event.data.x' == 1",
            "1 == event.data.x",
            "Event.data.x == 1",
            "event.data.x >== 3",
        ] {
            assert!(
                matches!(rejects(source), ExpressionError::UnknownRoot(_)),
                "{source:?}: {:?}",
                rejects(source)
            );
        }
    }

    #[test]
    fn bad_literals_are_rejected() {
        for source in [
            "event.data.x == ",
            "event.data.x == foo",
            "event.data.x == 'unterminated",
            "event.data.x == 'a' 'b'",
            "event.data.x == 'a'b",
            r#"event.data.x == "a" "b""#,
            "event.data.x == [1]",
            "event.data.x == {}",
            "event.data.x == 1 || event.data.y == 2",
            "event.data.x === 1",
            "event.data.x == 0x10",
            "event.data.x == True",
            r"event.data.x == 'bad \q escape'",
            r"event.data.x == '\u12'",
            r"event.data.x == '\ud800'",
            "event.data.x == 1 == 2",
        ] {
            assert!(
                matches!(rejects(source), ExpressionError::BadLiteral(_)),
                "{source:?}: {:?}",
                rejects(source)
            );
        }
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            rejects("event.data.x > 3").to_string(),
            "expected `<path> == <literal>` or `<path> != <literal>` in \"event.data.x > 3\""
        );
        assert_eq!(
            rejects("foo.bar == 1").to_string(),
            "the path \"foo.bar\" must start with `event.`"
        );
        assert_eq!(
            rejects("event.x == nope").to_string(),
            "cannot read the literal \"nope\""
        );
    }

    // --- storage ---

    #[test]
    fn stored_as_its_source_text() {
        let source = "event.data.function_id == 'app-fn'";
        let expression = Expression::parse(source).unwrap();
        assert_eq!(expression.source(), source);
        let json = serde_json::to_value(&expression).unwrap();
        assert_eq!(json, json!(source));
        let back: Expression = serde_json::from_value(json).unwrap();
        assert_eq!(back, expression);
        assert_eq!(String::from(expression.clone()), source);
        assert_eq!(Expression::try_from(source.to_owned()).unwrap(), expression);
    }

    #[test]
    fn loading_an_unsupported_expression_fails() {
        let result: Result<Expression, _> = serde_json::from_value(json!("event.data.x > 3"));
        assert!(result.is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(source in any::<String>(), event in any::<String>()) {
            if let Ok(expression) = Expression::parse(&source) {
                let _ = expression.matches(&json!({"data": {"x": event}}));
            }
        }

        #[test]
        fn parse_never_panics_on_near_misses(source in "[event.dat_x=!&'\" \\\\0-9a]{0,40}") {
            if let Ok(expression) = Expression::parse(&source) {
                let _ = expression.matches(&json!({"data": {"x": 1}}));
            }
        }

        #[test]
        fn any_string_round_trips_through_a_single_quoted_literal(value in any::<String>()) {
            let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
            let source = format!("event.data.v == '{escaped}'");
            let expression = Expression::parse(&source).unwrap();
            let same = json!({"data": {"v": value.clone()}});
            let other = json!({"data": {"v": format!("{value}!")}});
            prop_assert!(expression.matches(&same));
            prop_assert!(!expression.matches(&other));
        }

        #[test]
        fn any_string_round_trips_through_a_json_literal(value in any::<String>()) {
            let source = format!("event.data.v != {} && event.data.w == 1", Value::String(value.clone()));
            let expression = Expression::parse(&source).unwrap();
            let event = json!({"data": {"v": value, "w": 1}});
            prop_assert!(!expression.matches(&event));
        }

        #[test]
        fn integers_match_themselves(n in any::<i64>()) {
            let expression = Expression::parse(&format!("event.data.n == {n}")).unwrap();
            let same = json!({"data": {"n": n}});
            let other = json!({"data": {"n": n.wrapping_add(1)}});
            prop_assert!(expression.matches(&same));
            prop_assert!(!expression.matches(&other));
        }
    }
}

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

    /// Evaluates against the event object, bound to the name `event`.
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
    let mut quote: Option<char> = None;
    let mut start = 0;
    let bytes = source.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        match quote {
            Some(_) if c == '\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '&' && bytes.get(i + 1) == Some(&b'&') => {
                clauses.push(&source[start..i]);
                start = i + 2;
                i += 1;
            }
            None => {}
        }
        i += 1;
    }
    clauses.push(&source[start..]);
    clauses
}

fn parse_clause(clause: &str) -> Result<Clause, ExpressionError> {
    let text = clause.trim();
    let (left, right, negated) = if let Some((l, r)) = split_operator(text, "==") {
        (l, r, false)
    } else if let Some((l, r)) = split_operator(text, "!=") {
        (l, r, true)
    } else {
        return Err(ExpressionError::UnsupportedClause(text.to_owned()));
    };
    let path: Vec<String> = left.trim().split('.').map(str::to_owned).collect();
    if path.first().map(String::as_str) != Some("event")
        || path.len() < 2
        || path
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_alphanumeric() || c == '_'))
    {
        return Err(ExpressionError::UnknownRoot(left.trim().to_owned()));
    }
    let literal = parse_literal(right.trim())?;
    Ok(Clause {
        path: path[1..].to_vec(),
        negated,
        literal,
    })
}

/// Splits at the first operator outside quotes.
fn split_operator<'a>(text: &'a str, operator: &str) -> Option<(&'a str, &'a str)> {
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if text[i..].starts_with(operator) => {
                return Some((&text[..i], &text[i + operator.len()..]));
            }
            None => {}
        }
    }
    None
}

fn parse_literal(text: &str) -> Result<Value, ExpressionError> {
    let bad = || ExpressionError::BadLiteral(text.to_owned());
    if text.len() >= 2 && text.starts_with('\'') && text.ends_with('\'') {
        return Ok(Value::String(text[1..text.len() - 1].replace("\\'", "'")));
    }
    let value: Value = serde_json::from_str(text).map_err(|_| bad())?;
    match value {
        Value::Array(_) | Value::Object(_) => Err(bad()),
        scalar => Ok(scalar),
    }
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

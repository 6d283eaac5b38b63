//! Outside input reaching the domain rules: filter expressions (trigger filters and `waitForEvent`
//! conditions arrive in register payloads and SDK ops) and `Retry-After` values (from app answers).
//! Whatever arrives, parsing and evaluating end with a value or an error: no panic, no hang and no stack
//! overflow on a thread with the stack the engine gives its threads.

use durin_core::expression_shape::{
    CONDITIONALS_MAX, EVALUATION_STACK_BYTES, NESTING_MAX, OPERATORS_MAX,
};
use durin_core::{Expression, ExpressionError, parse_retry_after};
use proptest::prelude::*;
use serde_json::json;

/// Parses and, if accepted, evaluates on a thread with the engine's stack size. A stack overflow aborts
/// the whole test binary, which fails the test.
fn parse_and_evaluate(source: String) -> Result<bool, ExpressionError> {
    std::thread::Builder::new()
        .stack_size(EVALUATION_STACK_BYTES)
        .spawn(move || {
            let expression = Expression::parse(&source)?;
            let event = json!({"data": {"a": {"b": 1}, "tags": ["x"]}});
            Ok(expression.evaluate(&[("event", &event), ("async", &event)]))
        })
        .expect("spawn a thread")
        .join()
        .expect("parsing and evaluating never panic")
}

/// The shapes that make a recursive-descent parser and a tree-walking evaluator recurse, at every size
/// from harmless to the 4 KiB limit.
fn deep_shape(kind: usize, n: usize) -> String {
    match kind {
        0 => format!("{}1{}", "(".repeat(n), ")".repeat(n)),
        1 => format!("{}1{}", "[".repeat(n), "]".repeat(n)),
        2 => format!("{}1{}", "{1: ".repeat(n), "}".repeat(n)),
        3 => vec!["1"; n.max(1)].join("+"),
        4 => vec!["event.data.a.b"; n.max(1)].join(" == "),
        5 => format!("{}1", "true ? 1 : ".repeat(n)),
        6 => format!("{}1{}", "1+1+1+1+1+(".repeat(n), ")".repeat(n)),
        7 => format!("{}true", "!".repeat(n)),
        8 => format!("{}1", "-".repeat(n)),
        9 => vec!["true"; n.max(1)].join(" && "),
        10 => format!("event{}", ".a".repeat(n)),
        _ => format!("{}1 in [1]{}", "[".repeat(n), "]".repeat(n)),
    }
}

#[test]
fn the_shape_that_overflowed_a_release_build_is_refused_with_its_limit() {
    // 2,000 terms, 3,999 bytes: under the length limit; it aborted the engine before the shape limits.
    let chain = vec!["1"; 2_000].join("+");
    match parse_and_evaluate(chain) {
        Err(ExpressionError::TooComplex(message)) => {
            assert!(message.contains("1999 arithmetic"), "{message}")
        }
        other => panic!("expected TooComplex, got {other:?}"),
    }
}

#[test]
fn every_deep_shape_up_to_the_length_limit_ends_without_overflow() {
    for kind in 0..12 {
        for n in [1, 5, 15, 16, 17, 50, 128, 129, 500, 1_000, 2_000, 4_000] {
            let source = deep_shape(kind, n);
            if source.len() <= durin_core::expression::EXPRESSION_MAX_BYTES {
                let _ = parse_and_evaluate(source);
            }
        }
    }
}

#[test]
fn expressions_at_every_limit_still_parse_and_evaluate() {
    let nested = format!(
        "{}1{} == 1",
        "(".repeat(NESTING_MAX),
        ")".repeat(NESTING_MAX)
    );
    assert_eq!(parse_and_evaluate(nested), Ok(true));
    let chain = format!(
        "{} == {}",
        vec!["1"; OPERATORS_MAX].join("+"),
        OPERATORS_MAX
    );
    assert_eq!(parse_and_evaluate(chain), Ok(true));
    let conditionals = format!("{}true", "false ? false : ".repeat(CONDITIONALS_MAX));
    assert_eq!(parse_and_evaluate(conditionals), Ok(true));
    let worst = format!(
        "{}{}1{} > 0",
        "(".repeat(NESTING_MAX),
        "1+".repeat(OPERATORS_MAX - 1),
        ")".repeat(NESTING_MAX)
    );
    assert_eq!(parse_and_evaluate(worst), Ok(true));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text_is_parsed_or_refused(source in "\\PC{0,300}") {
        let _ = parse_and_evaluate(source);
    }

    #[test]
    fn any_mix_of_expression_tokens_is_parsed_or_refused(
        tokens in prop::collection::vec(
            prop::sample::select(vec![
                "(", ")", "[", "]", "{", "}", "1", "'s'", "\"t\"", "r'\\'", "event", "async", ".data",
                ".a", "+", "-", "*", "/", "%", "==", "!=", "<", ">=", "!", "&&", "||", "?", ":", ",",
                " in ", "size(", "has(", ".exists(x, ", "'''", "\\", "1.5e308", "-9223372036854775808",
            ]),
            0..400,
        )
    ) {
        let _ = parse_and_evaluate(tokens.concat());
    }

    #[test]
    fn any_retry_after_value_is_parsed_or_ignored(value in "\\PC{0,64}", now in any::<i64>()) {
        if let Some(at) = parse_retry_after(&value, now) {
            // Never sooner than 1 s, never later than 24 h, whatever the text says.
            prop_assert!(at >= now.saturating_add(1_000) && at <= now.saturating_add(86_400_000));
        }
    }
}

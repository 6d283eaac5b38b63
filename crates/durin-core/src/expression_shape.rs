//! How deep an expression may make the parser and the evaluator recurse. The `cel` parser and evaluator
//! recurse once per nested bracket and once per arithmetic or comparison operator in a chain; a 4 KiB
//! expression such as `1+1+…+1` overflowed a 2 MiB thread stack in a release build and aborted the whole
//! process. So the shape is bounded before the text reaches the parser: limits far above what a filter
//! needs, and small enough that [`EVALUATION_STACK_BYTES`] holds them even in a debug build.

/// Brackets (`(`, `[`, `{`) nested inside one another, at most.
pub const NESTING_MAX: usize = 16;
/// Arithmetic and comparison operators (`+ - * / % == != < <= > >= in`), at most. `&&` and `||`, member
/// access and unary operators do not make the parser recurse per use and are not counted.
pub const OPERATORS_MAX: usize = 128;
/// Conditional operators (`a ? b : c`), at most.
pub const CONDITIONALS_MAX: usize = 16;
/// Stack a thread needs to parse and evaluate any expression within these limits, with a wide margin
/// (a debug build needs about 4 MiB for the worst accepted shape; a release build far less). The engine's
/// threads are given this much.
pub const EVALUATION_STACK_BYTES: usize = 8 * 1024 * 1024;

/// The first limit the expression exceeds, as a message naming it.
pub(crate) fn check(source: &str) -> Result<(), String> {
    let shape = Shape::of(source);
    if shape.nesting > NESTING_MAX {
        return Err(format!(
            "brackets are nested {} deep; the limit is {NESTING_MAX}",
            shape.nesting
        ));
    }
    if shape.operators > OPERATORS_MAX {
        return Err(format!(
            "it has {} arithmetic or comparison operators; the limit is {OPERATORS_MAX}",
            shape.operators
        ));
    }
    if shape.conditionals > CONDITIONALS_MAX {
        return Err(format!(
            "it has {} conditional operators (?:); the limit is {CONDITIONALS_MAX}",
            shape.conditionals
        ));
    }
    Ok(())
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Shape {
    nesting: usize,
    operators: usize,
    conditionals: usize,
}

impl Shape {
    /// Counts outside string literals (`'…'`, `"…"`, their triple-quoted and raw forms), so text
    /// compared against is never mistaken for structure.
    fn of(source: &str) -> Self {
        let bytes = source.as_bytes();
        let mut shape = Shape::default();
        let mut depth = 0usize;
        let mut i = 0;
        while i < bytes.len() {
            let byte = bytes[i];
            match byte {
                b'\'' | b'"' => {
                    i = end_of_string(bytes, i);
                    continue;
                }
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    shape.nesting = shape.nesting.max(depth);
                }
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                b'?' => shape.conditionals += 1,
                b'+' | b'-' | b'*' | b'/' | b'%' | b'<' | b'>' => shape.operators += 1,
                // `==` and `!=` (a lone `!` is unary); `<=`/`>=` were counted at `<`/`>`.
                b'=' if i > 0 && matches!(bytes[i - 1], b'=' | b'!') => shape.operators += 1,
                b'i' if is_word_at(bytes, i, b"in") => shape.operators += 1,
                _ => {}
            }
            i += 1;
        }
        shape
    }
}

/// The index just past the string literal opening at `start` (the end of the text if it never closes).
fn end_of_string(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let raw = start > 0
        && matches!(bytes[start - 1], b'r' | b'R')
        && (start < 2 || !is_identifier_byte(bytes[start - 2]));
    let triple = bytes.get(start..start + 3) == Some(&[quote, quote, quote][..]);
    let mut i = start + if triple { 3 } else { 1 };
    while i < bytes.len() {
        if bytes[i] == b'\\' && !raw {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if !triple {
                return i + 1;
            }
            if bytes.get(i..i + 3) == Some(&[quote, quote, quote][..]) {
                return i + 3;
            }
        }
        i += 1;
    }
    bytes.len()
}

fn is_identifier_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// `word` stands alone at `i` (not part of a longer identifier such as `index`).
fn is_word_at(bytes: &[u8], i: usize, word: &[u8]) -> bool {
    bytes.get(i..i + word.len()) == Some(word)
        && (i == 0 || !is_identifier_byte(bytes[i - 1]))
        && bytes
            .get(i + word.len())
            .is_none_or(|&next| !is_identifier_byte(next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(source: &str) -> Shape {
        Shape::of(source)
    }

    #[test]
    fn counts_structure_outside_strings_only() {
        assert_eq!(
            shape("event.data.id == 'a-b-c(d)' && (async.data.n + 1) > 2"),
            Shape {
                nesting: 1,
                operators: 3,
                conditionals: 0
            }
        );
        assert_eq!(shape(r#""x?y" == '''it's (((''' "#).operators, 1);
        assert_eq!(shape(r#""x?y" == '''it's (((''' "#).nesting, 0);
        assert_eq!(shape(r"'a\'+b' + 1").operators, 1);
    }

    #[test]
    fn a_raw_string_ends_at_its_quote_even_after_a_backslash() {
        // r'\' is one backslash; what follows is structure again.
        assert_eq!(shape(r"r'\' + (((1)))").nesting, 3);
        assert_eq!(shape(r"r'\' + (((1)))").operators, 1);
        // `for'` is not a raw-string prefix: the quote follows an identifier ending in r.
        assert_eq!(shape(r"for'\'' + 1").operators, 1);
    }

    #[test]
    fn in_counts_only_as_a_word() {
        assert_eq!(shape("event.data.index in [1, 2]").operators, 1);
        assert_eq!(shape("event.data.in_progress == true").operators, 1);
        assert_eq!(shape("'a' in event.data.tags").operators, 1);
    }

    #[test]
    fn comparisons_count_once() {
        assert_eq!(shape("a == b").operators, 1);
        assert_eq!(shape("a != b").operators, 1);
        assert_eq!(shape("a <= b").operators, 1);
        assert_eq!(shape("a >= b").operators, 1);
        assert_eq!(shape("!a && !b || c").operators, 0);
        assert_eq!(shape("a ? b : c").conditionals, 1);
    }

    #[test]
    fn refuses_each_limit_by_name() {
        let deep = format!(
            "{}1{}",
            "(".repeat(NESTING_MAX + 1),
            ")".repeat(NESTING_MAX + 1)
        );
        assert!(check(&deep).unwrap_err().contains("nested 17 deep"));
        let chain = vec!["1"; OPERATORS_MAX + 2].join("+");
        assert!(check(&chain).unwrap_err().contains("129 arithmetic"));
        let ternaries = format!("{}1", "true ? 1 : ".repeat(CONDITIONALS_MAX + 1));
        assert!(check(&ternaries).unwrap_err().contains("17 conditional"));
        let at_limits = format!(
            "{}{}1{}",
            "(".repeat(NESTING_MAX),
            "1+".repeat(OPERATORS_MAX),
            ")".repeat(NESTING_MAX)
        );
        assert_eq!(check(&at_limits), Ok(()));
    }
}

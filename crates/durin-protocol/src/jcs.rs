//! JSON canonicalization (RFC 8785, "JCS"): the form a request body is signed in. The official SDKs parse
//! a signed body and canonicalize it before checking the HMAC, so the signer must produce exactly the
//! bytes JavaScript's `JSON.stringify` gives for the same value with sorted keys.

use serde_json::Value;

/// `value` in canonical form: no whitespace, object keys sorted by UTF-16 code units, numbers as
/// ECMAScript prints them.
pub fn canonicalize(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(value, &mut out);
    out
}

/// The canonical form of a JSON document; an empty body stays empty (a GET's signature covers nothing).
pub fn canonicalize_bytes(body: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_slice(body)?;
    Ok(canonicalize(&value))
}

fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_number(number, out),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(item, out);
            }
            out.push(b'}');
        }
    }
}

fn write_string(text: &str, out: &mut Vec<u8>) {
    // serde_json escapes exactly what JSON.stringify escapes (quote, backslash, control characters,
    // with the short forms \b \f \n \r \t and lower-case \u00xx otherwise).
    match serde_json::to_vec(text) {
        Ok(bytes) => out.extend_from_slice(&bytes),
        Err(_) => out.extend_from_slice(b"\"\""),
    }
}

/// Integers JavaScript holds exactly are printed as they are; any other number goes through a double,
/// as `JSON.parse` would read it.
fn write_number(number: &serde_json::Number, out: &mut Vec<u8>) {
    const EXACT: u64 = 1 << 53;
    if let Some(n) = number.as_u64().filter(|n| *n <= EXACT) {
        out.extend_from_slice(n.to_string().as_bytes());
    } else if let Some(n) = number.as_i64().filter(|n| n.unsigned_abs() <= EXACT) {
        out.extend_from_slice(n.to_string().as_bytes());
    } else {
        out.extend_from_slice(es_number(number.as_f64().unwrap_or(0.0)).as_bytes());
    }
}

/// ECMAScript's `Number.prototype.toString` for a finite double (ECMA-262 Number::toString).
fn es_number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return "0".to_owned();
    }
    if x < 0.0 {
        return format!("-{}", es_number(-x));
    }
    // Rust prints the shortest digits that read back as `x`, as ECMAScript requires: d.ddde<exp>.
    let scientific = format!("{x:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let k = digits.len() as i64;
    // x = 0.digits × 10^n
    let n = exponent.parse::<i64>().unwrap_or(0) + 1;
    if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        let (whole, fraction) = digits.split_at(n as usize);
        format!("{whole}.{fraction}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let sign = if e < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        if rest.is_empty() {
            format!("{first}e{sign}{}", e.abs())
        } else {
            format!("{first}.{rest}e{sign}{}", e.abs())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(input: &str, expected: &str) {
        let canonical = canonicalize_bytes(input.as_bytes()).expect("valid JSON");
        assert_eq!(String::from_utf8(canonical).expect("UTF-8"), expected);
    }

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        check(
            r#"{ "b": [1, 2, {"z": null, "a": true}], "a": "x" }"#,
            r#"{"a":"x","b":[1,2,{"a":true,"z":null}]}"#,
        );
        check("", "");
    }

    #[test]
    fn sorts_keys_by_utf16_code_units() {
        // U+10000 is a surrogate pair (0xD800 ...) and sorts before U+FFFD in UTF-16, after it in UTF-8.
        let value = json!({"\u{fffd}": 1, "\u{10000}": 2, "a": 3});
        assert_eq!(
            String::from_utf8(canonicalize(&value)).expect("UTF-8"),
            "{\"a\":3,\"\u{10000}\":2,\"\u{fffd}\":1}"
        );
    }

    #[test]
    fn prints_numbers_as_javascript_does() {
        // The RFC 8785 appendix's examples plus the boundaries of each notation.
        for (input, expected) in [
            ("1.0", "1"),
            ("-0.0", "0"),
            ("1.5", "1.5"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1e-7"),
            ("1e21", "1e+21"),
            ("1e20", "100000000000000000000"),
            ("9007199254740993", "9007199254740992"),
            ("-9007199254740992", "-9007199254740992"),
            ("1E30", "1e+30"),
            ("4.50", "4.5"),
            ("2e-3", "0.002"),
            ("0.000000000000000000000000001", "1e-27"),
            ("5e-324", "5e-324"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("18446744073709551615", "18446744073709552000"),
        ] {
            check(input, expected);
        }
        // serde_json's default float parser may be one unit off for this one: format the double itself.
        assert_eq!(es_number(123456789012345680000.0), "123456789012345680000");
        assert_eq!(es_number(333_333_333.333_333_3), "333333333.3333333");
    }

    #[test]
    fn escapes_strings_as_json_stringify() {
        check(
            "\"\\u0001\\b\\f\\n\\r\\t\\\"\\\\/\u{7f}\u{2028}é\"",
            "\"\\u0001\\b\\f\\n\\r\\t\\\"\\\\/\u{7f}\u{2028}é\"",
        );
    }
}

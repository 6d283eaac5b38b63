//! Inngest's request signing and SDK authentication, as the official SDKs (TypeScript 4.24, Python 0.5)
//! compute them:
//!
//! - a signing key is `signkey-<env>-<hex>`; the HMAC key is the text after the prefix, as its UTF-8
//!   bytes (not hex-decoded);
//! - `X-Inngest-Signature: t=<unix seconds>&s=<hex HMAC-SHA256(canonical body || t)>`, where the body is
//!   in its JCS form ([`crate::jcs`]) and `t` is written in decimal;
//! - an SDK proves it holds the key with `Authorization: Bearer <prefix><hex SHA-256 of the hex-decoded
//!   key>` (Python omits the prefix).
//!
//! Secrets never show in `Debug` output or error messages, and every comparison is constant-time.

use std::fmt;

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = hmac::Hmac<Sha256>;

/// The prefix every signing key starts with.
pub const SIGNING_KEY_PREFIX: &str = "signkey-";
/// Shortest accepted secret part, in hex digits (128 bits); Inngest's own keys have 64.
pub const SIGNING_KEY_MIN_HEX: usize = 32;
/// How far a signature's timestamp may be from the verifier's clock, as the TypeScript SDK allows.
pub const SIGNATURE_MAX_AGE_SECS: i64 = 5 * 60;

/// Why a signing key was refused. The messages never contain the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error(
        "a signing key looks like signkey-<env>-<hex>, e.g. signkey-prod- followed by 64 hex digits; the one given does not start with signkey-<env>-"
    )]
    MissingPrefix,
    #[error("the part of the signing key after signkey-<env>- must be hexadecimal digits")]
    NotHex,
    #[error(
        "the part of the signing key after signkey-<env>- has {0} hex digits; at least {SIGNING_KEY_MIN_HEX} (an even number) are needed"
    )]
    TooShort(usize),
}

/// Why a request's signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("no X-Inngest-Signature header")]
    Missing,
    #[error("the X-Inngest-Signature header is malformed: it must be t=<unix seconds>&s=<hex>")]
    Malformed,
    #[error("the X-Inngest-Signature has expired or is from the future (more than 5 minutes off)")]
    Expired,
    #[error("the request body is not JSON, so it cannot be verified")]
    BodyNotJson,
    #[error("the X-Inngest-Signature does not match the body and the signing key")]
    Mismatch,
}

/// A validated signing key (`signkey-<env>-<hex>`).
#[derive(Clone)]
pub struct SigningKey {
    full: String,
    /// Length of `signkey-<env>-`.
    prefix_len: usize,
}

impl SigningKey {
    /// Checks the format: `signkey-`, an environment name of letters, digits or `_`, `-`, then an even
    /// number (at least [`SIGNING_KEY_MIN_HEX`]) of hex digits.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let rest = text
            .strip_prefix(SIGNING_KEY_PREFIX)
            .ok_or(KeyError::MissingPrefix)?;
        let env_len = rest.find('-').ok_or(KeyError::MissingPrefix)?;
        let env = &rest[..env_len];
        if env.is_empty() || !env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(KeyError::MissingPrefix);
        }
        let prefix_len = SIGNING_KEY_PREFIX.len() + env_len + 1;
        let secret = &text[prefix_len..];
        if !secret.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(KeyError::NotHex);
        }
        if secret.len() < SIGNING_KEY_MIN_HEX || !secret.len().is_multiple_of(2) {
            return Err(KeyError::TooShort(secret.len()));
        }
        Ok(Self {
            full: text.to_owned(),
            prefix_len,
        })
    }

    /// `signkey-<env>-`.
    pub fn prefix(&self) -> &str {
        &self.full[..self.prefix_len]
    }

    fn secret(&self) -> &str {
        &self.full[self.prefix_len..]
    }

    /// The whole key as given (to hand to an SDK in a test, never to log).
    pub fn expose(&self) -> &str {
        &self.full
    }

    /// Hex SHA-256 of the hex-decoded secret: what SDKs send as their bearer token.
    fn hashed_secret(&self) -> String {
        // `parse` guarantees an even number of hex digits.
        let bytes = hex::decode(self.secret()).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }

    /// The token an SDK sends: `Authorization: Bearer <this>`.
    pub fn bearer(&self) -> String {
        format!("{}{}", self.prefix(), self.hashed_secret())
    }

    /// Whether `token` (a bearer token, with or without the `signkey-<env>-` prefix) was derived from this
    /// key. Constant-time in the token's content.
    pub fn accepts_bearer(&self, token: &str) -> bool {
        let token = strip_key_prefix(token.trim());
        secrets_equal(token.as_bytes(), self.hashed_secret().as_bytes())
    }

    /// HMAC-SHA256 keyed by the secret's text over `parts` in order.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.hmac();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    fn hmac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(self.secret().as_bytes()).expect("HMAC takes keys of any length")
    }

    /// The `X-Inngest-Signature` value for `canonical_body` (already in JCS form) at `unix_secs`.
    pub fn sign(&self, canonical_body: &[u8], unix_secs: i64) -> String {
        let t = unix_secs.to_string();
        let s = hex::encode(self.mac(&[canonical_body, t.as_bytes()]));
        format!("t={t}&s={s}")
    }

    /// Whether `signature` (hex) is this key's HMAC of `canonical_body || t`; constant-time.
    fn verifies(&self, canonical_body: &[u8], t: &str, signature: &[u8]) -> bool {
        let mut mac = self.hmac();
        mac.update(canonical_body);
        mac.update(t.as_bytes());
        mac.verify_slice(signature).is_ok()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}<redacted>)", self.prefix())
    }
}

/// Removes a leading `signkey-<env>-` (as the SDKs' regular expression `^signkey-[\w]+-` does).
fn strip_key_prefix(text: &str) -> &str {
    let Some(rest) = text.strip_prefix(SIGNING_KEY_PREFIX) else {
        return text;
    };
    match rest.find('-') {
        Some(end)
            if end > 0
                && rest[..end]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            &rest[end + 1..]
        }
        _ => text,
    }
}

/// Constant-time equality that does not reveal the secret's length either: both sides are hashed first.
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    let a = Sha256::digest(a);
    let b = Sha256::digest(b);
    a.as_slice().ct_eq(b.as_slice()).into()
}

/// Signs `body` (any JSON document, or empty) with `key` at `unix_secs`: the canonical bytes to send and
/// the `X-Inngest-Signature` value. Sending the canonical form keeps the signed bytes and the sent bytes
/// the same for every verifier.
pub fn sign_json(value: &serde_json::Value, key: &SigningKey, unix_secs: i64) -> (Vec<u8>, String) {
    let body = crate::jcs::canonicalize(value);
    let signature = key.sign(&body, unix_secs);
    (body, signature)
}

/// Checks a request's `X-Inngest-Signature` against `body` with `keys` (the current key, then a fallback
/// during rotation), at `now_secs`. Returns the key that matched.
pub fn verify<'k>(
    header: Option<&str>,
    body: &[u8],
    keys: &[&'k SigningKey],
    now_secs: i64,
) -> Result<&'k SigningKey, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let (mut t, mut s) = (None, None);
    for pair in header.split('&') {
        match pair.split_once('=') {
            Some(("t", value)) if t.is_none() => t = Some(value),
            Some(("s", value)) if s.is_none() => s = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(s)) = (t, s) else {
        return Err(SignatureError::Malformed);
    };
    let stamp: i64 = t.parse().map_err(|_| SignatureError::Malformed)?;
    let signature = hex::decode(s).map_err(|_| SignatureError::Malformed)?;
    if now_secs.abs_diff(stamp) > SIGNATURE_MAX_AGE_SECS.unsigned_abs() {
        return Err(SignatureError::Expired);
    }
    let canonical =
        crate::jcs::canonicalize_bytes(body).map_err(|_| SignatureError::BodyNotJson)?;
    keys.iter()
        .copied()
        .find(|key| key.verifies(&canonical, t, &signature))
        .ok_or(SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff";

    fn key() -> SigningKey {
        SigningKey::parse(KEY).expect("valid key")
    }

    #[test]
    fn parses_the_inngest_format_and_names_the_problem_without_the_key() {
        assert_eq!(key().prefix(), "signkey-test-");
        assert_eq!(
            SigningKey::parse("prod-abcdef").err(),
            Some(KeyError::MissingPrefix)
        );
        assert_eq!(
            SigningKey::parse("signkey--00ff").err(),
            Some(KeyError::MissingPrefix)
        );
        assert_eq!(
            SigningKey::parse("signkey-prod-xyz0123456789abcdef0123456789abcdef").err(),
            Some(KeyError::NotHex)
        );
        assert_eq!(
            SigningKey::parse("signkey-prod-00ff").err(),
            Some(KeyError::TooShort(4))
        );
        let debug = format!("{:?}", key());
        assert!(!debug.contains("8ee2262a"), "{debug}");
    }

    #[test]
    fn bearer_is_the_sha256_of_the_hex_decoded_secret_with_the_prefix() {
        // Computed independently: printf '\x8e\xe2...' | sha256sum, as the SDKs hash it.
        let secret = hex::decode(&KEY["signkey-test-".len()..]).expect("hex");
        let expected = format!("signkey-test-{}", hex::encode(Sha256::digest(&secret)));
        assert_eq!(key().bearer(), expected);
        assert!(key().accepts_bearer(&expected));
        // Python sends the hash alone.
        assert!(key().accepts_bearer(&expected["signkey-test-".len()..]));
        assert!(key().accepts_bearer(&format!("signkey-prod-{}", &expected[13..])));
        assert!(
            !key().accepts_bearer(KEY),
            "the raw key is not a bearer token"
        );
        assert!(!key().accepts_bearer(""));
    }

    #[test]
    fn signature_is_hmac_of_the_canonical_body_then_the_timestamp_keyed_by_the_secret_text() {
        let body = br#"{"b":1,"a":2}"#;
        let (sent, header) = sign_json(
            &serde_json::from_slice(body).expect("JSON"),
            &key(),
            1_700_000_000,
        );
        assert_eq!(sent, br#"{"a":2,"b":1}"#);
        let mut mac = HmacSha256::new_from_slice(&KEY.as_bytes()["signkey-test-".len()..])
            .expect("any key length");
        mac.update(br#"{"a":2,"b":1}1700000000"#);
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(header, format!("t=1700000000&s={expected}"));
        // A verifier canonicalizes what it received, whatever its key order.
        let k = key();
        assert!(verify(Some(&header), body, &[&k], 1_700_000_100).is_ok());
    }

    #[test]
    fn verify_refuses_forgeries_old_signatures_and_other_keys_and_accepts_the_fallback() {
        let k = key();
        let other = SigningKey::parse(&format!("signkey-test-{}", "ab".repeat(32))).expect("key");
        let body = br#"{"x":1}"#;
        let header = k.sign(body, 1000);
        assert_eq!(
            verify(None, body, &[&k], 1000).err(),
            Some(SignatureError::Missing)
        );
        assert_eq!(
            verify(Some("t=1000"), body, &[&k], 1000).err(),
            Some(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some(&header), br#"{"x":2}"#, &[&k], 1000).err(),
            Some(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), body, &[&k], 1000 + 301).err(),
            Some(SignatureError::Expired)
        );
        assert_eq!(
            verify(Some(&header), body, &[&other], 1000).err(),
            Some(SignatureError::Mismatch)
        );
        let matched = verify(Some(&header), body, &[&other, &k], 1000).expect("fallback");
        assert_eq!(matched.bearer(), k.bearer());
        let forged = header.replace("s=", "s=00");
        assert!(verify(Some(&forged), body, &[&k], 1000).is_err());
    }

    #[test]
    fn secrets_compare_by_content() {
        assert!(secrets_equal(b"abc", b"abc"));
        assert!(!secrets_equal(b"abc", b"abd"));
        assert!(!secrets_equal(b"abc", b"abcd"));
    }
}

//! The keys from the command line: `durin serve` refuses to start without a signing key and an event key
//! (exit 2, naming the flag); `durin dev` takes an optional signing key to sign with. Messages never show
//! a key.

use durin_engine::{EventKey, Security};
use durin_protocol::SigningKey;

use crate::cli::UsageError;

const MAKE_SIGNING_KEY: &str = "make one with: echo \"signkey-prod-$(openssl rand -hex 32)\"";

/// `durin serve`: both keys required, everything enforced.
pub(crate) fn serve_security(
    signing_key: Option<&str>,
    fallback: Option<&str>,
    event_keys: &[String],
) -> Result<Security, UsageError> {
    let Some(signing_key) = signing_key.filter(|k| !k.trim().is_empty()) else {
        return Err(UsageError(format!(
            "durin serve needs a signing key: pass --signing-key or set INNGEST_SIGNING_KEY \
             (signkey-<env>-<hex>; {MAKE_SIGNING_KEY}), and give apps the same key as INNGEST_SIGNING_KEY"
        )));
    };
    let event_keys: Vec<&String> = event_keys.iter().filter(|k| !k.trim().is_empty()).collect();
    if event_keys.is_empty() {
        return Err(UsageError(
            "durin serve needs an event key: pass --event-key or set INNGEST_EVENT_KEY (any string of \
             letters, digits and - _ . ~; make one with: openssl rand -hex 32), and give apps that send \
             events the same key as INNGEST_EVENT_KEY"
                .into(),
        ));
    }
    let event_keys = event_keys
        .into_iter()
        .map(|key| {
            EventKey::parse(key).map_err(|message| {
                UsageError(format!("--event-key (INNGEST_EVENT_KEY): {message}"))
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Security {
        signing_key: Some(parse("--signing-key (INNGEST_SIGNING_KEY)", signing_key)?),
        signing_key_fallback: fallback
            .filter(|k| !k.trim().is_empty())
            .map(|k| parse("--signing-key-fallback (INNGEST_SIGNING_KEY_FALLBACK)", k))
            .transpose()?,
        event_keys,
        enforce: true,
    })
}

/// `durin dev`: open; a signing key, when given, signs requests to apps (apps in production mode need it).
pub(crate) fn dev_security(signing_key: Option<&str>) -> Result<Security, UsageError> {
    Ok(Security {
        signing_key: signing_key
            .filter(|k| !k.trim().is_empty())
            .map(|k| parse("--signing-key (INNGEST_SIGNING_KEY)", k))
            .transpose()?,
        ..Security::default()
    })
}

/// A client command's key: the bearer token it sends.
pub(crate) fn client_key(signing_key: Option<&str>) -> Result<Option<SigningKey>, UsageError> {
    signing_key
        .filter(|k| !k.trim().is_empty())
        .map(|k| parse("--signing-key (INNGEST_SIGNING_KEY)", k))
        .transpose()
}

fn parse(flag: &str, text: &str) -> Result<SigningKey, UsageError> {
    SigningKey::parse(text)
        .map_err(|error| UsageError(format!("{flag}: {error}; {MAKE_SIGNING_KEY}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "signkey-prod-0123456789abcdef0123456789abcdef";

    #[test]
    fn serve_names_the_missing_or_malformed_flag_and_never_the_key() {
        let keys = vec!["ev-1".to_owned()];
        let error = serve_security(None, None, &keys).expect_err("refused");
        assert!(error.0.contains("--signing-key") && error.0.contains("INNGEST_SIGNING_KEY"));
        let error = serve_security(Some(KEY), None, &[]).expect_err("refused");
        assert!(error.0.contains("--event-key") && error.0.contains("INNGEST_EVENT_KEY"));
        let bad = "signkey-prod-secretbutnothex000000000000000000000";
        let error = serve_security(Some(bad), None, &keys).expect_err("refused");
        assert!(error.0.contains("--signing-key") && !error.0.contains("secretbutnothex"));
        let error = serve_security(Some(KEY), Some("nope-secret"), &keys).expect_err("refused");
        assert!(error.0.contains("--signing-key-fallback") && !error.0.contains("nope-secret"));
        let error = serve_security(Some(KEY), None, &["a/b".to_owned()]).expect_err("refused");
        assert!(error.0.contains("--event-key") && !error.0.contains("a/b"));
        let security = serve_security(Some(KEY), None, &keys).expect("valid");
        assert!(security.enforce && security.accepts_event_key("ev-1"));
    }

    #[test]
    fn dev_needs_nothing() {
        let security = dev_security(None).expect("open");
        assert!(!security.enforce && security.signing_key.is_none());
        assert!(
            dev_security(Some(KEY))
                .expect("valid")
                .signing_key
                .is_some()
        );
        assert!(dev_security(Some("bad")).is_err());
    }
}

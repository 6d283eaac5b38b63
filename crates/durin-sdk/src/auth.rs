//! Production mode: a client given a signing key accepts only requests the engine signed with it (or with
//! the fallback key during a rotation), and proves it holds the key on its own requests to the engine
//! with the bearer token the official SDKs send. Without a key the SDK is in development mode: nothing is
//! checked.

use durin_protocol::{SignatureError, SigningKey, headers};
use reqwest::RequestBuilder;

use crate::client::Client;
use crate::error::ClientError;

/// The keys of a client in production mode. `key` is None when `INNGEST_SIGNING_KEY` was set but invalid:
/// the client then refuses every request from the engine rather than accept unsigned ones.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    pub(crate) key: Option<SigningKey>,
    pub(crate) fallback: Option<SigningKey>,
}

impl Keys {
    /// Checks an engine request's `X-Inngest-Signature` against its body (five minutes of clock skew
    /// allowed, as the official SDKs do).
    pub(crate) fn verify(
        &self,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let keys: Vec<&SigningKey> = self.key.iter().chain(self.fallback.iter()).collect();
        let now = jiff::Timestamp::now().as_second();
        durin_protocol::signing::verify(signature, body, &keys, now).map(|_| ())
    }

    /// The bearer tokens to try, in order.
    pub(crate) fn bearers(&self) -> Vec<String> {
        self.key
            .iter()
            .chain(self.fallback.iter())
            .map(SigningKey::bearer)
            .collect()
    }
}

fn parse(key: &str) -> Result<SigningKey, ClientError> {
    SigningKey::parse(key).map_err(|error| ClientError::InvalidKey(error.to_string()))
}

impl Client {
    /// Production mode: requests from the engine must carry a valid `X-Inngest-Signature` made with
    /// `signing_key` (`signkey-<env>-<hex>`, the engine's `--signing-key`), and requests to the engine
    /// carry the bearer token derived from it.
    pub fn with_signing_key(self, signing_key: &str) -> Result<Self, ClientError> {
        let key = Some(parse(signing_key)?);
        let fallback = self.keys().and_then(|keys| keys.fallback);
        self.set_keys(Some(Keys { key, fallback }));
        Ok(self)
    }

    /// A second key accepted on requests from the engine (and tried when the engine refuses the first),
    /// for rotating keys without downtime. Call after [`Client::with_signing_key`].
    pub fn with_signing_key_fallback(self, signing_key: &str) -> Result<Self, ClientError> {
        let fallback = parse(signing_key)?;
        let Some(mut keys) = self.keys() else {
            return Err(ClientError::InvalidKey(
                "a fallback signing key needs a signing key first (with_signing_key)".into(),
            ));
        };
        keys.fallback = Some(fallback);
        self.set_keys(Some(keys));
        Ok(self)
    }

    /// Production mode from `INNGEST_SIGNING_KEY` and `INNGEST_SIGNING_KEY_FALLBACK`, as the official SDKs
    /// read them. An invalid key is logged and leaves the client refusing every engine request.
    pub(crate) fn keys_from_env(&self) {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        };
        let Some(key) = var("INNGEST_SIGNING_KEY") else {
            return;
        };
        let checked = |name: &str, text: &str| match SigningKey::parse(text) {
            Ok(key) => Some(key),
            Err(error) => {
                tracing::error!(%error, "{name} is invalid: every request from the engine will be refused");
                None
            }
        };
        let key = checked("INNGEST_SIGNING_KEY", &key);
        let fallback = var("INNGEST_SIGNING_KEY_FALLBACK")
            .and_then(|text| checked("INNGEST_SIGNING_KEY_FALLBACK", &text));
        self.set_keys(Some(Keys { key, fallback }));
    }

    /// The server kind this client expects: `cloud` in production mode, else `dev`.
    pub(crate) fn expected_server_kind(&self) -> &'static str {
        if self.keys().is_some() {
            headers::SERVER_KIND_CLOUD
        } else {
            headers::SERVER_KIND_DEV
        }
    }

    /// Sends `request` (built without credentials) with the bearer token; when the engine answers 401 or
    /// 403 and there is a fallback key, once more with the fallback's.
    pub(crate) async fn send_authenticated(
        &self,
        request: RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let Some(keys) = self.keys() else {
            return request.send().await;
        };
        let mut bearers = keys.bearers().into_iter();
        let Some(first) = bearers.next() else {
            return request.send().await;
        };
        let retry = request.try_clone();
        let response = request.bearer_auth(first).send().await?;
        let refused = matches!(response.status().as_u16(), 401 | 403);
        match (refused, retry, bearers.next()) {
            (true, Some(retry), Some(fallback)) => retry.bearer_auth(fallback).send().await,
            _ => Ok(response),
        }
    }
}

//! Signing the engine's requests to apps (call requests, syncs, discovery probes) with the signing key,
//! as Inngest's server does: the official SDKs in production mode refuse a request without a valid
//! `X-Inngest-Signature`. The algorithm itself is in `durin_protocol::signing`.

use durin_protocol::headers;
use reqwest::RequestBuilder;
use serde::Serialize;

use crate::engine::Engine;

impl Engine {
    /// `builder` with `body` as JSON; signed when a signing key is configured. A signed body is sent in
    /// its canonical form, the bytes the signature covers.
    pub(crate) fn signed_json(
        &self,
        builder: RequestBuilder,
        body: &impl Serialize,
    ) -> RequestBuilder {
        let Some(key) = &self.inner.config.security.signing_key else {
            return builder.json(body);
        };
        let value = match serde_json::to_value(body) {
            Ok(value) => value,
            // Not reachable for the engine's own request types; sent unsigned, the app refuses it.
            Err(_) => return builder.json(body),
        };
        let (bytes, signature) =
            durin_protocol::signing::sign_json(&value, key, self.now().div_euclid(1000));
        builder
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(headers::SIGNATURE, signature)
            .body(bytes)
    }

    /// `builder` (a request without a body) signed over the empty body when a key is configured.
    pub(crate) fn signed_empty(&self, builder: RequestBuilder) -> RequestBuilder {
        match &self.inner.config.security.signing_key {
            Some(key) => builder.header(
                headers::SIGNATURE,
                key.sign(b"", self.now().div_euclid(1000)),
            ),
            None => builder,
        }
    }

    /// What apps are told the server is (`X-Inngest-Server-Kind`).
    pub(crate) fn server_kind(&self) -> &'static str {
        self.inner.config.security.server_kind()
    }
}

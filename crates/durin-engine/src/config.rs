use std::time::Duration;

use durin_core::BackoffKnobs;
use durin_protocol::SigningKey;

/// How the engine runs. `durin dev` fills it from its flags.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub knobs: BackoffKnobs,
    /// Longest a single call to an app may take before the attempt counts as a timeout error.
    pub request_timeout: Duration,
    /// How long a job's lease outlives `request_timeout`: room to record the attempt after the call, and
    /// for clocks of instances sharing a store that disagree. A job whose engine died is claimed again
    /// (as interrupted) `request_timeout + lease_margin` after it was claimed.
    pub lease_margin: Duration,
    /// Most calls to apps in flight at once.
    pub max_in_flight: usize,
    /// App URLs given on the command line (`-u`), synced at start and on every poll.
    pub sdk_urls: Vec<String>,
    /// Re-sync known apps every `poll_interval` (None: only at start).
    pub poll_interval: Option<Duration>,
    /// Look for apps on the usual local ports and paths.
    pub discovery: bool,
    /// The URL apps use to reach this engine (sent nowhere today; logged for users).
    pub public_url: String,
    /// Offer checkpointing (`ctx.fn_id`, `ctx.qi_id`): SDKs that can (TypeScript, Rust) run several steps
    /// per request and report each one.
    pub checkpointing: bool,
    /// How many steps, and how many bytes of step results, one run may store.
    pub run_limits: crate::limits::RunLimits,
    /// Retry policies configured on Durin's side, per function and per step (`--retry-policies`). Given,
    /// they are stored at start, replacing the document set through the API; `None` keeps the stored one.
    pub retry_policies: Option<std::sync::Arc<crate::policies::RetryPolicies>>,
    /// Keys: signing requests to apps, and who may call the engine.
    pub security: Security,
    /// The jitter sample every backoff uses, in `[0, JITTER_MAX_MS)`; `None` draws one at random per
    /// failure. Fixed only by test harnesses, so a schedule can be asserted to the millisecond.
    pub jitter_sample: Option<u32>,
}

/// The engine's keys. `Debug` never shows a secret.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// Signs every request to apps (`X-Inngest-Signature`); SDKs prove they hold it (or the fallback)
    /// with their bearer token.
    pub signing_key: Option<SigningKey>,
    /// Also accepted from SDKs and API clients while keys are rotated; never used to sign.
    pub signing_key_fallback: Option<SigningKey>,
    /// The keys `/e/{key}` accepts when `enforce` is on.
    pub event_keys: Vec<EventKey>,
    /// Production (`durin serve`): events need an event key, SDK and API calls a bearer token, and apps
    /// are told the server is `cloud`. Off (`durin dev`): everything is open.
    pub enforce: bool,
}

impl Security {
    /// The server kind apps are told (`X-Inngest-Server-Kind`) and registrations must expect.
    pub fn server_kind(&self) -> &'static str {
        if self.enforce {
            durin_protocol::headers::SERVER_KIND_CLOUD
        } else {
            durin_protocol::headers::SERVER_KIND_DEV
        }
    }

    /// The current key and the fallback, in the order to try them.
    pub fn signing_keys(&self) -> Vec<&SigningKey> {
        self.signing_key
            .iter()
            .chain(self.signing_key_fallback.iter())
            .collect()
    }

    /// Whether `key` is a configured event key (constant-time per key).
    pub fn accepts_event_key(&self, key: &str) -> bool {
        // Every key is compared, so the time taken does not say which one matched.
        self.event_keys.iter().fold(false, |found, candidate| {
            durin_protocol::signing::secrets_equal(candidate.0.as_bytes(), key.as_bytes()) | found
        })
    }
}

/// An event key (`--event-key`); `Debug` hides it.
#[derive(Clone)]
pub struct EventKey(String);

impl EventKey {
    /// A key must be non-blank and usable as one URL path segment.
    pub fn parse(text: &str) -> Result<Self, String> {
        let key = text.trim();
        if key.is_empty() {
            return Err("an event key must not be blank".into());
        }
        if !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'))
        {
            return Err(
                "an event key may only contain letters, digits and - _ . ~ (it travels in the URL path /e/{key})"
                    .into(),
            );
        }
        Ok(Self(key.to_owned()))
    }
}

impl std::fmt::Debug for EventKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventKey(<redacted>)")
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            knobs: BackoffKnobs::default(),
            request_timeout: Duration::from_secs(300),
            lease_margin: Duration::from_secs(60),
            max_in_flight: 256,
            sdk_urls: Vec::new(),
            poll_interval: Some(Duration::from_secs(5)),
            discovery: true,
            public_url: "http://127.0.0.1:8288".into(),
            checkpointing: true,
            run_limits: crate::limits::RunLimits::default(),
            retry_policies: None,
            security: Security::default(),
            jitter_sample: None,
        }
    }
}

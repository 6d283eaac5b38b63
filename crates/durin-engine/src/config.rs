use std::time::Duration;

use durin_core::BackoffKnobs;

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
        }
    }
}

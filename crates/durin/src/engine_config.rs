//! The engine's configuration from the flags `durin dev` and `durin serve` share.

use std::time::Duration;

use durin_core::BackoffKnobs;
use durin_engine::EngineConfig;

use crate::cli::{EngineArgs, UsageError};

/// Checks the shared flags and turns them into an `EngineConfig` (app discovery off: each command
/// decides).
pub(crate) fn engine_config(args: &EngineArgs) -> Result<EngineConfig, UsageError> {
    if !args.backoff_scale.is_finite() || args.backoff_scale <= 0.0 {
        return Err(UsageError(format!(
            "--backoff-scale must be a positive number, not {}",
            args.backoff_scale
        )));
    }
    if args.poll_interval == 0 {
        return Err(UsageError(
            "--poll-interval must be at least 1 second".into(),
        ));
    }
    if args.request_timeout == 0 {
        return Err(UsageError(
            "--request-timeout must be at least 1 second".into(),
        ));
    }
    for url in &args.sdk_url {
        reqwest::Url::parse(url)
            .map_err(|e| UsageError(format!("--sdk-url {url:?} is not a URL: {e}")))?;
    }
    let retry_policies = match &args.retry_policies {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                UsageError(format!(
                    "--retry-policies {}: cannot read it: {e}",
                    path.display()
                ))
            })?;
            let policies = durin_engine::RetryPolicies::from_json(&text)
                .map_err(|e| UsageError(format!("--retry-policies {}: {e}", path.display())))?;
            Some(std::sync::Arc::new(policies))
        }
    };
    let fixed = (args.retry_interval > 0)
        .then(|| i64::try_from(args.retry_interval.saturating_mul(1000)).unwrap_or(i64::MAX));
    Ok(EngineConfig {
        knobs: BackoffKnobs {
            scale: args.backoff_scale,
            fixed_interval_ms: fixed,
        },
        request_timeout: Duration::from_secs(args.request_timeout),
        sdk_urls: args.sdk_url.clone(),
        poll_interval: (!args.no_poll).then(|| Duration::from_secs(args.poll_interval)),
        discovery: false,
        public_url: format!("http://{}:{}", args.host, args.port),
        checkpointing: !args.no_checkpointing,
        retry_policies,
        run_limits: durin_engine::RunLimits {
            max_steps: usize::try_from(args.max_steps_per_run).unwrap_or(usize::MAX),
            max_state_bytes: args.max_run_state_mib << 20,
        },
        ..EngineConfig::default()
    })
}

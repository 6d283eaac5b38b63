//! Retries with the default configuration: no step, so the whole function is retried.

use durin_sdk::{Context, Error, Function};
use serde_json::json;

/// `click-recorder`, on `app/button.clicked`, default retries (4).
///
/// The body fails on attempts 0 and 1 and succeeds on attempt 2, as if the analytics store were briefly
/// down: the engine retries it after its backoff (about 15 s, then 30 s) and the run completes.
pub fn click_recorder() -> Function {
    Function::new("click-recorder")
        .name("Click recorder")
        .trigger_event("app/button.clicked")
        .handler(|ctx: Context| async move {
            if ctx.attempt < 2 {
                // Any retriable error will do; the engine retries the body while attempts remain.
                return Err(Error::msg(format!(
                    "analytics store unavailable (attempt {})",
                    ctx.attempt
                )));
            }
            Ok(json!({ "recorded": true, "attempt": ctx.attempt }))
        })
}

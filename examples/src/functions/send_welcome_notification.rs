//! Telling the engine when to retry: a rate-limited call answers with Retry-After.

use std::time::Duration;

use durin_sdk::{Context, Error, Function};
use serde_json::{Value, json};

/// `send-welcome-notification`, on `app/user.created`.
///
/// The notification provider rate-limits the first attempt of `send-notification` and says to come back
/// in 3 s; the engine retries after exactly that (not after its 15-45 s backoff) and the step succeeds.
pub fn send_welcome_notification() -> Function {
    Function::new("send-welcome-notification")
        .name("Send welcome notification")
        .trigger_event("app/user.created")
        .handler(|ctx: Context| async move {
            let receipt: Value = ctx
                .step
                .run("send-notification", || async {
                    if ctx.attempt == 0 {
                        return Err(Error::retry_after("rate limited", Duration::from_secs(3)));
                    }
                    Ok(json!({ "delivered": true }))
                })
                .await?;
            Ok(receipt)
        })
}

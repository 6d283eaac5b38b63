//! The functions of Durin's retry documentation, written with `durin-sdk`: each one shows one retry
//! behaviour to a new user (see `shared/spec/retries.md`, "Worked examples"). The binary
//! `retries-doc-app` serves them all.
//!
//! These are examples: they must stay short and read well. Engine tests may drive them, so their ids,
//! triggers and failure patterns are part of their contract.

mod functions;

pub use functions::click_recorder::click_recorder;
pub use functions::send_welcome_notification::send_welcome_notification;
pub use functions::sync_systems::sync_systems;
pub use functions::user_weekly_digest::{UserNotFoundError, user_weekly_digest};

/// The app id the examples are served under: function ids are `retries-doc-<slug>`.
pub const APP_ID: &str = "retries-doc";

/// Every example function.
pub fn functions() -> Vec<durin_sdk::Function> {
    vec![
        click_recorder(),
        sync_systems(),
        user_weekly_digest(),
        send_welcome_notification(),
    ]
}

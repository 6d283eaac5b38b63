//! One example function per file.

pub(crate) mod click_recorder;
pub(crate) mod send_welcome_notification;
pub(crate) mod sync_systems;
pub(crate) mod user_weekly_digest;

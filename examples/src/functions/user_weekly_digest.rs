//! Catching a step that failed for good, and stopping the run with a non-retriable error.

use std::fmt;

use durin_sdk::{Context, Error, Function};
use serde_json::{Value, json};

/// Raised by `get-user-email` for a user id that does not exist. The SDK names it after the type, so the
/// function can recognise it by name once the step has failed for good.
#[derive(Debug)]
pub struct UserNotFoundError {
    pub user_id: String,
}

impl fmt::Display for UserNotFoundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no user with id {:?}", self.user_id)
    }
}

impl std::error::Error for UserNotFoundError {}

/// The users this example knows.
fn email_of(user_id: &str) -> Option<&'static str> {
    match user_id {
        "user_1" => Some("ada@example.com"),
        "user_2" => Some("grace@example.com"),
        _ => None,
    }
}

/// `user-weekly-digest`, on `app/weekly-digest.requested` with `{"user_id": ...}`.
///
/// For an unknown user, `get-user-email` fails on every attempt. Once its retries are spent the function
/// gets the step error back, and since retrying cannot make the user appear, it fails the run at once with
/// a non-retriable error: `send-digest` never runs.
pub fn user_weekly_digest() -> Function {
    Function::new("user-weekly-digest")
        .name("User weekly digest")
        .trigger_event("app/weekly-digest.requested")
        .handler(|ctx: Context| async move {
            let user_id = ctx
                .event
                .data
                .get("user_id")
                .and_then(Value::as_str)
                .unwrap_or_default();

            let lookup = ctx
                .step
                .run("get-user-email", || async {
                    email_of(user_id)
                        .map(str::to_owned)
                        .ok_or_else(|| UserNotFoundError {
                            user_id: user_id.to_owned(),
                        })
                })
                .await;
            let email: String = match lookup {
                Ok(email) => email,
                Err(Error::Step(error)) if error.name() == "UserNotFoundError" => {
                    return Err(Error::non_retriable(format!(
                        "cannot send the digest: {}",
                        error.message()
                    )));
                }
                Err(other) => return Err(other),
            };

            let receipt: Value = ctx
                .step
                .run("send-digest", || async {
                    Ok::<_, Error>(json!({ "sent_to": email }))
                })
                .await?;
            Ok(receipt)
        })
}

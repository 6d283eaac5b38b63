//! What a function or a step can fail with, and how each failure travels on the wire.

use std::fmt;
use std::time::{Duration, SystemTime};

use durin_protocol::SerializedError;

/// The error of a durable function or of one of its steps.
///
/// Like `anyhow::Error`, this type does not implement [`std::error::Error`], so that every error type that
/// does converts into it with `?`. Such an error becomes [`Error::Retriable`], named after its type (the last
/// path segment of [`std::any::type_name`]): a `struct UserNotFoundError` is named `"UserNotFoundError"`.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// An ordinary failure: the engine tries again while attempts remain.
    Retriable {
        name: String,
        message: String,
        /// The error's source chain, when it had one.
        stack: Option<String>,
    },
    /// Fails the step (or the function) at once, whatever attempts remain. Named `NonRetriableError`.
    NonRetriable { message: String },
    /// Retriable, but the next attempt must not start before the given time. Named `RetryAfterError`.
    RetryAfter { message: String, retry: RetryAt },
    /// A step that failed for good, as handed back to the function on replay. Catch it by name:
    /// `Err(Error::Step(e)) if e.name == "UserNotFoundError"`. If the function lets it escape, the run fails.
    Step(StepError),
}

/// When a [`Error::RetryAfter`] error allows the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAt {
    /// After this long (sent as whole seconds, rounded up).
    After(Duration),
    /// At this moment (sent as an RFC 3339 timestamp).
    At(SystemTime),
}

/// A step's final failure, read back from the engine's memo `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct StepError {
    /// The name of the original error, e.g. `"UserNotFoundError"`.
    pub name: String,
    pub message: String,
    pub stack: Option<String>,
    /// The user's id of the step that failed (not the hashed id).
    pub step_id: String,
}

impl StepError {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn from_memo(step_id: &str, value: serde_json::Value) -> Self {
        let (name, message, stack) = match serde_json::from_value::<SerializedError>(value.clone())
        {
            Ok(error) => (error.name, error.message, error.stack),
            Err(_) => (String::new(), value.to_string(), None),
        };
        Self {
            name: if name.is_empty() {
                "Error".to_owned()
            } else {
                name
            },
            message,
            stack,
            step_id: step_id.to_owned(),
        }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step {:?} failed: {}: {}",
            self.step_id, self.name, self.message
        )
    }
}

impl Error {
    /// A retriable error with a name of your choice.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Retriable {
            name: name.into(),
            message: message.into(),
            stack: None,
        }
    }

    /// A retriable error named `"Error"`.
    pub fn msg(message: impl Into<String>) -> Self {
        Self::new("Error", message)
    }

    /// An error that is final at once: no further attempts.
    pub fn non_retriable(message: impl Into<String>) -> Self {
        Self::NonRetriable {
            message: message.into(),
        }
    }

    /// A retriable error whose next attempt starts `after` from now, instead of the engine's backoff.
    pub fn retry_after(message: impl Into<String>, after: Duration) -> Self {
        Self::RetryAfter {
            message: message.into(),
            retry: RetryAt::After(after),
        }
    }

    /// A retriable error whose next attempt starts at `at`, instead of the engine's backoff.
    pub fn retry_at(message: impl Into<String>, at: SystemTime) -> Self {
        Self::RetryAfter {
            message: message.into(),
            retry: RetryAt::At(at),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Retriable { name, .. } => name,
            Self::NonRetriable { .. } => "NonRetriableError",
            Self::RetryAfter { .. } => "RetryAfterError",
            Self::Step(error) => &error.name,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Self::Retriable { message, .. }
            | Self::NonRetriable { message }
            | Self::RetryAfter { message, .. } => message,
            Self::Step(error) => &error.message,
        }
    }

    /// Whether the engine may try again (attempts permitting).
    pub fn is_retriable(&self) -> bool {
        matches!(self, Self::Retriable { .. } | Self::RetryAfter { .. })
    }

    /// The value of the `retry-after` header this error asks for, if any.
    pub(crate) fn retry_after_header(&self) -> Option<String> {
        match self {
            Self::RetryAfter { retry, .. } => Some(match retry {
                RetryAt::After(after) => {
                    // Whole seconds, rounded up, and at least one: the engine reads `0` as no delay at all.
                    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
                    secs.max(1).to_string()
                }
                RetryAt::At(at) => crate::time::rfc3339_millis(*at),
            }),
            _ => None,
        }
    }

    /// The wire form: `{"name", "message", "stack"}`.
    pub(crate) fn to_serialized(&self) -> SerializedError {
        let stack = match self {
            Self::Retriable {
                stack: Some(stack), ..
            } => stack.clone(),
            Self::Step(StepError {
                stack: Some(stack), ..
            }) => stack.clone(),
            _ => format!("{}: {}", self.name(), self.message()),
        };
        let mut error = SerializedError::new(self.name(), self.message());
        error.stack = Some(stack);
        error
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name(), self.message())
    }
}

impl From<StepError> for Error {
    fn from(error: StepError) -> Self {
        Self::Step(error)
    }
}

impl<E> From<E> for Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(error: E) -> Self {
        let name = short_type_name(std::any::type_name::<E>()).to_owned();
        let message = error.to_string();
        let mut stack = format!("{name}: {message}");
        let mut source = error.source();
        while let Some(cause) = source {
            stack.push_str("\nCaused by: ");
            stack.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::Retriable {
            name,
            message,
            stack: Some(stack),
        }
    }
}

/// `my_app::errors::UserNotFoundError` -> `UserNotFoundError`; generic parameters are dropped.
fn short_type_name(full: &str) -> &str {
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// Failures of the client's own HTTP calls (sync, send): plain data, and a real [`std::error::Error`] so that
/// `?` works in `anyhow` code and inside functions alike.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("request to {url} failed: {message}")]
    Transport { url: String, message: String },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("unreadable answer from {url}: {message}")]
    Decode { url: String, message: String },
    /// A signing key that is not `signkey-<env>-<hex>` (the message never contains the key).
    #[error("invalid signing key: {0}")]
    InvalidKey(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct UserNotFoundError;

    impl fmt::Display for UserNotFoundError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("no such user")
        }
    }

    impl std::error::Error for UserNotFoundError {}

    fn fails() -> Result<(), UserNotFoundError> {
        Err(UserNotFoundError)
    }

    fn propagates() -> Result<(), Error> {
        fails()?;
        Ok(())
    }

    #[test]
    fn std_errors_are_named_after_their_type() {
        let error = propagates().unwrap_err();
        assert_eq!(error.name(), "UserNotFoundError");
        assert_eq!(error.message(), "no such user");
        assert!(error.is_retriable());
        let io: Error = std::io::Error::other("disk").into();
        assert_eq!(io.name(), "Error");
        assert_eq!(short_type_name("a::b::Wrapper<c::D>"), "Wrapper");
        assert_eq!(short_type_name("Plain"), "Plain");
    }

    #[test]
    fn constructors_name_their_errors() {
        assert_eq!(Error::msg("x").name(), "Error");
        assert_eq!(Error::new("Custom", "x").name(), "Custom");
        assert_eq!(Error::non_retriable("x").name(), "NonRetriableError");
        assert!(!Error::non_retriable("x").is_retriable());
        assert_eq!(
            Error::retry_after("x", Duration::from_secs(1)).name(),
            "RetryAfterError"
        );
    }

    #[test]
    fn retry_after_rounds_seconds_up() {
        let header = |d| Error::retry_after("x", d).retry_after_header();
        assert_eq!(header(Duration::from_secs(30)).as_deref(), Some("30"));
        assert_eq!(header(Duration::from_millis(2500)).as_deref(), Some("3"));
        assert_eq!(header(Duration::ZERO).as_deref(), Some("1"));
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_893_456_000);
        assert_eq!(
            Error::retry_at("x", at).retry_after_header().as_deref(),
            Some("2030-01-01T00:00:00.000Z")
        );
        assert_eq!(Error::msg("x").retry_after_header(), None);
    }

    #[test]
    fn step_errors_read_the_memo() {
        let error = StepError::from_memo(
            "boom",
            serde_json::json!({"name": "UserNotFoundError", "message": "gone", "stack": "s"}),
        );
        assert_eq!(error.name(), "UserNotFoundError");
        assert_eq!(error.message(), "gone");
        assert_eq!(error.step_id, "boom");
        let odd = StepError::from_memo("boom", serde_json::json!("text"));
        assert_eq!(odd.name, "Error");
        let wrapped: Error = odd.into();
        assert!(matches!(wrapped, Error::Step(_)));
    }
}

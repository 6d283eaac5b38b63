use durin_store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// A retry policy document was refused; the message names the entry and the field.
    #[error(transparent)]
    Policies(#[from] crate::policies::PolicyFileError),
    /// The request refers to work that has moved on (a finished run, a job no longer running).
    #[error("{0}")]
    Stale(String),
    /// The request is malformed or names something that does not exist within a valid target.
    #[error("{0}")]
    InvalidRequest(String),
    /// Too much work in flight to take this request now; the caller may send it again after
    /// `retry_after_secs`. Nothing of it was stored.
    #[error("{message}")]
    Busy {
        message: String,
        retry_after_secs: u64,
    },
}

/// Why events were refused. Nothing of a refused batch is stored.
#[derive(Debug, Error, PartialEq)]
pub enum IntakeError {
    #[error("the request body is empty: send one event object or an array of events")]
    Empty,
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("event {index}: {message}")]
    Invalid { index: usize, message: String },
    #[error("event {index}: `name` is required")]
    MissingName { index: usize },
    // Inngest's wording, which SDKs surface to users and their tests compare.
    #[error("event name is reserved for internal use: {name}")]
    ReservedName { index: usize, name: String },
    #[error("event {index}: the event is {size} bytes; the limit is {limit} bytes")]
    TooLarge {
        index: usize,
        size: usize,
        limit: usize,
    },
    #[error("too many events in one request: {count}; the limit is {limit}")]
    TooMany { count: usize, limit: usize },
}

/// Why a registration was refused.
#[derive(Debug, Error, PartialEq)]
pub enum RegisterError {
    #[error("`url` is required")]
    MissingUrl,
    #[error("`appName` is required")]
    MissingAppName,
    #[error("function {index}: `id` is required")]
    MissingFunctionId { index: usize },
    #[error("`functions` lists {count} functions; an app may register at most {limit}")]
    TooManyFunctions { count: usize, limit: usize },
    #[error("function {function:?}: {message}")]
    InvalidFunction { function: String, message: String },
    #[error("function {function:?}, trigger {index}: {message}")]
    InvalidTrigger {
        function: String,
        index: usize,
        message: String,
    },
    #[error("this server is of kind {server:?}; the app expects server kind {expected:?}")]
    ServerKindMismatch {
        server: &'static str,
        expected: String,
    },
}

//! Errors inside the crate, and how driver errors become [`StoreError`]s.

use durin_store::StoreError;

/// What a query or transaction inside this crate can fail with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// PostgreSQL aborted the transaction to break a deadlock or a serialization conflict with a
    /// concurrent one (another instance, another task). Nothing of it was applied: it may run again.
    #[error("transaction aborted by a concurrent one ({code}): {message}")]
    Conflict { code: String, message: String },
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// SQLSTATEs of a transaction PostgreSQL rolled back because of a concurrent one.
const SERIALIZATION_FAILURE: &str = "40001";
const DEADLOCK_DETECTED: &str = "40P01";

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        if let Some(database) = error.as_database_error()
            && let Some(code) = database.code()
            && (code == SERIALIZATION_FAILURE || code == DEADLOCK_DETECTED)
        {
            return Error::Conflict {
                code: code.into_owned(),
                message: database.message().to_owned(),
            };
        }
        Error::Store(store_error(error))
    }
}

impl From<Error> for StoreError {
    fn from(error: Error) -> Self {
        match error {
            Error::Store(error) => error,
            conflict @ Error::Conflict { .. } => StoreError::Unavailable(conflict.to_string()),
        }
    }
}

/// A value that cannot be decoded is a corrupt record; anything else means the database could not be used.
fn store_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => StoreError::Corrupt(error.to_string()),
        other => StoreError::Unavailable(other.to_string()),
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::Store(StoreError::Corrupt(what.to_string()))
}

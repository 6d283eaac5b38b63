use thiserror::Error;

#[derive(Debug, Clone, Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    /// The store could not be read or written (disk, locking, connection). Carries the cause as text so that
    /// driver errors do not cross the trait.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded (a bug or a manual edit).
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// An attempt's finish came after its job was claimed again (its lease had expired): nothing of it
    /// was written.
    #[error("lease lost: {0}")]
    LeaseLost(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

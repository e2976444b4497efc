//! What can go wrong in storage, as one enum the HTTP layer maps to
//! responses (`http::error`), and the readings of D1's error texts.

use super::store::MAX_ENTITIES_PER_OWNER;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Db(String),
    #[error("object storage error: {0}")]
    Bucket(String),
    #[error("edge cache error: {0}")]
    EdgeCache(String),
    #[error("zone purge error: {0}")]
    ZonePurge(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("garbage collection is running; try again in a minute")]
    GcRunning,
    #[error(
        "you own {} Store entries, the most anyone may; delete one you no longer need first",
        MAX_ENTITIES_PER_OWNER
    )]
    TooManyEntities,
    #[error("{0}")]
    DirectoryTaken(String),
}

/// Shorthand for storage results.
pub type StorageResult<T> = Result<T, StorageError>;

pub(crate) fn db_err(e: worker::Error) -> StorageError {
    StorageError::Db(e.to_string())
}

pub(crate) fn r2_err(e: worker::Error) -> StorageError {
    StorageError::Bucket(e.to_string())
}

/// Whether a D1 error is a uniqueness violation.
pub(crate) fn is_unique_violation(e: &worker::Error) -> bool {
    e.to_string().contains("UNIQUE constraint failed")
}

/// Whether a D1 error is a NOT NULL violation of `column` (`table.column`).
pub(crate) fn is_not_null_violation(e: &worker::Error, column: &str) -> bool {
    e.to_string()
        .contains(&format!("NOT NULL constraint failed: {column}"))
}

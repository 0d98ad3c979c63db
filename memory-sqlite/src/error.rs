//! Maps sqlx errors to `memory_core::Error`, in one place.

use memory_core::{Error, ErrorKind};

/// Turns a driver error into a memory error, marking busy and locked databases temporary.
pub(crate) fn map(e: sqlx::Error, operation: &'static str) -> Error {
    let kind = match &e {
        sqlx::Error::RowNotFound => ErrorKind::NotFound,
        sqlx::Error::Database(d) => match d.kind() {
            sqlx::error::ErrorKind::UniqueViolation => ErrorKind::Conflict,
            sqlx::error::ErrorKind::ForeignKeyViolation
            | sqlx::error::ErrorKind::NotNullViolation
            | sqlx::error::ErrorKind::CheckViolation => ErrorKind::InvalidInput,
            _ => match d.code().as_deref() {
                // SQLITE_BUSY, SQLITE_LOCKED and their extended codes.
                Some(c)
                    if c.parse::<i32>()
                        .is_ok_and(|n| n & 0xff == 5 || n & 0xff == 6) =>
                {
                    ErrorKind::Unavailable
                }
                _ => ErrorKind::Internal,
            },
        },
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            ErrorKind::Unavailable
        }
        _ => ErrorKind::Internal,
    };
    let message = match kind {
        ErrorKind::Conflict => "a row with the same key exists".to_owned(),
        ErrorKind::Unavailable => "database busy or unreachable".to_owned(),
        _ => "query failed".to_owned(),
    };
    Error::new(kind, message)
        .with_backend("sqlite")
        .with_operation(operation)
        .with_source(e)
}

/// A stored value that does not parse.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::internal(format!("stored {what} is corrupt: {detail}")).with_backend("sqlite")
}

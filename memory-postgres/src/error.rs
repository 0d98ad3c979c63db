//! Maps sqlx errors to `memory_core::Error`, in one place.

use memory_core::{Error, ErrorKind};

/// Unique violations are conflicts; serialization failures, deadlocks, too
/// many connections and connection problems are temporary.
pub(crate) fn map(e: sqlx::Error, operation: &'static str) -> Error {
    let (kind, temporary) = match &e {
        sqlx::Error::RowNotFound => (ErrorKind::NotFound, false),
        sqlx::Error::Database(d) => match d.code().as_deref() {
            Some("23505") => (ErrorKind::Conflict, false),
            Some("23503" | "23502" | "23514" | "22P02" | "22003") => {
                (ErrorKind::InvalidInput, false)
            }
            Some("40001" | "40P01" | "53300" | "57P01" | "57P03" | "08006" | "08001" | "08004") => {
                (ErrorKind::Unavailable, true)
            }
            Some("22000") => (ErrorKind::DimensionMismatch, false),
            _ => (ErrorKind::Internal, false),
        },
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => (ErrorKind::Unavailable, true),
        _ => (ErrorKind::Internal, false),
    };
    let message = match kind {
        ErrorKind::Conflict => "a row with the same key exists",
        ErrorKind::Unavailable => "database busy or unreachable",
        _ => "query failed",
    };
    Error::new(kind, message)
        .with_backend("postgres")
        .with_operation(operation)
        .with_temporary(temporary)
        .with_source(e)
}

/// A stored value that does not parse.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::internal(format!("stored {what} is corrupt: {detail}")).with_backend("postgres")
}

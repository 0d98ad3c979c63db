//! Maps redis errors to `memory_core::Error`, in one place.

use memory_core::{Error, ErrorKind};

/// Connection problems and timeouts are temporary `Unavailable` errors.
pub(crate) fn map(e: redis::RedisError, operation: &'static str) -> Error {
    let unavailable = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error();
    let kind = if unavailable {
        ErrorKind::Unavailable
    } else {
        ErrorKind::Internal
    };
    Error::new(
        kind,
        if unavailable {
            "redis unreachable or too slow"
        } else {
            "redis command failed"
        },
    )
    .with_backend("redis")
    .with_operation(operation)
    .with_temporary(unavailable)
    .with_source(e)
}

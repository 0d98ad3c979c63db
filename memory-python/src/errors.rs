//! Engine errors as the Python exceptions of `memory_rs.errors`, one class
//! per error kind under the common base `memory_rs.Error`.

use memory::{Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::types::PyAnyMethods;

/// The Python class for an error kind.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "InvalidInput",
        ErrorKind::NotFound => "NotFound",
        ErrorKind::Conflict => "Conflict",
        ErrorKind::DimensionMismatch => "DimensionMismatch",
        ErrorKind::RateLimited => "RateLimited",
        ErrorKind::Unavailable => "Unavailable",
        ErrorKind::Unsupported => "Unsupported",
        ErrorKind::Config => "ConfigError",
        _ => "InternalError",
    }
}

/// The exception for `e`, carrying the engine's message and, for a rate
/// limit, `retry_after` in seconds.
pub(crate) fn to_py(e: Error) -> PyErr {
    Python::attach(|py| {
        let made = (|| -> PyResult<PyErr> {
            let class = py
                .import("memory_rs.errors")?
                .getattr(class_name(e.kind()))?;
            let retry_after = e.retry_after().map(|d| d.as_secs_f64());
            let exc = class.call1((e.message().to_owned(), e.kind().as_str(), retry_after))?;
            Ok(PyErr::from_value(exc))
        })();
        made.unwrap_or_else(|err| err)
    })
}

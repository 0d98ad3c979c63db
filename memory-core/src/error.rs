//! The one error type every backend and the engine return.

use std::fmt;

/// What went wrong, for callers to branch on.
#[non_exhaustive]
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The caller sent something invalid: empty content, a bad filter, a NaN.
    InvalidInput,
    /// The named item does not exist (in the caller's tenant).
    NotFound,
    /// A write lost a race: stale version or a uniqueness clash.
    Conflict,
    /// A vector's length differs from the collection's recorded dimension.
    DimensionMismatch,
    /// A rate limit refused the call; see [`Error::retry_after`].
    RateLimited,
    /// A backend could not be reached or did not answer in time.
    Unavailable,
    /// The backend cannot do this at all.
    Unsupported,
    /// The configuration is wrong: unknown key, unknown scheme, bad URL.
    Config,
    /// A bug or an unexpected backend answer.
    Internal,
}

impl ErrorKind {
    /// The stable snake_case name used in JSON error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::DimensionMismatch => "dimension_mismatch",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Unsupported => "unsupported",
            Self::Config => "config",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error of every fallible call in the memory layer.
///
/// It carries a [`ErrorKind`], a message meant for people, whether retrying
/// may help, and where it happened (backend and operation).
pub struct Error {
    kind: ErrorKind,
    message: String,
    temporary: bool,
    backend: Option<&'static str>,
    operation: Option<&'static str>,
    retry_after: Option<std::time::Duration>,
    source: Option<Source>,
}

impl Error {
    /// A new error of `kind` with a message for people.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            temporary: matches!(kind, ErrorKind::Unavailable | ErrorKind::RateLimited),
            backend: None,
            operation: None,
            retry_after: None,
            source: None,
        }
    }

    /// Shorthand for an [`ErrorKind::InvalidInput`] error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for an [`ErrorKind::NotFound`] error.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// Shorthand for an [`ErrorKind::Internal`] error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Shorthand for an [`ErrorKind::Config`] error.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    /// The same error with `what` put before its message (`line 7: …`).
    pub fn context(mut self, what: impl std::fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// Marks whether retrying the same call may succeed.
    pub fn with_temporary(mut self, temporary: bool) -> Self {
        self.temporary = temporary;
        self
    }

    /// Names the backend that failed (`"sqlite"`, `"redis"`, …).
    pub fn with_backend(mut self, backend: &'static str) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Names the operation that failed (`"upsert"`, `"query"`, …).
    pub fn with_operation(mut self, operation: &'static str) -> Self {
        self.operation = Some(operation);
        self
    }

    /// How long to wait before trying again, for rate limits.
    pub fn with_retry_after(mut self, after: std::time::Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message for people, without backend or source.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether retrying the same call may succeed.
    pub fn is_temporary(&self) -> bool {
        self.temporary
    }

    /// The backend that failed, if known.
    pub fn backend(&self) -> Option<&'static str> {
        self.backend
    }

    /// The operation that failed, if known.
    pub fn operation(&self) -> Option<&'static str> {
        self.operation
    }

    /// How long to wait before retrying, for [`ErrorKind::RateLimited`].
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.retry_after
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        match (self.backend, self.operation) {
            (Some(b), Some(o)) => write!(f, " ({b} {o})")?,
            (Some(b), None) => write!(f, " ({b})")?,
            (None, Some(o)) => write!(f, " ({o})")?,
            (None, None) => {}
        }
        write!(f, ": {}", self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::invalid("invalid JSON").with_source(e)
    }
}

/// The result type of the memory layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

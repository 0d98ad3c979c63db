//! Errors as JSON with a stable shape: `{"error": {"kind", "message"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use memory::{Error, ErrorKind};

/// A handler error.
#[derive(Debug)]
pub(super) struct ApiError(pub(super) Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidInput | ErrorKind::DimensionMismatch => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        // A request this server's configuration cannot serve (extraction
        // without a language model): the caller's to route elsewhere, not a
        // server fault.
        ErrorKind::Unsupported => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = status(self.0.kind());
        // Internal details stay in the log; callers get the kind and a message.
        let message = if code == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self.0, "request failed");
            "internal error".to_owned()
        } else {
            self.0.message().to_owned()
        };
        let body =
            serde_json::json!({ "error": { "kind": self.0.kind().as_str(), "message": message } });
        let mut resp = (code, Json(body)).into_response();
        if let Some(after) = self.0.retry_after() {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

/// The result of a handler.
pub(super) type ApiResult<T> = Result<T, ApiError>;

/// A 401 or 403 with the same JSON shape.
pub(super) fn denied(code: StatusCode, message: &str) -> Response {
    let kind = if code == StatusCode::UNAUTHORIZED {
        "unauthorized"
    } else {
        "forbidden"
    };
    (
        code,
        Json(serde_json::json!({ "error": { "kind": kind, "message": message } })),
    )
        .into_response()
}

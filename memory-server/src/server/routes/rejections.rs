//! One error shape for every rejection: what the framework answers by itself
//! (malformed or mistyped JSON, unknown fields, a path id that is not a
//! UUID, a body over the limit, an unknown route, a wrong method) is turned
//! into `{"error": {"kind", "message"}}` like every handler error.

use axum::Json;
use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The longest framework message kept (they are one line).
const MAX_MESSAGE: usize = 4096;

/// The error kind a status stands for.
fn kind(code: StatusCode) -> &'static str {
    match code.as_u16() {
        400 | 415 | 422 => "invalid_input",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "payload_too_large",
        429 => "rate_limited",
        503 => "unavailable",
        _ => "internal",
    }
}

/// Rewrites an error response that is not already JSON. A 422 (a body of
/// the wrong shape) answers 400 like every other invalid input.
pub(super) async fn json_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    let code = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // MCP's own errors are JSON-RPC (JSON already); its transport's
    // rejections (a missing Accept, say) take the one shape like any other.
    if code.as_u16() < 400 || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = to_bytes(body, MAX_MESSAGE)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = match (code, text.is_empty()) {
        (StatusCode::NOT_FOUND, true) => format!("no route {method} {path}"),
        (StatusCode::METHOD_NOT_ALLOWED, _) => {
            format!("{path} does not take {method}")
        }
        (StatusCode::PAYLOAD_TOO_LARGE, _) => {
            "the request body is larger than server.max_body_bytes".to_owned()
        }
        (_, true) => code.canonical_reason().unwrap_or("error").to_owned(),
        (_, false) => text,
    };
    let status = if code == StatusCode::UNPROCESSABLE_ENTITY {
        StatusCode::BAD_REQUEST
    } else {
        code
    };
    let body = serde_json::json!({ "error": { "kind": kind(code), "message": message } });
    let mut out = (status, Json(body)).into_response();
    // Keep what the framework said beyond the body (Allow, Retry-After).
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

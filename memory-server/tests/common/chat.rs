//! A local server speaking the OpenAI chat-completions wire format (the one
//! stand-in allowed: OpenAI is a paid remote API), answering each request
//! with the next scripted reply: an answer, an HTTP error, or silence.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

/// One scripted reply.
pub(crate) enum Reply {
    /// A completion whose message content is this text.
    Answer(String),
    /// An HTTP error with an OpenAI error body, and `Retry-After` seconds.
    Status(u16, Option<u64>),
    /// No answer for this long (longer than the client's timeout).
    Hang(Duration),
}

/// The stand-in's script and what it was asked.
#[derive(Default)]
pub(crate) struct StandIn {
    /// Replies, in order; when empty, an extraction of nothing.
    pub replies: Mutex<VecDeque<Reply>>,
    /// Request bodies, in order.
    pub requests: Mutex<Vec<Value>>,
}

impl StandIn {
    /// Queues an answer with this JSON content.
    pub(crate) fn answer(&self, content: Value) {
        self.push(Reply::Answer(content.to_string()));
    }

    /// Queues a reply.
    pub(crate) fn push(&self, reply: Reply) {
        self.replies.lock().unwrap().push_back(reply);
    }

    /// Requests received so far.
    pub(crate) fn calls(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// The schema name of request `i` (`extraction`, `consolidation`).
    pub(crate) fn schema_of(&self, i: usize) -> String {
        self.requests.lock().unwrap()[i]["response_format"]["json_schema"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The user message of request `i`.
    pub(crate) fn input_of(&self, i: usize) -> String {
        self.requests.lock().unwrap()[i]["messages"][1]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

async fn chat(State(s): State<Arc<StandIn>>, Json(body): Json<Value>) -> Response {
    s.requests.lock().unwrap().push(body.clone());
    let reply = s.replies.lock().unwrap().pop_front();
    let content = match reply {
        Some(Reply::Answer(c)) => c,
        Some(Reply::Status(code, retry_after)) => {
            let status = StatusCode::from_u16(code).unwrap();
            let body = json!({"error": {"message": format!("scripted {code}"), "type": "server_error", "code": null}});
            let mut r = (status, Json(body)).into_response();
            if let Some(s) = retry_after {
                r.headers_mut()
                    .insert("retry-after", s.to_string().parse().unwrap());
            }
            return r;
        }
        Some(Reply::Hang(d)) => {
            tokio::time::sleep(d).await;
            r#"{"memories": []}"#.to_owned()
        }
        None => r#"{"memories": [], "summary": null}"#.to_owned(),
    };
    Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    }))
    .into_response()
}

/// Starts a stand-in on loopback; answers it and its `/v1` base URL.
pub(crate) async fn stand_in() -> (Arc<StandIn>, String) {
    let s = Arc::new(StandIn::default());
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(s.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (s, format!("http://{addr}/v1"))
}

/// The client configuration for a stand-in at `base`: no retries inside
/// the client, so each scripted reply is seen by the engine.
pub(crate) fn client(base: &str) -> memory::embed_openai::OpenAiConfig {
    let mut cfg =
        memory::embed_openai::OpenAiConfig::new("llama3", None, Some(base.to_owned())).unwrap();
    cfg.max_retries = 0;
    cfg
}

/// An in-memory SQLite engine with the deterministic embedder and `llm`
/// as its language model.
pub(crate) async fn engine(
    llm: memory::embed_openai::OpenAiConfig,
    config: memory::EngineConfig,
) -> memory::Memory {
    let db = memory::sqlite::SqliteDb::connect("sqlite::memory:")
        .await
        .unwrap();
    let store = db.store();
    memory::Memory::builder()
        .store(store.clone())
        .keywords(store)
        .vectors(db.vector_index())
        .embedder(Arc::new(memory_testkit::DeterministicEmbedder::new(32)))
        .language_model(Arc::new(
            memory::embed_openai::OpenAiChat::new(llm).unwrap(),
        ))
        .config(config)
        .build()
        .await
        .unwrap()
}

/// A worker that runs up to 8 jobs a round.
pub(crate) fn worker(m: &memory::Memory) -> memory::Worker {
    m.worker(memory::WorkerConfig {
        concurrency: 8,
        ..memory::WorkerConfig::default()
    })
    .unwrap()
}

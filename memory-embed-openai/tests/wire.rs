//! The client against a local server speaking the OpenAI wire format:
//! success, batching and order, 429 with retry-after, 500, malformed bodies,
//! timeouts, bad keys; plus a live test when OPENAI_API_KEY is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use memory_core::{
    ChatMessage, ChatRequest, EmbedKind, Embedder, ErrorKind, LanguageModel, OutputSchema, Role,
};
use memory_embed_openai::{OpenAiChat, OpenAiConfig, OpenAiEmbedder};
use serde_json::{Value, json};

/// Every text in these tests is a document.
const D: EmbedKind = EmbedKind::Document;

/// What the stub does for the next requests, in order; then it succeeds.
#[derive(Clone, Debug)]
enum Script {
    Status(u16, Vec<(&'static str, &'static str)>),
    Malformed,
    Sleep(Duration),
    /// A 400 with this error message, as servers without a feature answer.
    Refuse(&'static str),
}

#[derive(Default)]
struct Stub {
    script: Mutex<VecDeque<Script>>,
    requests: Mutex<Vec<Value>>,
    auth: Mutex<Vec<Option<String>>>,
    dim: usize,
    chat_answer: Mutex<String>,
}

/// The stub's vector for a text: deterministic, so tests can check order.
fn vector(text: &str, dim: usize) -> Vec<f32> {
    let h = text
        .bytes()
        .fold(7u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    (0..dim)
        .map(|i| ((h.wrapping_add(u32::try_from(i).unwrap()) % 1000) as f32) / 1000.0)
        .collect()
}

async fn scripted(stub: &Stub, headers: &HeaderMap, body: &Value) -> Option<Response> {
    stub.requests.lock().unwrap().push(body.clone());
    stub.auth.lock().unwrap().push(
        headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned()),
    );
    let next = stub.script.lock().unwrap().pop_front();
    match next {
        Some(Script::Status(code, hs)) => {
            let mut r = (
                StatusCode::from_u16(code).unwrap(),
                Json(json!({"error": {"message": format!("scripted {code}"), "type": "test"}})),
            )
                .into_response();
            for (k, v) in hs {
                r.headers_mut().insert(k, v.parse().unwrap());
            }
            Some(r)
        }
        Some(Script::Malformed) => Some((StatusCode::OK, "{\"data\": [oops").into_response()),
        Some(Script::Refuse(message)) => Some(
            (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"message": message, "type": "invalid_request_error"}})),
            )
                .into_response(),
        ),
        Some(Script::Sleep(d)) => {
            tokio::time::sleep(d).await;
            None
        }
        None => None,
    }
}

async fn embeddings(
    State(stub): State<Arc<Stub>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = scripted(&stub, &headers, &body).await {
        return r;
    }
    let inputs: Vec<String> = serde_json::from_value(body["input"].clone()).unwrap();
    let dim = body["dimensions"]
        .as_u64()
        .map_or(stub.dim, |d| usize::try_from(d).unwrap());
    // Answer in reverse order: clients must follow `index`.
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .rev()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": vector(t, dim)}))
        .collect();
    Json(json!({"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}})).into_response()
}

async fn chat(
    State(stub): State<Arc<Stub>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = scripted(&stub, &headers, &body).await {
        return r;
    }
    let content = stub.chat_answer.lock().unwrap().clone();
    Json(json!({"id": "c1", "object": "chat.completion", "model": body["model"],
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}}))
    .into_response()
}

async fn serve(dim: usize) -> (Arc<Stub>, String) {
    let stub = Arc::new(Stub {
        dim,
        ..Stub::default()
    });
    let app = Router::new()
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/chat/completions", post(chat))
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (stub, format!("http://{addr}/v1"))
}

fn config(base: &str) -> OpenAiConfig {
    let mut c = OpenAiConfig::new(
        "text-embedding-3-small",
        Some("sk-test-secret".into()),
        Some(base.into()),
    )
    .unwrap();
    c.backoff = Duration::from_millis(10);
    c.max_retries = 3;
    c
}

fn texts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("text number {i}")).collect()
}

#[tokio::test]
async fn embeds_in_batches_keeping_order_and_learns_the_dimension() {
    let (stub, base) = serve(12).await;
    let mut cfg = config(&base);
    cfg.batch = 2;
    let e = OpenAiEmbedder::connect(cfg).await.unwrap();
    assert_eq!(e.dimension(), 12);
    assert_eq!(e.model_id(), "openai:text-embedding-3-small");
    let input = texts(5);
    let out = e.embed(&input, D).await.unwrap();
    assert_eq!(out.len(), 5);
    for (t, v) in input.iter().zip(&out) {
        assert_eq!(v, &vector(t, 12), "vector of {t:?} out of place");
    }
    let reqs = stub.requests.lock().unwrap().clone();
    assert_eq!(
        reqs.len(),
        1 + 3,
        "one probe and three batches of at most 2"
    );
    assert_eq!(reqs[1]["input"], json!(["text number 0", "text number 1"]));
    assert_eq!(reqs[1]["encoding_format"], "float");
    assert!(
        stub.auth
            .lock()
            .unwrap()
            .iter()
            .all(|a| a.as_deref() == Some("Bearer sk-test-secret"))
    );
    assert!(e.embed(&[], D).await.unwrap().is_empty());
}

#[tokio::test]
async fn dimensions_option_is_sent_and_checked() {
    let (stub, base) = serve(12).await;
    let cfg = config(&base).with_options("dimensions=6").unwrap();
    let e = OpenAiEmbedder::connect(cfg).await.unwrap();
    assert_eq!(e.dimension(), 6);
    assert_eq!(stub.requests.lock().unwrap()[0]["dimensions"], 6);
    assert!(
        config(&base)
            .with_options("colour=red")
            .unwrap_err()
            .message()
            .contains("colour")
    );
}

#[tokio::test]
async fn query_and_document_kinds_reach_the_server() {
    let (stub, base) = serve(12).await;
    // Off by default: OpenAI's own API refuses `input_type`.
    let plain = OpenAiEmbedder::connect(config(&base)).await.unwrap();
    assert_eq!(plain.prompt_scheme(), "none");
    plain.embed(&texts(1), EmbedKind::Query).await.unwrap();
    assert!(stub.requests.lock().unwrap()[1].get("input_type").is_none());

    let cfg = config(&base)
        .with_options("input_type=query,passage&query_prefix=query:%20&document_prefix=passage:%20")
        .unwrap();
    let e = OpenAiEmbedder::connect(cfg).await.unwrap();
    assert_eq!(
        e.prompt_scheme(),
        r#"input_type=query,passage;prefix="query: ","passage: ""#
    );
    e.embed(&texts(1), EmbedKind::Query).await.unwrap();
    e.embed(&texts(1), D).await.unwrap();
    let reqs = stub.requests.lock().unwrap().clone();
    let (q, d) = (&reqs[reqs.len() - 2], &reqs[reqs.len() - 1]);
    assert_eq!(q["input_type"], "query");
    assert_eq!(q["input"], json!(["query: text number 0"]));
    assert_eq!(d["input_type"], "passage");
    assert_eq!(d["input"], json!(["passage: text number 0"]));
    let err = config(&base).with_options("input_type=query").unwrap_err();
    assert!(err.message().contains("input_type"), "{err}");
}

#[tokio::test]
async fn retries_429_with_retry_after_and_500() {
    let (stub, base) = serve(4).await;
    let e = OpenAiEmbedder::connect(config(&base)).await.unwrap();
    stub.script.lock().unwrap().extend([
        Script::Status(429, vec![("retry-after-ms", "20")]),
        Script::Status(500, vec![]),
        Script::Status(429, vec![("retry-after", "0")]),
    ]);
    let out = e.embed(&texts(2), D).await.unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(
        stub.requests.lock().unwrap().len(),
        1 + 4,
        "three failures then success"
    );
}

#[tokio::test]
async fn gives_up_after_max_retries_with_a_temporary_error() {
    let (stub, base) = serve(4).await;
    let e = OpenAiEmbedder::connect(config(&base)).await.unwrap();
    stub.script
        .lock()
        .unwrap()
        .extend((0..10).map(|_| Script::Status(503, vec![])));
    let err = e.embed(&texts(1), D).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_temporary() && err.message().contains("503"), "{err}");
    assert_eq!(
        stub.requests.lock().unwrap().len(),
        1 + 4,
        "first try and three retries"
    );
    stub.script.lock().unwrap().clear();
    stub.script
        .lock()
        .unwrap()
        .extend((0..10).map(|_| Script::Status(429, vec![("retry-after-ms", "1")])));
    let err = e.embed(&texts(1), D).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.retry_after().is_some());
}

#[tokio::test]
async fn client_errors_are_not_retried_and_never_show_the_key() {
    let (stub, base) = serve(4).await;
    let e = OpenAiEmbedder::connect(config(&base)).await.unwrap();
    stub.script
        .lock()
        .unwrap()
        .push_back(Script::Status(401, vec![]));
    let err = e.embed(&texts(1), D).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        !format!("{err} {err:?}").contains("sk-test-secret"),
        "the key leaked: {err}"
    );
    stub.script
        .lock()
        .unwrap()
        .push_back(Script::Status(400, vec![]));
    assert_eq!(
        e.embed(&texts(1), D).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(stub.requests.lock().unwrap().len(), 1 + 2, "4xx retried");
    assert!(!format!("{:?}", config(&base)).contains("sk-test-secret"));
    assert!(!format!("{e:?}").contains("sk-test-secret"));
}

#[tokio::test]
async fn malformed_bodies_and_timeouts_are_clear_errors() {
    let (stub, base) = serve(4).await;
    let mut cfg = config(&base);
    cfg.timeout = Duration::from_millis(300);
    cfg.max_retries = 0;
    let e = OpenAiEmbedder::connect(cfg).await.unwrap();
    stub.script.lock().unwrap().push_back(Script::Malformed);
    let err = e.embed(&texts(1), D).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert!(err.message().contains("malformed"), "{err}");
    stub.script
        .lock()
        .unwrap()
        .push_back(Script::Sleep(Duration::from_secs(2)));
    let err = e.embed(&texts(1), D).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.message().contains("timed out"), "{err}");
}

#[tokio::test]
async fn unreachable_server_is_unavailable() {
    let cfg = config("http://127.0.0.1:9/v1");
    let err = OpenAiEmbedder::connect(OpenAiConfig {
        max_retries: 1,
        ..cfg
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
}

#[test]
fn missing_key_for_the_official_api_is_a_config_error() {
    let err = OpenAiConfig::new("text-embedding-3-small", None, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().contains("OPENAI_API_KEY"));
    assert!(
        OpenAiConfig::new(
            "nomic-embed-text",
            None,
            Some("http://localhost:11434/v1".into())
        )
        .is_ok(),
        "compatible servers need no key"
    );
}

#[tokio::test]
async fn a_model_change_is_a_dimension_mismatch_not_corruption() {
    let (_s1, base1) = serve(8).await;
    let (_s2, base2) = serve(16).await;
    let db = memory_sqlite::SqliteDb::connect("sqlite::memory:")
        .await
        .unwrap();
    let build = |e: OpenAiEmbedder| {
        let store = db.store();
        memory_core::Memory::builder()
            .store(store.clone())
            .keywords(store)
            .vectors(db.vector_index())
            .embedder(Arc::new(e))
            .build()
    };
    build(OpenAiEmbedder::connect(config(&base1)).await.unwrap())
        .await
        .unwrap();
    let err = build(OpenAiEmbedder::connect(config(&base2)).await.unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DimensionMismatch, "{err}");
}

#[tokio::test]
async fn chat_returns_parsed_json_or_names_the_problem() {
    let (stub, base) = serve(4).await;
    let mut cfg = config(&base);
    cfg.model = "gpt-4o-mini".into();
    let llm = OpenAiChat::new(cfg).unwrap();
    *stub.chat_answer.lock().unwrap() = r#"{"memories": [{"content": "likes tea"}]}"#.into();
    let req = ChatRequest {
        messages: vec![
            ChatMessage {
                role: Role::System,
                content: "extract".into(),
            },
            ChatMessage {
                role: Role::User,
                content: "I like tea".into(),
            },
        ],
        temperature: 0.0,
        max_tokens: 200,
        schema: None,
    };
    let answer = llm.complete_json(&req).await.unwrap();
    assert_eq!(answer.value["memories"][0]["content"], "likes tea");
    assert_eq!((answer.usage.input, answer.usage.output), (12, 5));
    let v = answer.value;
    assert_eq!(v["memories"][0]["content"], "likes tea");
    let sent = stub.requests.lock().unwrap()[0].clone();
    assert_eq!(sent["response_format"]["type"], "json_object");
    assert_eq!(sent["messages"][0]["role"], "system");
    *stub.chat_answer.lock().unwrap() = "sure! here you go".into();
    let err = llm.complete_json(&req).await.unwrap_err();
    assert!(err.message().contains("not a JSON object"), "{err}");
}

/// A schema is requested as structured output; a server that refuses
/// `json_schema` gets `json_object` instead, then and from then on.
#[tokio::test]
async fn chat_asks_for_a_schema_and_falls_back_to_json_object() {
    let (stub, base) = serve(4).await;
    let mut cfg = config(&base);
    cfg.model = "llama3".into();
    let llm = OpenAiChat::new(cfg).unwrap();
    *stub.chat_answer.lock().unwrap() = r#"{"facts": []}"#.into();
    let req = ChatRequest {
        messages: vec![ChatMessage {
            role: Role::User,
            content: "hello".into(),
        }],
        temperature: 0.0,
        max_tokens: 50,
        schema: Some(OutputSchema {
            name: "facts".into(),
            schema: json!({"type": "object", "properties": {"facts": {"type": "array"}}, "required": ["facts"]}),
        }),
    };
    llm.complete_json(&req).await.unwrap();
    let sent = stub.requests.lock().unwrap()[0].clone();
    assert_eq!(sent["response_format"]["type"], "json_schema", "{sent}");
    assert_eq!(sent["response_format"]["json_schema"]["name"], "facts");
    assert_eq!(
        sent["response_format"]["json_schema"]["schema"]["required"][0],
        "facts"
    );

    // A server without structured output (an older Ollama or llama.cpp).
    let (stub, base) = serve(4).await;
    let mut cfg = config(&base);
    cfg.model = "llama3".into();
    let llm = OpenAiChat::new(cfg).unwrap();
    *stub.chat_answer.lock().unwrap() = r#"{"facts": ["a"]}"#.into();
    stub.script.lock().unwrap().push_back(Script::Refuse(
        "response_format json_schema is not supported",
    ));
    let answer = llm.complete_json(&req).await.unwrap();
    assert_eq!(answer.value["facts"][0], "a");
    llm.complete_json(&req).await.unwrap();
    let kinds: Vec<Value> = stub
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r["response_format"]["type"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            json!("json_schema"),
            json!("json_object"),
            json!("json_object")
        ]
    );

    // Any other 400 is an error, not a fallback.
    let (stub, base) = serve(4).await;
    let llm = OpenAiChat::new(config(&base)).unwrap();
    stub.script
        .lock()
        .unwrap()
        .push_back(Script::Refuse("max_tokens is too large"));
    let err = llm.complete_json(&req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

/// Runs against the real API only when a key is present.
#[tokio::test]
async fn live_openai_when_a_key_is_set() {
    let Ok(key) = std::env::var("OPENAI_API_KEY") else {
        println!("OPENAI_API_KEY not set: live OpenAI test skipped");
        return;
    };
    let base = std::env::var("OPENAI_BASE_URL").ok();
    let chat =
        OpenAiChat::new(OpenAiConfig::new("gpt-4o-mini", Some(key.clone()), base.clone()).unwrap())
            .unwrap();
    let answer = chat
        .complete_json(&ChatRequest {
            messages: vec![ChatMessage {
                role: Role::User,
                content: "Is water wet? Answer in JSON.".into(),
            }],
            temperature: 0.0,
            max_tokens: 20,
            schema: Some(OutputSchema {
                name: "answer".into(),
                schema: json!({"type": "object", "properties": {"yes": {"type": "boolean"}},
                    "required": ["yes"], "additionalProperties": false}),
            }),
        })
        .await
        .unwrap();
    assert!(answer.value["yes"].is_boolean(), "{:?}", answer.value);
    assert!(answer.usage.input > 0 && answer.usage.output > 0);
    let cfg = OpenAiConfig::new("text-embedding-3-small", Some(key), base).unwrap();
    let e = OpenAiEmbedder::connect(cfg).await.unwrap();
    assert_eq!(e.dimension(), 1536);
    let v = e
        .embed(
            &[
                "The weather is lovely today.".into(),
                "It's so sunny outside!".into(),
                "He drove to the stadium.".into(),
            ],
            D,
        )
        .await
        .unwrap();
    let sim = |a: usize, b: usize| memory_core::vecmath::cosine(&v[a], &v[b]);
    assert!(sim(0, 1) > sim(0, 2), "weather sentences should be closer");
}

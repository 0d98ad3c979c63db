//! The served OpenAPI document checked against the running routes: every
//! documented operation is routed, and real responses of every JSON
//! operation validate against the schemas the document declares.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

mod common;

struct Api {
    base: String,
    doc: Value,
    http: reqwest::Client,
}

impl Api {
    async fn new() -> Self {
        let base = common::start(&[common::key("k", "t", None)], common::roomy()).await;
        let http = reqwest::Client::new();
        let doc: Value = http
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Self { base, doc, http }
    }

    async fn raw(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, String) {
        let mut req = self
            .http
            .request(
                Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                format!("{}{path}", self.base),
            )
            .bearer_auth("k")
            .header("accept", "application/json, text/event-stream");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        (resp.status(), resp.text().await.unwrap())
    }

    /// Calls `method template` (filled as `path`) and validates a successful
    /// response against the document's schema for that status.
    async fn checked(
        &self,
        method: &str,
        template: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, text) = self.raw(method, path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        let op = &self.doc["paths"][template][method];
        let declared = &op["responses"][status.as_str()];
        assert!(
            declared.is_object(),
            "{method} {template} answered {status}, which the document does not declare: {op}"
        );
        let Some(schema) = declared.pointer("/content/application~1json/schema") else {
            return Value::Null;
        };
        let value: Value = serde_json::from_str(&text).unwrap();
        let mut root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"],
        });
        for (k, v) in schema.as_object().unwrap() {
            root[k] = v.clone();
        }
        let validator = jsonschema::validator_for(&root)
            .unwrap_or_else(|e| panic!("{method} {template}: bad schema {e}: {schema}"));
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {template}: response does not match its schema: {errors:?}\n{value}"
        );
        value
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed() {
    let api = Api::new().await;
    assert_eq!(api.doc["openapi"], "3.1.0");
    let doc_text = api.doc.to_string();
    // Every reference resolves.
    let schemas = api.doc["components"]["schemas"].as_object().unwrap();
    for piece in doc_text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling $ref to {name}");
    }
    let mut count = 0;
    for (path, ops) in api.doc["paths"].as_object().unwrap() {
        let filled = path.replace("{id}", "0190f3a2-7c4e-7000-8000-000000000000");
        for (method, op) in ops.as_object().unwrap() {
            let body = op.get("requestBody").map(|_| json!({}));
            let (status, text) = api.raw(method, &filled, body).await;
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is not routed"
            );
            if status == StatusCode::NOT_FOUND {
                // The route exists and answered in the error shape: the id is unknown.
                let v: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|_| panic!("{method} {path} is not routed: {text}"));
                assert_eq!(v["error"]["kind"], "not_found", "{method} {path}: {text}");
            }
            count += 1;
        }
    }
    assert!(count >= 19, "only {count} operations documented");
    // And nothing routed is undocumented: an unknown path is a bare 404.
    let (status, _) = api.raw("get", "/v1/nothing-here", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_match_their_schemas() {
    let api = Api::new().await;
    let added = api
        .checked(
            "post",
            "/v1/memories",
            "/v1/memories",
            Some(json!({"user_id": "u", "content": "u likes hiking in the alps", "kind": "preference", "metadata": {"topic": "sport"}})),
        )
        .await;
    let id = added["id"].as_str().unwrap();
    api.checked(
        "post",
        "/v1/memories/batch",
        "/v1/memories/batch",
        Some(json!({"items": [{"user_id": "u", "content": "u owns a red bicycle"}]})),
    )
    .await;
    api.checked(
        "get",
        "/v1/memories",
        "/v1/memories?user_id=u&limit=5",
        None,
    )
    .await;
    let found = api
        .checked(
            "post",
            "/v1/memories/search",
            "/v1/memories/search",
            Some(json!({"user_id": "u", "query": "hiking"})),
        )
        .await;
    assert!(!found["hits"].as_array().unwrap().is_empty());
    let one = format!("/v1/memories/{id}");
    api.checked("get", "/v1/memories/{id}", &one, None).await;
    api.checked(
        "patch",
        "/v1/memories/{id}",
        &one,
        Some(json!({"importance": 8})),
    )
    .await;
    api.checked(
        "get",
        "/v1/memories/{id}/history",
        &format!("{one}/history"),
        None,
    )
    .await;
    let said = api
        .checked(
            "post",
            "/v1/sessions/{id}/messages",
            "/v1/sessions/s1/messages",
            Some(json!({"user_id": "u", "role": "user", "content": "I went hiking again", "client_id": "c-1"})),
        )
        .await;
    let message = said["message"]["id"].as_str().unwrap();
    let page = api
        .checked(
            "get",
            "/v1/sessions/{id}/transcript",
            "/v1/sessions/s1/transcript?limit=10",
            None,
        )
        .await;
    assert_eq!(page["items"][0]["client_id"], "c-1", "{page}");
    api.checked(
        "post",
        "/v1/sessions/{id}/messages/{message_id}/answered",
        &format!("/v1/sessions/s1/messages/{message}/answered"),
        None,
    )
    .await;
    api.checked(
        "put",
        "/v1/sessions/{id}/extraction",
        "/v1/sessions/s1/extraction",
        Some(json!({"enabled": false})),
    )
    .await;
    api.checked(
        "get",
        "/v1/sessions/{id}/messages",
        "/v1/sessions/s1/messages?limit=5",
        None,
    )
    .await;
    api.checked(
        "get",
        "/v1/sessions/{id}/context",
        "/v1/sessions/s1/context?user_id=u&query=hiking",
        None,
    )
    .await;
    api.checked("get", "/v1/users/{id}", "/v1/users/u", None)
        .await;
    api.checked(
        "post",
        "/v1/sessions",
        "/v1/sessions",
        Some(json!({"id": "s2", "user_id": "u", "title": "Stream", "external_id": "vid"})),
    )
    .await;
    api.checked(
        "get",
        "/v1/sessions",
        "/v1/sessions?user_id=u&limit=5",
        None,
    )
    .await;
    api.checked("get", "/v1/sessions/{id}", "/v1/sessions/s2", None)
        .await;
    api.checked(
        "patch",
        "/v1/sessions/{id}",
        "/v1/sessions/s2",
        Some(json!({"title": "Stream 2"})),
    )
    .await;
    let topic = api
        .checked(
            "post",
            "/v1/sessions/{id}/topics",
            "/v1/sessions/s2/topics",
            Some(json!({"title": "Hiking", "outline": ["alps"]})),
        )
        .await;
    let topic = format!("/v1/topics/{}", topic["id"].as_str().unwrap());
    api.checked(
        "get",
        "/v1/sessions/{id}/topics",
        "/v1/sessions/s2/topics",
        None,
    )
    .await;
    api.checked("get", "/v1/topics/{id}", &topic, None).await;
    api.checked(
        "patch",
        "/v1/topics/{id}",
        &topic,
        Some(json!({"completed": true})),
    )
    .await;
    api.checked("delete", "/v1/topics/{id}", &topic, None).await;
    api.checked("get", "/v1/users", "/v1/users?limit=5", None)
        .await;
    api.checked(
        "patch",
        "/v1/users/{id}",
        "/v1/users/u",
        Some(json!({"display_name": "U"})),
    )
    .await;
    api.checked("get", "/v1/users/{id}/stats", "/v1/users/u/stats", None)
        .await;
    api.checked(
        "get",
        "/v1/stats/{user_id}/{agent_id}",
        "/v1/stats/u/luna",
        None,
    )
    .await;
    api.checked("post", "/v1/sessions/{id}/end", "/v1/sessions/s1/end", None)
        .await;
    api.checked("get", "/v1/status", "/v1/status", None).await;
    api.checked("get", "/v1/stats", "/v1/stats", None).await;
    let queue = api
        .checked("get", "/v1/jobs", "/v1/jobs?limit=10", None)
        .await;
    assert!(queue["counts"].is_array(), "{queue}");
    api.checked("get", "/v1/jobs", "/v1/jobs?dead=true", None)
        .await;
    for path in ["/v1/jobs/retry", "/v1/jobs/purge"] {
        let r = api
            .checked("post", path, path, Some(json!({"all": true})))
            .await;
        assert_eq!(r["changed"], 0, "{r}");
    }
    api.checked("get", "/openapi.json", "/openapi.json", None)
        .await;
    api.checked("delete", "/v1/memories/{id}", &one, None).await;
    api.checked("delete", "/v1/users/{id}", "/v1/users/u", None)
        .await;
}

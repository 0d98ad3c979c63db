//! The OpenAPI 3.1 document, rendered from the same operation table that
//! builds the router, with JSON Schemas derived from the request and response
//! types themselves.

use std::collections::BTreeMap;

use axum::routing::MethodRouter;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use super::AppState;

/// Where the MCP endpoint is mounted.
pub(super) const MCP_PATH: &str = "/mcp";

/// Renders a type's schema.
type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`, a `$ref` into the components for named types.
fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// The schema of `T` itself, for query parameters listed one by one.
fn inline<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.root_schema_for::<T>()
}

/// One operation: how it is routed and how it is documented.
pub(super) struct Op {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    route: fn() -> MethodRouter<AppState>,
    authenticated: bool,
    query: Option<SchemaFn>,
    body: Option<SchemaFn>,
    status: u16,
    response: Response,
}

enum Response {
    Json(SchemaFn),
    Text,
    Empty,
}

impl Op {
    /// An authenticated operation answering 200 with no documented body yet.
    pub(super) fn new(
        method: &'static str,
        path: &'static str,
        summary: &'static str,
        route: fn() -> MethodRouter<AppState>,
    ) -> Self {
        Self {
            method,
            path,
            summary,
            route,
            authenticated: true,
            query: None,
            body: None,
            status: 200,
            response: Response::Empty,
        }
    }

    /// Reachable without an API key.
    pub(super) fn public(mut self) -> Self {
        self.authenticated = false;
        self
    }

    /// Query parameters: the properties of this object schema.
    pub(super) fn query<T: JsonSchema>(mut self) -> Self {
        self.query = Some(inline::<T>);
        self
    }

    /// A JSON request body.
    pub(super) fn body<T: JsonSchema>(mut self) -> Self {
        self.body = Some(schema::<T>);
        self
    }

    /// Success with a JSON body.
    pub(super) fn returns<T: JsonSchema>(mut self, status: u16) -> Self {
        self.status = status;
        self.response = Response::Json(schema::<T>);
        self
    }

    /// Success with a plain-text body.
    pub(super) fn returns_text(mut self, status: u16) -> Self {
        self.status = status;
        self.response = Response::Text;
        self
    }

    /// Success with no body.
    pub(super) fn returns_nothing(mut self, status: u16) -> Self {
        self.status = status;
        self.response = Response::Empty;
        self
    }
}

/// The method routers of `ops` merged by path: `(path, authenticated, router)`.
pub(super) fn routes(ops: Vec<Op>) -> Vec<(&'static str, bool, MethodRouter<AppState>)> {
    let mut by_path: Vec<(&'static str, bool, MethodRouter<AppState>)> = Vec::new();
    for op in ops {
        let route = (op.route)();
        match by_path.iter_mut().find(|(p, _, _)| *p == op.path) {
            Some((_, _, existing)) => {
                let merged = std::mem::take(existing).merge(route);
                *existing = merged;
            }
            None => by_path.push((op.path, op.authenticated, route)),
        }
    }
    by_path
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } })
        })
        .collect()
}

fn query_parameters(schema: &Schema) -> Vec<Value> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, s)| {
            let mut s = s.clone();
            let description = s.as_object_mut().and_then(|o| o.remove("description"));
            let mut p = json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name.as_str()),
                "schema": s,
            });
            if let Some(d) = description {
                p["description"] = d;
            }
            p
        })
        .collect()
}

fn operation(op: &Op, g: &mut SchemaGenerator) -> Value {
    let mut parameters = path_parameters(op.path);
    if let Some(q) = op.query {
        // Inline, not a `$ref`: parameters are listed one by one.
        let mut inline = SchemaSettings::draft2020_12().into_generator();
        parameters.extend(query_parameters(&q(&mut inline)));
    }
    let ok = match op.response {
        Response::Json(f) => json!({
            "description": "success",
            "content": { "application/json": { "schema": f(g) } }
        }),
        Response::Text => json!({
            "description": "success",
            "content": { "text/plain": { "schema": { "type": "string" } } }
        }),
        Response::Empty => json!({ "description": "success, no body" }),
    };
    let mut responses = Map::new();
    responses.insert(op.status.to_string(), ok);
    responses.insert(
        "default".into(),
        json!({
            "description": "an error: 400 invalid input, 401 no key, 404 not found or not yours, 409 conflict, 413 too large, 429 rate limited (Retry-After), 503 a backend is down",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
        }),
    );
    let mut o = json!({
        "summary": op.summary,
        "operationId": format!("{}_{}", op.method, op.path.trim_matches('/').replace(['/', '{', '}', '.'], "_")),
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(b) = op.body {
        o["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": b(g) } }
        });
    }
    if !op.authenticated {
        o["security"] = json!([]);
    }
    o
}

pub(super) fn document(ops: &[Op]) -> Value {
    let mut g = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator();
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for op in ops {
        paths
            .entry(op.path)
            .or_default()
            .insert(op.method.to_owned(), operation(op, &mut g));
    }
    paths.entry(MCP_PATH).or_default().insert(
        "post".into(),
        json!({
            "summary": "MCP over streamable HTTP (JSON-RPC): tools add_memory, search_memory, list_memories, delete_memory, get_context",
            "operationId": "post_mcp",
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object" } } } },
            "responses": {
                "200": { "description": "a JSON-RPC response", "content": { "application/json": { "schema": { "type": "object" } } } },
                "default": { "description": "an error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            }
        }),
    );
    let mut schemas = g.take_definitions(true);
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["error"],
            "properties": { "error": {
                "type": "object",
                "required": ["kind", "message"],
                "properties": {
                    "kind": { "type": "string", "description": "invalid_input, not_found, conflict, rate_limited, unavailable, …" },
                    "message": { "type": "string", "description": "what is wrong, naming the field" }
                }
            }}
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "memory",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A memory layer for AI agents: long-term memories with hybrid search, sessions' short-term windows and prompt context."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "apiKey": { "type": "http", "scheme": "bearer" } }
        },
        "security": [ { "apiKey": [] } ],
    })
}

//! A small client for the parts of Chroma's v2 REST API the index uses.
//!
//! Not the official `chroma` crate: its build needs `protoc` and generated
//! protobuf types for a handful of JSON calls, and here every call shares the
//! timeouts and error mapping of the other backends.

use memory_core::{Error, ErrorKind, Result};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::ChromaConfig;

/// One record's metadata.
pub(crate) type Metadata = Map<String, Value>;

/// A collection as Chroma describes it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Collection {
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) metadata: Option<Map<String, Value>>,
}

/// Rows of a `get`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct GetResult {
    pub(crate) ids: Vec<String>,
}

/// Rows of a one-vector `query`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct QueryResult {
    pub(crate) ids: Vec<Vec<String>>,
    #[serde(default)]
    pub(crate) distances: Option<Vec<Vec<Option<f32>>>>,
    #[serde(default)]
    pub(crate) metadatas: Option<Vec<Vec<Option<Metadata>>>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    cfg: ChromaConfig,
}

fn transport(e: &reqwest::Error, what: &str, cfg: &ChromaConfig) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!(
            "chroma at {}: {what} failed: {}",
            cfg.redacted(),
            if e.is_timeout() {
                "timed out".to_owned()
            } else {
                e.to_string()
            }
        ),
    )
    .with_backend("chroma")
    .with_temporary(true)
}

fn status_error(status: StatusCode, body: &str, what: &str) -> Error {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(300).collect());
    let kind = match status {
        StatusCode::NOT_FOUND => ErrorKind::NotFound,
        StatusCode::CONFLICT => ErrorKind::Conflict,
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
            if message.contains("dimension") {
                ErrorKind::DimensionMismatch
            } else {
                ErrorKind::InvalidInput
            }
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ErrorKind::Config,
        StatusCode::TOO_MANY_REQUESTS => ErrorKind::RateLimited,
        s if s.is_server_error() => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    };
    Error::new(kind, format!("chroma {what}: {message}"))
        .with_backend("chroma")
        .with_temporary(matches!(
            kind,
            ErrorKind::Unavailable | ErrorKind::RateLimited
        ))
}

impl Client {
    pub(crate) fn new(cfg: ChromaConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(std::time::Duration::from_secs(3)))
            .build()
            .map_err(|e| Error::config(format!("chroma client: {e}")))?;
        Ok(Self { http, cfg })
    }

    pub(crate) fn config(&self) -> &ChromaConfig {
        &self.cfg
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Value> {
        let url = format!("{}/api/v2{path}", self.cfg.base_url);
        let mut req = self.http.request(method, url);
        if let Some(t) = &self.cfg.token {
            req = req.header("x-chroma-token", t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| transport(&e, what, &self.cfg))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| transport(&e, what, &self.cfg))?;
        if !status.is_success() {
            return Err(status_error(status, &text, what));
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| {
            Error::internal(format!("chroma {what}: unreadable answer: {e}")).with_backend("chroma")
        })
    }

    fn db(&self) -> String {
        format!(
            "/tenants/{}/databases/{}",
            self.cfg.tenant, self.cfg.database
        )
    }

    /// Creates the tenant and database if they are missing.
    pub(crate) async fn ensure_database(&self) -> Result<()> {
        let t = &self.cfg.tenant;
        match self
            .call(Method::GET, &format!("/tenants/{t}"), None, "get tenant")
            .await
        {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.call(
                    Method::POST,
                    "/tenants",
                    Some(&json!({ "name": t })),
                    "create tenant",
                )
                .await
                .or_else(ignore_conflict)?;
            }
            Err(e) => return Err(e),
        }
        match self
            .call(Method::GET, &self.db(), None, "get database")
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => self
                .call(
                    Method::POST,
                    &format!("/tenants/{t}/databases"),
                    Some(&json!({ "name": self.cfg.database })),
                    "create database",
                )
                .await
                .map(|_| ())
                .or_else(ignore_conflict),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn version(&self) -> Result<String> {
        let v = self.call(Method::GET, "/version", None, "version").await?;
        Ok(v.as_str().unwrap_or("unknown").to_owned())
    }

    pub(crate) async fn max_batch(&self) -> Result<usize> {
        let v = self
            .call(Method::GET, "/pre-flight-checks", None, "pre-flight checks")
            .await?;
        Ok(v.get("max_batch_size")
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(1000))
    }

    pub(crate) async fn get_collection(&self, name: &str) -> Result<Option<Collection>> {
        match self
            .call(
                Method::GET,
                &format!("{}/collections/{name}", self.db()),
                None,
                "get collection",
            )
            .await
        {
            Ok(v) => Ok(Some(parse(v, "get collection")?)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn create_collection(
        &self,
        name: &str,
        metadata: &Map<String, Value>,
    ) -> Result<Collection> {
        let v = self
            .call(
                Method::POST,
                &format!("{}/collections", self.db()),
                Some(&json!({ "name": name, "metadata": metadata, "get_or_create": true })),
                "create collection",
            )
            .await?;
        parse(v, "create collection")
    }

    pub(crate) async fn list_collections(&self) -> Result<Vec<Collection>> {
        let mut out = Vec::new();
        loop {
            let v = self
                .call(
                    Method::GET,
                    &format!("{}/collections?limit=1000&offset={}", self.db(), out.len()),
                    None,
                    "list collections",
                )
                .await?;
            let page: Vec<Collection> = parse(v, "list collections")?;
            let done = page.len() < 1000;
            out.extend(page);
            if done {
                return Ok(out);
            }
        }
    }

    pub(crate) async fn delete_collection(&self, name: &str) -> Result<()> {
        match self
            .call(
                Method::DELETE,
                &format!("{}/collections/{name}", self.db()),
                None,
                "delete collection",
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn upsert(&self, id: &str, body: &Value) -> Result<()> {
        self.call(
            Method::POST,
            &format!("{}/collections/{id}/upsert", self.db()),
            Some(body),
            "upsert",
        )
        .await
        .map(|_| ())
    }

    pub(crate) async fn delete(&self, id: &str, ids: &[String]) -> Result<()> {
        self.call(
            Method::POST,
            &format!("{}/collections/{id}/delete", self.db()),
            Some(&json!({ "ids": ids })),
            "delete",
        )
        .await
        .map(|_| ())
    }

    pub(crate) async fn query(&self, id: &str, body: &Value) -> Result<QueryResult> {
        let v = self
            .call(
                Method::POST,
                &format!("{}/collections/{id}/query", self.db()),
                Some(body),
                "query",
            )
            .await?;
        parse(v, "query")
    }

    pub(crate) async fn count(&self, id: &str) -> Result<u64> {
        let v = self
            .call(
                Method::GET,
                &format!("{}/collections/{id}/count", self.db()),
                None,
                "count",
            )
            .await?;
        v.as_u64().ok_or_else(|| {
            Error::internal(format!("chroma count: unexpected answer {v}")).with_backend("chroma")
        })
    }

    pub(crate) async fn get(&self, id: &str, body: &Value) -> Result<GetResult> {
        self.get_rows(id, body).await
    }

    /// A `get` whose rows include what `body` asks for.
    pub(crate) async fn get_rows<T: serde::de::DeserializeOwned>(
        &self,
        id: &str,
        body: &Value,
    ) -> Result<T> {
        let v = self
            .call(
                Method::POST,
                &format!("{}/collections/{id}/get", self.db()),
                Some(body),
                "get",
            )
            .await?;
        parse(v, "get")
    }
}

fn ignore_conflict<T: Default>(e: Error) -> Result<T> {
    if e.kind() == ErrorKind::Conflict {
        Ok(T::default())
    } else {
        Err(e)
    }
}

fn parse<T: serde::de::DeserializeOwned>(v: Value, what: &str) -> Result<T> {
    serde_json::from_value(v).map_err(|e| {
        Error::internal(format!("chroma {what}: unexpected answer: {e}")).with_backend("chroma")
    })
}

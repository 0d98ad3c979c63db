//! Reading a collection another program wrote (seed 004's ChromaDB data):
//! documents, metadata and embeddings, a page at a time.

use async_trait::async_trait;
use memory_core::{Error, ForeignPage, ForeignReader, ForeignRecord, Result};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::ChromaConfig;
use crate::client::Client;

/// A foreign collection: `chroma://host:port/COLLECTION[?tenant=…&database=…&token=…]`.
#[derive(Debug)]
pub struct ChromaCollection {
    client: Client,
    id: String,
    shown: String,
}

#[derive(Debug, Default, Deserialize)]
struct Rows {
    ids: Vec<String>,
    #[serde(default)]
    documents: Option<Vec<Option<String>>>,
    #[serde(default)]
    metadatas: Option<Vec<Option<Map<String, Value>>>>,
    #[serde(default)]
    embeddings: Option<Vec<Option<Vec<f32>>>>,
}

impl ChromaCollection {
    /// Opens the collection the URL's path names; `NotFound` if it does not exist.
    pub async fn open(url: &str) -> Result<Self> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| Error::config(format!("{url:?} is not a chroma:// URL")))?;
        let (authority, tail) = rest.split_once('/').ok_or_else(|| {
            Error::config("chroma collection URL: expected chroma://host:port/COLLECTION")
        })?;
        let (name, query) = tail.split_once('?').unwrap_or((tail, ""));
        if name.is_empty() || name.contains('/') {
            return Err(Error::config(
                "chroma collection URL: expected chroma://host:port/COLLECTION",
            ));
        }
        let base = if query.is_empty() {
            format!("{scheme}://{authority}")
        } else {
            format!("{scheme}://{authority}?{query}")
        };
        let cfg = ChromaConfig::from_url(&base)?;
        let shown = format!("{}/{name}", cfg.base_url.replacen("http", "chroma", 1));
        let client = Client::new(cfg)?;
        let collection = client.get_collection(name).await?.ok_or_else(|| {
            Error::not_found(format!(
                "chroma collection {name:?} does not exist at {shown}"
            ))
        })?;
        Ok(Self {
            client,
            id: collection.id,
            shown,
        })
    }
}

#[async_trait]
impl ForeignReader for ChromaCollection {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    async fn count(&self) -> Result<u64> {
        self.client.count(&self.id).await
    }

    async fn page(&self, from: Option<&str>, limit: usize) -> Result<ForeignPage> {
        let offset: usize = from.and_then(|f| f.parse().ok()).unwrap_or(0);
        let body = json!({
            "limit": limit,
            "offset": offset,
            "include": ["documents", "metadatas", "embeddings"],
        });
        let rows: Rows = self.client.get_rows(&self.id, &body).await?;
        let n = rows.ids.len();
        let mut documents = rows.documents.unwrap_or_default().into_iter();
        let mut metadatas = rows.metadatas.unwrap_or_default().into_iter();
        let mut embeddings = rows.embeddings.unwrap_or_default().into_iter();
        let records = rows
            .ids
            .into_iter()
            .map(|id| ForeignRecord {
                id,
                document: documents.next().flatten(),
                metadata: metadatas.next().flatten().unwrap_or_default(),
                embedding: embeddings.next().flatten(),
            })
            .collect();
        Ok(ForeignPage {
            records,
            next: (n == limit).then(|| (offset + n).to_string()),
        })
    }
}

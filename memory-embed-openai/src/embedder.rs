//! `Embedder` over `POST /embeddings`.

use async_trait::async_trait;
use memory_core::{EmbedKind, Embedder, Error, Result};
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::config::OpenAiConfig;

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    input: &'a [String],
    encoding_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_type: Option<&'a str>,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

/// Embeddings from the OpenAI API or a compatible server (Ollama, vLLM, LM
/// Studio, llama.cpp). The dimension is read from the server's first answer
/// (or the `dimensions` option) and then enforced on every answer.
#[derive(Clone)]
pub struct OpenAiEmbedder {
    client: Client,
    model_id: String,
    prompt_scheme: String,
    dimension: usize,
}

impl std::fmt::Debug for OpenAiEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEmbedder")
            .field("model", &self.model_id)
            .field("dimension", &self.dimension)
            .finish()
    }
}

impl OpenAiEmbedder {
    /// Connects and learns the dimension with one probe request.
    pub async fn connect(cfg: OpenAiConfig) -> Result<Self> {
        let client = Client::new(cfg)?;
        let probe = embed_raw(
            &client,
            &["dimension probe".to_owned()],
            EmbedKind::Document,
        )
        .await?;
        let dimension = probe
            .first()
            .map(Vec::len)
            .filter(|d| *d > 0)
            .ok_or_else(|| {
                Error::internal("openai embeddings: the probe returned no vector")
                    .with_backend("openai")
            })?;
        if let Some(want) = client.config().dimensions
            && want != dimension
        {
            return Err(Error::new(
                memory_core::ErrorKind::DimensionMismatch,
                format!(
                    "openai embeddings: asked for {want} dimensions, the server returned {dimension}"
                ),
            ));
        }
        let model_id = format!("openai:{}", client.config().model);
        Ok(Self {
            prompt_scheme: client.config().prompt_scheme(),
            client,
            model_id,
            dimension,
        })
    }
}

async fn embed_raw(client: &Client, texts: &[String], kind: EmbedKind) -> Result<Vec<Vec<f32>>> {
    let cfg = client.config();
    let prefix = match kind {
        EmbedKind::Query => &cfg.query_prefix,
        EmbedKind::Document => &cfg.document_prefix,
    };
    let prefixed: Vec<String>;
    let input = if prefix.is_empty() {
        texts
    } else {
        prefixed = texts.iter().map(|t| format!("{prefix}{t}")).collect();
        &prefixed
    };
    let body = Request {
        model: &cfg.model,
        input,
        encoding_format: "float",
        dimensions: cfg.dimensions,
        input_type: cfg.input_types.as_ref().map(|(q, d)| match kind {
            EmbedKind::Query => q.as_str(),
            EmbedKind::Document => d.as_str(),
        }),
    };
    let resp: Response = client.post("/embeddings", &body, "embeddings").await?;
    if resp.data.len() != texts.len() {
        return Err(Error::internal(format!(
            "openai embeddings: {} vectors for {} inputs",
            resp.data.len(),
            texts.len()
        ))
        .with_backend("openai"));
    }
    let mut out: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
    // Servers may answer out of order; `index` is authoritative.
    for item in resp.data {
        let slot = out.get_mut(item.index).ok_or_else(|| {
            Error::internal(format!(
                "openai embeddings: index {} out of range",
                item.index
            ))
        })?;
        *slot = Some(item.embedding);
    }
    out.into_iter()
        .map(|v| {
            v.ok_or_else(|| {
                Error::internal("openai embeddings: an input got no vector").with_backend("openai")
            })
        })
        .collect()
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn prompt_scheme(&self) -> &str {
        &self.prompt_scheme
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn max_batch(&self) -> usize {
        self.client.config().batch
    }

    async fn embed(&self, texts: &[String], kind: EmbedKind) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.max_batch().max(1)) {
            let vectors = embed_raw(&self.client, chunk, kind).await?;
            if let Some(v) = vectors.iter().find(|v| v.len() != self.dimension) {
                return Err(Error::new(
                    memory_core::ErrorKind::DimensionMismatch,
                    format!(
                        "openai embeddings: got {} dimensions, this embedder makes {}",
                        v.len(),
                        self.dimension
                    ),
                ));
            }
            out.extend(vectors);
        }
        Ok(out)
    }
}

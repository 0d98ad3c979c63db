//! Reading a collection another program wrote (seed 003's Qdrant points):
//! payloads and vectors, a page at a time, for `memory migrate --from`.

use async_trait::async_trait;
use memory_core::{BackendUrl, Error, ForeignPage, ForeignReader, ForeignRecord, Result};
use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::vector_output::Vector;
use qdrant_client::qdrant::vectors_config::Config as VectorsConfigKind;
use qdrant_client::qdrant::vectors_output::VectorsOptions;
use qdrant_client::qdrant::{
    CountPointsBuilder, PointId, RetrievedPoint, ScrollPointsBuilder, VectorsOutput,
};

use crate::config::QdrantConfig;
use crate::index::{QdrantIndex, map_error, vectors_config};

/// A foreign collection:
/// `qdrant://host:6334/COLLECTION[?api_key=…&timeout_ms=…&vector=NAME]`.
/// `vector` picks one of several named vectors; a collection with one
/// vector (named or not) needs none.
#[derive(Debug)]
pub struct QdrantCollection {
    index: QdrantIndex,
    name: String,
    vector: Option<String>,
    shown: String,
}

impl QdrantCollection {
    /// Opens the collection the URL's path names; `NotFound` if it does not exist.
    pub async fn open(url: &str) -> Result<Self> {
        let parsed = BackendUrl::parse(url)?;
        let name = parsed.path().trim_start_matches('/').to_owned();
        if name.is_empty() || name.contains('/') {
            return Err(Error::config(format!(
                "qdrant collection URL {parsed}: expected qdrant://host:port/COLLECTION"
            )));
        }
        let mut q = parsed.params("qdrant");
        let cfg = QdrantConfig::read(&parsed, &mut q)?;
        let vector = q.non_empty("vector")?;
        q.finish()?;
        let shown = format!("{}/{name}", cfg.url.replacen("http", "qdrant", 1));
        let index = QdrantIndex::open(cfg).await?;
        let names = vector_names(&index, &name, &shown).await?;
        if let Some(v) = &vector
            && !names.contains(v)
        {
            return Err(Error::invalid(format!(
                "qdrant collection {name:?} has no vector named {v:?} (it has {})",
                if names.is_empty() {
                    "one unnamed vector: drop ?vector=".to_owned()
                } else {
                    names.join(", ")
                }
            )));
        }
        Ok(Self {
            index,
            name,
            vector,
            shown,
        })
    }

    /// The point's dense vector: the one named by `?vector=`, else its only
    /// one. A point with several and none named, or a sparse one, has none
    /// to keep: its text is embedded anew (the report counts it).
    fn vector_of(&self, vectors: Option<VectorsOutput>) -> Option<Vec<f32>> {
        let chosen = match vectors?.vectors_options? {
            VectorsOptions::Vector(v) => v,
            VectorsOptions::Vectors(mut named) => match &self.vector {
                Some(name) => named.vectors.remove(name)?,
                None if named.vectors.len() == 1 => named.vectors.into_values().next()?,
                None => return None,
            },
        };
        match chosen.into_vector() {
            Vector::Dense(d) => Some(d.data),
            _ => None,
        }
    }

    fn record(&self, point: RetrievedPoint) -> ForeignRecord {
        let id = point.id.as_ref().map(id_text).unwrap_or_default();
        let embedding = self.vector_of(point.vectors);
        ForeignRecord {
            metadata: point
                .payload
                .into_iter()
                .map(|(k, v)| (k, v.into_json()))
                .collect(),
            id,
            document: None,
            embedding,
        }
    }
}

/// The collection's named vectors (none for one unnamed vector);
/// `NotFound` when there is no such collection.
async fn vector_names(index: &QdrantIndex, name: &str, shown: &str) -> Result<Vec<String>> {
    let exists = index
        .client()
        .collection_exists(name)
        .await
        .map_err(|e| map_error(e, "collection exists"))?;
    if !exists {
        return Err(Error::not_found(format!(
            "qdrant collection {name:?} does not exist at {shown}"
        )));
    }
    let info = index
        .client()
        .collection_info(name)
        .await
        .map_err(|e| map_error(e, "collection info"))?;
    let mut names: Vec<String> = match vectors_config(info) {
        Some(VectorsConfigKind::ParamsMap(m)) => m.map.into_keys().collect(),
        _ => Vec::new(),
    };
    names.sort();
    Ok(names)
}

/// A point id as text: the UUID, or the unsigned number in decimal.
fn id_text(id: &PointId) -> String {
    match &id.point_id_options {
        Some(PointIdOptions::Uuid(u)) => u.clone(),
        Some(PointIdOptions::Num(n)) => n.to_string(),
        None => String::new(),
    }
}

/// A page cursor back into the point id it came from: numbers are numeric
/// ids, anything else a UUID.
fn id_from_text(text: &str) -> PointId {
    match text.parse::<u64>() {
        Ok(n) => PointId::from(n),
        Err(_) => PointId::from(text.to_owned()),
    }
}

#[async_trait]
impl ForeignReader for QdrantCollection {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    async fn count(&self) -> Result<u64> {
        let resp = self
            .index
            .client()
            .count(CountPointsBuilder::new(&self.name).exact(true))
            .await
            .map_err(|e| map_error(e, "count"))?;
        Ok(resp.result.map_or(0, |r| r.count))
    }

    async fn page(&self, from: Option<&str>, limit: usize) -> Result<ForeignPage> {
        let mut req = ScrollPointsBuilder::new(&self.name)
            .limit(u32::try_from(limit).unwrap_or(u32::MAX))
            .with_payload(true)
            .with_vectors(true);
        if let Some(from) = from {
            req = req.offset(id_from_text(from));
        }
        let resp = self
            .index
            .client()
            .scroll(req)
            .await
            .map_err(|e| map_error(e, "scroll"))?;
        let next = resp.next_page_offset.as_ref().map(id_text);
        let records = resp.result.into_iter().map(|p| self.record(p)).collect();
        Ok(ForeignPage { records, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_come_back_as_the_ids_they_name() {
        for id in [
            PointId::from(42_u64),
            PointId::from("0195f3a1-7c1e-7d3e-9d2a-0c4b9e6f1a20".to_owned()),
        ] {
            assert_eq!(id_from_text(&id_text(&id)), id);
        }
    }
}

//! [`VectorIndex`] on Chroma.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use memory_core::{
    BackendInfo, CollectionSpec, Error, ErrorKind, Field, Metric, Result, ScoredId,
    VectorCapabilities, VectorIndex, VectorQuery, VectorRecord, check_vector,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::client::{Client, Collection};
use crate::config::{ChromaConfig, Layout};
use crate::filter::{self, EXACT_OPS};
use crate::naming::collection_name;

/// Longest vector accepted (Chroma sets no limit of its own).
const MAX_DIMENSION: usize = 16_384;
/// Ids per `get` page when listing or counting.
const PAGE: usize = 5_000;
/// How many candidates a relaxed `where` fetches per requested hit.
const RELAXED_FACTOR: usize = 4;

const KEY_COLLECTION: &str = "memory:collection";
const KEY_DIMENSION: &str = "memory:dimension";
const KEY_METRIC: &str = "memory:metric";
const KEY_TENANT: &str = "memory:tenant";
const KEY_USER: &str = "memory:user";

fn space(m: Metric) -> &'static str {
    match m {
        Metric::Cosine => "cosine",
        Metric::Dot => "ip",
        Metric::L2 => "l2",
    }
}

/// Chroma's distance turned into our score (higher is better).
fn score(m: Metric, distance: f32) -> f32 {
    match m {
        Metric::Cosine | Metric::Dot => 1.0 - distance,
        // Chroma reports squared Euclidean distance.
        Metric::L2 => -distance.max(0.0).sqrt(),
    }
}

/// Vectors in a Chroma database; see [`Layout`] for how collections map.
#[derive(Debug)]
pub struct ChromaIndex {
    client: Client,
    max_batch: usize,
    specs: Mutex<HashMap<String, CollectionSpec>>,
    /// Chroma collection ids by Chroma name.
    ids: Mutex<HashMap<String, String>>,
    /// Sorted ids for `list_ids`, taken when a listing starts.
    snapshots: Mutex<HashMap<String, Arc<Vec<Uuid>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn spec_of(c: &Collection) -> Result<CollectionSpec> {
    let meta = c.metadata.clone().unwrap_or_default();
    let dimension = meta
        .get(KEY_DIMENSION)
        .and_then(Value::as_u64)
        .and_then(|d| usize::try_from(d).ok());
    let (Some(name), Some(dimension), Some(metric)) = (
        meta.get(KEY_COLLECTION).and_then(Value::as_str),
        dimension,
        meta.get(KEY_METRIC).and_then(Value::as_str),
    ) else {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "chroma collection {:?} was not made by memory (no {KEY_DIMENSION} metadata)",
                c.name
            ),
        )
        .with_backend("chroma"));
    };
    Ok(CollectionSpec {
        name: name.to_owned(),
        dimension,
        metric: Metric::parse(metric)?,
    })
}

impl ChromaIndex {
    /// Connects (checking the server answers) and creates the Chroma tenant
    /// and database if they are missing.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::open(ChromaConfig::from_url(url)?).await
    }

    /// Like [`ChromaIndex::connect`], from parsed settings.
    pub async fn open(cfg: ChromaConfig) -> Result<Self> {
        let client = Client::new(cfg)?;
        client.ensure_database().await?;
        let max_batch = client.max_batch().await?.max(1);
        Ok(Self {
            client,
            max_batch,
            specs: Mutex::default(),
            ids: Mutex::default(),
            snapshots: Mutex::default(),
        })
    }

    /// The server's version, for `memory doctor`.
    pub async fn server_version(&self) -> Result<String> {
        Ok(format!("Chroma {}", self.client.version().await?))
    }

    fn layout(&self) -> Layout {
        self.client.config().layout
    }

    async fn spec(&self, name: &str) -> Result<CollectionSpec> {
        if let Some(s) = lock(&self.specs).get(name) {
            return Ok(s.clone());
        }
        self.describe(name)
            .await?
            .ok_or_else(|| Error::not_found(format!("vector collection {name:?} does not exist")))
    }

    fn base_metadata(spec: &CollectionSpec) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("hnsw:space".into(), json!(space(spec.metric)));
        m.insert(KEY_COLLECTION.into(), json!(spec.name));
        m.insert(KEY_DIMENSION.into(), json!(spec.dimension));
        m.insert(KEY_METRIC.into(), json!(spec.metric.as_str()));
        m
    }

    /// The Chroma collection id for a user's vectors (per-user layout),
    /// created on first use.
    async fn user_collection(
        &self,
        spec: &CollectionSpec,
        tenant: &str,
        user: Option<&str>,
        create: bool,
    ) -> Result<Option<String>> {
        let chroma = collection_name(&[&spec.name, tenant, user.unwrap_or("")]);
        if let Some(id) = lock(&self.ids).get(&chroma) {
            return Ok(Some(id.clone()));
        }
        let found = match self.client.get_collection(&chroma).await? {
            Some(c) => Some(c),
            None if create => {
                let mut meta = Self::base_metadata(spec);
                meta.insert(KEY_TENANT.into(), json!(tenant));
                meta.insert(KEY_USER.into(), json!(user.unwrap_or("")));
                Some(self.client.create_collection(&chroma, &meta).await?)
            }
            None => None,
        };
        Ok(found.map(|c| {
            lock(&self.ids).insert(chroma, c.id.clone());
            c.id
        }))
    }

    /// Chroma ids holding `name`'s vectors, optionally of one tenant.
    async fn data_collections(&self, name: &str, tenant: Option<&str>) -> Result<Vec<String>> {
        match self.layout() {
            Layout::Shared => {
                let chroma = collection_name(&[name]);
                if let Some(id) = lock(&self.ids).get(&chroma) {
                    return Ok(vec![id.clone()]);
                }
                let c = self.client.get_collection(&chroma).await?.ok_or_else(|| {
                    Error::not_found(format!("vector collection {name:?} does not exist"))
                })?;
                lock(&self.ids).insert(chroma, c.id.clone());
                Ok(vec![c.id])
            }
            Layout::PerUser => {
                self.spec(name).await?;
                Ok(self
                    .client
                    .list_collections()
                    .await?
                    .into_iter()
                    .filter(|c| {
                        let m = c.metadata.as_ref();
                        let get = |k| m.and_then(|m| m.get(k)).and_then(Value::as_str);
                        get(KEY_COLLECTION) == Some(name)
                            && get(KEY_TENANT).is_some()
                            && tenant.is_none_or(|t| get(KEY_TENANT) == Some(t))
                    })
                    .map(|c| c.id)
                    .collect())
            }
        }
    }

    /// Every id of `collections`, page by page.
    async fn all_ids(&self, collections: &[String], tenant: Option<&str>) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for c in collections {
            let mut offset = 0;
            loop {
                let mut body = json!({ "limit": PAGE, "offset": offset, "include": [] });
                if let Some(t) = tenant {
                    body["where"] = json!({ "tenant": { "$eq": t } });
                }
                let page = self.client.get(c, &body).await?;
                let n = page.ids.len();
                out.extend(page.ids);
                offset += n;
                if n < PAGE {
                    break;
                }
            }
        }
        Ok(out)
    }

    async fn query_one(
        &self,
        collection: &str,
        spec: &CollectionSpec,
        query: &VectorQuery,
        clause: Option<&Value>,
        n: usize,
    ) -> Result<Vec<ScoredId>> {
        let mut body = json!({
            "query_embeddings": [query.vector],
            "n_results": n,
            "include": ["distances", "metadatas"],
        });
        if let Some(w) = clause {
            body["where"] = w.clone();
        }
        let r = self.client.query(collection, &body).await?;
        let ids = r.ids.into_iter().next().unwrap_or_default();
        let distances = r
            .distances
            .and_then(|d| d.into_iter().next())
            .unwrap_or_default();
        let metas = r
            .metadatas
            .and_then(|m| m.into_iter().next())
            .unwrap_or_default();
        let mut hits = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            let Some(payload) = metas
                .get(i)
                .and_then(Option::as_ref)
                .and_then(filter::payload)
            else {
                continue;
            };
            // The exact check: the `where` may have been a superset.
            if payload.tenant != query.tenant
                || query.filter.as_ref().is_some_and(|f| !f.matches(&payload))
            {
                continue;
            }
            let (Ok(id), Some(Some(d))) = (Uuid::parse_str(id), distances.get(i)) else {
                continue;
            };
            hits.push(ScoredId {
                id,
                score: score(spec.metric, *d),
            });
        }
        Ok(hits)
    }
}

#[async_trait]
impl VectorIndex for ChromaIndex {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            scheme: "chroma",
            location: self.client.config().redacted(),
        }
    }

    fn capabilities(&self) -> VectorCapabilities {
        VectorCapabilities {
            max_dimension: MAX_DIMENSION,
            metrics: vec![Metric::Cosine, Metric::Dot, Metric::L2],
            filter_ops: EXACT_OPS.to_vec(),
            nested_filters: false,
            exact: false,
        }
    }

    async fn create_collection(&self, spec: &CollectionSpec) -> Result<CollectionSpec> {
        spec.validate(MAX_DIMENSION)?;
        if let Some(existing) = self.describe(&spec.name).await? {
            existing.ensure_compatible(spec)?;
            return Ok(existing);
        }
        let c = self
            .client
            .create_collection(&collection_name(&[&spec.name]), &Self::base_metadata(spec))
            .await?;
        // Another creator may have won with another spec.
        let made = spec_of(&c)?;
        made.ensure_compatible(spec)?;
        lock(&self.specs).insert(spec.name.clone(), made.clone());
        Ok(made)
    }

    async fn describe(&self, name: &str) -> Result<Option<CollectionSpec>> {
        match self
            .client
            .get_collection(&collection_name(&[name]))
            .await?
        {
            None => {
                lock(&self.specs).remove(name);
                Ok(None)
            }
            Some(c) => {
                let spec = spec_of(&c)?;
                lock(&self.specs).insert(name.to_owned(), spec.clone());
                Ok(Some(spec))
            }
        }
    }

    async fn drop_collection(&self, name: &str) -> Result<()> {
        if self.layout() == Layout::PerUser && self.describe(name).await?.is_some() {
            for c in self.client.list_collections().await? {
                let owner = c.metadata.as_ref().and_then(|m| m.get(KEY_COLLECTION));
                if owner.and_then(Value::as_str) == Some(name) && c.name != collection_name(&[name])
                {
                    self.client.delete_collection(&c.name).await?;
                }
            }
        }
        self.client
            .delete_collection(&collection_name(&[name]))
            .await?;
        lock(&self.specs).remove(name);
        lock(&self.ids).clear();
        lock(&self.snapshots).remove(name);
        Ok(())
    }

    async fn upsert(&self, collection: &str, records: &[VectorRecord]) -> Result<()> {
        let spec = self.spec(collection).await?;
        for r in records {
            check_vector(&r.vector, spec.dimension)?;
        }
        // The shared layout has one target for the whole batch.
        let shared = match self.layout() {
            Layout::Shared => self.data_collections(collection, None).await?.pop(),
            Layout::PerUser => None,
        };
        let mut by_target: HashMap<String, Vec<&VectorRecord>> = HashMap::new();
        for r in records {
            let target = match &shared {
                Some(t) => t.clone(),
                None => self
                    .user_collection(&spec, &r.payload.tenant, r.payload.user_id.as_deref(), true)
                    .await?
                    .ok_or_else(|| Error::internal("chroma: user collection was not created"))?,
            };
            by_target.entry(target).or_default().push(r);
        }
        for (target, recs) in by_target {
            for chunk in recs.chunks(self.max_batch) {
                let body = json!({
                    "ids": chunk.iter().map(|r| r.id.to_string()).collect::<Vec<_>>(),
                    "embeddings": chunk.iter().map(|r| &r.vector).collect::<Vec<_>>(),
                    "metadatas": chunk.iter().map(|r| filter::metadata(&r.payload)).collect::<Vec<_>>(),
                });
                self.client.upsert(&target, &body).await?;
            }
        }
        Ok(())
    }

    async fn delete(&self, collection: &str, ids: &[Uuid]) -> Result<()> {
        if ids.is_empty() {
            self.spec(collection).await?;
            return Ok(());
        }
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        for target in self.data_collections(collection, None).await? {
            for chunk in ids.chunks(self.max_batch) {
                self.client.delete(&target, chunk).await?;
            }
        }
        Ok(())
    }

    async fn query(&self, collection: &str, query: &VectorQuery) -> Result<Vec<ScoredId>> {
        let spec = self.spec(collection).await?;
        check_vector(&query.vector, spec.dimension)?;
        if query.k == 0 {
            return Ok(Vec::new());
        }
        let w = filter::translate(&query.tenant, query.filter.as_ref());
        let n = if w.exact {
            query.k
        } else {
            query.k.saturating_mul(RELAXED_FACTOR).max(query.k + 20)
        };
        let targets = match self.layout() {
            Layout::Shared => self.data_collections(collection, None).await?,
            Layout::PerUser => {
                let pinned = query
                    .filter
                    .as_ref()
                    .and_then(|f| f.pinned(&Field::UserId))
                    .and_then(Value::as_str);
                match pinned {
                    Some(u) => self
                        .user_collection(&spec, &query.tenant, Some(u), false)
                        .await?
                        .into_iter()
                        .collect(),
                    None => {
                        self.data_collections(collection, Some(&query.tenant))
                            .await?
                    }
                }
            }
        };
        let mut hits = Vec::new();
        for t in &targets {
            hits.extend(
                self.query_one(t, &spec, query, w.clause.as_ref(), n)
                    .await?,
            );
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        hits.truncate(query.k);
        Ok(hits)
    }

    async fn count(&self, collection: &str, tenant: Option<&str>) -> Result<u64> {
        let targets = self.data_collections(collection, tenant).await?;
        match (self.layout(), tenant) {
            // One tenant among many in a shared collection: count its ids.
            (Layout::Shared, Some(t)) => Ok(self.all_ids(&targets, Some(t)).await?.len() as u64),
            // Whole collections (a per-user one holds one tenant): Chroma counts.
            _ => {
                let mut n = 0;
                for t in &targets {
                    n += self.client.count(t).await?;
                }
                Ok(n)
            }
        }
    }

    async fn list_ids(
        &self,
        collection: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<Uuid>> {
        let cached = lock(&self.snapshots).get(collection).cloned();
        let snapshot = match (after, cached) {
            (Some(_), Some(s)) => s,
            _ => {
                let targets = self.data_collections(collection, None).await?;
                let mut ids: Vec<Uuid> = self
                    .all_ids(&targets, None)
                    .await?
                    .iter()
                    .filter_map(|s| Uuid::parse_str(s).ok())
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                let ids = Arc::new(ids);
                lock(&self.snapshots).insert(collection.to_owned(), ids.clone());
                ids
            }
        };
        let start = after.map_or(0, |a| snapshot.partition_point(|id| *id <= a));
        Ok(snapshot.iter().skip(start).take(limit).copied().collect())
    }
}

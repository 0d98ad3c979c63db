//! [`VectorIndex`] on Qdrant over gRPC.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use memory_core::{
    BackendInfo, CollectionSpec, Error, ErrorKind, Metric, Result, ScoredId, VectorCapabilities,
    VectorIndex, VectorPayload, VectorQuery, VectorRecord, check_vector,
};
use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::vectors_config::Config as VectorsConfigKind;
use qdrant_client::qdrant::{
    CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance, FieldType, KeywordIndexParamsBuilder, PointId, PointStruct,
    PointsIdsList, QueryPointsBuilder, ScrollPointsBuilder, UpsertPointsBuilder,
    VectorParamsBuilder,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use uuid::Uuid;

use crate::config::QdrantConfig;
use crate::filter::{self, EXACT_OPS};

/// Qdrant's own limit on vector length.
const MAX_DIMENSION: usize = 65_536;
/// Points per upsert request.
const BATCH: usize = 256;
/// How many candidates a relaxed filter fetches per requested hit.
const RELAXED_FACTOR: usize = 4;

/// Payload fields indexed for filtering, with their types.
const INDEXED: &[(&str, FieldType)] = &[
    ("user_id", FieldType::Keyword),
    ("agent_id", FieldType::Keyword),
    ("session_id", FieldType::Keyword),
    ("kind", FieldType::Keyword),
    ("importance", FieldType::Float),
    ("created_at", FieldType::Integer),
    ("updated_at", FieldType::Integer),
    ("expires_at", FieldType::Integer),
    ("valid_from", FieldType::Integer),
    ("valid_until", FieldType::Integer),
];

pub(crate) fn map_error(e: QdrantError, what: &str) -> Error {
    let (kind, message) = match &e {
        QdrantError::ResponseError { status } => {
            let kind = match status.code() {
                tonic::Code::NotFound => ErrorKind::NotFound,
                tonic::Code::AlreadyExists => ErrorKind::Conflict,
                tonic::Code::InvalidArgument if status.message().contains("dimension") => {
                    ErrorKind::DimensionMismatch
                }
                tonic::Code::InvalidArgument | tonic::Code::OutOfRange => ErrorKind::InvalidInput,
                tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => ErrorKind::Config,
                tonic::Code::Unavailable
                | tonic::Code::DeadlineExceeded
                | tonic::Code::Cancelled
                | tonic::Code::Aborted
                | tonic::Code::Unknown => ErrorKind::Unavailable,
                _ => ErrorKind::Internal,
            };
            (kind, status.message().to_owned())
        }
        QdrantError::ResourceExhaustedError { status, .. } => {
            (ErrorKind::RateLimited, status.message().to_owned())
        }
        other => (ErrorKind::Internal, other.to_string()),
    };
    let mut err = Error::new(kind, format!("qdrant {what}: {message}"))
        .with_backend("qdrant")
        .with_temporary(matches!(
            kind,
            ErrorKind::Unavailable | ErrorKind::RateLimited
        ));
    if let QdrantError::ResourceExhaustedError {
        retry_after_seconds,
        ..
    } = e
    {
        err = err.with_retry_after(std::time::Duration::from_secs(retry_after_seconds));
    }
    err
}

fn distance(m: Metric) -> Distance {
    match m {
        Metric::Cosine => Distance::Cosine,
        Metric::Dot => Distance::Dot,
        Metric::L2 => Distance::Euclid,
    }
}

fn metric(d: i32) -> Result<Metric> {
    match Distance::try_from(d) {
        Ok(Distance::Cosine) => Ok(Metric::Cosine),
        Ok(Distance::Dot) => Ok(Metric::Dot),
        Ok(Distance::Euclid) => Ok(Metric::L2),
        _ => Err(Error::new(
            ErrorKind::Conflict,
            format!("qdrant collection uses distance {d}, which memory does not read"),
        )),
    }
}

/// How a collection's vectors are configured: one unnamed or several named.
pub(crate) fn vectors_config(
    info: qdrant_client::qdrant::GetCollectionInfoResponse,
) -> Option<VectorsConfigKind> {
    info.result
        .and_then(|i| i.config)
        .and_then(|c| c.params)
        .and_then(|p| p.vectors_config)
        .and_then(|v| v.config)
}

/// Our score from Qdrant's: Euclid scores are distances (lower is better).
fn score(m: Metric, s: f32) -> f32 {
    if m == Metric::L2 { -s } else { s }
}

fn uuid_of(id: Option<&PointId>) -> Option<Uuid> {
    match id?.point_id_options.as_ref()? {
        PointIdOptions::Uuid(s) => Uuid::parse_str(s).ok(),
        PointIdOptions::Num(_) => None,
    }
}

/// Vectors in Qdrant, one collection per memory collection; the tenant is a
/// payload field with a tenant index, so each tenant's search stays small.
pub struct QdrantIndex {
    client: Qdrant,
    cfg: QdrantConfig,
    specs: Mutex<HashMap<String, CollectionSpec>>,
}

impl std::fmt::Debug for QdrantIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantIndex")
            .field("cfg", &self.cfg)
            .finish()
    }
}

impl QdrantIndex {
    /// Connects and checks the server answers.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::open(QdrantConfig::from_url(url)?).await
    }

    /// Like [`QdrantIndex::connect`], from parsed settings.
    pub async fn open(cfg: QdrantConfig) -> Result<Self> {
        let mut builder = Qdrant::from_url(&cfg.url)
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(std::time::Duration::from_secs(3)))
            // Version skew is reported by `memory doctor`, not refused here.
            .skip_compatibility_check();
        if let Some(k) = &cfg.api_key {
            builder = builder.api_key(k.clone());
        }
        let client = builder
            .build()
            .map_err(|e| Error::config(format!("qdrant client for {}: {e}", cfg.url)))?;
        let index = Self {
            client,
            cfg,
            specs: Mutex::default(),
        };
        index.server_version().await?;
        Ok(index)
    }

    /// The client, for reading collections memory did not create.
    pub(crate) fn client(&self) -> &Qdrant {
        &self.client
    }

    /// The server's version (also the reachability check).
    pub async fn server_version(&self) -> Result<String> {
        let reply = self.client.health_check().await.map_err(|e| {
            let e = map_error(e, "health check");
            Error::new(
                ErrorKind::Unavailable,
                format!("cannot reach Qdrant at {}: {}", self.cfg.url, e.message()),
            )
            .with_backend("qdrant")
            .with_temporary(true)
        })?;
        Ok(format!("Qdrant {}", reply.version))
    }

    fn cached(&self, name: &str) -> Option<CollectionSpec> {
        self.specs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    fn remember(&self, spec: Option<&CollectionSpec>, name: &str) {
        let mut specs = self
            .specs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match spec {
            Some(s) => specs.insert(name.to_owned(), s.clone()),
            None => specs.remove(name),
        };
    }

    async fn spec(&self, name: &str) -> Result<CollectionSpec> {
        if let Some(s) = self.cached(name) {
            return Ok(s);
        }
        self.describe(name)
            .await?
            .ok_or_else(|| Error::not_found(format!("vector collection {name:?} does not exist")))
    }

    async fn create_indexes(&self, name: &str) -> Result<()> {
        self.client
            .create_field_index(
                CreateFieldIndexCollectionBuilder::new(name, "tenant", FieldType::Keyword)
                    .field_index_params(KeywordIndexParamsBuilder::default().is_tenant(true))
                    .wait(true),
            )
            .await
            .map_err(|e| map_error(e, "create tenant index"))?;
        for (field, ty) in INDEXED {
            self.client
                .create_field_index(
                    CreateFieldIndexCollectionBuilder::new(name, *field, *ty).wait(true),
                )
                .await
                .map_err(|e| map_error(e, "create payload index"))?;
        }
        Ok(())
    }
}

#[async_trait]
impl VectorIndex for QdrantIndex {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            scheme: "qdrant",
            location: self.cfg.url.clone(),
        }
    }

    fn capabilities(&self) -> VectorCapabilities {
        VectorCapabilities {
            max_dimension: MAX_DIMENSION,
            metrics: vec![Metric::Cosine, Metric::Dot, Metric::L2],
            filter_ops: EXACT_OPS.to_vec(),
            nested_filters: true,
            exact: false,
        }
    }

    async fn create_collection(&self, spec: &CollectionSpec) -> Result<CollectionSpec> {
        spec.validate(MAX_DIMENSION)?;
        if let Some(existing) = self.describe(&spec.name).await? {
            existing.ensure_compatible(spec)?;
            return Ok(existing);
        }
        let dim = u64::try_from(spec.dimension).unwrap_or(u64::MAX);
        let created = self
            .client
            .create_collection(
                CreateCollectionBuilder::new(&spec.name)
                    .vectors_config(VectorParamsBuilder::new(dim, distance(spec.metric))),
            )
            .await;
        match created.map_err(|e| map_error(e, "create collection")) {
            Ok(_) => self.create_indexes(&spec.name).await?,
            // Another process created it first: check it agrees below.
            Err(e) if e.kind() == ErrorKind::Conflict || e.message().contains("already exists") => {
            }
            Err(e) => return Err(e),
        }
        let made = self.spec(&spec.name).await?;
        made.ensure_compatible(spec)?;
        Ok(made)
    }

    async fn describe(&self, name: &str) -> Result<Option<CollectionSpec>> {
        let exists = self
            .client
            .collection_exists(name)
            .await
            .map_err(|e| map_error(e, "collection exists"))?;
        if !exists {
            self.remember(None, name);
            return Ok(None);
        }
        let info = self
            .client
            .collection_info(name)
            .await
            .map_err(|e| map_error(e, "collection info"))?;
        let Some(VectorsConfigKind::Params(p)) = vectors_config(info) else {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "qdrant collection {name:?} has named vectors; memory uses one unnamed vector"
                ),
            ));
        };
        let spec = CollectionSpec {
            name: name.to_owned(),
            dimension: usize::try_from(p.size).unwrap_or(usize::MAX),
            metric: metric(p.distance)?,
        };
        self.remember(Some(&spec), name);
        Ok(Some(spec))
    }

    async fn drop_collection(&self, name: &str) -> Result<()> {
        if self.describe(name).await?.is_some() {
            self.client
                .delete_collection(name)
                .await
                .map_err(|e| map_error(e, "delete collection"))?;
        }
        self.remember(None, name);
        Ok(())
    }

    async fn upsert(&self, collection: &str, records: &[VectorRecord]) -> Result<()> {
        let spec = self.spec(collection).await?;
        for r in records {
            check_vector(&r.vector, spec.dimension)?;
        }
        let mut points = Vec::with_capacity(records.len());
        for r in records {
            let json = serde_json::to_value(&r.payload)
                .map_err(|e| Error::internal(format!("payload: {e}")))?;
            let payload =
                Payload::try_from(json).map_err(|e| Error::internal(format!("payload: {e}")))?;
            points.push(PointStruct::new(
                r.id.to_string(),
                r.vector.clone(),
                payload,
            ));
        }
        for chunk in points.chunks(BATCH) {
            // `wait`: the outbox marks a vector synced only once Qdrant has
            // applied it, so an acknowledged vector is also searchable.
            self.client
                .upsert_points(UpsertPointsBuilder::new(collection, chunk.to_vec()).wait(true))
                .await
                .map_err(|e| map_error(e, "upsert"))?;
        }
        Ok(())
    }

    async fn delete(&self, collection: &str, ids: &[Uuid]) -> Result<()> {
        self.spec(collection).await?;
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<PointId> = ids.iter().map(|u| PointId::from(u.to_string())).collect();
        self.client
            .delete_points(
                DeletePointsBuilder::new(collection)
                    .points(PointsIdsList { ids })
                    .wait(true),
            )
            .await
            .map_err(|e| map_error(e, "delete"))?;
        Ok(())
    }

    async fn query(&self, collection: &str, query: &VectorQuery) -> Result<Vec<ScoredId>> {
        let spec = self.spec(collection).await?;
        check_vector(&query.vector, spec.dimension)?;
        if query.k == 0 {
            return Ok(Vec::new());
        }
        let t = filter::translate(&query.tenant, query.filter.as_ref());
        let n = if t.exact {
            query.k
        } else {
            query.k.saturating_mul(RELAXED_FACTOR).max(query.k + 20)
        };
        let resp = self
            .client
            .query(
                QueryPointsBuilder::new(collection)
                    .query(query.vector.clone())
                    .filter(t.filter)
                    .limit(u64::try_from(n).unwrap_or(u64::MAX))
                    // Checked even when the translation is exact: Qdrant's
                    // keyword match also accepts an array holding the value.
                    .with_payload(true),
            )
            .await
            .map_err(|e| map_error(e, "query"))?;
        let mut hits = Vec::new();
        for p in resp.result {
            let Some(id) = uuid_of(p.id.as_ref()) else {
                continue;
            };
            // The exact check on the stored payload.
            let json = serde_json::Value::Object(
                p.payload
                    .into_iter()
                    .map(|(k, v)| (k, v.into_json()))
                    .collect(),
            );
            let matches = serde_json::from_value::<VectorPayload>(json).is_ok_and(|payload| {
                payload.tenant == query.tenant
                    && query.filter.as_ref().is_none_or(|f| f.matches(&payload))
            });
            if !matches {
                continue;
            }
            hits.push(ScoredId {
                id,
                score: score(spec.metric, p.score),
            });
        }
        hits.truncate(query.k);
        Ok(hits)
    }

    async fn count(&self, collection: &str, tenant: Option<&str>) -> Result<u64> {
        self.spec(collection).await?;
        let mut req = CountPointsBuilder::new(collection).exact(true);
        if let Some(t) = tenant {
            req = req.filter(filter::translate(t, None).filter);
        }
        let resp = self
            .client
            .count(req)
            .await
            .map_err(|e| map_error(e, "count"))?;
        Ok(resp.result.map_or(0, |r| r.count))
    }

    async fn list_ids(
        &self,
        collection: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<Uuid>> {
        self.spec(collection).await?;
        // `offset` is inclusive, so one more is fetched and `after` dropped.
        let mut req = ScrollPointsBuilder::new(collection)
            .limit(u32::try_from(limit.saturating_add(1)).unwrap_or(u32::MAX))
            .with_payload(false)
            .with_vectors(false);
        if let Some(a) = after {
            req = req.offset(PointId::from(a.to_string()));
        }
        let resp = self
            .client
            .scroll(req)
            .await
            .map_err(|e| map_error(e, "scroll"))?;
        let mut ids: Vec<Uuid> = resp
            .result
            .iter()
            .filter_map(|p| uuid_of(p.id.as_ref()))
            .filter(|id| after.is_none_or(|a| *id > a))
            .collect();
        ids.sort_unstable();
        ids.truncate(limit);
        Ok(ids)
    }
}

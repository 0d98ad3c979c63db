use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::BackendInfo;
use crate::filter::{Field, FieldValue, Filterable, metadata_path, opt};
use crate::{Filter, MemoryRecord, Metadata, Op, Result, ScoredId};

/// How vectors are compared.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Cosine similarity.
    #[default]
    Cosine,
    /// Dot product.
    Dot,
    /// Negative Euclidean distance (so higher is better).
    L2,
}

impl Metric {
    /// The metric's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cosine => "cosine",
            Self::Dot => "dot",
            Self::L2 => "l2",
        }
    }

    /// Parses a metric name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "cosine" => Ok(Self::Cosine),
            "dot" => Ok(Self::Dot),
            "l2" => Ok(Self::L2),
            other => Err(crate::Error::invalid(format!(
                "metric: unknown metric {other:?} (expected cosine, dot or l2)"
            ))),
        }
    }
}

/// A collection's fixed shape, recorded when it is created.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CollectionSpec {
    /// Name.
    pub name: String,
    /// Vector length; every vector written or queried must have it.
    pub dimension: usize,
    /// Comparison.
    pub metric: Metric,
}

impl CollectionSpec {
    /// Checks a spec before a collection is created: a valid name and a
    /// dimension within 1 and `max_dimension`.
    pub fn validate(&self, max_dimension: usize) -> crate::Result<()> {
        if self.dimension == 0 || self.dimension > max_dimension {
            return Err(crate::Error::invalid(format!(
                "dimension: must be within 1 and {max_dimension}, got {}",
                self.dimension
            )));
        }
        crate::validate_id("collection", &self.name)
    }

    /// Checks that an existing collection can serve `wanted`: another
    /// dimension is `DimensionMismatch`, another metric `Conflict`.
    pub fn ensure_compatible(&self, wanted: &CollectionSpec) -> crate::Result<()> {
        if self.dimension != wanted.dimension {
            return Err(crate::Error::new(
                crate::ErrorKind::DimensionMismatch,
                format!(
                    "collection {:?} exists with dimension {}, not {}",
                    self.name, self.dimension, wanted.dimension
                ),
            ));
        }
        if self.metric != wanted.metric {
            return Err(crate::Error::new(
                crate::ErrorKind::Conflict,
                format!(
                    "collection {:?} exists with metric {}, not {}",
                    self.name,
                    self.metric.as_str(),
                    wanted.metric.as_str()
                ),
            ));
        }
        Ok(())
    }
}

/// The filterable copy of a memory's attributes stored beside its vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VectorPayload {
    /// Tenant.
    pub tenant: String,
    /// User.
    pub user_id: Option<String>,
    /// Agent.
    pub agent_id: Option<String>,
    /// Session.
    pub session_id: Option<String>,
    /// Kind.
    pub kind: String,
    /// Importance.
    pub importance: f32,
    /// Confidence.
    pub confidence: f32,
    /// Created, milliseconds since the epoch.
    pub created_at: i64,
    /// Updated, milliseconds since the epoch.
    pub updated_at: i64,
    /// Expires, milliseconds since the epoch.
    pub expires_at: Option<i64>,
    /// Became true, milliseconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<i64>,
    /// Stopped being true (superseded), milliseconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<i64>,
    /// Metadata.
    pub metadata: Metadata,
}

impl From<&MemoryRecord> for VectorPayload {
    fn from(r: &MemoryRecord) -> Self {
        Self {
            tenant: r.scope.tenant.clone(),
            user_id: r.scope.user_id.clone(),
            agent_id: r.scope.agent_id.clone(),
            session_id: r.scope.session_id.clone(),
            kind: r.kind.as_str().to_owned(),
            importance: r.importance,
            confidence: r.confidence,
            created_at: r.created_at.timestamp_millis(),
            updated_at: r.updated_at.timestamp_millis(),
            expires_at: r.expires_at.map(|t| t.timestamp_millis()),
            valid_from: r.valid_from.map(|t| t.timestamp_millis()),
            valid_until: r.valid_until.map(|t| t.timestamp_millis()),
            metadata: r.metadata.clone(),
        }
    }
}

impl Filterable for VectorPayload {
    #[allow(clippy::cast_precision_loss)]
    fn field(&self, field: &Field) -> FieldValue<'_> {
        match field {
            Field::UserId => opt(&self.user_id),
            Field::AgentId => opt(&self.agent_id),
            Field::SessionId => opt(&self.session_id),
            Field::Kind => FieldValue::Str(&self.kind),
            Field::Importance => FieldValue::Num(f64::from(self.importance)),
            Field::Confidence => FieldValue::Num(f64::from(self.confidence)),
            Field::CreatedAt => FieldValue::Num(self.created_at as f64),
            Field::UpdatedAt => FieldValue::Num(self.updated_at as f64),
            // Access time is not copied to the index: it changes on every read.
            Field::LastAccessedAt => FieldValue::Missing,
            Field::ExpiresAt => millis(self.expires_at),
            Field::ValidFrom => millis(self.valid_from),
            Field::ValidUntil => millis(self.valid_until),
            Field::Metadata(p) => metadata_path(&self.metadata, p),
        }
    }
}

#[allow(clippy::cast_precision_loss)]
fn millis(t: Option<i64>) -> FieldValue<'static> {
    t.map_or(FieldValue::Missing, |t| FieldValue::Num(t as f64))
}

/// One vector to write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VectorRecord {
    /// The memory's id.
    pub id: Uuid,
    /// The vector.
    pub vector: Vec<f32>,
    /// Filterable attributes.
    pub payload: VectorPayload,
}

impl VectorRecord {
    /// The vectors of a stored memory: its own (the first window's, when
    /// chunked) and one per further window, each with the memory's payload;
    /// none for a vector not yet computed.
    pub fn all_of(m: &crate::StoredMemory) -> Vec<VectorRecord> {
        let payload = VectorPayload::from(&m.record);
        let own = m.embedding.as_ref().map(|v| VectorRecord {
            id: m.record.id,
            vector: v.clone(),
            payload: payload.clone(),
        });
        let windows = m.chunks.iter().filter(|c| c.index > 0).filter_map(|c| {
            c.embedding.as_ref().map(|v| VectorRecord {
                id: crate::chunk_id(m.record.id, c.index),
                vector: v.clone(),
                payload: payload.clone(),
            })
        });
        own.into_iter().chain(windows).collect()
    }
}

/// A nearest-neighbour query.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorQuery {
    /// Only this tenant's vectors.
    pub tenant: String,
    /// The query vector.
    pub vector: Vec<f32>,
    /// How many to return at most.
    pub k: usize,
    /// Only vectors whose payload matches.
    pub filter: Option<Filter>,
}

impl VectorQuery {
    /// Whether its filter pins one user: the searches an index beside the
    /// store answers with the hits' memories (`VectorIndex::query_joined`).
    pub fn pins_a_user(&self) -> bool {
        self.filter
            .as_ref()
            .is_some_and(|f| f.pinned(&crate::filter::Field::UserId).is_some())
    }
}

/// What a vector index can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct VectorCapabilities {
    /// Longest vector accepted.
    pub max_dimension: usize,
    /// Metrics offered.
    pub metrics: Vec<Metric>,
    /// Filter operators evaluated by the index itself.
    pub filter_ops: Vec<Op>,
    /// Whether `and`/`or`/`not` nest freely.
    pub nested_filters: bool,
    /// Whether results are exact (not approximate).
    pub exact: bool,
}

impl VectorCapabilities {
    /// [`Self::supports_filter`], where no filter is always supported.
    pub fn supports_filter_opt(&self, filter: Option<&Filter>) -> bool {
        filter.is_none_or(|f| self.supports_filter(f))
    }

    /// Whether the index evaluates `filter` itself (otherwise the engine post-filters).
    pub fn supports_filter(&self, filter: &Filter) -> bool {
        filter.uses_only(&self.filter_ops)
            && (self.nested_filters || !matches!(filter, Filter::Or(_) | Filter::Not(_)))
    }
}

/// Stores vectors and finds nearest neighbours.
///
/// # Behavior
///
/// - `create_collection` records dimension and metric; creating an existing
///   collection with the same spec succeeds and returns it; with another
///   dimension it fails with `DimensionMismatch`.
/// - `upsert` of a vector whose length differs from the collection's
///   dimension, or that holds NaN or infinity, fails with
///   `DimensionMismatch` / `InvalidInput` and writes nothing of the batch.
/// - Upserting an id that exists replaces its vector and payload: one record per id,
///   also under concurrent upserts.
/// - Deleting a missing id succeeds.
/// - `query` returns at most `k` hits of the query's tenant whose payload
///   matches the filter, best first; with an exact index, exactly the best.
/// - `list_ids` returns ids in ascending order; following it visits every id once.
/// - Operations on a missing collection fail with `NotFound`.
#[async_trait]
pub trait VectorIndex: Send + Sync + std::fmt::Debug {
    /// What this index is.
    fn info(&self) -> BackendInfo;
    /// What it can do.
    fn capabilities(&self) -> VectorCapabilities;
    /// The address of the index itself, the same through any layer that
    /// wraps it (the retry layer answers its inner index's): how a store
    /// knows an index handed to it is its own.
    fn instance(&self) -> *const () {
        (self as *const Self).cast()
    }

    /// Creates a collection, or returns the existing one if its spec agrees.
    async fn create_collection(&self, spec: &CollectionSpec) -> Result<CollectionSpec>;
    /// A collection's spec, if it exists.
    async fn describe(&self, name: &str) -> Result<Option<CollectionSpec>>;
    /// Drops a collection and its vectors; dropping a missing one succeeds.
    async fn drop_collection(&self, name: &str) -> Result<()>;
    /// Writes vectors.
    async fn upsert(&self, collection: &str, records: &[VectorRecord]) -> Result<()>;
    /// Removes vectors.
    async fn delete(&self, collection: &str, ids: &[Uuid]) -> Result<()>;
    /// Nearest neighbours.
    async fn query(&self, collection: &str, query: &VectorQuery) -> Result<Vec<ScoredId>>;
    /// [`Self::query`]'s hits with the memory each belongs to, read in the
    /// same statement, for an index that lives in the store's own database
    /// (the engine then makes one round trip where it would make three);
    /// `Ok(None)` when it cannot, the default.
    async fn query_joined(
        &self,
        _collection: &str,
        _query: &VectorQuery,
    ) -> Result<Option<Vec<JoinedHit>>> {
        Ok(None)
    }
    /// How many vectors (of one tenant, or all).
    async fn count(&self, collection: &str, tenant: Option<&str>) -> Result<u64>;
    /// Ids above `after`, ascending, at most `limit`.
    async fn list_ids(
        &self,
        collection: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<Uuid>>;
}

/// A vector or keyword hit with what the store holds for it.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinedHit {
    /// The vector's id and score.
    pub hit: ScoredId,
    /// When the vector is a window of a longer memory: which one (never
    /// for a keyword hit).
    pub chunk: Option<crate::ChunkRef>,
    /// The memory (the window's, for a window) in the query's tenant;
    /// `None` when the store has no such memory.
    pub record: Option<MemoryRecord>,
}

/// Checks a vector before it is written or queried.
pub fn check_vector(v: &[f32], dimension: usize) -> Result<()> {
    if v.len() != dimension {
        return Err(crate::Error::new(
            crate::ErrorKind::DimensionMismatch,
            format!(
                "vector has {} dimensions, the collection has {dimension}",
                v.len()
            ),
        ));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(crate::Error::invalid(format!(
            "vector: element {i} is {} (must be finite)",
            v[i]
        )));
    }
    Ok(())
}

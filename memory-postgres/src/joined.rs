//! A user's vector search joined to the memories (and windows) its hits
//! belong to, in one statement: what the engine would otherwise fetch in
//! two more round trips. Only for the store's own index, whose `memories`
//! and `memory_chunks` tables are the store's.

use memory_core::{ChunkRef, CollectionSpec, JoinedHit, Result, ScoredId, VectorQuery};
use pgvector::Vector;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::error::map;
use crate::filter_sql::{VectorColumns, push_and};
use crate::rows::{self, MEMORY_COLUMNS, get};
use crate::vector::{ops, score};

/// The `k` nearest of the query's partition in `tbl`, each with its window
/// and memory; the caller checks that the filter pins one user.
pub(crate) async fn query(
    pool: &PgPool,
    spec: &CollectionSpec,
    tbl: &str,
    q: &VectorQuery,
) -> Result<Vec<JoinedHit>> {
    let (_, dist) = ops(spec.metric);
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "WITH c AS MATERIALIZED (SELECT v.id, v.embedding FROM {tbl} v WHERE v.tenant = "
    ));
    qb.push_bind(q.tenant.clone());
    push_and(&mut qb, &VectorColumns, q.filter.as_ref());
    qb.push(format!("), h AS (SELECT id, (embedding {dist} "))
        .push_bind(Vector::from(q.vector.clone()))
        .push(")::float8 AS d FROM c ORDER BY d, id LIMIT ")
        .push_bind(i64::try_from(q.k).unwrap_or(i64::MAX))
        .push(format!(
            ") SELECT h.id AS hit, h.d, ch.memory_id, ch.idx, ch.start_byte, ch.end_byte, {MEMORY_COLUMNS} \
             FROM h LEFT JOIN memory_chunks ch ON ch.tenant = "
        ))
        .push_bind(q.tenant.clone())
        .push(" AND ch.chunk_id = h.id LEFT JOIN memories m ON m.tenant = ")
        .push_bind(q.tenant.clone())
        .push(" AND m.id = COALESCE(ch.memory_id, h.id) ORDER BY h.d, h.id");
    let rows = qb
        .build()
        .fetch_all(pool)
        .await
        .map_err(|e| map(e, "query"))?;
    let mut hits = rows
        .iter()
        .map(|r| hit(spec, r))
        .collect::<Result<Vec<_>>>()?;
    // The same order as `query`'s, after scores are rounded to f32.
    hits.sort_by(|a, b| {
        b.hit
            .score
            .total_cmp(&a.hit.score)
            .then_with(|| a.hit.id.cmp(&b.hit.id))
    });
    Ok(hits)
}

fn hit(spec: &CollectionSpec, r: &PgRow) -> Result<JoinedHit> {
    let id: Uuid = get(r, "hit")?;
    let chunk = match get::<Option<Uuid>>(r, "memory_id")? {
        Some(memory_id) => Some(ChunkRef {
            chunk_id: id,
            memory_id,
            span: crate::store::chunks::span(r)?,
        }),
        None => None,
    };
    let record = match get::<Option<Uuid>>(r, "id")? {
        Some(_) => Some(rows::memory(r)?),
        None => None,
    };
    Ok(JoinedHit {
        hit: ScoredId {
            id,
            score: score(spec.metric, get(r, "d")?),
        },
        chunk,
        record,
    })
}

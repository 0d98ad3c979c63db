//! A vector upsert in steps, so that the store writing a memory can write
//! its vector in the same transaction and command: staged on the writer's
//! connection (where the vectors go, checked against the collection),
//! run with the caller's other statements, then, once committed, applied
//! to the cached partitions.

use std::collections::HashMap;

use memory_core::{Error, Metric, Result, VectorRecord, check_vector, vecmath};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::SqliteVectorIndex;
use super::partition::part_of;
use crate::batch::Batch;
use crate::rows::vec_to_blob;

/// An upsert whose statements are in a batch: what the cache needs once
/// the batch ran and its transaction committed.
pub(crate) struct StagedUpsert<'a> {
    collection: String,
    /// Each record with its vector as stored (normalized for cosine).
    prepared: Vec<(&'a VectorRecord, Vec<f32>)>,
    /// Where the ids lived before: id → (tenant, part).
    before: HashMap<Uuid, (String, String)>,
    /// The partitions the write bumps, in the order of their statements.
    parts: Vec<(String, String)>,
}

impl SqliteVectorIndex {
    /// Reads the collection's spec and where `records` live now on `conn`
    /// (inside the write's transaction), checks and prepares the vectors,
    /// and appends to `batch` the statements writing them and bumping the
    /// epochs of the partitions they join and leave. Those bumps are to be
    /// the only statements of `batch` returning rows.
    pub(crate) async fn stage_upsert<'a>(
        conn: &mut SqliteConnection,
        collection: &str,
        records: &'a [VectorRecord],
        batch: &mut Batch,
    ) -> Result<StagedUpsert<'a>> {
        let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
        let (spec, before) = Self::locate(conn, collection, &ids).await?;
        let mut prepared = Vec::with_capacity(records.len());
        let mut payloads = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            check_vector(&r.vector, spec.dimension)
                .map_err(|e| Error::new(e.kind(), format!("records[{i}]: {}", e.message())))?;
            let mut v = r.vector.clone();
            if spec.metric == Metric::Cosine {
                vecmath::normalize(&mut v);
            }
            payloads.push(
                serde_json::to_string(&r.payload)
                    .map_err(|e| Error::invalid(format!("records[{i}].payload: {e}")))?,
            );
            prepared.push((r, v));
        }
        for (chunk, payloads) in prepared.chunks(300).zip(payloads.chunks(300)) {
            let qb = batch.statement();
            qb.push(
                "INSERT OR REPLACE INTO vec_items (collection, id, tenant, part, payload, vector) ",
            );
            qb.push_values(chunk.iter().zip(payloads), |mut b, ((r, v), payload)| {
                b.push_bind(collection.to_owned())
                    .push_bind(r.id.to_string())
                    .push_bind(r.payload.tenant.clone())
                    .push_bind(part_of(&r.payload))
                    .push_bind(payload.clone())
                    .push_bind(vec_to_blob(v));
            });
        }
        let mut parts: Vec<(String, String)> = records
            .iter()
            .map(|r| (r.payload.tenant.clone(), part_of(&r.payload)))
            .collect();
        parts.extend(before.values().cloned());
        parts.sort();
        parts.dedup();
        Self::bump(batch, collection, &parts);
        Ok(StagedUpsert {
            collection: collection.to_owned(),
            prepared,
            before,
            parts,
        })
    }

    /// Applies a committed upsert to the cached partitions, from the rows
    /// its batch returned (the new epochs).
    pub(crate) fn finish_upsert(&self, staged: StagedUpsert<'_>, rows: &[SqliteRow]) -> Result<()> {
        let StagedUpsert {
            collection,
            prepared,
            before,
            parts,
        } = staged;
        let epochs = Self::bumped(rows, &collection, &parts)?;
        self.patch_cache(&epochs, |key, part| {
            for (r, v) in &prepared {
                let here = (r.payload.tenant.as_str(), part_of(&r.payload));
                if (key.1.as_str(), key.2.clone()) == (here.0, here.1) {
                    part.upsert(r.id, v, r.payload.clone());
                } else if before
                    .get(&r.id)
                    .is_some_and(|(t, p)| (t, p) == (&key.1, &key.2))
                {
                    part.remove(&r.id);
                }
            }
        })
    }
}

//! Where a write lands: the collection's spec and the ids' current
//! partitions, read inside the write's transaction, and the partitions'
//! epochs it bumps in the same command as its rows.

use std::collections::HashMap;

use memory_core::{CollectionSpec, Error, Result};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use uuid::Uuid;

use super::{PartKey, SqliteVectorIndex, query};
use crate::batch::Batch;
use crate::error::{corrupt, map};
use crate::rows::{self, get};

impl SqliteVectorIndex {
    /// Appends the statements bumping these partitions' epochs, each
    /// returning the new epoch; [`Self::bumped`] reads them back.
    pub(super) fn bump(batch: &mut Batch, collection: &str, parts: &[(String, String)]) {
        for (tenant, part) in parts {
            batch
                .statement()
                .push("INSERT INTO vec_epochs (collection, tenant, part, epoch) VALUES (")
                .push_bind(collection.to_owned())
                .push(", ")
                .push_bind(tenant.clone())
                .push(", ")
                .push_bind(part.clone())
                .push(
                    ", 1) ON CONFLICT (collection, tenant, part) DO UPDATE SET epoch = epoch + 1 RETURNING epoch",
                );
        }
    }

    /// (key, new epoch) of each partition [`Self::bump`] bumped, from the
    /// rows of a batch in which only its statements return rows.
    pub(super) fn bumped(
        rows: &[sqlx::sqlite::SqliteRow],
        collection: &str,
        parts: &[(String, String)],
    ) -> Result<Vec<(PartKey, i64)>> {
        if rows.len() != parts.len() {
            return Err(corrupt(
                "partition epochs",
                format!("{} bumped, {} returned", parts.len(), rows.len()),
            ));
        }
        parts
            .iter()
            .zip(rows)
            .map(|((tenant, part), r)| {
                Ok((
                    (collection.to_owned(), tenant.clone(), part.clone()),
                    get::<i64>(r, "epoch")?,
                ))
            })
            .collect()
    }

    /// The collection's spec and where these ids live now: id → (tenant,
    /// part), read together inside a write's transaction.
    pub(super) async fn locate(
        conn: &mut SqliteConnection,
        collection: &str,
        ids: &[Uuid],
    ) -> Result<(CollectionSpec, HashMap<Uuid, (String, String)>)> {
        let mut spec = None;
        let mut out = HashMap::new();
        for chunk in ids.chunks(500) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "SELECT c.dimension, c.metric, i.id, i.tenant, i.part FROM vec_collections c \
                 LEFT JOIN vec_items i ON i.collection = c.name AND i.id IN (",
            );
            let mut s = qb.separated(", ");
            for id in chunk {
                s.push_bind(id.to_string());
            }
            qb.push(") WHERE c.name = ")
                .push_bind(collection.to_owned());
            for r in qb
                .build()
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| map(e, "locate"))?
            {
                if spec.is_none() {
                    spec = Some(query::spec_of(collection, &r)?);
                }
                if let Some(id) = get::<Option<String>>(&r, "id")? {
                    out.insert(rows::uuid(&id)?, (get(&r, "tenant")?, get(&r, "part")?));
                }
            }
        }
        let spec = spec.ok_or_else(|| {
            Error::not_found(format!("vector collection {collection:?} does not exist"))
                .with_backend("sqlite")
        })?;
        Ok((spec, out))
    }
}

//! `KeywordIndex` on PostgreSQL full-text search (`tsvector`, GIN, `ts_rank_cd`).

use async_trait::async_trait;
use memory_core::{
    BackendInfo, KeywordCapabilities, KeywordIndex, KeywordQuery, Op, Result, ScoredId,
};
use sqlx::{Postgres, QueryBuilder};

use crate::PgStore;
use crate::error::map;
use crate::filter_sql::{MemoryColumns, push_and};
use crate::rows::get;

/// The most words of a query that are searched.
const MAX_TERMS: usize = 64;

#[async_trait]
impl KeywordIndex for PgStore {
    fn info(&self) -> BackendInfo {
        self.db.info()
    }

    fn capabilities(&self) -> KeywordCapabilities {
        KeywordCapabilities {
            ranking: "ts_rank_cd",
            filter_ops: Op::ALL.to_vec(),
        }
    }

    async fn search(&self, query: &KeywordQuery) -> Result<Vec<ScoredId>> {
        // Terms are letters and digits only, so the tsquery has no syntax but `|`.
        let words = memory_core::text::query_terms(&query.text, MAX_TERMS);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let pinned = query
            .filter
            .as_ref()
            .and_then(|f| f.pinned(&memory_core::Field::UserId))
            .is_some();
        let mut qb;
        if pinned {
            // One user's rows first (B-tree), then match and rank only those:
            // a GIN match across every tenant's rows would rank far more.
            qb = QueryBuilder::<Postgres>::new(
                "WITH m AS MATERIALIZED (SELECT m.id, m.tsv FROM memories m WHERE m.tenant = ",
            );
            qb.push_bind(query.tenant.clone());
            push_and(&mut qb, &MemoryColumns, query.filter.as_ref());
            qb.push(") SELECT m.id, ts_rank_cd(m.tsv, q) AS rank FROM m, to_tsquery(")
                .push_bind(self.db.cfg.ts_config.clone())
                .push("::regconfig, ")
                .push_bind(words.join(" | "))
                .push(") q WHERE m.tsv @@ q");
        } else {
            qb = QueryBuilder::<Postgres>::new(
                "SELECT m.id, ts_rank_cd(m.tsv, q) AS rank FROM memories m, to_tsquery(",
            );
            qb.push_bind(self.db.cfg.ts_config.clone())
                .push("::regconfig, ")
                .push_bind(words.join(" | "))
                .push(") q WHERE m.tsv @@ q AND m.tenant = ")
                .push_bind(query.tenant.clone());
            push_and(&mut qb, &MemoryColumns, query.filter.as_ref());
        }
        qb.push(" ORDER BY rank DESC, m.id LIMIT ")
            .push_bind(i64::try_from(query.k).unwrap_or(i64::MAX));
        let rows = qb
            .build()
            .fetch_all(&self.db.pool)
            .await
            .map_err(|e| map(e, "keyword search"))?;
        rows.iter()
            .map(|r| {
                Ok(ScoredId {
                    id: get(r, "id")?,
                    score: get(r, "rank")?,
                })
            })
            .collect()
    }
}

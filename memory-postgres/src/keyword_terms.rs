//! Keeping stored memories' `tsvector`s in step with the analyser and the
//! text-search configuration, so an upgrade or a new `ts_config` never
//! leaves old rows findable only under the old terms.

use memory_core::Result;
use memory_core::text::{ANALYZER, index_terms};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::map;

/// The setting naming the analyser and configuration the terms were made with.
const SETTING: &str = "keyword_analyzer";

/// Rows re-analysed per statement.
const BATCH: i64 = 1000;

/// Recomputes every memory's `tsv` unless it was made by [`ANALYZER`] under
/// `ts_config`; a fresh store costs one read.
pub(crate) async fn refresh(pool: &PgPool, ts_config: &str) -> Result<()> {
    let wanted = format!("{ANALYZER} {ts_config}");
    let made_by: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
        .bind(SETTING)
        .fetch_optional(pool)
        .await
        .map_err(|e| map(e, "read the keyword analyser"))?;
    if made_by.as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    let mut after = Uuid::nil();
    let mut done = 0_usize;
    loop {
        let rows: Vec<(Uuid, String)> =
            sqlx::query_as("SELECT id, content FROM memories WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(BATCH)
                .fetch_all(pool)
                .await
                .map_err(|e| map(e, "read memories to re-analyse"))?;
        let Some(&(last, _)) = rows.last() else { break };
        let (ids, terms): (Vec<Uuid>, Vec<String>) = rows
            .iter()
            .map(|(id, content)| (*id, index_terms(content)))
            .unzip();
        sqlx::query(
            "UPDATE memories m SET tsv = to_tsvector($1::regconfig, t.terms) FROM unnest($2::uuid[], $3::text[]) AS t(id, terms) WHERE m.id = t.id",
        )
        .bind(ts_config)
        .bind(&ids)
        .bind(&terms)
        .execute(pool)
        .await
        .map_err(|e| map(e, "re-analyse keyword terms"))?;
        after = last;
        done += rows.len();
    }
    if done > 0 {
        tracing::info!(
            analyzer = ANALYZER,
            ts_config,
            memories = done,
            "keyword terms re-analysed"
        );
    }
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(SETTING)
    .bind(&wanted)
    .execute(pool)
    .await
    .map_err(|e| map(e, "record the keyword analyser"))?;
    Ok(())
}

//! Keeping stored memories' keyword terms in step with the analyser, so an
//! upgrade that changes how text is analysed never leaves old rows findable
//! only under the old terms.

use memory_core::Result;
use memory_core::text::{ANALYZER, index_terms};
use sqlx::SqlitePool;

use crate::error::map;

/// The setting naming the analyser the stored terms were made with.
const SETTING: &str = "keyword_analyzer";

/// Rows re-analysed per transaction.
const BATCH: i64 = 500;

/// Re-analyses every memory's terms unless they were made by [`ANALYZER`];
/// a store from before terms existed has none yet, and a fresh one costs
/// one read.
pub(crate) async fn refresh(pool: &SqlitePool) -> Result<()> {
    let made_by: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
        .bind(SETTING)
        .fetch_optional(pool)
        .await
        .map_err(|e| map(e, "read the keyword analyser"))?;
    if made_by.as_deref() == Some(ANALYZER) {
        return Ok(());
    }
    let mut after = 0_i64;
    let mut done = 0_usize;
    loop {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT rowid, content FROM memories WHERE rowid > ? ORDER BY rowid LIMIT ?",
        )
        .bind(after)
        .bind(BATCH)
        .fetch_all(pool)
        .await
        .map_err(|e| map(e, "read memories to re-analyse"))?;
        let Some(&(last, _)) = rows.last() else { break };
        let mut tx = pool.begin().await.map_err(|e| map(e, "begin"))?;
        for (rowid, content) in &rows {
            sqlx::query("UPDATE memories SET fts_terms = ? WHERE rowid = ?")
                .bind(index_terms(content))
                .bind(rowid)
                .execute(&mut *tx)
                .await
                .map_err(|e| map(e, "re-analyse keyword terms"))?;
        }
        tx.commit().await.map_err(|e| map(e, "commit"))?;
        after = last;
        done += rows.len();
    }
    if done > 0 {
        tracing::info!(
            analyzer = ANALYZER,
            memories = done,
            "keyword terms re-analysed"
        );
    }
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(SETTING)
    .bind(ANALYZER)
    .execute(pool)
    .await
    .map_err(|e| map(e, "record the keyword analyser"))?;
    Ok(())
}

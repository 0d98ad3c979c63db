//! Saved graphs checked against their partitions when a file is compacted.
//!
//! A graph file holds a copy of every vector it was built from, and a
//! partition that changed by a small share since keeps the file it loaded
//! (README, Compacting), so a forgotten memory's vector, or an updated
//! memory's old one, can outlive it there. Compaction removes every file
//! that holds a vector its partition no longer has, as it is now: the
//! partition builds and saves its graph afresh the next time it loads. It
//! also removes what a save cut short left behind and files no partition
//! would take.

use std::collections::HashMap;
use std::path::Path;

use memory_core::Result;
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::saved::{GraphFiles, Head, row_sum};
use crate::error::map;
use crate::rows::{blob_to_vec, get, uuid};

/// Removes the graph files beside the database at `path` that hold a
/// vector the database (read through `conn`) no longer has as saved, or
/// that no partition would take. Answers how many it removed.
pub(crate) async fn scrub_graphs(path: &str, conn: &mut SqliteConnection) -> Result<usize> {
    let Some(files) = GraphFiles::beside(Some(path)) else {
        return Ok(0);
    };
    let Ok(entries) = std::fs::read_dir(files.dir()) else {
        return Ok(0);
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let file = entry.path();
        if !keeps_current_vectors(&files, &file, conn).await? {
            std::fs::remove_file(&file).map_err(|e| {
                memory_core::Error::internal(format!("removing {}: {e}", file.display()))
                    .with_backend("sqlite")
            })?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Whether `file` is a partition's graph file, named as that partition's,
/// whose every vector the partition still holds unchanged.
async fn keeps_current_vectors(
    files: &GraphFiles,
    file: &Path,
    conn: &mut SqliteConnection,
) -> Result<bool> {
    // Nothing but the database's own graph files lives here; a file cut
    // short by a crash mid-save has the temporary name and no partition
    // reads it.
    let Ok(bytes) = std::fs::read(file) else {
        return Ok(false);
    };
    let Some(head) = Head::of(&bytes) else {
        return Ok(false);
    };
    let (collection, tenant, part) = head.key;
    let key = (collection.to_owned(), tenant.to_owned(), part.to_owned());
    if files.file(&key).path() != file {
        return Ok(false);
    }
    let rows = sqlx::query(
        "SELECT id, vector FROM vec_items WHERE collection = ? AND tenant = ? AND part = ?",
    )
    .bind(collection)
    .bind(tenant)
    .bind(part)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| map(e, "compact: graph files"))?;
    let mut now: HashMap<Uuid, u64> = HashMap::with_capacity(rows.len());
    for r in &rows {
        let id = uuid(&get::<String>(r, "id")?)?;
        now.insert(id, row_sum(&blob_to_vec(&get::<Vec<u8>>(r, "vector")?)));
    }
    Ok(head
        .ids
        .iter()
        .zip(&head.sums)
        .all(|(id, sum)| now.get(id) == Some(sum)))
}

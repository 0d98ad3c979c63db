//! The job queue of [`SqliteStore`]: a claim is one atomic `UPDATE …
//! RETURNING` under SQLite's single writer.

use std::time::Duration;

use async_trait::async_trait;
use memory_core::{Job, JobCounts, JobRetry, JobStore, NewJob};
use sqlx::sqlite::SqliteRow;

use super::*;

/// Writes `jobs`, skipping any whose key a live job holds.
pub(super) fn insert_jobs(batch: &mut crate::batch::Batch, jobs: &[NewJob]) {
    let now = ms(memory_core::now());
    for chunk in jobs.chunks(400) {
        let qb = batch.statement();
        qb.push("INSERT INTO jobs (id, kind, tenant, key, payload, due_at, created_at) ");
        qb.push_values(chunk, |mut b, j| {
            b.push_bind(Uuid::now_v7().to_string())
                .push_bind(j.kind.clone())
                .push_bind(j.tenant.clone())
                .push_bind(j.key.clone())
                .push_bind(j.payload.to_string())
                .push_bind(ms(j.due_at))
                .push_bind(now);
        });
        qb.push(" ON CONFLICT DO NOTHING");
    }
}

/// Writes `jobs` on `conn` now.
async fn enqueue_in(conn: &mut SqliteConnection, jobs: &[NewJob]) -> Result<()> {
    let mut batch = crate::batch::Batch::default();
    insert_jobs(&mut batch, jobs);
    batch.run(conn, "enqueue jobs").await
}

fn job(row: &SqliteRow) -> Result<Job> {
    let opt_time = |col: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        get::<Option<i64>>(row, col)?.map(rows::time).transpose()
    };
    Ok(Job {
        id: rows::uuid(&get::<String>(row, "id")?)?,
        kind: get(row, "kind")?,
        tenant: get(row, "tenant")?,
        key: get(row, "key")?,
        payload: serde_json::from_str(&get::<String>(row, "payload")?)
            .map_err(|e| crate::error::corrupt("job payload", e))?,
        due_at: rows::time(get(row, "due_at")?)?,
        attempts: u32::try_from(get::<i64>(row, "attempts")?).unwrap_or(u32::MAX),
        lease_owner: get(row, "lease_owner")?,
        lease_until: opt_time("lease_until")?,
        last_error: get(row, "last_error")?,
        created_at: rows::time(get(row, "created_at")?)?,
        finished_at: opt_time("finished_at")?,
        dead: get::<i64>(row, "dead")? != 0,
    })
}

fn ids_json(ids: &[Uuid]) -> String {
    serde_json::Value::from(ids.iter().map(Uuid::to_string).collect::<Vec<_>>()).to_string()
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn enqueue(&self, jobs: &[NewJob]) -> Result<()> {
        let mut tx = self.db.begin_immediate().await?;
        enqueue_in(&mut tx, jobs).await?;
        tx.commit().await.map_err(|e| map(e, "commit"))
    }

    async fn claim(
        &self,
        owner: &str,
        limit: usize,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<Job>> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let rows = sqlx::query(
            "UPDATE jobs SET lease_owner = ?, lease_until = ?, attempts = attempts + 1
             WHERE id IN (SELECT id FROM jobs WHERE dead = 0 AND due_at <= ?
                          AND (lease_until IS NULL OR lease_until < ?) ORDER BY due_at LIMIT ?)
             RETURNING *",
        )
        .bind(owner)
        .bind(ms(until))
        .bind(ms(now))
        .bind(ms(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.db.writer_for_poll())
        .await
        .map_err(|e| map(e, "claim jobs"))?;
        if !rows.is_empty() {
            self.db.wrote();
        }
        let mut jobs = rows.iter().map(job).collect::<Result<Vec<_>>>()?;
        jobs.sort_by_key(|j| j.due_at);
        Ok(jobs)
    }

    async fn complete(&self, id: Uuid, owner: &str, next: Option<NewJob>) -> Result<bool> {
        let mut tx = self.db.begin_immediate().await?;
        let done = sqlx::query("DELETE FROM jobs WHERE id = ? AND lease_owner = ?")
            .bind(id.to_string())
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(|e| map(e, "complete job"))?
            .rows_affected()
            > 0;
        if done && let Some(n) = next {
            enqueue_in(&mut tx, &[n]).await?;
        }
        tx.commit().await.map_err(|e| map(e, "commit"))?;
        Ok(done)
    }

    async fn fail(
        &self,
        id: Uuid,
        owner: &str,
        error: &str,
        retry: JobRetry,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (due, dead, finished) = match retry {
            JobRetry::At(t) => (Some(ms(t)), 0, None),
            JobRetry::Dead => (None, 1, Some(ms(now))),
        };
        sqlx::query(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, last_error = ?,
             due_at = COALESCE(?, due_at), dead = ?, finished_at = ?
             WHERE id = ? AND lease_owner = ?",
        )
        .bind(error)
        .bind(due)
        .bind(dead)
        .bind(finished)
        .bind(id.to_string())
        .bind(owner)
        .execute(self.db.writer())
        .await
        .map_err(|e| map(e, "fail job"))?;
        Ok(())
    }

    async fn release(&self, owner: &str) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, attempts = MAX(attempts - 1, 0)
             WHERE lease_owner = ? AND dead = 0",
        )
        .bind(owner)
        .execute(self.db.writer())
        .await
        .map_err(|e| map(e, "release jobs"))?;
        Ok(r.rows_affected())
    }

    async fn list_jobs(&self, tenant: Option<&str>, dead: bool, limit: usize) -> Result<Vec<Job>> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE dead = ? AND (? IS NULL OR tenant = ? OR tenant = '*')
             ORDER BY due_at, id LIMIT ?",
        )
        .bind(i64::from(dead))
        .bind(tenant)
        .bind(tenant)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.db.pool)
        .await
        .map_err(|e| map(e, "list jobs"))?;
        rows.iter().map(job).collect()
    }

    async fn retry_dead(&self, ids: &[Uuid], now: DateTime<Utc>) -> Result<u64> {
        // A dead keyed job whose key a live job holds again stays dead.
        let r = sqlx::query(
            "UPDATE jobs SET dead = 0, finished_at = NULL, attempts = 0, due_at = ?
             WHERE dead = 1 AND (? = '[]' OR id IN (SELECT value FROM json_each(?)))
             AND (key IS NULL OR key NOT IN (SELECT key FROM jobs WHERE dead = 0 AND key IS NOT NULL))",
        )
        .bind(ms(now))
        .bind(ids_json(ids))
        .bind(ids_json(ids))
        .execute(self.db.writer())
        .await
        .map_err(|e| map(e, "retry jobs"))?;
        Ok(r.rows_affected())
    }

    async fn purge_dead(&self, ids: &[Uuid]) -> Result<u64> {
        let r = sqlx::query(
            "DELETE FROM jobs WHERE dead = 1 AND (? = '[]' OR id IN (SELECT value FROM json_each(?)))",
        )
        .bind(ids_json(ids))
        .bind(ids_json(ids))
        .execute(self.db.writer())
        .await
        .map_err(|e| map(e, "purge jobs"))?;
        Ok(r.rows_affected())
    }

    async fn job_counts(&self, now: DateTime<Utc>) -> Result<Vec<JobCounts>> {
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT kind,
                    SUM(dead = 0 AND (lease_until IS NULL OR lease_until < ?)),
                    SUM(dead = 0 AND lease_until >= ?),
                    SUM(dead = 1)
             FROM jobs GROUP BY kind ORDER BY kind",
        )
        .bind(ms(now))
        .bind(ms(now))
        .fetch_all(&self.db.pool)
        .await
        .map_err(|e| map(e, "count jobs"))?;
        Ok(rows
            .into_iter()
            .map(|(kind, queued, running, dead)| JobCounts {
                kind,
                queued: rows::u64_of(queued),
                running: rows::u64_of(running),
                dead: rows::u64_of(dead),
            })
            .collect())
    }
}

//! The job queue of [`PgStore`]: claims take rows with `FOR UPDATE SKIP
//! LOCKED`, so workers sharing one database never claim one job twice.

use std::time::Duration;

use async_trait::async_trait;
use memory_core::{Job, JobCounts, JobRetry, JobStore, NewJob};
use sqlx::postgres::PgRow;

use super::*;

/// Writes `jobs`, skipping any whose key a live job holds.
pub(super) async fn insert_jobs(conn: &mut PgConnection, jobs: &[NewJob]) -> Result<()> {
    let now = ms(memory_core::now());
    for j in jobs {
        sqlx::query(
            "INSERT INTO jobs (id, kind, tenant, key, payload, due_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(&j.kind)
        .bind(&j.tenant)
        .bind(&j.key)
        .bind(&j.payload)
        .bind(ms(j.due_at))
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(|e| map(e, "enqueue jobs"))?;
    }
    Ok(())
}

fn job(row: &PgRow) -> Result<Job> {
    let opt_time = |col: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        get::<Option<i64>>(row, col)?.map(rows::time).transpose()
    };
    Ok(Job {
        id: get(row, "id")?,
        kind: get(row, "kind")?,
        tenant: get(row, "tenant")?,
        key: get(row, "key")?,
        payload: get(row, "payload")?,
        due_at: rows::time(get(row, "due_at")?)?,
        attempts: u32::try_from(get::<i32>(row, "attempts")?).unwrap_or(0),
        lease_owner: get(row, "lease_owner")?,
        lease_until: opt_time("lease_until")?,
        last_error: get(row, "last_error")?,
        created_at: rows::time(get(row, "created_at")?)?,
        finished_at: opt_time("finished_at")?,
        dead: get(row, "dead")?,
    })
}

#[async_trait]
impl JobStore for PgStore {
    async fn enqueue(&self, jobs: &[NewJob]) -> Result<()> {
        let mut tx = self.db.pool.begin().await.map_err(|e| map(e, "begin"))?;
        insert_jobs(&mut tx, jobs).await?;
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
            "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM jobs WHERE NOT dead AND due_at <= $3
                          AND (lease_until IS NULL OR lease_until < $3)
                          ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED)
             RETURNING *",
        )
        .bind(owner)
        .bind(ms(until))
        .bind(ms(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.db.pool)
        .await
        .map_err(|e| map(e, "claim jobs"))?;
        let mut jobs = rows.iter().map(job).collect::<Result<Vec<_>>>()?;
        jobs.sort_by_key(|j| j.due_at);
        Ok(jobs)
    }

    async fn complete(&self, id: Uuid, owner: &str, next: Option<NewJob>) -> Result<bool> {
        let mut tx = self.db.pool.begin().await.map_err(|e| map(e, "begin"))?;
        let done = sqlx::query("DELETE FROM jobs WHERE id = $1 AND lease_owner = $2")
            .bind(id)
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(|e| map(e, "complete job"))?
            .rows_affected()
            > 0;
        if done && let Some(n) = next {
            insert_jobs(&mut tx, &[n]).await?;
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
            JobRetry::At(t) => (Some(ms(t)), false, None),
            JobRetry::Dead => (None, true, Some(ms(now))),
        };
        sqlx::query(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, last_error = $1,
             due_at = COALESCE($2, due_at), dead = $3, finished_at = $4
             WHERE id = $5 AND lease_owner = $6",
        )
        .bind(error)
        .bind(due)
        .bind(dead)
        .bind(finished)
        .bind(id)
        .bind(owner)
        .execute(&self.db.pool)
        .await
        .map_err(|e| map(e, "fail job"))?;
        Ok(())
    }

    async fn release(&self, owner: &str) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, attempts = GREATEST(attempts - 1, 0)
             WHERE lease_owner = $1 AND NOT dead",
        )
        .bind(owner)
        .execute(&self.db.pool)
        .await
        .map_err(|e| map(e, "release jobs"))?;
        Ok(r.rows_affected())
    }

    async fn list_jobs(&self, tenant: Option<&str>, dead: bool, limit: usize) -> Result<Vec<Job>> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE dead = $1 AND ($2::text IS NULL OR tenant = $2 OR tenant = '*')
             ORDER BY due_at, id LIMIT $3",
        )
            .bind(dead)
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
            "UPDATE jobs SET dead = false, finished_at = NULL, attempts = 0, due_at = $1
             WHERE dead AND (cardinality($2::uuid[]) = 0 OR id = ANY($2))
             AND (key IS NULL OR key NOT IN (SELECT key FROM jobs WHERE NOT dead AND key IS NOT NULL))",
        )
        .bind(ms(now))
        .bind(ids)
        .execute(&self.db.pool)
        .await
        .map_err(|e| map(e, "retry jobs"))?;
        Ok(r.rows_affected())
    }

    async fn purge_dead(&self, ids: &[Uuid]) -> Result<u64> {
        let r = sqlx::query(
            "DELETE FROM jobs WHERE dead AND (cardinality($1::uuid[]) = 0 OR id = ANY($1))",
        )
        .bind(ids)
        .execute(&self.db.pool)
        .await
        .map_err(|e| map(e, "purge jobs"))?;
        Ok(r.rows_affected())
    }

    async fn job_counts(&self, now: DateTime<Utc>) -> Result<Vec<JobCounts>> {
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT kind,
                    COUNT(*) FILTER (WHERE NOT dead AND (lease_until IS NULL OR lease_until < $1)),
                    COUNT(*) FILTER (WHERE NOT dead AND lease_until >= $1),
                    COUNT(*) FILTER (WHERE dead)
             FROM jobs GROUP BY kind ORDER BY kind",
        )
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

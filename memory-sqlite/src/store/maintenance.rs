//! Scans, exact restores, forgetting and counts of [`SqliteStore`].

use async_trait::async_trait;
use memory_core::MaintenanceStore;

use super::*;

#[async_trait]
impl MaintenanceStore for SqliteStore {
    async fn scan_memories(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<StoredMemory>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMORY_COLUMNS}, m.embedding FROM memories m WHERE m.id > ? ORDER BY m.id LIMIT ?"
        )))
        .bind(after.map(|u| u.to_string()).unwrap_or_default())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.db.pool)
        .await
        .map_err(|e| map(e, "scan memories"))?;
        let mut out = rows.iter().map(rows::stored).collect::<Result<Vec<_>>>()?;
        super::chunks::attach(&self.db.pool, &mut out).await?;
        Ok(out)
    }

    async fn scan_messages(&self, after: Option<Uuid>, limit: usize) -> Result<Vec<Message>> {
        let rows = sqlx::query("SELECT * FROM messages WHERE id > ? ORDER BY id LIMIT ?")
            .bind(after.map(|u| u.to_string()).unwrap_or_default())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.db.pool)
            .await
            .map_err(|e| map(e, "scan messages"))?;
        rows.iter().map(rows::message).collect()
    }

    async fn scan_sessions(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<Session>> {
        let rows = self
            .scan_keyed("sessions", "scan sessions", after, limit)
            .await?;
        rows.iter().map(rows::session).collect()
    }

    async fn scan_users(&self, after: Option<(&str, &str)>, limit: usize) -> Result<Vec<User>> {
        let rows = self.scan_keyed("users", "scan users", after, limit).await?;
        rows.iter().map(rows::user).collect()
    }

    async fn put_user(&self, u: &User) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (tenant, id, external_id, platform, display_name, first_seen_at, last_seen_at, message_count, metadata)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (tenant, id) DO UPDATE SET external_id = excluded.external_id,
               platform = excluded.platform, display_name = excluded.display_name,
               first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at,
               message_count = excluded.message_count, metadata = excluded.metadata",
        )
        .bind(&u.tenant)
        .bind(&u.id)
        .bind(&u.external_id)
        .bind(&u.platform)
        .bind(&u.display_name)
        .bind(ms(u.first_seen_at))
        .bind(ms(u.last_seen_at))
        .bind(i64_of(u.message_count))
        .bind(serde_json::Value::Object(u.metadata.clone()).to_string())
        .execute(self.db.writer())
        .await
        .map_err(|e| map(e, "put user"))?;
        Ok(())
    }

    async fn forget(&self, scope: &Scope) -> Result<ForgetReport> {
        let mut tx = self.db.begin_immediate().await?;
        let owner = |qb: &mut QueryBuilder<Sqlite>| {
            qb.push(" WHERE tenant = ").push_bind(scope.tenant.clone());
            for (col, v) in [
                ("user_id", &scope.user_id),
                ("agent_id", &scope.agent_id),
                ("session_id", &scope.session_id),
            ] {
                if let Some(v) = v {
                    qb.push(format_args!(" AND {col} = ")).push_bind(v.clone());
                }
            }
        };
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT id FROM memories");
        owner(&mut qb);
        let ids: Vec<String> = qb
            .build_query_scalar()
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| map(e, "forget"))?;
        let ids: Vec<Uuid> = ids.iter().map(|s| rows::uuid(s)).collect::<Result<_>>()?;
        let mut changes = ChangeSet {
            delete: ids.clone(),
            ..ChangeSet::default()
        };
        // The outbox rows are written before the deletes, while each row's tenant can still be read.
        changes.outbox = ids.iter().map(|id| (*id, VectorOp::Delete)).collect();
        apply_in(&mut tx, &changes).await?;
        let (messages, sessions) = if scope.session_id.is_some() {
            // Forgetting a session removes it whole.
            let mut qb = QueryBuilder::<Sqlite>::new("DELETE FROM messages");
            owner(&mut qb);
            let messages = run(&mut tx, qb).await?;
            let mut qb = QueryBuilder::<Sqlite>::new("DELETE FROM sessions WHERE tenant = ");
            qb.push_bind(scope.tenant.clone());
            for (col, v) in [
                ("user_id", &scope.user_id),
                ("agent_id", &scope.agent_id),
                ("id", &scope.session_id),
            ] {
                if let Some(v) = v {
                    qb.push(format_args!(" AND {col} = ")).push_bind(v.clone());
                }
            }
            (messages, run(&mut tx, qb).await?)
        } else {
            forget_participant(&mut tx, scope, owner).await?
        };
        let users = match (&scope.user_id, &scope.agent_id, &scope.session_id) {
            (Some(u), None, None) => sqlx::query("DELETE FROM users WHERE tenant = ? AND id = ?")
                .bind(&scope.tenant)
                .bind(u)
                .execute(&mut *tx)
                .await
                .map_err(|e| map(e, "forget"))?
                .rows_affected(),
            _ => 0,
        };
        // History of forgotten memories goes too: it holds their content.
        for chunk in ids.chunks(500) {
            let mut qb = QueryBuilder::<Sqlite>::new("DELETE FROM history WHERE memory_id IN ");
            push_ids(&mut qb, chunk);
            qb.build()
                .execute(&mut *tx)
                .await
                .map_err(|e| map(e, "forget"))?;
        }
        tx.commit().await.map_err(|e| map(e, "commit"))?;
        Ok(ForgetReport {
            memories: ids,
            messages,
            sessions,
            users,
        })
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(|e| map(e, "read a setting"))
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(self.db.writer())
        .await
        .map_err(|e| map(e, "write a setting"))?;
        Ok(())
    }

    async fn any_embedding_model(&self) -> Result<Option<String>> {
        sqlx::query_scalar(
            "SELECT embedding_model FROM memories WHERE embedding_model IS NOT NULL LIMIT 1",
        )
        .fetch_optional(&self.db.pool)
        .await
        .map_err(|e| map(e, "read an embedding model"))
    }

    async fn scope_stats(&self, scope: &Scope, now: DateTime<Utc>) -> Result<ScopeStats> {
        let owned = |select: &str| {
            let mut qb = QueryBuilder::<Sqlite>::new(select);
            qb.push(" WHERE tenant = ").push_bind(scope.tenant.clone());
            for (col, v) in [("user_id", &scope.user_id), ("agent_id", &scope.agent_id)] {
                if let Some(v) = v {
                    qb.push(format_args!(" AND {col} = ")).push_bind(v.clone());
                }
            }
            qb
        };
        let pool = &self.db.pool;
        let fail = |e| map(e, "scope stats");
        let mut stats = ScopeStats::default();
        let mut qb = owned("SELECT kind, COUNT(*) AS n FROM memories");
        qb.push(" AND valid_until IS NULL AND (expires_at IS NULL OR expires_at > ")
            .push_bind(ms(now))
            .push(") GROUP BY kind");
        for row in qb.build().fetch_all(pool).await.map_err(fail)? {
            let n = rows::u64_of(get(&row, "n")?);
            stats.memories += n;
            stats.memories_by_kind.insert(get(&row, "kind")?, n);
        }
        let mut qb = owned("SELECT COUNT(*) FROM memories");
        qb.push(" AND valid_until IS NOT NULL");
        stats.superseded = rows::u64_of(
            qb.build_query_scalar()
                .fetch_one(pool)
                .await
                .map_err(fail)?,
        );
        let mut qb = owned(
            "SELECT COUNT(*) AS n, COALESCE(SUM(extracted = 0), 0) AS fresh, MIN(created_at) AS first, MAX(created_at) AS last FROM messages",
        );
        let row = qb.build().fetch_one(pool).await.map_err(fail)?;
        stats.messages = rows::u64_of(get(&row, "n")?);
        stats.unextracted_messages = rows::u64_of(get(&row, "fresh")?);
        stats.first_message_at = get::<Option<i64>>(&row, "first")?
            .map(rows::time)
            .transpose()?;
        stats.last_message_at = get::<Option<i64>>(&row, "last")?
            .map(rows::time)
            .transpose()?;
        let mut qb = owned("SELECT COUNT(*) FROM sessions");
        stats.sessions = rows::u64_of(
            qb.build_query_scalar()
                .fetch_one(pool)
                .await
                .map_err(fail)?,
        );
        Ok(stats)
    }

    async fn stats(&self, tenant: Option<&str>) -> Result<StoreStats> {
        let count = |table: &'static str| {
            let pool = self.db.pool.clone();
            let tenant = tenant.map(str::to_owned);
            async move {
                let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT COUNT(*) FROM {table}"));
                if let Some(t) = tenant {
                    qb.push(" WHERE tenant = ").push_bind(t);
                }
                qb.build_query_scalar::<i64>()
                    .fetch_one(&pool)
                    .await
                    .map(rows::u64_of)
                    .map_err(|e| map(e, "stats"))
            }
        };
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM outbox WHERE attempts > 0");
        if let Some(t) = tenant {
            qb.push(" AND tenant = ").push_bind(t.to_owned());
        }
        let failed: i64 = qb
            .build_query_scalar()
            .fetch_one(&self.db.pool)
            .await
            .map_err(|e| map(e, "stats"))?;
        Ok(StoreStats {
            memories: count("memories").await?,
            messages: count("messages").await?,
            sessions: count("sessions").await?,
            users: count("users").await?,
            topics: count("topics").await?,
            history: count("history").await?,
            outbox_pending: count("outbox").await?,
            outbox_failed: rows::u64_of(failed),
        })
    }
}

async fn run(tx: &mut SqliteConnection, mut qb: QueryBuilder<Sqlite>) -> Result<u64> {
    Ok(qb
        .build()
        .execute(&mut *tx)
        .await
        .map_err(|e| map(e, "forget"))?
        .rows_affected())
}

/// Forgets a user or an agent as a participant: their messages go; each
/// session they own goes only when no other user spoke in it (taking the
/// agent's answers with it), else it stays for the others with the
/// forgotten owner cleared. Answers (messages, sessions) removed.
async fn forget_participant(
    tx: &mut SqliteConnection,
    scope: &Scope,
    owner: impl Fn(&mut QueryBuilder<Sqlite>),
) -> Result<(u64, u64)> {
    let mut qb = QueryBuilder::<Sqlite>::new("DELETE FROM messages");
    owner(&mut qb);
    let mut messages = run(tx, qb).await?;
    let owned = |qb: &mut QueryBuilder<Sqlite>| {
        qb.push(" WHERE tenant = ").push_bind(scope.tenant.clone());
        for (col, v) in [("user_id", &scope.user_id), ("agent_id", &scope.agent_id)] {
            if let Some(v) = v {
                qb.push(format_args!(" AND {col} = ")).push_bind(v.clone());
            }
        }
    };
    let mut qb = QueryBuilder::<Sqlite>::new("DELETE FROM messages WHERE tenant = ");
    qb.push_bind(scope.tenant.clone())
        .push(" AND session_id IN (SELECT id FROM sessions");
    owned(&mut qb);
    qb.push(" AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.tenant = sessions.tenant AND o.session_id = sessions.id AND o.user_id IS NOT NULL))");
    messages += run(tx, qb).await?;
    let mut qb = QueryBuilder::<Sqlite>::new("DELETE FROM sessions");
    owned(&mut qb);
    qb.push(" AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.tenant = sessions.tenant AND o.session_id = sessions.id)");
    let sessions = run(tx, qb).await?;
    let clear = if scope.user_id.is_some() {
        "user_id"
    } else {
        "agent_id"
    };
    let mut qb = QueryBuilder::<Sqlite>::new(format!("UPDATE sessions SET {clear} = NULL"));
    owned(&mut qb);
    run(tx, qb).await?;
    Ok((messages, sessions))
}

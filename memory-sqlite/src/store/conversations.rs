//! Messages, sessions and users of [`SqliteStore`].

use async_trait::async_trait;
use memory_core::{
    ConversationStore, ExtractTrigger, MessageQuery, SessionQuery, Topic, TopicQuery, UserPatch,
    UserQuery,
};

use super::directory;
use crate::batch::Batch;

use super::*;

/// Appends the statements inserting messages; one whose id is stored
/// already is left alone.
fn push_messages(batch: &mut Batch, messages: &[Message]) {
    for chunk in messages.chunks(400) {
        let qb = batch.statement();
        qb.push(
            "INSERT INTO messages (id, tenant, session_id, user_id, agent_id, role, author_name, content, created_at, metadata, extracted, answered, client_id, topic_id) ",
        );
        qb.push_values(chunk, |mut b, m: &Message| {
            b.push_bind(m.id.to_string())
                .push_bind(m.tenant.clone())
                .push_bind(m.session_id.clone())
                .push_bind(m.user_id.clone())
                .push_bind(m.agent_id.clone())
                .push_bind(m.role.as_str())
                .push_bind(m.author_name.clone())
                .push_bind(m.content.clone())
                .push_bind(ms(m.created_at))
                .push_bind(serde_json::Value::Object(m.metadata.clone()).to_string())
                .push_bind(i64::from(m.extracted))
                .push_bind(i64::from(m.answered))
                .push_bind(m.client_id.clone())
                .push_bind(m.topic_id.map(|t| t.to_string()));
        });
        // A known id, or a known client id in the session: left as it is.
        qb.push(" ON CONFLICT DO NOTHING");
    }
}

/// Runs a batch of [`push_messages`]' statements (and inserts that cannot
/// break a foreign key): a broken one is a message's session missing.
async fn run_inserting_messages(batch: &mut Batch, conn: &mut SqliteConnection) -> Result<()> {
    batch.run(conn, "insert messages").await.map_err(|e| {
        if e.kind() == ErrorKind::InvalidInput {
            Error::invalid("message: its session does not exist").with_backend("sqlite")
        } else {
            e
        }
    })
}

#[async_trait]
impl ConversationStore for SqliteStore {
    async fn insert_messages(&self, messages: &[Message]) -> Result<()> {
        let mut batch = Batch::default();
        push_messages(&mut batch, messages);
        let mut tx = self.db.begin_immediate().await?;
        run_inserting_messages(&mut batch, &mut tx).await?;
        tx.commit().await.map_err(|e| map(e, "commit"))
    }

    async fn insert_messages_triggering(
        &self,
        messages: &[Message],
        trigger: &ExtractTrigger,
    ) -> Result<()> {
        let mut batch = Batch::default();
        push_messages(&mut batch, messages);
        let j = &trigger.job;
        let session = j.payload["session_id"].as_str().unwrap_or_default();
        let qb = batch.statement();
        qb.push("INSERT INTO jobs (id, kind, tenant, key, payload, due_at, created_at) SELECT ");
        let mut s = qb.separated(", ");
        s.push_bind(Uuid::now_v7().to_string())
            .push_bind(j.kind.clone())
            .push_bind(j.tenant.clone())
            .push_bind(j.key.clone())
            .push_bind(j.payload.to_string())
            .push_bind(ms(j.due_at))
            .push_bind(ms(memory_core::now()));
        qb.push(" WHERE (SELECT COUNT(*) FROM messages WHERE tenant = ")
            .push_bind(j.tenant.clone())
            .push(" AND session_id = ")
            .push_bind(session.to_owned())
            .push(" AND extracted = 0) >= ")
            .push_bind(i64_of(trigger.threshold))
            .push(" ON CONFLICT DO NOTHING");
        super::jobs::insert_jobs(&mut batch, &trigger.always);
        let mut tx = self.db.begin_immediate().await?;
        run_inserting_messages(&mut batch, &mut tx).await?;
        tx.commit().await.map_err(|e| map(e, "commit"))
    }

    async fn recent_messages(
        &self,
        tenant: &str,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<Message>> {
        let rows = sqlx::query(
            "SELECT * FROM messages WHERE tenant = ? AND session_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(tenant)
        .bind(session_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.db.pool)
        .await
        .map_err(|e| map(e, "recent messages"))?;
        let mut v = rows.iter().map(rows::message).collect::<Result<Vec<_>>>()?;
        v.reverse();
        Ok(v)
    }

    async fn list_messages(
        &self,
        tenant: &str,
        session_id: &str,
        query: &MessageQuery,
    ) -> Result<Vec<Message>> {
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT * FROM messages WHERE tenant = ");
        qb.push_bind(tenant.to_owned())
            .push(" AND session_id = ")
            .push_bind(session_id.to_owned());
        if let Some(a) = query.after {
            qb.push(" AND id > ").push_bind(a.to_string());
        }
        if let Some(c) = &query.client_id {
            qb.push(" AND client_id = ").push_bind(c.clone());
        }
        if let Some(t) = query.topic_id {
            qb.push(" AND topic_id = ").push_bind(t.to_string());
        }
        qb.push(" ORDER BY id LIMIT ")
            .push_bind(i64::try_from(query.limit).unwrap_or(i64::MAX));
        let rows = qb
            .build()
            .fetch_all(&self.db.pool)
            .await
            .map_err(|e| map(e, "list messages"))?;
        rows.iter().map(rows::message).collect()
    }

    async fn mark_answered(&self, tenant: &str, session_id: &str, ids: &[Uuid]) -> Result<u64> {
        let mut qb =
            QueryBuilder::<Sqlite>::new("UPDATE messages SET answered = 1 WHERE tenant = ");
        qb.push_bind(tenant.to_owned())
            .push(" AND session_id = ")
            .push_bind(session_id.to_owned())
            .push(" AND id IN ");
        push_ids(&mut qb, ids);
        Ok(qb
            .build()
            .execute(self.db.writer())
            .await
            .map_err(|e| map(e, "mark answered"))?
            .rows_affected())
    }

    async fn unextracted_messages(
        &self,
        tenant: &str,
        session_id: &str,
        limit: usize,
    ) -> Result<Vec<Message>> {
        let rows = sqlx::query("SELECT * FROM messages WHERE tenant = ? AND session_id = ? AND extracted = 0 ORDER BY id LIMIT ?")
            .bind(tenant)
            .bind(session_id)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.db.pool)
            .await
            .map_err(|e| map(e, "unextracted messages"))?;
        rows.iter().map(rows::message).collect()
    }

    async fn count_unextracted(&self, tenant: &str, session_id: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE tenant = ? AND session_id = ? AND extracted = 0",
        )
        .bind(tenant)
        .bind(session_id)
        .fetch_one(&self.db.pool)
        .await
        .map_err(|e| map(e, "count unextracted"))?;
        Ok(rows::u64_of(n))
    }

    async fn mark_extracted(&self, tenant: &str, ids: &[Uuid]) -> Result<()> {
        for chunk in ids.chunks(500) {
            let mut qb =
                QueryBuilder::<Sqlite>::new("UPDATE messages SET extracted = 1 WHERE tenant = ");
            qb.push_bind(tenant.to_owned()).push(" AND id IN ");
            push_ids(&mut qb, chunk);
            qb.build()
                .execute(self.db.writer())
                .await
                .map_err(|e| map(e, "mark extracted"))?;
        }
        Ok(())
    }

    async fn upsert_session(&self, s: &Session) -> Result<()> {
        directory::write_session(self.db.writer(), s, true).await
    }

    async fn get_session(&self, tenant: &str, id: &str) -> Result<Option<Session>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE tenant = ? AND id = ?")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(|e| map(e, "get session"))?;
        row.as_ref().map(rows::session).transpose()
    }

    async fn touch_user(
        &self,
        tenant: &str,
        user_id: &str,
        t: &UserTouch,
        at: DateTime<Utc>,
    ) -> Result<User> {
        let row = sqlx::query(
            "INSERT INTO users (tenant, id, external_id, platform, display_name, first_seen_at, last_seen_at, message_count, metadata)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}')
             ON CONFLICT (tenant, id) DO UPDATE SET
               external_id = COALESCE(excluded.external_id, external_id),
               platform = COALESCE(excluded.platform, platform),
               display_name = COALESCE(excluded.display_name, display_name),
               last_seen_at = MAX(last_seen_at, excluded.last_seen_at),
               message_count = message_count + excluded.message_count
             RETURNING *",
        )
        .bind(tenant)
        .bind(user_id)
        .bind(&t.external_id)
        .bind(&t.platform)
        .bind(&t.display_name)
        .bind(ms(at))
        .bind(ms(at))
        .bind(i64_of(t.messages))
        .fetch_one(self.db.writer())
        .await
        .map_err(|e| directory::user_conflict(map(e, "touch user")))?;
        rows::user(&row)
    }

    async fn patch_user(
        &self,
        tenant: &str,
        user_id: &str,
        patch: &UserPatch,
        at: DateTime<Utc>,
    ) -> Result<User> {
        let row = sqlx::query(
            "INSERT INTO users (tenant, id, external_id, platform, display_name, first_seen_at, last_seen_at, message_count, metadata)
             VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)
             ON CONFLICT (tenant, id) DO UPDATE SET
               external_id = COALESCE(excluded.external_id, external_id),
               platform = COALESCE(excluded.platform, platform),
               display_name = COALESCE(excluded.display_name, display_name),
               metadata = CASE WHEN ? THEN excluded.metadata ELSE metadata END
             RETURNING *",
        )
        .bind(tenant)
        .bind(user_id)
        .bind(&patch.external_id)
        .bind(&patch.platform)
        .bind(&patch.display_name)
        .bind(ms(at))
        .bind(ms(at))
        .bind(serde_json::Value::Object(patch.metadata.clone().unwrap_or_default()).to_string())
        .bind(i64::from(patch.metadata.is_some()))
        .fetch_one(self.db.writer())
        .await
        .map_err(|e| directory::user_conflict(map(e, "patch user")))?;
        rows::user(&row)
    }

    async fn get_user(&self, tenant: &str, user_id: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE tenant = ? AND id = ?")
            .bind(tenant)
            .bind(user_id)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(|e| map(e, "get user"))?;
        row.as_ref().map(rows::user).transpose()
    }

    async fn create_session(&self, s: &Session) -> Result<()> {
        directory::write_session(self.db.writer(), s, false).await
    }

    async fn replace_session(&self, s: &Session) -> Result<()> {
        directory::replace_session(self.db.writer(), s).await
    }

    async fn list_sessions(&self, tenant: &str, q: &SessionQuery) -> Result<Vec<Session>> {
        directory::list_sessions(&self.db.pool, tenant, q).await
    }

    async fn list_users(&self, tenant: &str, q: &UserQuery) -> Result<Vec<User>> {
        directory::list_users(&self.db.pool, tenant, q).await
    }

    async fn create_topic(&self, t: &Topic) -> Result<()> {
        directory::write_topic(self.db.writer(), t, true).await
    }

    async fn replace_topic(&self, t: &Topic) -> Result<()> {
        directory::write_topic(self.db.writer(), t, false).await
    }

    async fn get_topic(&self, tenant: &str, id: Uuid) -> Result<Option<Topic>> {
        directory::get_topic(&self.db.pool, tenant, id).await
    }

    async fn list_topics(&self, tenant: &str, q: &TopicQuery) -> Result<Vec<Topic>> {
        directory::list_topics(&self.db.pool, tenant, q).await
    }

    async fn delete_topic(&self, tenant: &str, id: Uuid) -> Result<bool> {
        let mut tx = self.db.begin_immediate().await?;
        let found = directory::delete_topic(&mut tx, tenant, id).await?;
        tx.commit().await.map_err(|e| map(e, "commit"))?;
        Ok(found)
    }
}

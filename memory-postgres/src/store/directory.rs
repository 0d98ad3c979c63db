//! Sessions, users and topics looked up and listed: explicit session
//! creation, viewers by platform id, a session's topics.

use memory_core::{
    Error, ErrorKind, Result, Session, SessionQuery, TimeKey, Topic, TopicQuery, User, UserQuery,
};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::json;
use crate::error::map;
use crate::rows::{self, ms};

/// Names the key a session write collided on.
pub(super) fn session_conflict(e: Error) -> Error {
    if e.kind() == ErrorKind::Conflict {
        Error::new(
            ErrorKind::Conflict,
            "session: the id, or the external id on this platform, is taken",
        )
        .with_backend("postgres")
    } else {
        e
    }
}

/// Names the key a user write collided on.
pub(super) fn user_conflict(e: Error) -> Error {
    if e.kind() == ErrorKind::Conflict {
        Error::new(
            ErrorKind::Conflict,
            "user: another user already has this external id on this platform",
        )
        .with_backend("postgres")
    } else {
        e
    }
}

fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// `AND (col, id) < (at, id)`: the rows after `key` in newest-first order.
fn push_before(qb: &mut QueryBuilder<Postgres>, col: &str, key: Option<&TimeKey>) {
    if let Some(k) = key {
        qb.push(format!(" AND ({col}, id) < ("))
            .push_bind(k.at_ms)
            .push(", ")
            .push_bind(k.id.clone())
            .push(")");
    }
}

fn push_eq(qb: &mut QueryBuilder<Postgres>, col: &str, v: &Option<String>) {
    if let Some(v) = v {
        qb.push(format!(" AND {col} = ")).push_bind(v.clone());
    }
}

/// Inserts a session; with `upsert`, an existing one keeps each stored
/// field the new one leaves out (the implicit creation by a first message).
pub(super) async fn write_session(pool: &PgPool, s: &Session, upsert: bool) -> Result<()> {
    const INSERT: &str = "INSERT INTO sessions (tenant, id, user_id, agent_id, title, platform, external_id, started_at, ended_at, metadata)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    const UPSERT: &str = "INSERT INTO sessions (tenant, id, user_id, agent_id, title, platform, external_id, started_at, ended_at, metadata)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (tenant, id) DO UPDATE SET user_id = COALESCE(excluded.user_id, sessions.user_id),
     agent_id = COALESCE(excluded.agent_id, sessions.agent_id), title = COALESCE(excluded.title, sessions.title),
     platform = COALESCE(excluded.platform, sessions.platform), external_id = COALESCE(excluded.external_id, sessions.external_id),
     ended_at = COALESCE(excluded.ended_at, sessions.ended_at), metadata = excluded.metadata";
    sqlx::query(if upsert { UPSERT } else { INSERT })
        .bind(&s.tenant)
        .bind(&s.id)
        .bind(&s.user_id)
        .bind(&s.agent_id)
        .bind(&s.title)
        .bind(&s.platform)
        .bind(&s.external_id)
        .bind(ms(s.started_at))
        .bind(s.ended_at.map(ms))
        .bind(json(&s.metadata))
        .execute(pool)
        .await
        .map_err(|e| session_conflict(map(e, "write session")))?;
    Ok(())
}

pub(super) async fn replace_session(pool: &PgPool, s: &Session) -> Result<()> {
    let done = sqlx::query(
        "UPDATE sessions SET user_id = $1, agent_id = $2, title = $3, platform = $4, external_id = $5,
         ended_at = $6, metadata = $7 WHERE tenant = $8 AND id = $9",
    )
    .bind(&s.user_id)
    .bind(&s.agent_id)
    .bind(&s.title)
    .bind(&s.platform)
    .bind(&s.external_id)
    .bind(s.ended_at.map(ms))
    .bind(json(&s.metadata))
    .bind(&s.tenant)
    .bind(&s.id)
    .execute(pool)
    .await
    .map_err(|e| session_conflict(map(e, "update session")))?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("session {:?}", s.id)));
    }
    Ok(())
}

pub(super) async fn list_sessions(
    pool: &PgPool,
    tenant: &str,
    q: &SessionQuery,
) -> Result<Vec<Session>> {
    let mut qb = QueryBuilder::<Postgres>::new("SELECT * FROM sessions WHERE tenant = ");
    qb.push_bind(tenant.to_owned());
    push_eq(&mut qb, "user_id", &q.user_id);
    push_eq(&mut qb, "agent_id", &q.agent_id);
    push_eq(&mut qb, "platform", &q.platform);
    push_eq(&mut qb, "external_id", &q.external_id);
    push_before(&mut qb, "started_at", q.after.as_ref());
    qb.push(" ORDER BY started_at DESC, id DESC LIMIT ")
        .push_bind(limit_of(q.limit));
    let rows = qb
        .build()
        .fetch_all(pool)
        .await
        .map_err(|e| map(e, "list sessions"))?;
    rows.iter().map(rows::session).collect()
}

pub(super) async fn list_users(pool: &PgPool, tenant: &str, q: &UserQuery) -> Result<Vec<User>> {
    let mut qb = QueryBuilder::<Postgres>::new("SELECT * FROM users WHERE tenant = ");
    qb.push_bind(tenant.to_owned());
    push_eq(&mut qb, "platform", &q.platform);
    push_eq(&mut qb, "external_id", &q.external_id);
    push_before(&mut qb, "last_seen_at", q.after.as_ref());
    qb.push(" ORDER BY last_seen_at DESC, id DESC LIMIT ")
        .push_bind(limit_of(q.limit));
    let rows = qb
        .build()
        .fetch_all(pool)
        .await
        .map_err(|e| map(e, "list users"))?;
    rows.iter().map(rows::user).collect()
}

/// Inserts a topic (`create`) or replaces a stored one.
pub(super) async fn write_topic(pool: &PgPool, t: &Topic, create: bool) -> Result<()> {
    let sql = if create {
        "INSERT INTO topics (session_id, title, outline, completed, metadata, updated_at, tenant, id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    } else {
        "UPDATE topics SET session_id = $1, title = $2, outline = $3, completed = $4, metadata = $5,
         updated_at = $6 WHERE tenant = $7 AND id = $8"
    };
    let mut query = sqlx::query(sql)
        .bind(&t.session_id)
        .bind(&t.title)
        .bind(&t.outline)
        .bind(t.completed)
        .bind(json(&t.metadata))
        .bind(ms(t.updated_at))
        .bind(&t.tenant)
        .bind(t.id);
    if create {
        query = query.bind(ms(t.created_at));
    }
    let done = query.execute(pool).await.map_err(|e| {
        let e = map(e, "write topic");
        if e.kind() == ErrorKind::InvalidInput {
            Error::invalid(format!("topic: session {:?} does not exist", t.session_id))
        } else {
            e
        }
    })?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found(format!("topic {}", t.id)));
    }
    Ok(())
}

pub(super) async fn get_topic(pool: &PgPool, tenant: &str, id: Uuid) -> Result<Option<Topic>> {
    let row = sqlx::query("SELECT * FROM topics WHERE tenant = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(|e| map(e, "get topic"))?;
    row.as_ref().map(rows::topic).transpose()
}

pub(super) async fn list_topics(pool: &PgPool, tenant: &str, q: &TopicQuery) -> Result<Vec<Topic>> {
    let mut qb = QueryBuilder::<Postgres>::new("SELECT * FROM topics WHERE tenant = ");
    qb.push_bind(tenant.to_owned());
    push_eq(&mut qb, "session_id", &q.session_id);
    if let Some(c) = q.completed {
        qb.push(" AND completed = ").push_bind(c);
    }
    if let Some(a) = q.after {
        qb.push(" AND id > ").push_bind(a);
    }
    qb.push(" ORDER BY id LIMIT ").push_bind(limit_of(q.limit));
    let rows = qb
        .build()
        .fetch_all(pool)
        .await
        .map_err(|e| map(e, "list topics"))?;
    rows.iter().map(rows::topic).collect()
}

pub(super) async fn delete_topic(tx: &mut PgConnection, tenant: &str, id: Uuid) -> Result<bool> {
    sqlx::query("UPDATE messages SET topic_id = NULL WHERE tenant = $1 AND topic_id = $2")
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| map(e, "unlink topic"))?;
    let done = sqlx::query("DELETE FROM topics WHERE tenant = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| map(e, "delete topic"))?;
    Ok(done.rows_affected() > 0)
}

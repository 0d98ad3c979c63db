//! `ShortTerm` on Redis.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use memory_core::{
    BackendInfo, Error, Message, Metadata, RateDecision, RateLimit, Result, Scope, SessionKey,
    ShortTerm, ShortTermCapabilities, ShortTermStats,
};
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use crate::config::{RedisConfig, redact};
use crate::error::map;
use crate::keys::Keys;
use crate::lua::{GET_STATE, RATE, RECENT};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Short-term memory in Redis: shared by every process on the same server,
/// with TTLs by activity, an active-session set and atomic rate limits.
///
/// It connects lazily and reconnects by itself, so a Redis that is down when
/// the engine starts, or goes down later, fails only short-term calls (after
/// the configured timeout) — the engine logs them and carries on.
pub struct RedisShortTerm {
    cfg: RedisConfig,
    client: redis::Client,
    con: OnceCell<ConnectionManager>,
    recent: redis::Script,
    get_state: redis::Script,
    rate: redis::Script,
}

impl std::fmt::Debug for RedisShortTerm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisShortTerm")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl RedisShortTerm {
    /// A tier for `redis://…` (see [`RedisConfig::from_url`]); connects on first use.
    pub fn new(cfg: RedisConfig) -> Result<Self> {
        let client = cfg.client()?;
        Ok(Self {
            cfg,
            client,
            con: OnceCell::new(),
            recent: redis::Script::new(RECENT),
            get_state: redis::Script::new(GET_STATE),
            rate: redis::Script::new(RATE),
        })
    }

    /// Parses the URL and builds the tier.
    pub fn from_url(url: &str) -> Result<Self> {
        Self::new(RedisConfig::from_url(url)?)
    }

    /// The server's version, for `memory doctor`.
    pub async fn server_version(&self) -> Result<String> {
        let mut con = self.con().await?;
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut con)
            .await
            .map_err(|e| map(e, "version"))?;
        let v = info
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .unwrap_or("unknown");
        Ok(format!("Redis {}", v.trim()))
    }

    async fn con(&self) -> Result<ConnectionManager> {
        let t = self.cfg.timeout;
        self.con
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_response_timeout(Some(t))
                    .set_connection_timeout(Some(t.max(Duration::from_millis(500))))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await
            .cloned()
            .map_err(|e| map(e, "connect"))
    }

    fn keys(&self, tenant: &str) -> Keys {
        Keys::new(&self.cfg.prefix, tenant)
    }

    /// The TTL for a user whose last activity was at `last` (ms).
    fn ttl(&self, last: Option<i64>, now: i64) -> i64 {
        match last {
            Some(t) if now - t < ms(self.cfg.tiers.active_within) => ms(self.cfg.tiers.active),
            _ => ms(self.cfg.tiers.inactive),
        }
    }

    async fn scan(&self, pattern: &str) -> Result<Vec<String>> {
        let mut con = self.con().await?;
        let mut iter: redis::AsyncIter<'_, String> =
            con.scan_match(pattern).await.map_err(|e| map(e, "scan"))?;
        let mut out = Vec::new();
        while let Some(k) = iter.next_item().await {
            out.push(k.map_err(|e| map(e, "scan"))?);
        }
        Ok(out)
    }
}

fn decode(items: Vec<String>) -> Result<Vec<Message>> {
    items
        .iter()
        .map(|s| {
            serde_json::from_str(s).map_err(|e| {
                Error::internal(format!("redis: stored message is corrupt: {e}"))
                    .with_backend("redis")
            })
        })
        .collect()
}

#[async_trait]
impl ShortTerm for RedisShortTerm {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            scheme: "redis",
            location: redact(&self.cfg.url),
        }
    }

    fn capabilities(&self) -> ShortTermCapabilities {
        ShortTermCapabilities {
            durable: true,
            shared: true,
        }
    }

    async fn push(&self, m: &Message, window: usize) -> Result<()> {
        let mut con = self.con().await?;
        let k = self.keys(&m.tenant);
        let s = m.session_id.as_str();
        let now = now_ms();
        let last: Option<i64> = match &m.user_id {
            Some(u) => con.get(k.seen(u)).await.map_err(|e| map(e, "push"))?,
            None => None,
        };
        let ttl = self.ttl(last, now);
        let keep = ttl.max(ms(self.cfg.tiers.active_within));
        let json = serde_json::to_string(m)
            .map_err(|e| Error::internal(format!("redis: cannot encode a message: {e}")))?;
        let window = isize::try_from(window.max(1)).unwrap_or(isize::MAX);
        let mut p = redis::pipe();
        p.atomic()
            .rpush(k.window(s), &json)
            .ignore()
            .ltrim(k.window(s), -window, -1)
            .ignore()
            .pexpire(k.window(s), ttl)
            .ignore()
            .hset_multiple(
                k.meta(s),
                &[
                    ("user", m.user_id.clone().unwrap_or_default()),
                    ("agent", m.agent_id.clone().unwrap_or_default()),
                    ("ttl", ttl.to_string()),
                ],
            )
            .ignore()
            .pexpire(k.meta(s), ttl)
            .ignore()
            .pexpire(k.state(s), ttl)
            .ignore()
            .zadd(k.active(), s, now + ttl)
            .ignore();
        if let Some(u) = &m.user_id {
            p.pset_ex(k.last(u), &json, u64::try_from(ttl).unwrap_or(1))
                .ignore()
                .pset_ex(k.seen(u), now, u64::try_from(keep).unwrap_or(1))
                .ignore()
                .sadd(k.user_sessions(u), s)
                .ignore()
                .pexpire(k.user_sessions(u), keep)
                .ignore();
        }
        if let Some(a) = &m.agent_id {
            p.sadd(k.agent_sessions(a), s)
                .ignore()
                .pexpire(k.agent_sessions(a), keep)
                .ignore();
        }
        p.query_async::<()>(&mut con)
            .await
            .map_err(|e| map(e, "push"))
    }

    async fn recent(&self, key: &SessionKey, limit: usize) -> Result<Vec<Message>> {
        let mut con = self.con().await?;
        let k = self.keys(&key.tenant);
        let s = key.session_id.as_str();
        let items: Vec<String> = self
            .recent
            .key(k.window(s))
            .key(k.meta(s))
            .key(k.state(s))
            .key(k.active())
            .arg(limit.max(1))
            .arg(ms(self.cfg.tiers.inactive))
            .arg(s)
            .invoke_async(&mut con)
            .await
            .map_err(|e| map(e, "recent"))?;
        decode(items)
    }

    async fn restore(&self, key: &SessionKey, messages: &[Message], window: usize) -> Result<()> {
        let mut con = self.con().await?;
        let k = self.keys(&key.tenant);
        let s = key.session_id.as_str();
        let ttl = ms(self.cfg.tiers.active);
        let skip = messages.len().saturating_sub(window.max(1));
        let kept: Vec<String> = messages
            .iter()
            .skip(skip)
            .map(|m| {
                serde_json::to_string(m)
                    .map_err(|e| Error::internal(format!("redis: cannot encode a message: {e}")))
            })
            .collect::<Result<_>>()?;
        let first = messages.first();
        let mut p = redis::pipe();
        p.atomic().del(k.window(s)).ignore();
        if !kept.is_empty() {
            p.rpush(k.window(s), &kept)
                .ignore()
                .pexpire(k.window(s), ttl)
                .ignore();
        }
        p.hset_multiple(
            k.meta(s),
            &[
                (
                    "user",
                    first.and_then(|m| m.user_id.clone()).unwrap_or_default(),
                ),
                (
                    "agent",
                    first.and_then(|m| m.agent_id.clone()).unwrap_or_default(),
                ),
                ("ttl", ttl.to_string()),
            ],
        )
        .ignore()
        .pexpire(k.meta(s), ttl)
        .ignore()
        .zadd(k.active(), s, now_ms() + ttl)
        .ignore();
        if let Some(u) = first.and_then(|m| m.user_id.as_ref()) {
            p.sadd(k.user_sessions(u), s)
                .ignore()
                .pexpire(k.user_sessions(u), ttl)
                .ignore();
        }
        if let Some(a) = first.and_then(|m| m.agent_id.as_ref()) {
            p.sadd(k.agent_sessions(a), s)
                .ignore()
                .pexpire(k.agent_sessions(a), ttl)
                .ignore();
        }
        p.query_async::<()>(&mut con)
            .await
            .map_err(|e| map(e, "restore"))
    }

    async fn set_state(&self, key: &SessionKey, fields: &Metadata) -> Result<()> {
        if fields.is_empty() {
            return Ok(());
        }
        let mut con = self.con().await?;
        let k = self.keys(&key.tenant);
        let s = key.session_id.as_str();
        let ttl: Option<i64> = con
            .hget(k.meta(s), "ttl")
            .await
            .map_err(|e| map(e, "set_state"))?;
        let ttl = ttl.unwrap_or_else(|| ms(self.cfg.tiers.inactive));
        let pairs: Vec<(String, String)> = fields
            .iter()
            .map(|(f, v)| (f.clone(), v.to_string()))
            .collect();
        let mut p = redis::pipe();
        p.atomic()
            .hset_multiple(k.state(s), &pairs)
            .ignore()
            .pexpire(k.state(s), ttl)
            .ignore()
            .hset(k.meta(s), "ttl", ttl)
            .ignore()
            .pexpire(k.meta(s), ttl)
            .ignore()
            .zadd(k.active(), s, now_ms() + ttl)
            .ignore();
        p.query_async::<()>(&mut con)
            .await
            .map_err(|e| map(e, "set_state"))
    }

    async fn get_state(&self, key: &SessionKey) -> Result<Option<Metadata>> {
        let mut con = self.con().await?;
        let k = self.keys(&key.tenant);
        let s = key.session_id.as_str();
        let flat: Vec<String> = self
            .get_state
            .key(k.state(s))
            .key(k.meta(s))
            .key(k.window(s))
            .key(k.active())
            .arg(ms(self.cfg.tiers.inactive))
            .arg(s)
            .invoke_async(&mut con)
            .await
            .map_err(|e| map(e, "get_state"))?;
        if flat.is_empty() {
            return Ok(None);
        }
        let mut out = Metadata::new();
        for pair in flat.chunks_exact(2) {
            let v = serde_json::from_str(&pair[1])
                .unwrap_or_else(|_| serde_json::Value::String(pair[1].clone()));
            out.insert(pair[0].clone(), v);
        }
        Ok(Some(out))
    }

    async fn last_message(&self, tenant: &str, user_id: &str) -> Result<Option<Message>> {
        let mut con = self.con().await?;
        let v: Option<String> = con
            .get(self.keys(tenant).last(user_id))
            .await
            .map_err(|e| map(e, "last_message"))?;
        Ok(decode(v.into_iter().collect())?.pop())
    }

    async fn active_sessions(&self, tenant: &str) -> Result<Vec<String>> {
        let mut con = self.con().await?;
        let mut v: Vec<String> = con
            .zrangebyscore(self.keys(tenant).active(), format!("({}", now_ms()), "+inf")
            .await
            .map_err(|e| map(e, "active_sessions"))?;
        v.sort();
        Ok(v)
    }

    async fn cleanup(&self) -> Result<u64> {
        let keys = self.scan(&Keys::all_active(&self.cfg.prefix)).await?;
        let mut con = self.con().await?;
        let mut removed = 0u64;
        for k in keys {
            let n: u64 = con
                .zrembyscore(&k, "-inf", now_ms())
                .await
                .map_err(|e| map(e, "cleanup"))?;
            removed += n;
        }
        Ok(removed)
    }

    async fn check_rate(
        &self,
        tenant: &str,
        subject: &str,
        limit: RateLimit,
    ) -> Result<RateDecision> {
        let mut con = self.con().await?;
        let member = uuid::Uuid::now_v7().to_string();
        let (allowed, remaining, wait): (i64, i64, i64) = self
            .rate
            .key(self.keys(tenant).rate(subject))
            .arg(ms(limit.window).max(1))
            .arg(limit.max)
            .arg(member)
            .invoke_async(&mut con)
            .await
            .map_err(|e| map(e, "check_rate"))?;
        Ok(RateDecision {
            allowed: allowed == 1,
            remaining: u32::try_from(remaining.max(0)).unwrap_or(0),
            retry_after: Duration::from_millis(u64::try_from(wait.max(0)).unwrap_or(0)),
        })
    }

    async fn clear(&self, scope: &Scope) -> Result<()> {
        let mut con = self.con().await?;
        let k = self.keys(&scope.tenant);
        let mut sessions: Vec<String> = match (&scope.session_id, &scope.user_id, &scope.agent_id) {
            (Some(s), _, _) => vec![s.clone()],
            (None, Some(u), _) => con
                .smembers(k.user_sessions(u))
                .await
                .map_err(|e| map(e, "clear"))?,
            (None, None, Some(a)) => con
                .smembers(k.agent_sessions(a))
                .await
                .map_err(|e| map(e, "clear"))?,
            (None, None, None) => Vec::new(),
        };
        // With several owner fields given, keep only sessions owned by all of them.
        let mut owned = Vec::with_capacity(sessions.len());
        for s in sessions.drain(..) {
            let (user, agent): (Option<String>, Option<String>) = redis::cmd("HMGET")
                .arg(k.meta(&s))
                .arg("user")
                .arg("agent")
                .query_async(&mut con)
                .await
                .map_err(|e| map(e, "clear"))?;
            let fits = |want: &Option<String>, got: &Option<String>| {
                want.as_ref()
                    .is_none_or(|w| got.as_deref().is_none_or(|g| g.is_empty() || g == w))
            };
            if fits(&scope.user_id, &user) && fits(&scope.agent_id, &agent) {
                owned.push(s);
            }
        }
        let mut p = redis::pipe();
        p.atomic();
        for s in &owned {
            p.del(k.window(s))
                .ignore()
                .del(k.state(s))
                .ignore()
                .del(k.meta(s))
                .ignore()
                .zrem(k.active(), s)
                .ignore();
        }
        if let Some(u) = &scope.user_id {
            if scope.session_id.is_none() {
                p.del(k.last(u))
                    .ignore()
                    .del(k.seen(u))
                    .ignore()
                    .del(k.user_sessions(u))
                    .ignore()
                    .del(k.rate(&format!("user:{u}")))
                    .ignore();
            } else {
                p.srem(k.user_sessions(u), &owned).ignore();
            }
        }
        p.query_async::<()>(&mut con)
            .await
            .map_err(|e| map(e, "clear"))
    }

    async fn stats(&self) -> Result<ShortTermStats> {
        let keys = self.scan(&Keys::all(&self.cfg.prefix)).await?;
        let mut con = self.con().await?;
        let mut active = 0u64;
        let now = now_ms();
        for k in keys.iter().filter(|k| k.ends_with(":active")) {
            let n: u64 = con
                .zcount(k, format!("({now}"), "+inf")
                .await
                .map_err(|e| map(e, "stats"))?;
            active += n;
        }
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut con)
            .await
            .map_err(|e| map(e, "stats"))?;
        let used = info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok());
        Ok(ShortTermStats {
            keys: keys.len() as u64,
            active_sessions: active,
            memory_bytes: used,
        })
    }
}

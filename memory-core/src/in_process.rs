//! The in-process short-term tier: the embedded default.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::traits::{
    BackendInfo, RateDecision, RateLimit, SessionKey, ShortTerm, ShortTermCapabilities,
    ShortTermStats,
};
use crate::{Error, Message, Metadata, Result, Scope};

/// TTLs by activity: users seen recently keep their keys longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TtlTiers {
    /// TTL for active users' keys.
    #[serde(with = "secs")]
    pub active: Duration,
    /// TTL for inactive users' keys.
    #[serde(with = "secs")]
    pub inactive: Duration,
    /// A user is active if their previous message is younger than this.
    #[serde(with = "secs")]
    pub active_within: Duration,
}

impl Default for TtlTiers {
    fn default() -> Self {
        Self {
            active: Duration::from_secs(24 * 3600),
            inactive: Duration::from_secs(3600),
            active_within: Duration::from_secs(24 * 3600),
        }
    }
}

mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

impl TtlTiers {
    /// The TTL for a user last active at `last` (None: never seen).
    pub fn ttl_for(&self, last: Option<Instant>, now: Instant) -> Duration {
        match last {
            Some(t) if now.duration_since(t) < self.active_within => self.active,
            _ => self.inactive,
        }
    }
}

#[derive(Debug)]
struct SessionEntry {
    user_id: Option<String>,
    agent_id: Option<String>,
    window: VecDeque<Message>,
    state: Metadata,
    expires: Instant,
    ttl: Duration,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<(String, String), SessionEntry>,
    last_message: HashMap<(String, String), (Message, Instant, Instant)>,
    rates: HashMap<(String, String), VecDeque<Instant>>,
}

/// Short-term memory inside this process: bounded windows, TTLs, rate limits.
///
/// It is lost on restart (recover it from the store with `Memory::recover`)
/// and not shared between processes; use Redis for that.
#[derive(Debug)]
pub struct InProcessShortTerm {
    tiers: TtlTiers,
    max_sessions: usize,
    inner: Mutex<Inner>,
}

impl Default for InProcessShortTerm {
    fn default() -> Self {
        Self::new(TtlTiers::default(), 100_000)
    }
}

impl InProcessShortTerm {
    /// A tier with these TTLs holding at most `max_sessions` sessions.
    pub fn new(tiers: TtlTiers, max_sessions: usize) -> Self {
        Self {
            tiers,
            max_sessions: max_sessions.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| Error::internal("short-term lock poisoned").with_backend("memory"))
    }
}

fn key(k: &SessionKey) -> (String, String) {
    (k.tenant.clone(), k.session_id.clone())
}

impl Inner {
    fn live(&mut self, k: &(String, String), now: Instant) -> Option<&mut SessionEntry> {
        if self.sessions.get(k).is_some_and(|s| s.expires <= now) {
            self.sessions.remove(k);
        }
        let s = self.sessions.get_mut(k)?;
        s.expires = now + s.ttl;
        Some(s)
    }

    fn evict_if_full(&mut self, max: usize, now: Instant) {
        if self.sessions.len() < max {
            return;
        }
        self.sessions.retain(|_, s| s.expires > now);
        if self.sessions.len() >= max
            && let Some(oldest) = self
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            self.sessions.remove(&oldest);
        }
    }
}

#[async_trait]
impl ShortTerm for InProcessShortTerm {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            scheme: "memory",
            location: "in-process".into(),
        }
    }

    fn capabilities(&self) -> ShortTermCapabilities {
        ShortTermCapabilities {
            durable: false,
            shared: false,
        }
    }

    async fn push(&self, message: &Message, window: usize) -> Result<()> {
        let now = Instant::now();
        let mut g = self.lock()?;
        let last = message
            .user_id
            .as_ref()
            .and_then(|u| g.last_message.get(&(message.tenant.clone(), u.clone())))
            .filter(|(_, _, exp)| *exp > now)
            .map(|(_, at, _)| *at);
        let ttl = self.tiers.ttl_for(last, now);
        let k = (message.tenant.clone(), message.session_id.clone());
        if g.live(&k, now).is_none() {
            g.evict_if_full(self.max_sessions, now);
        }
        let entry = g.sessions.entry(k).or_insert_with(|| SessionEntry {
            user_id: message.user_id.clone(),
            agent_id: message.agent_id.clone(),
            window: VecDeque::new(),
            state: Metadata::new(),
            expires: now + ttl,
            ttl,
        });
        entry.window.push_back(message.clone());
        while entry.window.len() > window.max(1) {
            entry.window.pop_front();
        }
        entry.ttl = ttl;
        entry.expires = now + ttl;
        if let Some(u) = &message.user_id {
            g.last_message.insert(
                (message.tenant.clone(), u.clone()),
                (message.clone(), now, now + ttl),
            );
        }
        Ok(())
    }

    async fn recent(&self, key_: &SessionKey, limit: usize) -> Result<Vec<Message>> {
        let mut g = self.lock()?;
        Ok(match g.live(&key(key_), Instant::now()) {
            Some(s) => {
                let skip = s.window.len().saturating_sub(limit);
                s.window.iter().skip(skip).cloned().collect()
            }
            None => Vec::new(),
        })
    }

    async fn restore(&self, key_: &SessionKey, messages: &[Message], window: usize) -> Result<()> {
        let now = Instant::now();
        let ttl = self.tiers.active;
        let mut g = self.lock()?;
        g.evict_if_full(self.max_sessions, now);
        let skip = messages.len().saturating_sub(window.max(1));
        let first = messages.first();
        let entry = g.sessions.entry(key(key_)).or_insert_with(|| SessionEntry {
            user_id: first.and_then(|m| m.user_id.clone()),
            agent_id: first.and_then(|m| m.agent_id.clone()),
            window: VecDeque::new(),
            state: Metadata::new(),
            expires: now + ttl,
            ttl,
        });
        entry.window = messages.iter().skip(skip).cloned().collect();
        entry.expires = now + entry.ttl;
        Ok(())
    }

    async fn set_state(&self, key_: &SessionKey, fields: &Metadata) -> Result<()> {
        let now = Instant::now();
        let ttl = self.tiers.inactive;
        let mut g = self.lock()?;
        if g.live(&key(key_), now).is_none() {
            g.evict_if_full(self.max_sessions, now);
        }
        let entry = g.sessions.entry(key(key_)).or_insert_with(|| SessionEntry {
            user_id: None,
            agent_id: None,
            window: VecDeque::new(),
            state: Metadata::new(),
            expires: now + ttl,
            ttl,
        });
        for (k, v) in fields {
            entry.state.insert(k.clone(), v.clone());
        }
        entry.expires = now + entry.ttl;
        Ok(())
    }

    async fn get_state(&self, key_: &SessionKey) -> Result<Option<Metadata>> {
        let mut g = self.lock()?;
        Ok(g.live(&key(key_), Instant::now())
            .filter(|s| !s.state.is_empty())
            .map(|s| s.state.clone()))
    }

    async fn last_message(&self, tenant: &str, user_id: &str) -> Result<Option<Message>> {
        let g = self.lock()?;
        let now = Instant::now();
        Ok(g.last_message
            .get(&(tenant.to_owned(), user_id.to_owned()))
            .filter(|(_, _, exp)| *exp > now)
            .map(|(m, _, _)| m.clone()))
    }

    async fn active_sessions(&self, tenant: &str) -> Result<Vec<String>> {
        let g = self.lock()?;
        let now = Instant::now();
        let mut v: Vec<String> = g
            .sessions
            .iter()
            .filter(|((t, _), s)| t == tenant && s.expires > now)
            .map(|((_, id), _)| id.clone())
            .collect();
        v.sort();
        Ok(v)
    }

    async fn cleanup(&self) -> Result<u64> {
        let mut g = self.lock()?;
        let now = Instant::now();
        let before = g.sessions.len();
        g.sessions.retain(|_, s| s.expires > now);
        g.last_message.retain(|_, (_, _, exp)| *exp > now);
        g.rates.retain(|_, q| !q.is_empty());
        Ok((before - g.sessions.len()) as u64)
    }

    async fn check_rate(
        &self,
        tenant: &str,
        subject: &str,
        limit: RateLimit,
    ) -> Result<RateDecision> {
        let now = Instant::now();
        let mut g = self.lock()?;
        let q = g
            .rates
            .entry((tenant.to_owned(), subject.to_owned()))
            .or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= limit.window)
        {
            q.pop_front();
        }
        let used = u32::try_from(q.len()).unwrap_or(u32::MAX);
        if used < limit.max {
            q.push_back(now);
            Ok(RateDecision {
                allowed: true,
                remaining: limit.max - used - 1,
                retry_after: Duration::ZERO,
            })
        } else {
            let retry_after = q
                .front()
                .map(|t| limit.window.saturating_sub(now.duration_since(*t)))
                .unwrap_or(limit.window);
            Ok(RateDecision {
                allowed: false,
                remaining: 0,
                retry_after,
            })
        }
    }

    async fn clear(&self, scope: &Scope) -> Result<()> {
        let mut g = self.lock()?;
        let owned = |u: &Option<String>, a: &Option<String>, sess: &str| {
            scope.user_id.as_ref().is_none_or(|x| u.as_ref() == Some(x))
                && scope
                    .agent_id
                    .as_ref()
                    .is_none_or(|x| a.as_ref() == Some(x))
                && scope.session_id.as_deref().is_none_or(|x| x == sess)
        };
        g.sessions
            .retain(|(t, id), s| !(t == &scope.tenant && owned(&s.user_id, &s.agent_id, id)));
        g.last_message.retain(|(t, _), (m, _, _)| {
            !(t == &scope.tenant && owned(&m.user_id, &m.agent_id, &m.session_id))
        });
        if let Some(u) = &scope.user_id {
            g.rates.remove(&(scope.tenant.clone(), format!("user:{u}")));
        }
        Ok(())
    }

    async fn stats(&self) -> Result<ShortTermStats> {
        let g = self.lock()?;
        let now = Instant::now();
        let active = g.sessions.values().filter(|s| s.expires > now).count() as u64;
        Ok(ShortTermStats {
            keys: (g.sessions.len() + g.last_message.len() + g.rates.len()) as u64,
            active_sessions: active,
            memory_bytes: None,
        })
    }
}

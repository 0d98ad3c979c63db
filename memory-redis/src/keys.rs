//! Key names. Every key carries the prefix and the tenant, and ids are
//! escaped so no id can reach into another tenant's or another kind's keys.

/// Escapes `%` and `:` so a component cannot fake a key boundary.
fn esc(s: &str) -> String {
    s.replace('%', "%25").replace(':', "%3A")
}

/// Builds the keys of one tenant.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    base: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str, tenant: &str) -> Self {
        Self {
            base: format!("{prefix}:{}", esc(tenant)),
        }
    }

    /// The pattern matching every key of every tenant under `prefix`.
    pub(crate) fn all(prefix: &str) -> String {
        format!("{prefix}:*")
    }

    /// The pattern matching every tenant's active-session set.
    pub(crate) fn all_active(prefix: &str) -> String {
        format!("{prefix}:*:active")
    }

    /// List: a session's recent messages, oldest first.
    pub(crate) fn window(&self, session: &str) -> String {
        format!("{}:win:{}", self.base, esc(session))
    }

    /// Hash: a session's state (fields are JSON values).
    pub(crate) fn state(&self, session: &str) -> String {
        format!("{}:state:{}", self.base, esc(session))
    }

    /// Hash: who a session belongs to and its TTL.
    pub(crate) fn meta(&self, session: &str) -> String {
        format!("{}:meta:{}", self.base, esc(session))
    }

    /// Sorted set: session → expiry time in milliseconds.
    pub(crate) fn active(&self) -> String {
        format!("{}:active", self.base)
    }

    /// String: a user's last message (JSON).
    pub(crate) fn last(&self, user: &str) -> String {
        format!("{}:last:{}", self.base, esc(user))
    }

    /// String: a user's last activity, milliseconds.
    pub(crate) fn seen(&self, user: &str) -> String {
        format!("{}:seen:{}", self.base, esc(user))
    }

    /// Set: the sessions of a user.
    pub(crate) fn user_sessions(&self, user: &str) -> String {
        format!("{}:usess:{}", self.base, esc(user))
    }

    /// Set: the sessions of an agent.
    pub(crate) fn agent_sessions(&self, agent: &str) -> String {
        format!("{}:asess:{}", self.base, esc(agent))
    }

    /// Sorted set: a subject's calls in the current window.
    pub(crate) fn rate(&self, subject: &str) -> String {
        format!("{}:rate:{}", self.base, esc(subject))
    }
}

#[cfg(test)]
mod tests {
    use super::Keys;

    #[test]
    fn ids_cannot_forge_boundaries() {
        let a = Keys::new("m", "t1:win:x");
        let b = Keys::new("m", "t1");
        assert_ne!(a.window("s"), b.window("x:win:s"));
        assert_eq!(Keys::new("m", "a:b").active(), "m:a%3Ab:active");
    }
}

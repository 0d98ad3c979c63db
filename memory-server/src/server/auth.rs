//! API keys: each bound to a tenant and optionally one user.

use std::collections::HashMap;

use axum::http::HeaderMap;
use memory::{ApiKey, Scope};

/// What an authenticated caller may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Its tenant: every read and write happens there.
    pub tenant: String,
    /// If set, the only user it reads and writes.
    pub user_id: Option<String>,
    /// A name for rate limits and logs (never the key itself).
    pub id: String,
}

impl Caller {
    /// Forces a requested scope into the caller's binding; `None` when the
    /// request names another user than the key is bound to.
    pub fn scope(&self, mut scope: Scope) -> Option<Scope> {
        scope.tenant = self.tenant.clone();
        match (&self.user_id, &scope.user_id) {
            (Some(bound), Some(asked)) if bound != asked => None,
            (Some(bound), _) => {
                scope.user_id = Some(bound.clone());
                Some(scope)
            }
            _ => Some(scope),
        }
    }

    /// Whether the caller may touch `user_id`'s data.
    pub fn may_touch(&self, user_id: Option<&str>) -> bool {
        self.user_id.as_deref().is_none_or(|b| user_id == Some(b))
    }
}

/// The key table.
#[derive(Debug)]
pub struct Auth {
    keys: HashMap<String, Caller>,
    open: bool,
}

impl Auth {
    /// Keys from the configuration; `open` admits anyone to the default tenant.
    pub fn new(keys: &[ApiKey], open: bool) -> Self {
        let keys = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                (
                    k.key.clone(),
                    Caller {
                        tenant: k.tenant.clone(),
                        user_id: k.user_id.clone(),
                        id: format!("key{i}"),
                    },
                )
            })
            .collect();
        Self { keys, open }
    }

    /// Whether requests without a key are admitted (`--no-auth`).
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// The caller of a request, from `Authorization: Bearer …` or `x-api-key`.
    pub fn caller(&self, headers: &HeaderMap) -> Option<Caller> {
        let key = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()));
        match key.and_then(|k| self.keys.get(k)) {
            Some(c) => Some(c.clone()),
            None if self.open => Some(Caller {
                tenant: memory::DEFAULT_TENANT.into(),
                user_id: None,
                id: "anonymous".into(),
            }),
            None => None,
        }
    }
}

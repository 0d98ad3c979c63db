//! `postgres://` URLs.

use memory_core::{Error, Result};

/// Settings of the PostgreSQL backend. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// The server URL without this crate's own query keys.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// Schema holding the tables (created if missing); `public` by default.
    pub schema: Option<String>,
    /// Text-search configuration of the keyword index (`english`, `simple`, …).
    pub ts_config: String,
    /// HNSW `ef_search` for vector queries.
    pub ef_search: u32,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &redact(&self.url))
            .field("schema", &self.schema)
            .field("ts_config", &self.ts_config)
            .finish_non_exhaustive()
    }
}

pub(crate) use memory_core::redact_url as redact;

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

impl PgConfig {
    /// Parses `postgres://…?max_connections=10&schema=memory&ts_config=english&ef_search=100`;
    /// other query keys go to the driver (e.g. `sslmode`).
    pub fn from_url(url: &str) -> Result<Self> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::config(format!(
                "not a postgres URL: {:?} (expected postgres://user@host:port/db)",
                redact(url)
            )));
        }
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut cfg = Self {
            url: base.to_owned(),
            max_connections: 10,
            schema: None,
            ts_config: "english".into(),
            ef_search: 100,
        };
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let num = || {
                v.parse::<u32>().map_err(|_| {
                    Error::config(format!("postgres URL: {k}={v:?} is not a whole number"))
                })
            };
            match k {
                "max_connections" => cfg.max_connections = num()?.max(1),
                "ef_search" => cfg.ef_search = num()?.clamp(1, 1000),
                "schema" if is_ident(v) => cfg.schema = Some(v.to_owned()),
                "ts_config" if is_ident(v) => cfg.ts_config = v.to_owned(),
                "schema" | "ts_config" => {
                    return Err(Error::config(format!(
                        "postgres URL: {k}={v:?} must be a lower-case identifier"
                    )));
                }
                _ => rest.push(pair),
            }
        }
        if !rest.is_empty() {
            cfg.url = format!("{base}?{}", rest.join("&"));
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_and_hides_the_password() {
        let c =
            PgConfig::from_url("postgres://me:pw@h:5432/db?schema=t1&sslmode=disable&ef_search=64")
                .unwrap();
        assert_eq!(c.schema.as_deref(), Some("t1"));
        assert_eq!(c.url, "postgres://me:pw@h:5432/db?sslmode=disable");
        assert_eq!(c.ef_search, 64);
        assert!(!format!("{c:?}").contains("pw"));
        assert!(PgConfig::from_url("postgres://h/db?schema=a;drop").is_err());
        assert!(PgConfig::from_url("mysql://h/db").is_err());
    }
}

//! `postgres://` URLs.

use memory_core::{BackendUrl, Error, Result};

/// Settings of the PostgreSQL backend. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// The server URL without this crate's own query keys.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// Schema holding the tables (created if missing); `public` by default.
    pub schema: Option<String>,
    /// Text-search configuration applied to the analysed keyword terms;
    /// `simple` by default, since the terms arrive folded and stemmed.
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

/// Query keys of libpq's URL form that the driver understands.
const DRIVER_KEYS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

impl PgConfig {
    /// Parses `postgres://…?max_connections=10&schema=memory&ts_config=simple&ef_search=100`;
    /// other query keys go to the driver (e.g. `sslmode`).
    pub fn from_url(url: &str) -> Result<Self> {
        let parsed = BackendUrl::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "postgres" | "postgresql"))
            .ok_or_else(|| {
                Error::config(format!(
                    "not a postgres URL: {:?} (expected postgres://user@host:port/db)",
                    redact(url)
                ))
            })?;
        let base = url.split_once('?').map_or(url, |(b, _)| b);
        let mut q = parsed.params("postgres");
        let ident = |q: &mut memory_core::Params, key: &'static str| -> Result<Option<String>> {
            match q.str(key) {
                Some(v) if !is_ident(&v) => {
                    Err(q.error(format!("{key}={v:?} must be a lower-case identifier")))
                }
                v => Ok(v),
            }
        };
        let cfg = Self {
            url: base.to_owned(),
            max_connections: q.u32("max_connections")?.map_or(10, |n| n.max(1)),
            ef_search: q.u32("ef_search")?.map_or(100, |n| n.clamp(1, 1000)),
            schema: ident(&mut q, "schema")?,
            ts_config: ident(&mut q, "ts_config")?.unwrap_or_else(|| "simple".into()),
        };
        // Keys the driver reads are passed on; it ignores others with a log
        // line showing their values, so they are refused here instead.
        let rest: Vec<(String, String)> = DRIVER_KEYS
            .iter()
            .filter_map(|k| q.str(k).map(|v| ((*k).to_owned(), v)))
            .collect();
        q.finish()?;
        Ok(if rest.is_empty() {
            cfg
        } else {
            Self {
                url: format!("{base}?{}", memory_core::encode_query(&rest)),
                ..cfg
            }
        })
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
        let e = PgConfig::from_url("postgres://h/db?sslpassword=pw").unwrap_err();
        assert!(
            e.message().contains("\"sslpassword\"") && !e.message().contains("pw"),
            "{e}"
        );
    }
}

//! Backend URLs, parsed once: scheme, credentials, host, port, path and
//! percent-decoded query pairs, with redaction for everything that is shown.
//!
//! Every backend is configured by a URL (`postgres://u:p@h/db?schema=x`,
//! `chroma://h:8000?token=…`, `local:all-MiniLM-L6-v2`). Backends read their
//! keys through [`Params`], which refuses keys nobody asked for and names the
//! ones that exist; anything printed goes through [`BackendUrl`]'s `Display`,
//! which hides the password and every secret query value.

mod params;

use std::fmt;

pub use params::Params;

use crate::{Error, Result};

/// Query keys whose values are secrets whatever the backend: any key that
/// names one of these words is hidden when a URL is shown.
const SECRET_WORDS: &[&str] = &[
    "key",
    "token",
    "password",
    "passwd",
    "secret",
    "auth",
    "credential",
    "sslkey",
];

/// What replaces a hidden value.
const MASK: &str = "***";

/// A parsed backend URL. `Display` and `Debug` hide secrets; [`Self::as_str`]
/// gives the original text to the one place that connects with it.
#[derive(Clone, PartialEq, Eq)]
pub struct BackendUrl {
    raw: String,
    scheme: String,
    username: Option<String>,
    password: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    path: String,
    query: Vec<(String, String)>,
    hierarchical: bool,
    target: String,
}

impl BackendUrl {
    /// Parses `scheme://[user[:password]@]host[:port][/path][?k=v&…]` or the
    /// opaque `scheme:path[?k=v&…]` form (`local:all-MiniLM-L6-v2`,
    /// `sqlite::memory:`). Query keys and values and the credentials are
    /// percent-decoded.
    pub fn parse(url: &str) -> Result<Self> {
        let (scheme, rest) = url.split_once(':').ok_or_else(|| {
            Error::config(format!(
                "{:?} is not a backend URL (expected scheme://… or scheme:…)",
                cut_secrets(url)
            ))
        })?;
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            return Err(Error::config(format!(
                "{:?}: {scheme:?} is not a URL scheme",
                cut_secrets(url)
            )));
        }
        let (body, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut out = Self {
            raw: url.to_owned(),
            scheme: scheme.to_ascii_lowercase(),
            username: None,
            password: None,
            host: None,
            port: None,
            path: String::new(),
            query: Vec::new(),
            hierarchical: false,
            target: decode(body),
        };
        match body.strip_prefix("//") {
            Some(hier) => {
                out.hierarchical = true;
                let end = hier.find('/').unwrap_or(hier.len());
                let (authority, path) = hier.split_at(end);
                out.path = decode(path);
                let hostport = match authority.rsplit_once('@') {
                    Some((userinfo, hostport)) => {
                        let (user, pass) = match userinfo.split_once(':') {
                            Some((u, p)) => (u, Some(p)),
                            None => (userinfo, None),
                        };
                        out.username = Some(decode(user)).filter(|u| !u.is_empty());
                        out.password = pass.map(decode);
                        hostport
                    }
                    None => authority,
                };
                let (host, port) = split_port(hostport);
                if let Some(p) = port.filter(|p| !p.is_empty()) {
                    out.port = Some(p.parse().map_err(|_| {
                        Error::config(format!(
                            "{}: port {p:?} is not a number from 0 to 65535",
                            out
                        ))
                    })?);
                }
                out.host = Some(decode(host)).filter(|h| !h.is_empty());
            }
            None => out.path = decode(body),
        }
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            out.query.push((decode(k), decode(v)));
        }
        Ok(out)
    }

    /// The text as given, secrets included: only for the driver that connects.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The scheme, lower-cased.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// Whether the URL has an authority part (`scheme://…`).
    pub fn has_authority(&self) -> bool {
        self.hierarchical
    }

    /// The user name, decoded.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The password, decoded.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The host (without brackets for IPv6), decoded.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The port, if given.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The path, decoded: `/db` after an authority, or everything after the
    /// scheme's colon in the opaque form.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Everything between the scheme's colon and the query, decoded: a
    /// file path for `sqlite://./memory.db` (as `//./memory.db`).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The query pairs in order, decoded.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// `host:port` (IPv6 hosts in brackets) with `default_port` when none is given.
    pub fn host_port(&self, default_port: u16) -> Option<String> {
        self.host_with_port(self.port.unwrap_or(default_port))
    }

    /// `host:port` (IPv6 hosts in brackets) with `port` whatever the URL says.
    pub fn host_with_port(&self, port: u16) -> Option<String> {
        let host = self.host.as_deref()?;
        Some(if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        })
    }

    /// The query keys of `backend`, to be read one by one and then checked
    /// with [`Params::finish`].
    pub fn params(&self, backend: &'static str) -> Params {
        Params::new(backend, self.query.clone(), self.to_string())
    }

    /// The URL shown with `extra` keys hidden as well as the usual secrets.
    pub fn redacted_with(&self, extra: &[&str]) -> String {
        let mut s = format!("{}:", self.scheme);
        if self.hierarchical {
            s.push_str("//");
            if let Some(u) = &self.username {
                s.push_str(&encode(u));
            }
            if self.password.is_some() {
                s.push(':');
                s.push_str(MASK);
            }
            if self.username.is_some() || self.password.is_some() {
                s.push('@');
            }
            if let Some(h) = &self.host {
                if h.contains(':') {
                    s.push_str(&format!("[{h}]"));
                } else {
                    s.push_str(&encode(h));
                }
            }
            if let Some(p) = self.port {
                s.push_str(&format!(":{p}"));
            }
        }
        s.push_str(&self.path);
        for (i, (k, v)) in self.query.iter().enumerate() {
            s.push(if i == 0 { '?' } else { '&' });
            s.push_str(&encode(k));
            s.push('=');
            if is_secret_key(k) || extra.iter().any(|e| e.eq_ignore_ascii_case(k)) {
                s.push_str(MASK);
            } else {
                s.push_str(&encode(v));
            }
        }
        s
    }
}

impl fmt::Display for BackendUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted_with(&[]))
    }
}

impl fmt::Debug for BackendUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackendUrl({self})")
    }
}

impl std::str::FromStr for BackendUrl {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// Whether a query key holds a secret (`api_key`, `token`, `password`, …).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| k.contains(w))
}

/// The URL with its password and secret query values replaced by `***`, for
/// logs, errors and status. Text that is not a URL is shown up to the first
/// `@` or `?` only, so a malformed secret still does not leak.
pub fn redact_url(url: &str) -> String {
    match BackendUrl::parse(url) {
        Ok(u) => u.to_string(),
        Err(_) => cut_secrets(url),
    }
}

/// Text that did not parse as a URL, shown up to the first `@` or `?`.
fn cut_secrets(text: &str) -> String {
    match text.find(['@', '?']) {
        Some(cut) => format!("{}{MASK}", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Percent-encodes the query pairs, for a driver URL rebuilt from the keys a
/// backend did not consume.
pub fn encode_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn split_port(hostport: &str) -> (&str, Option<&str>) {
    if let Some(rest) = hostport.strip_prefix('[') {
        // IPv6: [::1]:port
        return match rest.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':')),
            None => (hostport, None),
        };
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (hostport, None),
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_every_part_and_decodes() {
        let u = BackendUrl::parse(
            "postgres://me:p%40ss@db.example:5433/mem?schema=t1&sslmode=verify-full&x=a%26b",
        )
        .unwrap();
        assert_eq!(u.scheme(), "postgres");
        assert_eq!(u.username(), Some("me"));
        assert_eq!(u.password(), Some("p@ss"));
        assert_eq!(u.host(), Some("db.example"));
        assert_eq!(u.port(), Some(5433));
        assert_eq!(u.path(), "/mem");
        assert_eq!(u.query_pairs()[2], ("x".to_owned(), "a&b".to_owned()));
        let v6 = BackendUrl::parse("qdrant://[::1]:6334").unwrap();
        assert_eq!(v6.host(), Some("::1"));
        assert_eq!(v6.host_port(1).as_deref(), Some("[::1]:6334"));
        let opaque = BackendUrl::parse("local:all-MiniLM-L6-v2?quant=int8").unwrap();
        assert!(!opaque.has_authority());
        assert_eq!(opaque.path(), "all-MiniLM-L6-v2");
        assert_eq!(
            BackendUrl::parse("sqlite::memory:").unwrap().path(),
            ":memory:"
        );
        assert!(BackendUrl::parse("no-scheme-here").is_err());
        assert!(BackendUrl::parse("redis://h:99999").is_err());
    }

    #[test]
    fn hides_passwords_and_secret_keys() {
        let shown = redact_url(
            "chroma://user:SECRET1@h:8000/c?api_key=SECRET2&token=SECRET3&tenant=t&x-Auth-Header=SECRET5",
        );
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(
            shown.contains("tenant=t") && shown.contains("user:***@h:8000"),
            "{shown}"
        );
        assert_eq!(redact_url("sqlite://./a.db"), "sqlite://./a.db");
        assert_eq!(
            redact_url("redis://:pw@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        let u = BackendUrl::parse("x://h?plain=SECRET6").unwrap();
        assert!(!u.redacted_with(&["plain"]).contains("SECRET6"));
        // Not a URL at all: nothing after '@' or '?' is shown.
        assert!(!redact_url("::bad@SECRET7").contains("SECRET7"));
    }

    #[test]
    fn params_name_unknown_keys_and_bad_values() {
        let u = BackendUrl::parse("redis://h?prefix=bot&ttl=x&colour=red&token=SECRET8").unwrap();
        let mut p = u.params("redis");
        assert_eq!(p.str("prefix").as_deref(), Some("bot"));
        let e = p.secs("ttl").unwrap_err().message().to_owned();
        assert!(e.contains("ttl=\"x\"") && e.starts_with("redis URL"), "{e}");
        assert!(!e.contains("SECRET8"), "{e}");
        let e = p.finish().unwrap_err().to_string();
        assert!(
            e.contains("\"colour\"") && e.contains("known: prefix, ttl"),
            "{e}"
        );
    }
}

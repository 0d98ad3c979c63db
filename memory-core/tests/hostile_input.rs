//! Generated hostile input for the parsers every request goes through: the
//! filter language, backend URLs and listing cursors. None may panic; every
//! rejection is a clean error of the right kind; what is accepted
//! round-trips. `PROPTEST_CASES` sets the count (256 by default;
//! `scripts/fuzz` runs a million).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use memory_core::{BackendUrl, ErrorKind, Filter, TimeKey, redact_url};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Keys a filter may use, misspelt ones and noise among them.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "and", "or", "not", "kind", "user_id", "agent_id", "session_id", "importance",
            "confidence", "created_at", "updated_at", "valid_from", "valid_until", "topic_id",
            "metadata.topic", "metadata.a.b", "eq", "ne", "gt", "gte", "lt", "lte", "in", "nin",
            "contains", "exists", "$eq", "$in", "metadata.", "metadata..x", "kindd",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z_.$]{1,12}",
        1 => any::<String>(),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            "fact",
            "preference",
            "2026-01-01T00:00:00Z",
            "",
            "a%_\\"
        ])
        .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Strings shaped like backend URLs: known and unknown schemes, users,
/// passwords, hosts, ports, paths and query parameters, with noise.
fn url_like() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        prop::sample::select(vec![
            "sqlite",
            "postgres",
            "postgresql",
            "redis",
            "rediss",
            "chroma",
            "qdrant",
            "memory",
            "local",
            "openai",
            "file",
            "http",
        ])
        .prop_map(str::to_owned),
        "[a-z+]{0,8}",
    ];
    let auth = prop::option::of(("[a-z%]{0,6}", prop::option::of("[a-zA-Z0-9%@:]{0,8}")));
    let host = "[a-z0-9.\\-\\[\\]:%]{0,16}";
    let path = prop::option::of("/[a-zA-Z0-9%._/-]{0,12}");
    let query = prop::collection::vec(("[a-z_]{0,10}", "[a-zA-Z0-9%=&.-]{0,8}"), 0..4);
    let sep = prop::sample::select(vec!["://", ":", ":///", "//"]);
    (scheme, sep, auth, host, path, query).prop_map(|(s, sep, auth, host, path, query)| {
        let mut u = format!("{s}{sep}");
        if let Some((user, pass)) = auth {
            u.push_str(&user);
            if let Some(p) = pass {
                u.push(':');
                u.push_str(&p);
            }
            u.push('@');
        }
        u.push_str(&host);
        u.push_str(&path.unwrap_or_default());
        for (i, (k, v)) in query.iter().enumerate() {
            u.push(if i == 0 { '?' } else { '&' });
            u.push_str(&format!("{k}={v}"));
        }
        u
    })
}

proptest! {
    /// Any JSON: a filter, or an `invalid_input` error that says what is
    /// wrong; an accepted filter prints to JSON that parses to itself.
    #[test]
    fn filters_parse_or_say_why(v in json()) {
        match Filter::parse(&v) {
            Ok(f) => {
                let again = Filter::parse(&f.to_json());
                prop_assert_eq!(again.as_ref().ok(), Some(&f), "{} -> {}", v, f.to_json());
            }
            Err(e) => {
                prop_assert_eq!(e.kind(), ErrorKind::InvalidInput);
                prop_assert!(e.message().starts_with("filter"), "{}", e.message());
            }
        }
    }

    /// Any text as a filter: parsed, or refused as invalid input.
    #[test]
    fn filter_text_never_panics(s in any::<String>()) {
        if let Err(e) = Filter::parse_str(&s) {
            prop_assert_eq!(e.kind(), ErrorKind::InvalidInput);
        }
    }

    /// Any text, and anything shaped like a URL: parsed, or refused as a
    /// configuration error; redaction never panics and never shows a
    /// password it was given.
    #[test]
    fn urls_parse_or_say_why(s in prop_oneof![url_like(), any::<String>()]) {
        if let Err(e) = BackendUrl::parse(&s) {
            prop_assert!(matches!(e.kind(), ErrorKind::Config | ErrorKind::InvalidInput), "{:?}", e);
        }
        let shown = redact_url(&s);
        if let Some((_, rest)) = s.split_once("://")
            && let Some((auth, _)) = rest.split_once('@')
            && !auth.contains(['/', '?', '#'])
            && let Some((_, pass)) = auth.split_once(':')
            && pass.len() >= 4
            && !pass.contains(['/', '?', '#', '@'])
        {
            prop_assert!(!shown.contains(&format!(":{pass}@")), "{} shown as {}", s, shown);
        }
    }

    /// Listing cursors: a key's own cursor reads back as itself; any other
    /// text is a clean `invalid_input`.
    #[test]
    fn cursors_round_trip_or_are_refused(at in any::<i64>(), id in any::<String>(), noise in any::<String>()) {
        if !id.is_empty() {
            let k = TimeKey { at_ms: at, id: id.clone() };
            prop_assert_eq!(TimeKey::decode(&k.encode()).ok(), Some(k));
        }
        if let Err(e) = TimeKey::decode(&noise) {
            prop_assert_eq!(e.kind(), ErrorKind::InvalidInput);
        }
    }
}

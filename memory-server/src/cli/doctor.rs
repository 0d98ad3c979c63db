//! `memory doctor`: checks every configured backend on its own, so one that
//! is down or misconfigured is named instead of stopping the whole check.

use std::time::Instant;

use anyhow::{Result, bail};
use memory::{Config, redact};
use serde::Serialize;

use super::output::Out;

/// One line of the report.
#[derive(Debug, Serialize)]
pub(crate) struct Check {
    /// What is checked (store, vectors, short_term, embedder, …).
    component: &'static str,
    /// Which backend (URL without secrets, or model spec).
    backend: String,
    /// Whether it is usable.
    ok: bool,
    /// Versions, counts, or what is wrong.
    detail: String,
}

fn check(component: &'static str, backend: String, result: Result<String, String>) -> Check {
    let (ok, detail) = match result {
        Ok(d) => (true, d),
        Err(e) => (false, e),
    };
    Check {
        component,
        backend,
        ok,
        detail,
    }
}

async fn store(url: &str, tenant: &str) -> Result<String, String> {
    let version = memory::server_version(url)
        .await
        .map_err(|e| e.to_string())?;
    let s = memory::open_store_url(url)
        .await
        .map_err(|e| e.to_string())?;
    let stats = s.stats(Some(tenant)).await.map_err(|e| e.to_string())?;
    Ok(format!(
        "{version}; {} memories in tenant {tenant}, {} vectors pending in the outbox",
        stats.memories, stats.outbox_pending
    ))
}

async fn vectors(url: &str, collection: &str, dimension: Option<usize>) -> Result<String, String> {
    let version = memory::server_version(url).await.unwrap_or_default();
    let v = memory::open_vectors_url(url)
        .await
        .map_err(|e| e.to_string())?;
    match v.describe(collection).await.map_err(|e| e.to_string())? {
        None => Ok(format!(
            "{version}; collection {collection:?} not created yet (the first start creates it)"
        )),
        Some(spec) => {
            let count = v.count(collection, None).await.map_err(|e| e.to_string())?;
            match dimension {
                Some(d) if d != spec.dimension => Err(format!(
                    "collection {collection:?} holds {}-d vectors but the embedder makes {d}-d ones: run `memory reindex`",
                    spec.dimension
                )),
                _ => Ok(format!(
                    "{version}; collection {collection:?}: {count} vectors, {} dimensions, {:?}",
                    spec.dimension, spec.metric
                )),
            }
        }
    }
}

async fn short_term(url: &str) -> Result<String, String> {
    let version = memory::server_version(url)
        .await
        .map_err(|e| e.to_string())?;
    let st = memory::open_short_term(url)
        .await
        .map_err(|e| e.to_string())?;
    let stats = st.stats().await.map_err(|e| e.to_string())?;
    Ok(format!(
        "{version}; {} keys, {} active sessions",
        stats.keys, stats.active_sessions
    ))
}

async fn embedder(spec: &str) -> Result<(usize, String), String> {
    let e = memory::open_embedder(spec)
        .await
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let v = e
        .embed(
            &["memory doctor checks the embedder".to_owned()],
            memory::EmbedKind::Document,
        )
        .await
        .map_err(|e| e.to_string())?;
    let got = v.first().map_or(0, Vec::len);
    if got != e.dimension() {
        return Err(format!(
            "declares {} dimensions but returned {got}",
            e.dimension()
        ));
    }
    Ok((
        got,
        format!(
            "{}: {got} dimensions, one embedding in {:.1} ms",
            e.model_id(),
            start.elapsed().as_secs_f64() * 1000.0
        ),
    ))
}

/// Checks each URL of a fallback list in order, marking the first that
/// works as the one in use and the rest as standby; answers its index.
async fn fallbacks(
    checks: &mut Vec<Check>,
    component: &'static str,
    urls: &[String],
    probe: impl AsyncFn(&str) -> Result<String, String>,
) -> Option<usize> {
    let mut used = None;
    for (i, url) in urls.iter().enumerate() {
        let r = probe(url).await;
        if r.is_ok() && used.is_none() {
            used = Some(i);
        }
        let r = r.map(|d| match (urls.len(), used) {
            (1, _) => d,
            (_, Some(f)) if f == i => format!("in use (fallback #{}) — {d}", i + 1),
            _ => format!("standby (fallback #{}) — {d}", i + 1),
        });
        let r = r.map_err(|e| match urls.len() {
            1 => e,
            _ => format!("unreachable (fallback #{}) — {e}", i + 1),
        });
        checks.push(check(component, redact(url), r));
    }
    used
}

/// Runs every check, prints the report, and fails if anything is wrong.
pub(crate) async fn run(cfg: &Config, source: &str, tenant: &str, out: &Out) -> Result<()> {
    let mut checks = vec![Check {
        component: "config",
        backend: source.to_owned(),
        ok: true,
        detail: "parsed; unknown keys would have been refused".into(),
    }];
    let (dimension, line) = match embedder(&cfg.embedder).await {
        Ok((d, s)) => (Some(d), Ok(s)),
        Err(e) => (None, Err(e)),
    };
    let store_urls = cfg.store.list();
    let store_used = fallbacks(&mut checks, "store", &store_urls, async |url| {
        store(url, tenant).await
    })
    .await;
    // Without a vector list, vectors live in the store that is used.
    let vector_urls = cfg.vectors.as_ref().map_or_else(
        || {
            store_urls
                .get(store_used.unwrap_or(0))
                .cloned()
                .into_iter()
                .collect()
        },
        memory::Urls::list,
    );
    let vectors_used = fallbacks(&mut checks, "vectors", &vector_urls, async |url| {
        vectors(url, &cfg.engine.collection, dimension).await
    })
    .await;
    checks.push(check(
        "short_term",
        redact(&cfg.short_term),
        short_term(&cfg.short_term).await,
    ));
    checks.push(check("embedder", cfg.embedder.clone(), line));
    if let Some(spec) = &cfg.language_model {
        let r = memory::open_language_model(spec)
            .map(|l| format!("{} (configured; not called)", l.model_id()))
            .map_err(|e| e.to_string());
        checks.push(check("language_model", spec.clone(), r));
    }
    if let Some(spec) = &cfg.reranker {
        let r = match memory::open_reranker(spec).await {
            Ok(r) => r
                .score("doctor", &["a loaded cross-encoder scores this".to_owned()])
                .await
                .map(|s| match s.first() {
                    Some(score) => format!("{} (scored a pair: {score:.3})", r.model_id()),
                    None => format!("{} (answered no score for a pair)", r.model_id()),
                }),
            Err(e) => Err(e),
        }
        .map_err(|e| e.to_string());
        checks.push(check("reranker", spec.clone(), r));
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    // A fallback list needs one usable entry, not all of them.
    let usable = |component| match component {
        "store" => store_used.is_some(),
        "vectors" => vectors_used.is_some(),
        _ => false,
    };
    let hard_failures = checks
        .iter()
        .filter(|c| !c.ok && !usable(c.component))
        .count();
    if out.json {
        out.value(&checks)?;
    } else {
        let mut t = super::output::table(&["", "component", "backend", "detail"]);
        for c in &checks {
            t.add_row(vec![
                if c.ok { "ok" } else { "FAIL" }.to_owned(),
                c.component.to_owned(),
                c.backend.clone(),
                c.detail.clone(),
            ]);
        }
        println!("{t}");
    }
    if hard_failures > 0 {
        bail!("{failed} check(s) failed");
    }
    if failed > 0 {
        eprintln!("warning: {failed} fallback backend(s) unreachable; another one serves");
    }
    Ok(())
}

//! `serve` (REST and MCP over HTTP) and `mcp` (MCP over stdio).

use anyhow::{Context, Result, bail};
use memory::{Config, Memory};

/// Serves `m` over HTTP on `listen` (else the configured address).
pub(crate) async fn serve(
    m: Memory,
    cfg: &Config,
    listen: Option<std::net::SocketAddr>,
    no_auth: bool,
) -> Result<()> {
    let server = &cfg.server;
    let addr = match listen {
        Some(a) => a,
        None => server
            .listen
            .parse()
            .with_context(|| format!("server.listen {:?} is not an address", server.listen))?,
    };
    if no_auth && !addr.ip().is_loopback() {
        bail!("--no-auth is only allowed on a loopback address, not {addr}");
    }
    let keys = server.keys()?;
    if keys.is_empty() && !no_auth {
        bail!(
            "no API keys configured ([[server.api_keys]] in memory.toml, or server.api_keys_file); pass --no-auth to serve on loopback without keys"
        );
    }
    let worker = if cfg.worker.enabled {
        Some(m.worker(cfg.worker.clone())?)
    } else {
        None
    };
    let state = memory_server::server::AppState::new(m, &keys, no_auth);
    memory_server::server::serve(state, addr, server.max_body_bytes, worker).await
}

/// Runs the background worker alone until Ctrl-C or SIGTERM, for
/// deployments that scale API servers and workers apart.
pub(crate) async fn worker(m: Memory, cfg: &Config) -> Result<()> {
    let w = m.worker(cfg.worker.clone())?;
    eprintln!("memory worker {} running", w.owner());
    let handle = w.spawn();
    memory_server::server::shutdown().await;
    handle.shutdown(std::time::Duration::from_secs(30)).await;
    Ok(())
}

/// Serves the MCP tools on stdin/stdout, every call bound to `tenant` (and
/// `user` if given).
pub(crate) async fn mcp(m: Memory, tenant: &str, user: Option<String>) -> Result<()> {
    let caller = memory_server::server::Caller {
        tenant: tenant.to_owned(),
        user_id: user,
        id: "stdio".into(),
    };
    memory_server::server::mcp::serve_stdio(m, caller).await
}

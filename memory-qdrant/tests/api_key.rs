//! API keys on a Qdrant server of the test's own, started from the binary
//! `scripts/services` uses (`MEMORY_QDRANT_BIN`) with a key set: without
//! the key a request is refused as a configuration error, with it the index
//! works. Skipped, loudly, when there is no Qdrant binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use memory_core::{CollectionSpec, ErrorKind, Metric, VectorIndex, VectorRecord};
use memory_qdrant::QdrantIndex;
use memory_testkit::vector::random_payload;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// The server; killed however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_is_required_and_sent() {
    let Some(bin) = std::env::var_os("MEMORY_QDRANT_BIN") else {
        eprintln!("SKIPPED: MEMORY_QDRANT_BIN is not set, so API keys were not tested on Qdrant");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (http, grpc) = (free_port(), free_port());
    let _server = Server(
        Command::new(bin)
            .arg("--disable-telemetry")
            .current_dir(dir.path())
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__SERVICE__HTTP_PORT", http.to_string())
            .env("QDRANT__SERVICE__GRPC_PORT", grpc.to_string())
            .env("QDRANT__SERVICE__API_KEY", "s3cret-key")
            .env("QDRANT__STORAGE__STORAGE_PATH", dir.path().join("storage"))
            .env(
                "QDRANT__STORAGE__SNAPSHOTS_PATH",
                dir.path().join("snapshots"),
            )
            .env("QDRANT__TELEMETRY_DISABLED", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Qdrant"),
    );
    let url = format!("qdrant://127.0.0.1:{grpc}?timeout_ms=2000");
    let keyed = format!("{url}&api_key=s3cret-key");
    let deadline = Instant::now() + Duration::from_secs(30);
    let index = loop {
        match QdrantIndex::connect(&keyed).await {
            Ok(i) => break i,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("Qdrant with an API key did not come up: {e}"),
        }
    };
    let spec = CollectionSpec {
        name: "keyed".into(),
        dimension: 3,
        metric: Metric::Cosine,
    };
    index.create_collection(&spec).await.unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let record = VectorRecord {
        id: uuid::Uuid::now_v7(),
        vector: vec![1.0, 0.0, 0.0],
        payload: random_payload(&mut rng, "t", 1),
    };
    index.upsert("keyed", &[record]).await.unwrap();
    assert_eq!(index.count("keyed", Some("t")).await.unwrap(), 1);

    // Without the key: refused, as a configuration error.
    let refused = match QdrantIndex::connect(&url).await {
        Err(e) => e,
        Ok(unkeyed) => unkeyed.count("keyed", None).await.unwrap_err(),
    };
    assert_eq!(refused.kind(), ErrorKind::Config, "{refused}");
}

//! `/metrics`: the `metrics` crate's Prometheus exporter. Requests, searches,
//! embeddings and jobs are histograms recorded where they happen (the engine
//! and the worker record through the `metrics` facade); the store's gauges
//! (outbox, job queue) are set when the page is rendered.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Bucket bounds of every latency histogram, in seconds.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's recorder, installed once: every server and engine in the
/// process records into it.
fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder installed first (an embedding program's own)
            // keeps the metrics; this page then shows only the gauges.
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// The exporter of a server.
#[derive(Debug)]
pub struct Metrics {
    handle: Option<&'static PrometheusHandle>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self { handle: handle() }
    }
}

impl Metrics {
    /// Records one request: a count and a latency by route and status.
    pub fn record(&self, route: &str, status: u16, seconds: f64) {
        let labels = [("route", route.to_owned()), ("status", status.to_string())];
        metrics::counter!("memory_requests_total", &labels).increment(1);
        metrics::histogram!("memory_request_seconds", &labels).record(seconds);
    }

    /// The Prometheus exposition, with the store's gauges as of now.
    pub fn render(
        &self,
        short_term_failures: u64,
        outbox_pending: u64,
        jobs: &[memory::JobCounts],
    ) -> String {
        #[allow(clippy::cast_precision_loss)]
        let gauge = |v: u64| v as f64;
        metrics::gauge!("memory_short_term_failures").set(gauge(short_term_failures));
        metrics::gauge!("memory_outbox_pending").set(gauge(outbox_pending));
        for j in jobs {
            for (state, n) in [
                ("queued", j.queued),
                ("running", j.running),
                ("dead", j.dead),
            ] {
                metrics::gauge!("memory_jobs", "kind" => j.kind.clone(), "state" => state)
                    .set(gauge(n));
            }
        }
        self.handle
            .map(PrometheusHandle::render)
            .unwrap_or_default()
    }
}

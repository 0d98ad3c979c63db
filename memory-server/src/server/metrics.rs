//! Request counters, rendered in the Prometheus text format.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Requests by route and status, and their total time.
#[derive(Debug, Default)]
pub struct Metrics {
    counts: Mutex<BTreeMap<(String, u16), (u64, f64)>>,
}

impl Metrics {
    /// Records one request.
    pub fn record(&self, route: &str, status: u16, seconds: f64) {
        if let Ok(mut m) = self.counts.lock() {
            let e = m.entry((route.to_owned(), status)).or_default();
            e.0 += 1;
            e.1 += seconds;
        }
    }

    /// The Prometheus exposition of the counters plus engine gauges.
    pub fn render(
        &self,
        short_term_failures: u64,
        outbox_pending: u64,
        jobs: &[memory::JobCounts],
    ) -> String {
        let mut out = String::from("# TYPE memory_requests_total counter\n");
        let m = self.counts.lock().map(|m| m.clone()).unwrap_or_default();
        for ((route, status), (n, _)) in &m {
            out.push_str(&format!(
                "memory_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}\n"
            ));
        }
        out.push_str("# TYPE memory_request_seconds_sum counter\n");
        for ((route, status), (_, s)) in &m {
            out.push_str(&format!(
                "memory_request_seconds_sum{{route=\"{route}\",status=\"{status}\"}} {s:.6}\n"
            ));
        }
        out.push_str(&format!("# TYPE memory_short_term_failures_total counter\nmemory_short_term_failures_total {short_term_failures}\n"));
        out.push_str(&format!(
            "# TYPE memory_outbox_pending gauge\nmemory_outbox_pending {outbox_pending}\n"
        ));
        out.push_str("# TYPE memory_jobs gauge\n");
        for j in jobs {
            for (state, n) in [
                ("queued", j.queued),
                ("running", j.running),
                ("dead", j.dead),
            ] {
                out.push_str(&format!(
                    "memory_jobs{{kind=\"{}\",state=\"{state}\"}} {n}\n",
                    j.kind
                ));
            }
        }
        out
    }
}

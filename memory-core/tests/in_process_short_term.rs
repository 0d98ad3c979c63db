//! The short-term conformance cases on the in-process tier.

use std::sync::Arc;

use memory_core::InProcessShortTerm;
use memory_testkit::short_term::{run, short_tiers};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_short_term() {
    let st = Arc::new(InProcessShortTerm::default());
    let expiring = Arc::new(InProcessShortTerm::new(short_tiers(), 1000));
    run(st, expiring).await.assert_ok();
}

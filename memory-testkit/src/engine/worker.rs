//! Engine cases on the background worker: the outbox drains by itself once
//! the index is back (without spinning while it is down), and decay and
//! expiry run on their schedules, on a clock the case moves by hand.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use memory_core::{Clock, WorkerConfig};

use super::*;

/// A clock the case moves by hand.
fn manual_clock(start: DateTime<Utc>) -> (Arc<Mutex<DateTime<Utc>>>, Clock) {
    let now = Arc::new(Mutex::new(start));
    let read = now.clone();
    let clock: Clock = Arc::new(move || *read.lock().unwrap());
    (now, clock)
}

/// A worker on `clock` that runs every due schedule in one round.
fn worker(m: &Memory, clock: Clock) -> Result<memory_core::Worker, String> {
    Ok(m.worker(WorkerConfig {
        concurrency: 8,
        ..WorkerConfig::default()
    })
    .or_fail("worker")?
    .with_clock(clock))
}

fn advance(now: &Mutex<DateTime<Utc>>, by: chrono::Duration) {
    let mut t = now.lock().unwrap();
    *t += by;
}

pub(super) async fn worker_drains_the_outbox_after_an_outage(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let (now, clock) = manual_clock(memory_core::now());
    let w = worker(m, clock)?;
    r.flaky.set_down(true);
    for i in 0..5 {
        m.add(AddRequest::new(
            r.scope.clone(),
            format!("queued while down {i}"),
        ))
        .await
        .or_fail("add while down")?;
    }
    // The index answers again but nothing drained yet: check counts the
    // queued vectors as missing.
    r.flaky.set_down(false);
    let report = m.check(false).await.or_fail("check")?;
    ensure!(
        report.missing_vectors.len() == 5 && report.pending == 5 && !report.is_consistent(),
        "check does not count queued vectors as missing: {report:?}"
    );
    r.flaky.set_down(true);
    // While the index is down the outbox job backs off instead of spinning.
    let mut waits = Vec::new();
    for _ in 0..4 {
        w.tick().await.or_fail("tick while down")?;
        let outbox = m
            .jobs(None, false, 100)
            .await
            .or_fail("jobs")?
            .into_iter()
            .find(|j| j.kind == memory_core::worker::OUTBOX)
            .ok_or_else(|| "no outbox job".to_owned())?;
        waits.push((outbox.due_at - *now.lock().unwrap()).num_milliseconds());
        let wait = outbox.due_at - *now.lock().unwrap();
        advance(&now, wait);
    }
    ensure!(
        waits.windows(2).all(|p| p[1] >= p[0]) && waits[3] > waits[0],
        "the outbox job does not back off while the index is down: {waits:?}"
    );
    r.flaky.set_down(false);
    advance(&now, chrono::Duration::seconds(60));
    w.tick().await.or_fail("tick after recovery")?;
    let report = m.check(false).await.or_fail("check after")?;
    ensure!(
        report.is_consistent() && report.pending == 0,
        "the outbox did not drain by itself: {report:?}"
    );
    let hits = m
        .search(SearchRequest::new(r.scope.clone(), "queued while down").mode(SearchMode::Semantic))
        .await
        .or_fail("search")?;
    ensure!(
        hits.hits.len() == 5,
        "semantic search misses drained memories: {}",
        hits.hits.len()
    );
    Ok(())
}

pub(super) async fn worker_runs_decay_and_expiry_on_schedule(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let start = memory_core::now();
    let (now, clock) = manual_clock(start);
    let w = worker(m, clock)?;
    let expiring = m
        .add(AddRequest {
            expires_at: Some(start + chrono::Duration::minutes(90)),
            ..AddRequest::new(r.scope.clone(), "a coupon that expires soon")
        })
        .await
        .or_fail("add expiring")?;
    let lasting = m
        .add(AddRequest::new(r.scope.clone(), "a fact that stays").importance(8.0))
        .await
        .or_fail("add lasting")?;
    // The first round runs every schedule once; nothing has expired yet.
    w.tick().await.or_fail("first tick")?;
    w.tick().await.or_fail("second tick")?;
    ensure!(
        m.get(&r.scope.tenant, expiring.id).await.is_ok(),
        "expired too early"
    );
    // Two hours on: the hourly expiry removes it; decay waits for its day.
    advance(&now, chrono::Duration::hours(2));
    w.tick().await.or_fail("tick +2h")?;
    w.tick().await.or_fail("tick +2h again")?;
    ensure!(
        m.get(&r.scope.tenant, expiring.id).await.is_err(),
        "expiry did not run on schedule"
    );
    let kept = m
        .get(&r.scope.tenant, lasting.id)
        .await
        .or_fail("get lasting")?;
    ensure!(
        (kept.importance - 8.0).abs() < 1e-3,
        "decay ran before its interval: {}",
        kept.importance
    );
    // Sixty days on: the daily decay lowers importance (half-life 30 days).
    advance(&now, chrono::Duration::days(60));
    w.tick().await.or_fail("tick +60d")?;
    w.tick().await.or_fail("tick +60d again")?;
    let decayed = m.find(&r.scope.tenant, lasting.id).await.or_fail("find")?;
    ensure!(
        decayed.is_some_and(|d| d.importance < 2.5),
        "decay did not run on schedule"
    );
    Ok(())
}

/// Each kind's work run twice — its worker died after the work, before
/// completing, and another ran it again — has the effect of running once.
pub(super) async fn job_handlers_are_idempotent(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let t0 = memory_core::now();
    r.flaky.set_down(true);
    let expiring = m
        .add(AddRequest {
            expires_at: Some(t0 + chrono::Duration::minutes(5)),
            ..AddRequest::new(r.scope.clone(), "an offer that ends today")
        })
        .await
        .or_fail("add expiring")?;
    m.add(AddRequest::new(r.scope.clone(), "a fact that decays").importance(9.0))
        .await
        .or_fail("add")?;
    r.flaky.set_down(false);
    let history = |id| async move { m.history(&r.scope.tenant, id).await.map(|h| h.len()) };
    // outbox
    let first = m.sync(true).await.or_fail("sync")?;
    let second = m.sync(true).await.or_fail("sync again")?;
    ensure!(
        first.upserted == 2 && second.upserted == 0 && second.failed == 0,
        "outbox twice: {first:?} then {second:?}"
    );
    // expire
    let later = t0 + chrono::Duration::hours(1);
    let first = m.expire(later).await.or_fail("expire")?;
    let second = m.expire(later).await.or_fail("expire again")?;
    ensure!(
        first.expired == 1 && second.expired == 0,
        "expire twice: {first:?} then {second:?}"
    );
    ensure!(
        history(expiring.id).await.or_fail("history")? == 2,
        "expiry wrote history twice"
    );
    // decay: the second run at the same time changes nothing.
    let month = t0 + chrono::Duration::days(30);
    let first = m.decay(month).await.or_fail("decay")?;
    let second = m.decay(month).await.or_fail("decay again")?;
    ensure!(
        first.decayed == 1 && second.decayed == 0 && second.pruned == 0,
        "decay twice: {first:?} then {second:?}"
    );
    // short-term cleanup
    m.cleanup_short_term().await.or_fail("cleanup")?;
    let again = m.cleanup_short_term().await.or_fail("cleanup again")?;
    ensure!(again == 0, "a second cleanup removed {again} sessions");
    let check = m.check(false).await.or_fail("check")?;
    ensure!(check.is_consistent(), "after the jobs: {check:?}");
    Ok(())
}

/// A worker shut down gracefully holds nothing afterwards: its jobs are
/// finished or released for another worker at once, not after a lease.
pub(super) async fn worker_shutdown_releases_its_jobs(b: &Backends) -> CaseResult {
    let r = rig(b, EngineConfig::default()).await?;
    let m = &r.memory;
    let w = m.worker(WorkerConfig::default()).or_fail("worker")?;
    let owner = w.owner().to_owned();
    let handle = w.spawn();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while m.jobs(None, false, 100).await.or_fail("jobs")?.is_empty() {
        ensure!(
            std::time::Instant::now() < deadline,
            "the worker never enqueued its schedules"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    handle.shutdown(std::time::Duration::from_secs(10)).await;
    let held: Vec<_> = m
        .jobs(None, false, 100)
        .await
        .or_fail("jobs after")?
        .into_iter()
        .filter(|j| j.lease_owner.as_deref() == Some(owner.as_str()))
        .collect();
    ensure!(
        held.is_empty(),
        "jobs still leased after shutdown: {held:?}"
    );
    Ok(())
}

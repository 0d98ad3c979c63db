//! Store cases on the job queue: keys, leases, retries, dead letters,
//! release, jobs written with a change set, and claims that never overlap.

use std::collections::HashSet;
use std::time::Duration;

use memory_core::{JobRetry, NewJob};

use super::*;

const LEASE: Duration = Duration::from_secs(30);

fn job(kind: &str, due: chrono::DateTime<chrono::Utc>) -> NewJob {
    NewJob::new(kind, "t", due).payload(serde_json::json!({ "n": 1 }))
}

pub(super) async fn jobs_lease_retry_and_dead_letters(store: &Arc<dyn Store>) -> CaseResult {
    let kind = unique("kind");
    let t0 = now();
    let key = unique("key");
    store
        .enqueue(&[job(&kind, t0).keyed(&key), job(&kind, t0).keyed(&key)])
        .await
        .or_fail("enqueue keyed")?;
    store
        .enqueue(&[job(&kind, t0 + chrono::Duration::hours(1))])
        .await
        .or_fail("enqueue later")?;
    let mine = |jobs: Vec<memory_core::Job>| -> Vec<memory_core::Job> {
        jobs.into_iter().filter(|j| j.kind == kind).collect()
    };
    let a = mine(store.claim("a", 100, LEASE, t0).await.or_fail("claim a")?);
    ensure!(a.len() == 1, "one live job per key and none early: {a:?}");
    ensure!(
        a[0].attempts == 1 && a[0].lease_owner.as_deref() == Some("a") && a[0].payload["n"] == 1,
        "claimed job: {:?}",
        a[0]
    );
    let b = mine(store.claim("b", 100, LEASE, t0).await.or_fail("claim b")?);
    ensure!(b.is_empty(), "a leased job was claimed twice: {b:?}");
    // a dies; after its lease b takes the job over, and a can no longer finish it.
    let later = t0 + chrono::Duration::seconds(31);
    let b = mine(
        store
            .claim("b", 100, LEASE, later)
            .await
            .or_fail("claim b later")?,
    );
    ensure!(
        b.len() == 1 && b[0].id == a[0].id && b[0].attempts == 2,
        "takeover: {b:?}"
    );
    ensure!(
        !store
            .complete(a[0].id, "a", None)
            .await
            .or_fail("complete a")?,
        "a worker that lost its lease completed the job"
    );
    // b fails it; it is due again only at the retry time.
    let retry_at = later + chrono::Duration::seconds(10);
    store
        .fail(b[0].id, "b", "boom", JobRetry::At(retry_at), later)
        .await
        .or_fail("fail")?;
    let early = mine(
        store
            .claim("c", 100, LEASE, later)
            .await
            .or_fail("claim early")?,
    );
    ensure!(early.is_empty(), "a failed job ran before its retry time");
    let c = mine(
        store
            .claim("c", 100, LEASE, retry_at)
            .await
            .or_fail("claim retry")?,
    );
    ensure!(
        c.len() == 1 && c[0].last_error.as_deref() == Some("boom"),
        "retried job: {c:?}"
    );
    // Dead-lettered: kept with its error, counted, retried, purged.
    store
        .fail(c[0].id, "c", "boom again", JobRetry::Dead, retry_at)
        .await
        .or_fail("dead")?;
    let dead = mine(
        store
            .list_jobs(None, true, 1000)
            .await
            .or_fail("list dead")?,
    );
    ensure!(
        dead.len() == 1 && dead[0].dead && dead[0].finished_at.is_some(),
        "dead letters: {dead:?}"
    );
    let counts = store.job_counts(retry_at).await.or_fail("counts")?;
    let mine_counts = counts.iter().find(|c| c.kind == kind);
    ensure!(
        mine_counts.is_some_and(|c| c.dead == 1 && c.queued == 1 && c.running == 0),
        "counts: {counts:?}"
    );
    // The key is free while its job is dead: a new live job may take it.
    store
        .enqueue(&[job(&kind, retry_at).keyed(&key)])
        .await
        .or_fail("re-enqueue key")?;
    ensure!(
        store
            .retry_dead(&[dead[0].id], retry_at)
            .await
            .or_fail("retry")?
            == 0,
        "a dead job was revived while its key is live again"
    );
    ensure!(
        store.purge_dead(&[dead[0].id]).await.or_fail("purge")? == 1,
        "purge"
    );
    // A released job is due again at once, its attempt not counted.
    let d = mine(
        store
            .claim("d", 100, LEASE, retry_at)
            .await
            .or_fail("claim d")?,
    );
    ensure!(d.len() == 1, "re-enqueued keyed job: {d:?}");
    ensure!(store.release("d").await.or_fail("release")? >= 1, "release");
    let e = mine(
        store
            .claim("e", 100, LEASE, retry_at)
            .await
            .or_fail("claim e")?,
    );
    ensure!(e.len() == 1 && e[0].attempts == 1, "released job: {e:?}");
    // Completing enqueues the next run in the same step.
    let next = job(&kind, retry_at + chrono::Duration::hours(2)).keyed(&key);
    ensure!(
        store
            .complete(e[0].id, "e", Some(next))
            .await
            .or_fail("complete")?,
        "complete by the holder"
    );
    let waiting = mine(store.list_jobs(None, false, 1000).await.or_fail("list")?);
    ensure!(
        waiting.len() == 2
            && waiting
                .iter()
                .any(|j| j.key.as_deref() == Some(key.as_str())),
        "after completion: {waiting:?}"
    );
    Ok(())
}

pub(super) async fn jobs_ride_with_their_write(store: &Arc<dyn Store>) -> CaseResult {
    let s = scope();
    let kind = unique("kind");
    let rec = record(&s, "a write that causes a job");
    let mut changes = insert(std::slice::from_ref(&rec));
    changes.jobs.push(job(&kind, now()));
    store.apply(changes.clone()).await.or_fail("apply")?;
    // The same insert again conflicts: its job must not appear either.
    let mut again = changes;
    again.jobs = vec![job(&kind, now()).payload(serde_json::json!({ "n": 2 }))];
    ensure!(
        store.apply(again).await.is_err(),
        "a duplicate insert succeeded"
    );
    let jobs: Vec<_> = store
        .list_jobs(None, false, 1000)
        .await
        .or_fail("list")?
        .into_iter()
        .filter(|j| j.kind == kind)
        .collect();
    ensure!(
        jobs.len() == 1 && jobs[0].payload["n"] == 1,
        "jobs of the write: {jobs:?}"
    );
    Ok(())
}

pub(super) async fn concurrent_claims_never_overlap(store: &Arc<dyn Store>) -> CaseResult {
    let kind = unique("kind");
    let t = now();
    let jobs: Vec<NewJob> = (0..1000).map(|_| job(&kind, t)).collect();
    store.enqueue(&jobs).await.or_fail("enqueue")?;
    let claimer = |owner: &'static str| {
        let store = store.clone();
        let kind = kind.clone();
        tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = store.claim(owner, 7, LEASE, t).await.or_fail("claim")?;
                if batch.is_empty() {
                    return Ok::<_, String>(got);
                }
                for j in batch {
                    if j.kind == kind {
                        got.push(j.id);
                    }
                    store
                        .complete(j.id, owner, None)
                        .await
                        .or_fail("complete")?;
                }
            }
        })
    };
    let (a, b) = (claimer("w1"), claimer("w2"));
    let a = a.await.or_fail("join")??;
    let b = b.await.or_fail("join")??;
    let all: HashSet<Uuid> = a.iter().chain(&b).copied().collect();
    ensure!(
        all.len() == a.len() + b.len(),
        "a job was claimed by both workers"
    );
    ensure!(all.len() == 1000, "claimed {} of 1000 jobs", all.len());
    Ok(())
}

pub(super) async fn message_inserts_trigger_their_job(store: &Arc<dyn Store>) -> CaseResult {
    let tenant = unique("t");
    let sid = unique("s");
    store
        .upsert_session(&session(&tenant, &sid))
        .await
        .or_fail("session")?;
    let kind = unique("kind");
    let trigger = memory_core::ExtractTrigger {
        job: NewJob::new(&kind, &tenant, now())
            .keyed(format!("{kind}:{sid}"))
            .payload(serde_json::json!({ "session_id": sid })),
        threshold: 3,
        always: vec![
            NewJob::new(format!("{kind}-always"), &tenant, now())
                .keyed(format!("{kind}-always:{sid}")),
        ],
    };
    let mine = |jobs: Vec<memory_core::Job>| jobs.into_iter().filter(|j| j.kind == kind).count();
    let always = format!("{kind}-always");
    for i in 0..4 {
        store
            .insert_messages_triggering(
                &[message(&tenant, &sid, "u", &format!("line {i}"))],
                &trigger,
            )
            .await
            .or_fail("insert")?;
        let listed = store.list_jobs(None, false, 1000).await.or_fail("list")?;
        let keyed = listed.iter().filter(|j| j.kind == always).count();
        ensure!(
            keyed == 1,
            "after {} messages: {keyed} unconditional jobs, want 1",
            i + 1
        );
        let jobs = mine(listed);
        let want = usize::from(i >= 2);
        ensure!(
            jobs == want,
            "after {} messages: {jobs} jobs, want {want}",
            i + 1
        );
    }
    // A message that cannot be stored (no such session) enqueues nothing.
    let other_kind = unique("kind");
    let orphan = memory_core::ExtractTrigger {
        job: NewJob::new(&other_kind, &tenant, now())
            .payload(serde_json::json!({ "session_id": "missing" })),
        threshold: 0,
        always: vec![NewJob::new(&other_kind, &tenant, now())],
    };
    ensure!(
        store
            .insert_messages_triggering(&[message(&tenant, "missing", "u", "x")], &orphan)
            .await
            .is_err(),
        "a message of a missing session was stored"
    );
    let jobs = store.list_jobs(None, false, 1000).await.or_fail("list")?;
    ensure!(
        !jobs.iter().any(|j| j.kind == other_kind),
        "a failed insert enqueued its job"
    );
    Ok(())
}

//! What starts an extraction besides a full batch: the end of a session, a
//! session gone quiet, and turning extraction off or on for one session.

use chrono::{DateTime, Utc};

use super::{ExtractReport, extract_job};
use crate::traits::{Job, NewJob};
use crate::{Error, ErrorKind, Memory, Metadata, Result, Session};

impl Memory {
    /// Ends a session: records when, and queues the extraction of its
    /// remaining messages (which also writes its final summary) when
    /// extraction runs for it. Ending an ended session changes nothing.
    pub async fn end_session(&self, tenant: &str, session_id: &str) -> Result<Session> {
        let store = &self.inner.store;
        let mut session = store
            .get_session(tenant, session_id)
            .await?
            .ok_or_else(|| Error::not_found(format!("session {session_id:?} not found")))?;
        if session.ended_at.is_some() {
            return Ok(session);
        }
        let now = crate::now();
        session.ended_at = Some(now);
        store.upsert_session(&session).await?;
        if self.extractor(tenant, session_id).await.is_ok()
            && store.count_unextracted(tenant, session_id).await? > 0
        {
            store
                .enqueue(&[extract_job(tenant, session_id, now, true)])
                .await?;
        }
        Ok(session)
    }

    /// Turns extraction off (or back on) for one session; recording its
    /// messages goes on, and they are left unextracted while it is off.
    pub async fn set_session_extraction(
        &self,
        tenant: &str,
        session_id: &str,
        enabled: bool,
    ) -> Result<Session> {
        crate::types::validate_id("session_id", session_id)?;
        let store = &self.inner.store;
        let mut session = match store.get_session(tenant, session_id).await? {
            Some(s) => s,
            None => Session {
                id: session_id.to_owned(),
                tenant: tenant.to_owned(),
                user_id: None,
                agent_id: None,
                title: None,
                platform: None,
                external_id: None,
                started_at: crate::now(),
                ended_at: None,
                metadata: Metadata::new(),
            },
        };
        session.metadata.insert("extract".into(), enabled.into());
        store.upsert_session(&session).await?;
        Ok(session)
    }

    /// Runs an extraction job: one batch, or with `drain` every remaining
    /// message. A spent budget or a model's rate limit postpones the job to
    /// when it may run again rather than failing it; a session whose
    /// extraction was turned off since is left alone. Answers the job's
    /// follow-up, if any.
    pub(crate) async fn run_extract_job(
        &self,
        job: &Job,
        now: DateTime<Utc>,
    ) -> Result<Option<NewJob>> {
        let session = session_of(job)?;
        let drain = job.payload["drain"].as_bool().unwrap_or(false);
        if self.extraction_off(&job.tenant, session).await?.is_some() {
            return Ok(None);
        }
        match self.extract_with(self.model()?, &job.tenant, session).await {
            Ok(ExtractReport { messages: 0, .. }) => return Ok(None),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::RateLimited => {
                let wait = e
                    .retry_after()
                    .unwrap_or(std::time::Duration::from_secs(60));
                let due =
                    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::minutes(1));
                tracing::info!(tenant = %job.tenant, session, error = %e, "extraction postponed");
                return Ok(Some(extract_job(&job.tenant, session, due, drain)));
            }
            Err(e) => return Err(e),
        }
        let left = self
            .inner
            .store
            .count_unextracted(&job.tenant, session)
            .await?;
        let full = left >= self.inner.config.extract_batch as u64;
        Ok((left > 0 && (full || drain)).then(|| extract_job(&job.tenant, session, now, drain)))
    }

    /// Runs an idle check: a session quiet for `idle_secs` gets its
    /// remaining messages extracted; one still talking is checked again
    /// `idle_secs` after its newest message.
    pub(crate) async fn run_idle_job(
        &self,
        job: &Job,
        now: DateTime<Utc>,
    ) -> Result<Option<NewJob>> {
        let session = session_of(job)?;
        let idle = chrono::Duration::seconds(
            i64::try_from(self.inner.config.extraction.idle_secs).unwrap_or(i64::MAX),
        );
        let store = &self.inner.store;
        if store.count_unextracted(&job.tenant, session).await? == 0 {
            return Ok(None);
        }
        let newest = store.recent_messages(&job.tenant, session, 1).await?;
        let quiet_since = newest.last().map_or(now, |m| m.created_at);
        if now - quiet_since < idle {
            return Ok(Some(super::idle_job(
                &job.tenant,
                session,
                quiet_since + idle,
            )));
        }
        store
            .enqueue(&[extract_job(&job.tenant, session, now, true)])
            .await?;
        Ok(None)
    }
}

fn session_of(job: &Job) -> Result<&str> {
    job.payload["session_id"].as_str().ok_or_else(|| {
        Error::invalid(format!(
            "{} job without a session_id in its payload",
            job.kind
        ))
    })
}

//! `memory eval --ingest messages`: the turns recorded as messages, dated by
//! their session, and memories extracted from them by the configured
//! language model; a memory covers the turns it names as its sources.

use std::collections::{HashMap, HashSet};

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, NaiveDateTime, Utc};
use memory::{Memory, RecordMessage, Scope, Validity};
use uuid::Uuid;

use super::Turn;

/// LoCoMo's session dates: `1:56 pm on 8 May, 2023`.
pub(super) fn session_date(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text.trim(), "%I:%M %P on %d %B, %Y")
        .ok()
        .map(|d| d.and_utc())
}

/// Records one sample's turns as messages of `user` (one session per
/// conversation session), extracts every session and answers each extracted
/// memory's id with the dia ids of its source messages.
pub(super) async fn ingest(
    m: &Memory,
    tenant: &str,
    user: &str,
    turns: &[(u32, String, Turn)],
) -> Result<HashMap<Uuid, Vec<String>>> {
    if m.status()["language_model"].is_null() {
        bail!(
            "--ingest messages: no language model is configured to extract memories (set language_model, or MEMORY_LANGUAGE_MODEL=openai:MODEL)"
        );
    }
    let mut dia_of: HashMap<Uuid, String> = HashMap::new();
    let mut sessions: Vec<String> = Vec::new();
    for (i, (n, date, t)) in turns.iter().enumerate() {
        let session = format!("{user}-s{n}");
        let mut r = RecordMessage::user(session.clone(), user, t.text.clone());
        r.tenant = tenant.to_owned();
        r.author_name = Some(t.speaker.clone());
        r.remember = Some(false);
        // Turns keep their order within the session's minute.
        r.created_at = session_date(date)
            .map(|d| d + chrono::Duration::milliseconds(i64::try_from(i).unwrap_or(0)));
        if let Some(c) = &t.blip_caption {
            r.metadata.insert("shared".into(), c.clone().into());
        }
        let o = m.record_message(r).await?;
        dia_of.insert(o.message.id, t.dia_id.clone());
        if sessions.last() != Some(&session) {
            sessions.push(session);
        }
    }
    for s in &sessions {
        // One batch of unextracted messages per call.
        while m.extract_session(tenant, s).await?.messages > 0 {}
    }
    let scope = Scope::user(user).with_tenant(tenant.to_owned());
    let mut out = HashMap::new();
    let mut cursor = None;
    loop {
        let page = m
            .list(&scope, None, Validity::Current, 100, cursor)
            .await
            .context("listing the extracted memories")?;
        for r in page.items {
            let turns: HashSet<&String> = r
                .source_message_ids
                .iter()
                .filter_map(|id| dia_of.get(id))
                .collect();
            out.insert(r.id, turns.into_iter().cloned().collect());
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locomo_dates_parse() {
        let d = session_date("1:56 pm on 8 May, 2023").map(|d| d.to_rfc3339());
        assert_eq!(d.as_deref(), Some("2023-05-08T13:56:00+00:00"));
        assert!(session_date("yesterday").is_none());
    }
}

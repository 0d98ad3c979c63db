//! JSONL import: lines of `memory export` (restored exactly), memories, or
//! messages to record (lines with a "role").

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use memory::{AddRequest, HistoryEvent, Memory, RecordMessage, StoredMemory};

use crate::output::Out;

pub(crate) async fn run(
    m: &Memory,
    tenant: &str,
    file: &Path,
    batch: usize,
    out: &Out,
) -> Result<()> {
    if batch == 0 || batch > m.config().max_batch {
        bail!("--batch must be within 1 and {}", m.config().max_batch);
    }
    let reader: Box<dyn BufRead> = if file == Path::new("-") {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
        ))
    };
    let bar = if out.json || file == Path::new("-") {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} lines {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let (mut memories, mut messages, mut added, mut unchanged, mut merged) =
        (Vec::new(), 0u64, 0u64, 0u64, 0u64);
    let (mut exported, mut restored) = (Vec::new(), 0u64);
    let (mut conversations, mut restored_messages) = (Vec::new(), 0u64);
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading line {}", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let mut value: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("line {}: not JSON", n + 1))?;
        let obj = value
            .as_object_mut()
            .with_context(|| format!("line {}: not a JSON object", n + 1))?;
        if matches!(
            obj.get("type").and_then(|t| t.as_str()),
            Some("user" | "session" | "message")
        ) {
            let item: crate::conversations::Item =
                serde_json::from_value(value).with_context(|| {
                    format!("line {}: not an exported user, session or message", n + 1)
                })?;
            conversations.push(item);
            if conversations.len() >= batch {
                let c = crate::conversations::write(
                    m.store().as_ref(),
                    std::mem::take(&mut conversations),
                )
                .await
                .with_context(|| format!("line {}", n + 1))?;
                restored_messages += c.messages;
            }
            bar.set_position((n + 1) as u64);
            continue;
        }
        if obj.get("type").and_then(|t| t.as_str()) == Some("memory") {
            // Conversations come first in an export; memories may name their messages.
            if !conversations.is_empty() {
                let c = crate::conversations::write(
                    m.store().as_ref(),
                    std::mem::take(&mut conversations),
                )
                .await?;
                restored_messages += c.messages;
            }
            // A line of `memory export`: restored exactly, ids and history included.
            let memory = obj
                .remove("memory")
                .with_context(|| format!("line {}: exported line without \"memory\"", n + 1))?;
            let stored: StoredMemory = serde_json::from_value(memory)
                .with_context(|| format!("line {}: not an exported memory", n + 1))?;
            let history: Vec<HistoryEvent> = obj
                .remove("history")
                .map(serde_json::from_value)
                .transpose()
                .with_context(|| format!("line {}: history", n + 1))?
                .unwrap_or_default();
            exported.push((stored, history));
            if exported.len() >= batch {
                let (w, s) = crate::migrate::restore(
                    m.store().as_ref(),
                    std::mem::take(&mut exported),
                    false,
                    false,
                )
                .await?;
                restored += w;
                unchanged += s;
            }
            bar.set_position((n + 1) as u64);
            continue;
        }
        obj.entry("tenant").or_insert_with(|| tenant.into());
        if obj.contains_key("role") {
            let msg: RecordMessage = serde_json::from_value(value)
                .with_context(|| format!("line {}: not a message", n + 1))?;
            m.record_message(msg)
                .await
                .with_context(|| format!("line {}", n + 1))?;
            messages += 1;
        } else {
            let req: AddRequest = serde_json::from_value(value)
                .with_context(|| format!("line {}: not a memory", n + 1))?;
            memories.push((n + 1, req));
        }
        if memories.len() >= batch {
            flush(m, &mut memories, (&mut added, &mut unchanged, &mut merged)).await?;
        }
        bar.set_position((n + 1) as u64);
    }
    flush(m, &mut memories, (&mut added, &mut unchanged, &mut merged)).await?;
    if !conversations.is_empty() {
        restored_messages += crate::conversations::write(m.store().as_ref(), conversations)
            .await?
            .messages;
    }
    if !exported.is_empty() {
        let (w, s) = crate::migrate::restore(m.store().as_ref(), exported, false, false).await?;
        restored += w;
        unchanged += s;
    }
    if restored > 0 {
        m.sync(true).await?;
    }
    bar.finish_and_clear();
    out.value(&serde_json::json!({ "added": added, "unchanged": unchanged, "merged": merged, "restored": restored, "messages": messages, "restored_messages": restored_messages }))
}

async fn flush(
    m: &Memory,
    pending: &mut Vec<(usize, AddRequest)>,
    counts: (&mut u64, &mut u64, &mut u64),
) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let first = pending[0].0;
    let reqs: Vec<AddRequest> = pending.drain(..).map(|(_, r)| r).collect();
    let outcomes = m
        .add_batch(reqs)
        .await
        .with_context(|| format!("batch starting at line {first}"))?;
    for o in outcomes {
        match o.event {
            memory::AddEvent::Added => *counts.0 += 1,
            memory::AddEvent::Unchanged => *counts.1 += 1,
            memory::AddEvent::Merged => *counts.2 += 1,
        }
    }
    Ok(())
}

//! `memory export`: everything of a tenant as JSONL — users, sessions,
//! messages, then memories with ids, history and optionally vectors — in the
//! form `memory import` restores exactly.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use memory::Memory;

use crate::output::Out;

pub(crate) async fn run(
    m: &Memory,
    tenant: &str,
    file: &Path,
    vectors: bool,
    out: &Out,
) -> Result<()> {
    let mut sink: Box<dyn Write> = if file == Path::new("-") {
        Box::new(std::io::BufWriter::new(std::io::stdout()))
    } else {
        Box::new(std::io::BufWriter::new(
            std::fs::File::create(file).with_context(|| format!("creating {}", file.display()))?,
        ))
    };
    let bar = if out.json || file == Path::new("-") {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} lines written {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    // Users and sessions first: messages refer to their sessions.
    let conversations =
        crate::conversations::scan(m.store().as_ref(), Some(tenant), 500, async |items| {
            for item in items {
                writeln!(sink, "{}", serde_json::to_string(&item)?)?;
                bar.inc(1);
            }
            Ok(())
        })
        .await?;
    let (mut after, mut n) = (None, 0u64);
    loop {
        let page = m.store().scan_memories(after, 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.record.id);
        for mut stored in page.into_iter().filter(|s| s.record.scope.tenant == tenant) {
            if !vectors {
                stored.embedding = None;
            }
            let history = m.history(tenant, stored.record.id).await?;
            let line =
                serde_json::json!({ "type": "memory", "memory": stored, "history": history });
            writeln!(sink, "{line}")?;
            bar.inc(1);
            n += 1;
        }
    }
    sink.flush()?;
    bar.finish_and_clear();
    if file != Path::new("-") {
        out.value(&serde_json::json!({
            "exported": n,
            "users": conversations.users,
            "sessions": conversations.sessions,
            "messages": conversations.messages,
            "file": file.display().to_string(),
            "vectors": vectors,
        }))?;
    }
    Ok(())
}

//! `memory export`: every memory of a tenant as JSONL, with ids, history and
//! optionally vectors, in the form `memory import` restores exactly.

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
            n += 1;
        }
    }
    sink.flush()?;
    if file != Path::new("-") {
        out.value(&serde_json::json!({ "exported": n, "file": file.display().to_string(), "vectors": vectors }))?;
    }
    Ok(())
}

//! `memory import`: JSON lines from a file or stdin through
//! [`memory::Memory::importer`].

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, Result};
use memory::Memory;

use super::output::Out;

pub(crate) async fn run(
    m: &Memory,
    tenant: &str,
    file: &Path,
    batch: usize,
    out: &Out,
) -> Result<()> {
    let mut importer = m.importer(tenant, batch).context("--batch")?;
    let from_stdin = file == Path::new("-");
    let reader: Box<dyn BufRead> = if from_stdin {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
        ))
    };
    let bar = super::output::spinner(out.json || from_stdin, "{spinner} {pos} lines {msg}");
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading line {}", i + 1))?;
        importer.push(i + 1, &line).await?;
        bar.set_position((i + 1) as u64);
    }
    let report = importer.finish().await?;
    bar.finish_and_clear();
    out.value(&report)
}

//! `memory export`: [`memory::Memory::export`] written to a file or stdout.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use memory::{Error, Memory};

use super::output::Out;

pub(crate) async fn run(
    m: &Memory,
    tenant: &str,
    file: &Path,
    vectors: bool,
    out: &Out,
) -> Result<()> {
    let to_stdout = file == Path::new("-");
    let mut sink: Box<dyn Write> = if to_stdout {
        Box::new(std::io::BufWriter::new(std::io::stdout()))
    } else {
        Box::new(std::io::BufWriter::new(
            std::fs::File::create(file).with_context(|| format!("creating {}", file.display()))?,
        ))
    };
    let bar = super::output::spinner(out.json || to_stdout, "{spinner} {pos} lines written {msg}");
    let report = m
        .export(tenant, vectors, async |line| {
            writeln!(sink, "{line}")
                .map_err(|e| Error::internal(format!("writing {}: {e}", file.display())))?;
            bar.inc(1);
            Ok(())
        })
        .await?;
    sink.flush()?;
    bar.finish_and_clear();
    if !to_stdout {
        let mut shown = serde_json::to_value(report)?;
        shown["file"] = file.display().to_string().into();
        out.value(&shown)?;
    }
    Ok(())
}

//! `memory migrate`: opens the source store and the target engine from
//! their URLs and runs [`memory::Memory::migrate_from`] with a progress bar.

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use memory::{Config, MigrateOptions, MigrateReport};
use serde::Serialize;

use super::output::Out;

/// Copy every memory (ids, embeddings, history) to another store, resumably,
/// then verify counts and checksums.
#[derive(clap::Args, Debug)]
pub(crate) struct MigrateArgs {
    /// Source store URL.
    #[arg(long)]
    from: String,
    /// Target store URL.
    #[arg(long)]
    to: String,
    /// Target vector index URL (e.g. chroma://host:8000); default: the
    /// target store's own.
    #[arg(long)]
    vectors: Option<String>,
    /// Report what would be copied without writing.
    #[arg(long)]
    dry_run: bool,
    /// Re-embed with the configured embedder instead of copying vectors.
    #[arg(long)]
    re_embed: bool,
    /// Memories per batch.
    #[arg(long, default_value_t = 500)]
    batch: usize,
}

/// The report with the URLs it ran between.
#[derive(Serialize)]
struct Shown<'a> {
    source: String,
    target: String,
    #[serde(flatten)]
    report: &'a MigrateReport,
}

pub(crate) async fn run(base: Config, plan: &MigrateArgs, out: &Out) -> Result<()> {
    let options = MigrateOptions {
        dry_run: plan.dry_run,
        re_embed: plan.re_embed,
        batch: plan.batch,
    };
    if plan.from == plan.to {
        bail!("--from and --to are the same store");
    }
    let source = memory::open_store_url(&plan.from).await?;
    let target = memory::open(&Config {
        store: plan.to.clone().into(),
        vectors: plan.vectors.clone().map(memory::Urls::One),
        ..base
    })
    .await?;
    let bar = if out.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} memories {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = target
        .migrate_from(source.as_ref(), options, |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await?;
    bar.finish_and_clear();
    out.value(&Shown {
        source: memory::redact(&plan.from),
        target: memory::redact(&plan.to),
        report: &report,
    })?;
    if !options.dry_run && !report.verified {
        bail!(
            "verification failed: the target differs from the source (counts {} / {})",
            report.source_count,
            report.target_count
        );
    }
    Ok(())
}

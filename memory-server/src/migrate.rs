//! `memory migrate`: opens the source store and the target engine from
//! their URLs and runs [`memory::Memory::migrate_from`] with a progress bar.

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use memory::{Config, MigrateOptions, MigrateReport};
use serde::Serialize;

use crate::output::Out;

/// What to copy where.
pub(crate) struct Plan {
    pub(crate) from: String,
    pub(crate) to: String,
    /// The target's vector index, if not the target store's own.
    pub(crate) vectors: Option<String>,
    pub(crate) options: MigrateOptions,
}

/// The report with the URLs it ran between.
#[derive(Serialize)]
struct Shown<'a> {
    source: String,
    target: String,
    #[serde(flatten)]
    report: &'a MigrateReport,
}

pub(crate) async fn run(base: Config, plan: &Plan, out: &Out) -> Result<()> {
    if plan.from == plan.to {
        bail!("--from and --to are the same store");
    }
    let source = memory::open_store_url(&plan.from).await?;
    let target = memory::open(&Config {
        store: plan.to.clone(),
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
        .migrate_from(source.as_ref(), plan.options, |done, total| {
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
    if !plan.options.dry_run && !report.verified {
        bail!(
            "verification failed: the target differs from the source (counts {} / {})",
            report.source_count,
            report.target_count
        );
    }
    Ok(())
}

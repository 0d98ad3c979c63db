//! `memory migrate`: opens the source store and the target engine from
//! their URLs and runs [`memory::Memory::migrate_from`] with a progress bar.

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use memory::{Config, MigrateOptions, MigrateReport};
use serde::Serialize;

use super::output::Out;

/// Copy every memory (ids, embeddings, history) to another store, resumably,
/// then verify counts and checksums; or import a collection another program
/// wrote (`--from chroma://host:port/COLLECTION`).
#[derive(clap::Args, Debug)]
pub(crate) struct MigrateArgs {
    /// Source store URL, or a foreign collection (chroma://host:port/COLLECTION).
    #[arg(long)]
    pub(super) from: String,
    /// Target store URL.
    #[arg(long)]
    pub(super) to: String,
    /// Target vector index URL (e.g. chroma://host:8000); default: the
    /// target store's own.
    #[arg(long)]
    pub(super) vectors: Option<String>,
    /// Report what would be copied without writing (a foreign import opens
    /// nothing of the target).
    #[arg(long)]
    pub(super) dry_run: bool,
    /// Re-embed with the configured embedder instead of copying vectors.
    #[arg(long)]
    re_embed: bool,
    /// Memories per batch.
    #[arg(long, default_value_t = 500)]
    pub(super) batch: usize,
    /// Foreign import: the user of every memory, whatever the records say.
    #[arg(long)]
    pub(super) user_id: Option<String>,
    /// Foreign import: the metadata field holding the user (default user_id).
    #[arg(long)]
    pub(super) user_field: Option<String>,
    /// Foreign import: the metadata field holding the agent (seed 003's character_name).
    #[arg(long)]
    pub(super) agent_field: Option<String>,
    /// Foreign import: FIELD=TARGET, TARGET one of user_id, agent_id,
    /// session_id, kind, importance, created_at, content (e.g. type=kind).
    #[arg(long = "map")]
    pub(super) map: Vec<String>,
    /// Foreign import: keep the collection's vectors (made by this engine's
    /// model) instead of embedding the texts again.
    #[arg(long)]
    pub(super) keep_embeddings: bool,
}

/// The report with the URLs it ran between.
#[derive(Serialize)]
struct Shown<'a> {
    source: String,
    target: String,
    #[serde(flatten)]
    report: &'a MigrateReport,
}

pub(crate) async fn run(base: Config, tenant: &str, plan: &MigrateArgs, out: &Out) -> Result<()> {
    if super::migrate_foreign::is_foreign(&plan.from) {
        return super::migrate_foreign::run(base, tenant, plan, out).await;
    }
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

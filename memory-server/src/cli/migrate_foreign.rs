//! `memory migrate --from chroma://host:port/COLLECTION` or
//! `qdrant://host:port/COLLECTION`: a collection another program wrote,
//! mapped onto memories (seed 004's `migrate_chromadb`, seed 003's Qdrant
//! points), with a progress bar; `--dry-run` opens nothing of the target.

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use memory::{Config, ForeignMapping, ForeignReader, ForeignReport};
use serde::Serialize;

use super::migrate::MigrateArgs;
use super::output::Out;

/// Whether `--from` names a foreign collection rather than a memory store.
pub(crate) fn is_foreign(from: &str) -> bool {
    ["chroma://", "chromas://", "qdrant://", "qdrants://"]
        .iter()
        .any(|s| from.starts_with(s))
}

#[derive(Serialize)]
struct Shown<'a> {
    target: String,
    #[serde(flatten)]
    report: &'a ForeignReport,
}

fn mapping(tenant: &str, plan: &MigrateArgs) -> Result<ForeignMapping> {
    let mut maps = plan.map.clone();
    if let Some(f) = &plan.user_field {
        maps.push(format!("{f}=user_id"));
    }
    if let Some(f) = &plan.agent_field {
        maps.push(format!("{f}=agent_id"));
    }
    Ok(ForeignMapping {
        tenant: tenant.to_owned(),
        user_id: plan.user_id.clone(),
        keep_embeddings: plan.keep_embeddings,
        ..ForeignMapping::default()
    }
    .with_maps(&maps)?)
}

pub(crate) async fn run(base: Config, tenant: &str, plan: &MigrateArgs, out: &Out) -> Result<()> {
    let mapping = mapping(tenant, plan)?;
    let reader: Box<dyn ForeignReader> = if plan.from.starts_with("qdrant") {
        Box::new(memory::qdrant::QdrantCollection::open(&plan.from).await?)
    } else {
        Box::new(memory::chroma::ChromaCollection::open(&plan.from).await?)
    };
    let reader = reader.as_ref();
    let bar = if out.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} records {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let report = if plan.dry_run {
        memory::survey_foreign(reader, &mapping, &base.engine, plan.batch, progress).await?
    } else {
        let target = memory::open(&Config {
            store: plan.to.clone().into(),
            vectors: plan.vectors.clone().map(memory::Urls::One),
            ..base
        })
        .await?;
        target
            .import_foreign(reader, &mapping, plan.batch, progress)
            .await?
    };
    bar.finish_and_clear();
    out.value(&Shown {
        target: memory::redact(&plan.to),
        report: &report,
    })?;
    if !report.verified {
        bail!(
            "verification failed: read {} of {} records; {} of {} imported memories are in the target",
            report.scanned,
            report.source_count,
            report.target_count,
            report.imported + report.already_present
        );
    }
    Ok(())
}

//! `memory jobs list|retry|purge`: the job queue and its dead letters.

use anyhow::{Result, bail};
use clap::Subcommand;
use memory::Memory;
use uuid::Uuid;

use super::output::Out;

/// What to do with the queue.
#[derive(Subcommand, Debug)]
pub(crate) enum JobsAction {
    /// Counts by kind, then the jobs waiting (or the dead letters with --dead).
    List {
        /// Dead letters instead of waiting jobs.
        #[arg(long)]
        dead: bool,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Make dead letters due again.
    Retry {
        /// Their ids.
        ids: Vec<Uuid>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
    },
    /// Delete dead letters.
    Purge {
        /// Their ids.
        ids: Vec<Uuid>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
    },
}

fn chosen(ids: &[Uuid], all: bool) -> Result<&[Uuid]> {
    match (ids.is_empty(), all) {
        (true, false) => bail!("name the jobs' ids, or pass --all"),
        (false, true) => bail!("pass ids or --all, not both"),
        _ => Ok(ids),
    }
}

pub(crate) async fn run(m: &Memory, tenant: &str, action: &JobsAction, out: &Out) -> Result<()> {
    match action {
        JobsAction::List { dead, limit } => out.value(&serde_json::json!({
            "counts": m.job_counts().await?,
            "jobs": m.jobs(Some(tenant), *dead, *limit).await?,
        })),
        JobsAction::Retry { ids, all } => {
            let n = m.retry_jobs(chosen(ids, *all)?).await?;
            out.value(&serde_json::json!({ "retried": n }))
        }
        JobsAction::Purge { ids, all } => {
            let n = m.purge_jobs(chosen(ids, *all)?).await?;
            out.value(&serde_json::json!({ "purged": n }))
        }
    }
}

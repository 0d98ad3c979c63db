//! The engine's operations by name, each taking and returning JSON, so the
//! blocking and the asyncio client share one implementation and one set of
//! argument rules (unknown fields are refused by name, as over HTTP).

use memory::{
    AddRequest, Error, Filter, Memory, RecordMessage, Result, Scope, SearchRequest, UpdateRequest,
    Validity, WorkerConfig,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use uuid::Uuid;

/// A memory named by id in a tenant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ById {
    tenant: String,
    id: Uuid,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    tenant: String,
    id: Uuid,
    changes: UpdateRequest,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    items: Vec<AddRequest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct List {
    scope: Scope,
    #[serde(default)]
    filter: Option<Value>,
    limit: usize,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    include_superseded: bool,
    #[serde(default)]
    as_of: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InSession {
    tenant: String,
    session_id: String,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextArgs {
    scope: Scope,
    #[serde(default)]
    session_id: Option<String>,
    query: String,
    token_budget: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Stats {
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    scope: Option<Scope>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Flag {
    #[serde(default)]
    on: bool,
}

/// Runs `op` with `args` (a JSON object) and answers its result as JSON.
pub(crate) async fn call(
    m: &Memory,
    worker: &WorkerConfig,
    op: &str,
    args: &str,
) -> Result<String> {
    let value = match op {
        "add" => to(m.add(parse(op, args)?).await?),
        "add_batch" => to(m.add_batch(parse::<Batch>(op, args)?.items).await?),
        "search" => to(m.search(parse::<SearchRequest>(op, args)?).await?),
        "get" => {
            let a: ById = parse(op, args)?;
            to(m.get(&a.tenant, a.id).await?)
        }
        "update" => {
            let a: Update = parse(op, args)?;
            to(m.update(&a.tenant, a.id, a.changes).await?)
        }
        "delete" => {
            let a: ById = parse(op, args)?;
            m.delete(&a.tenant, a.id).await?;
            Ok(Value::Null)
        }
        "history" => {
            let a: ById = parse(op, args)?;
            to(m.history(&a.tenant, a.id).await?)
        }
        "list" => {
            let a: List = parse(op, args)?;
            let filter = a.filter.as_ref().map(Filter::parse).transpose()?;
            let validity = Validity::from_options(a.include_superseded, a.as_of)?;
            to(m.list(&a.scope, filter, validity, a.limit, a.cursor)
                .await?)
        }
        "record_message" => to(m.record_message(parse::<RecordMessage>(op, args)?).await?),
        "recent" => {
            let a: InSession = parse(op, args)?;
            to(m.recent(&a.tenant, &a.session_id, a.limit.unwrap_or(20))
                .await?)
        }
        "context" => {
            let a: ContextArgs = parse(op, args)?;
            to(
                m.context(&a.scope, a.session_id.as_deref(), &a.query, a.token_budget)
                    .await?,
            )
        }
        "forget" => to(m.forget(&parse::<Scope>(op, args)?).await?),
        "stats" => match parse::<Stats>(op, args)? {
            Stats { scope: Some(s), .. } => to(m.scope_stats(&s).await?),
            Stats { tenant, .. } => to(m.stats(tenant.as_deref()).await?),
        },
        "check" => to(m.check(parse::<Flag>(op, args)?.on).await?),
        "sync" => to(m.sync(parse::<Flag>(op, args)?.on).await?),
        "extract" => {
            let a: InSession = parse(op, args)?;
            to(m.extract_session(&a.tenant, &a.session_id).await?)
        }
        "end_session" => {
            let a: InSession = parse(op, args)?;
            to(m.end_session(&a.tenant, &a.session_id).await?)
        }
        "run_jobs" => {
            let r = m.worker(worker.clone())?.tick().await?;
            Ok(json!({"completed": r.completed, "retried": r.retried, "dead": r.dead}))
        }
        "status" => Ok(m.status_with_jobs().await),
        _ => Err(Error::invalid(format!("no operation named {op:?}"))),
    }?;
    serde_json::to_string(&value).map_err(|e| Error::internal(format!("{op}: {e}")))
}

fn parse<T: DeserializeOwned>(op: &str, args: &str) -> Result<T> {
    serde_json::from_str(args).map_err(|e| Error::invalid(format!("{op}: {e}")))
}

fn to(value: impl serde::Serialize) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| Error::internal(e.to_string()))
}

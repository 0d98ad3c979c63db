//! `memory eval FILE`: retrieval quality on conversations in the LoCoMo
//! JSON layout. Each sample's turns become memories of one user in a
//! throwaway store (or `--db`); every question is searched within its
//! conversation and scored against its evidence turns: recall@k, MRR and
//! nDCG@10 per category and overall, with search latency and ingest rate.

mod messages;
mod metrics;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use memory::{AddRequest, Config, Memory, MemoryKind, Scope, SearchRequest};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::memories::ModeArg;
use super::output::Out;
use metrics::{Scored, Summary};

/// Measure retrieval on conversations in the LoCoMo JSON layout.
#[derive(clap::Args, Debug)]
pub(crate) struct EvalArgs {
    /// A JSON list of samples: `sample_id`, `conversation` (`session_<n>`
    /// turn lists, `session_<n>_date_time`), `qa` (`question`, `evidence`,
    /// `category`).
    file: PathBuf,
    /// hybrid, semantic or keyword.
    #[arg(long, value_enum, default_value = "hybrid")]
    mode: ModeArg,
    /// Cut-offs for recall.
    #[arg(long, value_delimiter = ',', default_value = "1,5,10,25,50")]
    k: Vec<usize>,
    /// Turns of the same session before each turn that its vector is
    /// embedded after (`metadata.embed_context`); 0 embeds each turn alone.
    #[arg(long, default_value_t = 0)]
    context: usize,
    /// turns: each turn is a memory; messages: turns are recorded as
    /// messages and the configured language model extracts the memories.
    #[arg(long, value_enum, default_value = "turns")]
    ingest: IngestArg,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum IngestArg {
    Turns,
    Messages,
}

#[derive(Debug, Deserialize)]
struct Sample {
    sample_id: Value,
    conversation: Map<String, Value>,
    #[serde(default)]
    qa: Vec<Qa>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Turn {
    pub(super) speaker: String,
    pub(super) dia_id: String,
    pub(super) text: String,
    #[serde(default)]
    pub(super) blip_caption: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Qa {
    question: String,
    #[serde(default)]
    evidence: Vec<String>,
    #[serde(default)]
    category: Value,
}

/// What `memory eval` prints.
#[derive(Debug, Serialize)]
struct Report {
    mode: String,
    embedder: String,
    samples: usize,
    memories: u64,
    questions: usize,
    /// Questions none of whose evidence turns are in the conversation.
    questions_skipped: usize,
    overall: Summary,
    categories: BTreeMap<String, Summary>,
    search_ms_p50: f64,
    search_ms_p99: f64,
    ingest_per_second: f64,
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}

/// A sample's turns in session order, with each session's number and date.
fn turns(conversation: &Map<String, Value>) -> Result<Vec<(u32, String, Turn)>> {
    let mut sessions: Vec<(u32, &Value)> = conversation
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("session_")?.parse().ok()?, v)))
        .collect();
    sessions.sort_by_key(|(n, _)| *n);
    let mut out = Vec::new();
    for (n, v) in sessions {
        let date = conversation
            .get(&format!("session_{n}_date_time"))
            .map(text_of)
            .unwrap_or_default();
        let list: Vec<Turn> = serde_json::from_value(v.clone())
            .with_context(|| format!("session_{n}: not a list of turns"))?;
        out.extend(list.into_iter().map(|t| (n, date.clone(), t)));
    }
    Ok(out)
}

/// Imports one sample's turns; answers dia_id by memory id.
async fn ingest(
    m: &Memory,
    tenant: &str,
    user: &str,
    turns: Vec<(u32, String, Turn)>,
    context: usize,
) -> Result<HashMap<uuid::Uuid, Vec<String>>> {
    let contents: Vec<String> = turns
        .iter()
        .map(|(_, _, t)| {
            let mut content = format!("{} said, \"{}\"", t.speaker, t.text);
            if let Some(c) = &t.blip_caption {
                content.push_str(&format!(" and shared {c}"));
            }
            content
        })
        .collect();
    let mut requests = Vec::with_capacity(turns.len());
    for (i, ((n, date, t), content)) in turns.iter().zip(&contents).enumerate() {
        let mut metadata = Map::new();
        metadata.insert("dia_id".into(), t.dia_id.clone().into());
        metadata.insert("session".into(), (*n).into());
        metadata.insert("date".into(), date.clone().into());
        let first = (i.saturating_sub(context)..i)
            .find(|&j| turns[j].0 == *n)
            .unwrap_or(i);
        if first < i {
            metadata.insert(
                memory::EMBED_CONTEXT_KEY.into(),
                contents[first..i].join("\n").into(),
            );
        }
        let mut request = AddRequest::new(
            Scope::user(user).with_tenant(tenant.to_owned()),
            content.clone(),
        )
        .kind(MemoryKind::Message)
        .metadata(metadata);
        // What was said happened when it was said: the event time a
        // question naming a time is ranked by.
        if let Some(said) = messages::session_date(date) {
            request = request.valid_from(said);
        }
        requests.push(request);
    }
    let mut by_id = HashMap::new();
    let mut note = |outcomes: Option<Vec<memory::AddOutcome>>, turns: &[(u32, String, Turn)]| {
        for (o, (_, _, t)) in outcomes.iter().flatten().zip(turns) {
            by_id.entry(o.id).or_insert_with(|| vec![t.dia_id.clone()]);
        }
    };
    // Each chunk is embedded while the one before is written.
    let mut pipeline = m.add_pipeline();
    let mut in_flight: &[(u32, String, Turn)] = &[];
    for (chunk, turns) in requests.chunks(500).zip(turns.chunks(500)) {
        note(pipeline.push(chunk.to_vec()).await?, in_flight);
        in_flight = turns;
    }
    note(pipeline.finish().await?, in_flight);
    Ok(by_id)
}

/// Runs the evaluation on the configured engine; with `scratch`, on a
/// throwaway SQLite store removed afterwards.
pub(crate) async fn run(
    mut cfg: Config,
    scratch: bool,
    tenant: &str,
    a: &EvalArgs,
    out: &Out,
) -> Result<()> {
    let dir = scratch.then(|| {
        std::env::temp_dir().join(format!("memory-eval-{}", uuid::Uuid::now_v7().simple()))
    });
    if let Some(dir) = &dir {
        std::fs::create_dir_all(dir)?;
        cfg.store = format!("sqlite://{}/eval.db", dir.display()).into();
        cfg.vectors = None;
    }
    let result = match memory::open(&cfg).await {
        Ok(m) => evaluate(&m, tenant, a, out).await,
        Err(e) => Err(e.into()),
    };
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

async fn evaluate(m: &Memory, tenant: &str, a: &EvalArgs, out: &Out) -> Result<()> {
    if a.k.is_empty() || a.k.contains(&0) {
        bail!("--k: give cut-offs of at least 1, e.g. 1,5,10");
    }
    let text = std::fs::read_to_string(&a.file)
        .with_context(|| format!("{}: cannot read", a.file.display()))?;
    let samples: Vec<Sample> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a list of LoCoMo samples", a.file.display()))?;
    let depth = a.k.iter().copied().max().unwrap_or(10).max(10);
    let (mut scored, mut latencies) = (Vec::<(String, Scored)>::new(), Vec::new());
    let (mut memories, mut skipped, mut ingest_secs) = (0u64, 0usize, 0f64);
    for s in &samples {
        let user = format!("sample-{}", text_of(&s.sample_id));
        let turns = turns(&s.conversation)?;
        let start = Instant::now();
        // Evidence counts when the conversation has it, extracted or not.
        let present: HashSet<String> = turns.iter().map(|(_, _, t)| t.dia_id.clone()).collect();
        let asked_at = match a.ingest {
            IngestArg::Turns => turns
                .iter()
                .filter_map(|(_, date, _)| messages::session_date(date))
                .max()
                .map(|last| last + chrono::Duration::days(1)),
            // Extracted memories may carry no event time of their own.
            IngestArg::Messages => None,
        };
        let by_id = match a.ingest {
            IngestArg::Turns => ingest(m, tenant, &user, turns, a.context).await?,
            IngestArg::Messages => messages::ingest(m, tenant, &user, &turns).await?,
        };
        ingest_secs += start.elapsed().as_secs_f64();
        memories += by_id.len() as u64;
        for q in &s.qa {
            let relevant: HashSet<String> = q
                .evidence
                .iter()
                .filter(|e| present.contains(*e))
                .cloned()
                .collect();
            if relevant.is_empty() {
                skipped += 1;
                continue;
            }
            let mut request = SearchRequest::new(
                Scope::user(user.clone()).with_tenant(tenant.to_owned()),
                q.question.clone(),
            )
            .k(depth)
            .mode(a.mode.mode());
            // Questions are asked the day after the conversation's last
            // session, so "yesterday" and "last week" mean what they meant
            // to the speakers.
            if let Some(t) = asked_at {
                request = request.validity(memory::Validity::AsOf(t));
            }
            let start = Instant::now();
            let found = m.search(request).await?;
            latencies.push(start.elapsed().as_secs_f64() * 1000.0);
            let ranked: Vec<Vec<String>> = found
                .hits
                .iter()
                .filter_map(|h| by_id.get(&h.memory.id).cloned())
                .collect();
            if let Some(sc) = metrics::score(&ranked, &relevant, &a.k) {
                scored.push((text_of(&q.category), sc));
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let (categories, overall) = metrics::summarize(&scored, &a.k);
    let report = Report {
        mode: format!("{:?}", a.mode).to_lowercase(),
        embedder: m.status()["embedder"]["model"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        samples: samples.len(),
        memories,
        questions: scored.len(),
        questions_skipped: skipped,
        overall,
        categories,
        search_ms_p50: metrics::percentile(&latencies, 50.0),
        search_ms_p99: metrics::percentile(&latencies, 99.0),
        ingest_per_second: if ingest_secs > 0.0 {
            memories as f64 / ingest_secs
        } else {
            0.0
        },
    };
    if out.json {
        return out.value(&report);
    }
    let mut t = super::output::table(&["category", "questions", "recall", "MRR", "nDCG@10"]);
    let row = |name: &str, s: &Summary| {
        let recall: Vec<String> =
            a.k.iter()
                .map(|k| {
                    let v = s.recall.get(&format!("recall@{k}")).copied().unwrap_or(0.0);
                    format!("@{k}={v:.3}")
                })
                .collect();
        vec![
            name.to_owned(),
            s.questions.to_string(),
            recall.join(" "),
            format!("{:.3}", s.mrr),
            format!("{:.3}", s.ndcg10),
        ]
    };
    for (c, s) in &report.categories {
        t.add_row(row(c, s));
    }
    t.add_row(row("all", &report.overall));
    println!("{t}");
    println!(
        "{} memories from {} samples, {:.0}/s; search p50 {:.2} ms, p99 {:.2} ms ({}, {}); {} questions without evidence in their conversation",
        report.memories,
        report.samples,
        report.ingest_per_second,
        report.search_ms_p50,
        report.search_ms_p99,
        report.mode,
        report.embedder,
        report.questions_skipped
    );
    Ok(())
}

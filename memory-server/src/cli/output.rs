//! Tables for people, JSON for programs.

use anyhow::Result;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use memory::{HistoryEvent, MemoryRecord, Page, SearchResponse};
use serde::Serialize;

pub(crate) struct Out {
    pub(crate) json: bool,
}

pub(crate) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    t
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

impl Out {
    pub(crate) fn value(&self, v: &impl Serialize) -> Result<()> {
        println!("{}", serde_json::to_string_pretty(v)?);
        Ok(())
    }

    pub(crate) fn line(&self, s: &str) -> Result<()> {
        if self.json {
            self.value(&serde_json::json!({ "message": s }))
        } else {
            println!("{s}");
            Ok(())
        }
    }

    pub(crate) fn memory(&self, m: &MemoryRecord) -> Result<()> {
        if self.json {
            return self.value(m);
        }
        let mut t = table(&["field", "value"]);
        t.add_row(vec!["id".to_owned(), m.id.to_string()]);
        t.add_row(vec!["content".to_owned(), m.content.clone()]);
        t.add_row(vec!["kind".to_owned(), m.kind.to_string()]);
        t.add_row(vec![
            "importance".to_owned(),
            format!("{:.2}", m.importance),
        ]);
        t.add_row(vec!["scope".to_owned(), serde_json::to_string(&m.scope)?]);
        t.add_row(vec![
            "metadata".to_owned(),
            serde_json::to_string(&m.metadata)?,
        ]);
        t.add_row(vec![
            "created / updated".to_owned(),
            format!("{} / {}", m.created_at, m.updated_at),
        ]);
        t.add_row(vec![
            "accessed".to_owned(),
            format!("{} times, last {}", m.access_count, m.last_accessed_at),
        ]);
        t.add_row(vec![
            "version / vector".to_owned(),
            format!("{} / {}", m.version, m.vector_state.as_str()),
        ]);
        println!("{t}");
        Ok(())
    }

    pub(crate) fn page(&self, p: &Page<MemoryRecord>) -> Result<()> {
        if self.json {
            return self.value(p);
        }
        let mut t = table(&["id", "kind", "imp", "user", "content"]);
        for m in &p.items {
            t.add_row(vec![
                m.id.to_string(),
                m.kind.to_string(),
                format!("{:.1}", m.importance),
                m.scope.user_id.clone().unwrap_or_default(),
                short(&m.content, 80),
            ]);
        }
        println!("{t}");
        if let Some(c) = &p.next_cursor {
            println!("more: --cursor {c}");
        }
        Ok(())
    }

    pub(crate) fn search(&self, r: &SearchResponse) -> Result<()> {
        if self.json {
            return self.value(r);
        }
        let mut t = table(&["score", "sim", "kw", "id", "content"]);
        for h in &r.hits {
            t.add_row(vec![
                format!("{:.3}", h.score),
                h.explain
                    .similarity
                    .map(|s| format!("{s:.3}"))
                    .unwrap_or_default(),
                h.explain
                    .keyword_rank
                    .map(|r| format!("#{r}"))
                    .unwrap_or_default(),
                h.memory.id.to_string(),
                short(&h.memory.content, 80),
            ]);
        }
        println!("{t}");
        if !r.degraded.is_empty() {
            println!("degraded: {} unavailable", r.degraded.join(", "));
        }
        if let Some(c) = &r.next_cursor {
            println!("more: --cursor {c}");
        }
        Ok(())
    }

    pub(crate) fn history(&self, h: &[HistoryEvent]) -> Result<()> {
        if self.json {
            return self.value(&h);
        }
        let mut t = table(&["when", "op", "reason", "old", "new"]);
        for e in h {
            t.add_row(vec![
                e.created_at.to_rfc3339(),
                e.op.as_str().to_owned(),
                e.reason.clone(),
                short(e.old_content.as_deref().unwrap_or(""), 40),
                short(e.new_content.as_deref().unwrap_or(""), 40),
            ]);
        }
        println!("{t}");
        Ok(())
    }
}

/// A progress spinner drawing `template`, or a hidden one when the output
/// is JSON or a pipe the spinner would corrupt.
pub(crate) fn spinner(hidden: bool, template: &str) -> indicatif::ProgressBar {
    let bar = if hidden {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar
}

#![doc = include_str!("../README.md")]
#![allow(clippy::neg_cmp_op_on_partial_ord)]
// A test-support crate: failing loudly is its job.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod embedder;
pub mod engine;
pub mod filter_gen;
mod flaky;
pub mod joined;
pub mod keyword;
mod llm;
pub mod outage;
mod reranker;
pub mod short_term;
pub mod store;
pub mod vector;

pub use embedder::DeterministicEmbedder;
pub use flaky::{FlakyIndex, Hook};
pub use llm::CannedModel;
pub use reranker::WordReranker;

/// The outcome of one conformance case.
pub type CaseResult = Result<(), String>;

/// Fails the current case with a message unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !($cond) {
            return Err(format!("{} (at {}:{})", format!($($arg)+), file!(), line!()));
        }
    };
}

/// Turns a `Result` from the code under test into a case failure.
pub trait OrFail<T> {
    /// The value, or a case failure naming `what`.
    fn or_fail(self, what: &str) -> Result<T, String>;
}

impl<T, E: std::fmt::Display> OrFail<T> for Result<T, E> {
    fn or_fail(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// Results of a suite run.
#[derive(Debug, Default)]
pub struct Report {
    /// Which suite.
    pub suite: String,
    /// Cases that passed.
    pub passed: Vec<&'static str>,
    /// Cases that failed, with why.
    pub failed: Vec<(&'static str, String)>,
    /// Cases not run, with why (a capability the backend lacks).
    pub skipped: Vec<(&'static str, String)>,
}

impl Report {
    /// A report for `suite`.
    pub fn new(suite: impl Into<String>) -> Self {
        Self {
            suite: suite.into(),
            ..Self::default()
        }
    }

    /// Records a case's outcome.
    pub fn record(&mut self, name: &'static str, result: CaseResult) {
        match result {
            Ok(()) => {
                println!("  {} / {name} ... ok", self.suite);
                self.passed.push(name);
            }
            Err(e) => {
                println!("  {} / {name} ... FAILED: {e}", self.suite);
                self.failed.push((name, e));
            }
        }
    }

    /// Records a case that was not run.
    pub fn skip(&mut self, name: &'static str, why: impl Into<String>) {
        let why = why.into();
        println!("  {} / {name} ... skipped: {why}", self.suite);
        self.skipped.push((name, why));
    }

    /// Panics listing the failures, if any; also fails when nothing ran.
    pub fn assert_ok(&self) {
        println!(
            "{}: {} passed, {} failed, {} skipped",
            self.suite,
            self.passed.len(),
            self.failed.len(),
            self.skipped.len()
        );
        assert!(!self.passed.is_empty(), "{}: no case ran", self.suite);
        if !self.failed.is_empty() {
            let list: Vec<String> = self
                .failed
                .iter()
                .map(|(n, e)| format!("{n}: {e}"))
                .collect();
            panic!("{} failed:\n{}", self.suite, list.join("\n"));
        }
        mark_ran(
            &self.suite,
            &format!(
                "{} passed, {} skipped",
                self.passed.len(),
                self.skipped.len()
            ),
        );
    }
}

/// Records that `suite` ran, with a line saying how, in
/// `MEMORY_CONFORMANCE_DIR`: `scripts/test` checks these markers, so a
/// backend whose suite never ran (skipped, filtered out, not compiled)
/// fails CI instead of passing silently.
pub fn mark_ran(suite: &str, line: &str) {
    if let Some(dir) = std::env::var_os("MEMORY_CONFORMANCE_DIR") {
        let written = std::fs::create_dir_all(&dir).and_then(|()| {
            std::fs::write(
                std::path::Path::new(&dir).join(format!("{suite}.ok")),
                format!("{line}\n"),
            )
        });
        assert!(
            written.is_ok(),
            "{suite}: cannot write the conformance marker: {written:?}"
        );
    }
}

/// A fresh random name, so runs never see each other's data.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// The Qdrant server the tests may use, as a `qdrant://` URL:
/// `MEMORY_TEST_QDRANT_URL` (what `scripts/services start qdrant` prints),
/// else `QDRANT_URL`. `None` means there is none, and the Qdrant tests say
/// loudly that they were skipped.
pub fn qdrant_url() -> Option<String> {
    ["MEMORY_TEST_QDRANT_URL", "QDRANT_URL"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|u| !u.is_empty())
        .map(|u| u.replacen("http://", "qdrant://", 1))
}

/// Runs a case and records it.
#[macro_export]
macro_rules! case {
    ($report:expr, $name:ident ( $($arg:expr),* )) => {
        $report.record(stringify!($name), $name($($arg),*).await)
    };
}

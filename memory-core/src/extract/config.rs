//! When extraction runs and what it may spend.

use serde::{Deserialize, Serialize};

/// Extraction settings, `[engine.extraction]` in the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ExtractionConfig {
    /// Whether conversations are extracted at all (given a language model).
    pub enabled: bool,
    /// Tenants whose conversations are never extracted.
    pub disabled_tenants: Vec<String>,
    /// Language-model calls a tenant may make per 24 hours (0: no limit);
    /// past it, extraction waits rather than fails.
    pub daily_calls_per_tenant: u32,
    /// Seconds of silence after which a session's remaining messages are
    /// extracted even below `extract_batch` (0: only full batches, session
    /// end and explicit requests).
    pub idle_secs: u64,
}

impl Default for ExtractionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            disabled_tenants: Vec::new(),
            daily_calls_per_tenant: 0,
            idle_secs: 900,
        }
    }
}

impl ExtractionConfig {
    /// Whether `tenant`'s conversations may be extracted.
    pub fn allows(&self, tenant: &str) -> bool {
        self.enabled && !self.disabled_tenants.iter().any(|t| t == tenant)
    }
}

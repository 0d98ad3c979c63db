//! Typed reads of a backend URL's query keys, refusing the keys nobody read.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use super::{MASK, is_secret_key};
use crate::{Error, Result};

/// Query keys being read by one backend. Each accessor removes its key;
/// [`Self::finish`] fails on what is left, naming the key, the backend and
/// the keys it knows.
#[derive(Debug)]
pub struct Params {
    backend: &'static str,
    pairs: Vec<(String, String)>,
    known: BTreeSet<&'static str>,
    shown: String,
}

impl Params {
    /// The keys of `pairs`, for errors about the URL shown as `shown`.
    pub(super) fn new(backend: &'static str, pairs: Vec<(String, String)>, shown: String) -> Self {
        Self {
            backend,
            pairs,
            known: BTreeSet::new(),
            shown,
        }
    }

    /// The raw value of `key` (the last one if repeated).
    pub fn str(&mut self, key: &'static str) -> Option<String> {
        self.known.insert(key);
        let mut found = None;
        self.pairs.retain(|(k, v)| {
            if k == key {
                found = Some(v.clone());
                false
            } else {
                true
            }
        });
        found
    }

    /// A value that must not be empty.
    pub fn non_empty(&mut self, key: &'static str) -> Result<Option<String>> {
        match self.str(key) {
            Some(v) if v.is_empty() => Err(self.error(format!("{key} must not be empty"))),
            v => Ok(v),
        }
    }

    /// A value parsed as `T`; the error names the key and the value.
    pub fn parse<T: std::str::FromStr>(
        &mut self,
        key: &'static str,
        what: &str,
    ) -> Result<Option<T>> {
        match self.str(key) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                let v = if is_secret_key(key) {
                    MASK.to_owned()
                } else {
                    format!("{v:?}")
                };
                self.error(format!("{key}={v} is not {what}"))
            }),
        }
    }

    /// A whole number.
    pub fn u32(&mut self, key: &'static str) -> Result<Option<u32>> {
        self.parse(key, "a whole number")
    }

    /// A duration in milliseconds.
    pub fn millis(&mut self, key: &'static str) -> Result<Option<Duration>> {
        Ok(self
            .parse::<u64>(key, "a whole number of milliseconds")?
            .map(Duration::from_millis))
    }

    /// A duration in seconds.
    pub fn secs(&mut self, key: &'static str) -> Result<Option<Duration>> {
        Ok(self
            .parse::<u64>(key, "a whole number of seconds")?
            .map(Duration::from_secs))
    }

    /// One of `choices`.
    pub fn choice(&mut self, key: &'static str, choices: &[&str]) -> Result<Option<String>> {
        match self.str(key) {
            Some(v) if !choices.contains(&v.as_str()) => {
                Err(self.error(format!("{key}={v:?} (expected {})", choices.join(", "))))
            }
            v => Ok(v),
        }
    }

    /// An error about this backend's URL.
    pub fn error(&self, what: impl fmt::Display) -> Error {
        Error::config(format!("{} URL {}: {what}", self.backend, self.shown))
    }

    /// The keys not read, for a backend that hands them on to its driver.
    pub fn rest(self) -> Vec<(String, String)> {
        self.pairs
    }

    /// Fails if a key was given that no accessor read.
    pub fn finish(self) -> Result<()> {
        match self.pairs.first() {
            None => Ok(()),
            Some((k, _)) => Err(self.error(format!(
                "unknown key {k:?} (known: {})",
                self.known.iter().copied().collect::<Vec<_>>().join(", ")
            ))),
        }
    }
}

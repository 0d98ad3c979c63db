//! The CLI driven as a user drives it, on a temporary SQLite file.

use std::process::Output;

use serde_json::Value;

use super::memory_cmd;

/// The `memory` binary on a temporary SQLite file.
pub(crate) struct Cli {
    /// Its working directory.
    pub(crate) dir: tempfile::TempDir,
}

impl Cli {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let mut cmd = memory_cmd(self.dir.path());
        if !args.contains(&"--db") {
            cmd.args([
                "--db",
                &format!("sqlite://{}/cli.db", self.dir.path().display()),
            ]);
        }
        cmd.args(args).output().unwrap()
    }

    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(
            out.status.success(),
            "memory {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    }

    pub(crate) fn fails(&self, args: &[&str], needle: &str) {
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "memory {args:?} succeeded");
        assert!(
            err.contains(needle),
            "memory {args:?}: error does not mention {needle:?}: {err}"
        );
    }
}

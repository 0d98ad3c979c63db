//! `memory model install`: the same preparation the repository's script does,
//! shipped inside the binary so it works without a checkout.

use anyhow::{Context, Result, bail};

const PREPARE: &str = include_str!("../../../scripts/prepare-model");
const BUILD_GRAPH: &str = include_str!("../../../scripts/build_minilm_onnx.py");

pub(crate) fn install() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("memory-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("prepare-model"), PREPARE)?;
    std::fs::write(dir.join("build_minilm_onnx.py"), BUILD_GRAPH)?;
    let status = std::process::Command::new("bash")
        .arg(dir.join("prepare-model"))
        .status()
        .context("running bash")?;
    let _ = std::fs::remove_dir_all(&dir);
    if !status.success() {
        bail!("model preparation failed ({status})");
    }
    Ok(())
}

//! `memory model install`: the same preparation the repository's script does,
//! shipped inside the binary so it works without a checkout.

use anyhow::{Context, Result, bail};

const PREPARE: &str = include_str!("../../../scripts/prepare-model");
const HELPERS: [(&str, &str); 4] = [
    (
        "onnx_encoder.py",
        include_str!("../../../scripts/onnx_encoder.py"),
    ),
    (
        "build_minilm_onnx.py",
        include_str!("../../../scripts/build_minilm_onnx.py"),
    ),
    (
        "build_e5_onnx.py",
        include_str!("../../../scripts/build_e5_onnx.py"),
    ),
    (
        "quantize_onnx.py",
        include_str!("../../../scripts/quantize_onnx.py"),
    ),
];

pub(crate) fn install(models: &[String]) -> Result<()> {
    for m in models {
        memory::embed_local::model(m)?;
    }
    let dir = std::env::temp_dir().join(format!("memory-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("prepare-model"), PREPARE)?;
    for (name, text) in HELPERS {
        std::fs::write(dir.join(name), text)?;
    }
    let status = std::process::Command::new("bash")
        .arg(dir.join("prepare-model"))
        .args(models)
        .status()
        .context("running bash")?;
    let _ = std::fs::remove_dir_all(&dir);
    if !status.success() {
        bail!("model preparation failed ({status})");
    }
    Ok(())
}

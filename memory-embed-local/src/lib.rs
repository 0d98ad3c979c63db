#![doc = include_str!("../README.md")]

mod config;
mod embedder;

pub use config::{MODEL_NAME, OnnxConfig, PREPARE_COMMAND, cache_dir};
pub use embedder::{DIMENSION, OnnxEmbedder};

/// The embedder schemes this crate serves (`local:all-MiniLM-L6-v2`).
pub const SCHEMES: &[&str] = &["local"];

#![doc = include_str!("../README.md")]

mod chat;
mod client;
mod config;
mod embedder;

pub use chat::OpenAiChat;
pub use config::{OPENAI_BASE_URL, OpenAiConfig};
pub use embedder::OpenAiEmbedder;

/// The embedder and language-model scheme this crate serves (`openai:MODEL`).
pub const SCHEMES: &[&str] = &["openai"];

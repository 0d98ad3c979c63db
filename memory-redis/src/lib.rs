#![doc = include_str!("../README.md")]

mod config;
mod error;
mod keys;
mod short_term;

pub use config::RedisConfig;
pub use short_term::RedisShortTerm;

/// The URL schemes this crate serves.
pub const SCHEMES: &[&str] = &["redis", "rediss"];

#![doc = include_str!("../README.md")]

mod config;
mod error;
mod keys;
mod lua;
mod short_term;

pub use config::RedisConfig;
pub use short_term::RedisShortTerm;

use std::sync::Arc;

use memory_core::{BackendDescriptor, BackendUrl, Opening, ShortTerm};

/// The URL schemes this crate serves.
pub const SCHEMES: &[&str] = &["redis", "rediss"];

/// This backend, for the `memory` facade's registry: a short-term tier.
pub const BACKEND: BackendDescriptor = BackendDescriptor {
    name: "redis",
    schemes: SCHEMES,
    env: &["REDIS_URL"],
    short_term: Some(open_short_term),
    probe: Some(probe),
    ..BackendDescriptor::EMPTY
};

fn open_short_term(url: BackendUrl) -> Opening<Arc<dyn ShortTerm>> {
    Box::pin(
        async move { Ok(Arc::new(RedisShortTerm::from_url(url.as_str())?) as Arc<dyn ShortTerm>) },
    )
}

fn probe(url: BackendUrl) -> Opening<String> {
    Box::pin(async move {
        RedisShortTerm::from_url(url.as_str())?
            .server_version()
            .await
    })
}

//! Chroma collection names: see [`memory_core::naming`].

pub use memory_core::naming::collection_name;

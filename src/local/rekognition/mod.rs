//! The local Rekognition: face analysis with real models (assets/models/) run in pure
//! Rust (`faces`, `decode`, `pixels`: no HTTP, no storage), face collections in the local
//! cloud's SQLite with an exact/HNSW vector index (`collections`, `vectors`), and the
//! awsJson1_1 API in front of them (`service`).

mod analyses;
pub mod collections;
pub mod decode;
pub mod faces;
pub mod heads;
pub mod pixels;
pub mod service;
pub mod vectors;

pub use service::Rekognition;

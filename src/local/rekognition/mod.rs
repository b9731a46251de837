//! The local Rekognition's face analysis: real models (assets/models/) run in pure Rust.
//! Knows nothing of HTTP or storage; the service layer calls [`faces::FaceAnalyzer`].

pub mod decode;
pub mod faces;
pub mod pixels;

#[cfg(test)]
mod photo_tests;

//! The local Rekognition: face analysis with real models (assets/models/) run in pure
//! Rust (`faces`, `decode`, `pixels`: no HTTP, no storage), face collections in the local
//! cloud's SQLite with an exact/HNSW vector index (`collections`, `vectors`), and the
//! awsJson1_1 operations in front of them (`api`). This file is the service and its wiring;
//! images named by an `S3Object` are read through [`ImageObjects`], which the local S3
//! provides.

mod analyses;
mod api;
pub mod collections;
pub mod decode;
pub mod engine;
pub mod faces;
pub mod heads;
pub mod pixels;
pub mod vectors;

use std::sync::Arc;

use futures::future::BoxFuture;
use http::Request;
use hyper::body::Incoming;

pub use api::{FACE_MODEL_VERSION, INFERENCE_SLOTS, MAX_IMAGE_BYTES, MAX_S3_IMAGE_BYTES, RekognitionError};
use collections::Collections;

use super::LocalCloudError;
use super::protocol::{Protocol, Response};
use super::service::{Declaration, Gate, MIB, Mark, Service, Wiring};
use super::storage::{StorageError, Store};

/// Where the images an `S3Object` names are read: the local S3, seen only through this trait.
pub trait ImageObjects: Send + Sync {
    /// The object's size in bytes.
    fn object_size<'a>(&'a self, bucket: &'a str, key: &'a str) -> BoxFuture<'a, Result<u64, ObjectError>>;
    /// The object's whole body.
    fn object_bytes<'a>(&'a self, bucket: &'a str, key: &'a str) -> BoxFuture<'a, Result<Vec<u8>, ObjectError>>;
}

/// Why an object could not be read.
#[derive(Debug)]
pub enum ObjectError {
    /// No such bucket or key.
    Missing,
    Storage(StorageError),
}

pub struct Rekognition {
    collections: Collections,
    region: String,
    images: Arc<dyn ImageObjects>,
}

impl Rekognition {
    /// Opens the face collections (creating their tables) and loads their vectors. The
    /// models load in the background from [`start`]; a request that comes first waits for
    /// them.
    pub fn new(store: Store, region: &str, images: Arc<dyn ImageObjects>) -> Result<Self, LocalCloudError> {
        Ok(Self { collections: Collections::open(store)?, region: region.to_string(), images })
    }

    pub fn collections(&self) -> &Collections {
        &self.collections
    }
}

/// Starts Rekognition on the images a service before it provides (see `registry.rs`).
pub fn start(wiring: &mut Wiring) -> BoxFuture<'_, Result<Arc<dyn Service>, LocalCloudError>> {
    Box::pin(async move {
        let images = wiring.need::<Arc<dyn ImageObjects>>("rekognition")?;
        let service = Rekognition::new(wiring.store.clone(), &wiring.config.region, images)?;
        api::preload();
        Ok(Arc::new(service) as Arc<dyn Service>)
    })
}

const DECLARATION: Declaration = Declaration {
    signing_names: &["rekognition"],
    protocol: Protocol::AwsJson11,
    // Images up to 5 MB travel base64-encoded; the service reports ImageTooLarge itself.
    max_body: 16 * MIB,
    unsigned: Mark::Target("RekognitionService"),
    routes: &[],
};

impl Service for Rekognition {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn serve<'a>(&'a self, req: Request<Incoming>, gate: &'a Gate) -> BoxFuture<'a, Response> {
        gate.verified(self, req, |req| self.handle(req))
    }
}

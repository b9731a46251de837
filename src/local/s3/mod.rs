//! S3 (REST-XML) on the local cloud's storage.
//!
//! The wire protocol — routing, XML, SigV4 header/presigned/streaming (aws-chunked)
//! verification, path- and virtual-host-style addressing — is the `s3s` framework's; this
//! module implements its `S3` trait on our own storage (`objects`: SQLite metadata and
//! blobs). The router hands every S3-bound request here unverified: S3 checks its own
//! signatures because only s3s understands streaming chunk signatures and trailers.
//!
//! `api` holds the operations (s3s's `S3` trait); this file is the service and its wiring.
//! Besides HTTP, [`S3`] offers a plain async API for the dashboard, the deployment and
//! tests; Rekognition reads photos through `images` (its `ImageObjects` trait). Bucket
//! notifications (`notifications`) send S3 event records to Lambda functions through an
//! [`EventTarget`], durably.
//!
//! May touch: `storage` (through `objects`), `sigv4::Credentials`, `protocol`'s body type;
//! Lambda only through [`EventTarget`].

mod api;
mod images;
mod names;
pub mod notifications;
mod objects;
mod wire;

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::Request;
use hyper::body::Incoming;
use tokio::sync::broadcast;

use super::LocalCloudError;
use super::protocol::{Protocol, Response};
use super::rekognition::ImageObjects;
use super::service::{Declaration, Gate, Mark, Service, Wiring};
use super::sigv4::Credentials;
use super::storage::{StorageError, Store};

pub use names::is_valid_bucket_name;
pub use notifications::{Delivery, EventTarget};
pub use objects::{BucketInfo, ObjectEvent, ObjectHeaders, ObjectInfo};
use objects::{Cursor, Entry, ListQuery, NewObject, ObjectStore};

/// What can go wrong in S3, named as S3 names it.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("The specified bucket does not exist: {0}")]
    NoSuchBucket(String),
    #[error("The specified key does not exist: {bucket}/{key}")]
    NoSuchKey { bucket: String, key: String },
    #[error("The specified bucket is not valid: {0}")]
    InvalidBucketName(String),
    #[error("Your previous request to create the named bucket succeeded and you already own it: {0}")]
    BucketAlreadyOwnedByYou(String),
    #[error("The bucket you tried to delete is not empty: {0}")]
    BucketNotEmpty(String),
    #[error("Your key is too long")]
    KeyTooLong,
    #[error("Your proposed upload exceeds the maximum allowed size")]
    EntityTooLarge,
    #[error("Your proposed upload is smaller than the minimum allowed object size.")]
    EntityTooSmall,
    #[error("The specified upload does not exist.")]
    NoSuchUpload,
    #[error("One or more of the specified parts could not be found.")]
    InvalidPart,
    #[error("The list of parts was not in ascending order.")]
    InvalidPartOrder,
    #[error("The provided 'x-amz-mp-object-size' header value {declared} does not match what was computed: {computed}")]
    ObjectSizeMismatch { declared: i64, computed: u64 },
    #[error("The {0} you specified did not match the calculated checksum.")]
    BadChecksum(String),
    #[error("The request body ended early: {0}")]
    IncompleteBody(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The S3 service: s3s's protocol handling in front of our object store.
pub struct S3 {
    objects: Arc<ObjectStore>,
    service: s3s::service::S3Service,
    dispatcher: notifications::Dispatcher,
}

impl S3 {
    /// Creates the `s3_` tables if needed, sweeps blobs an interrupted write left behind,
    /// sets up the protocol layer to accept `credentials`, and starts delivering bucket
    /// notifications to `events` (those left undelivered before a restart first).
    pub fn new(
        store: Store,
        credentials: &Credentials,
        region: &str,
        events: Arc<dyn EventTarget>,
    ) -> Result<Self, S3Error> {
        let objects = Arc::new(ObjectStore::open(store.clone(), region)?);
        let dispatcher = notifications::Dispatcher::start(store, events.clone(), objects.outbox_signal());
        let mut builder = s3s::service::S3ServiceBuilder::new(api::Backend::new(objects.clone(), events));
        builder.set_auth(wire::LocalAuth::new(credentials));
        builder.set_access(wire::SignedRequestsOnly);
        builder.set_host(wire::LocalHosts);
        builder.set_validation(names::BucketNames);
        Ok(Self { objects, service: builder.build(), dispatcher })
    }

    /// Stops delivering notifications (the server is shutting down); what is not yet
    /// delivered stays in the outbox for the next start.
    pub fn shutdown(&self) {
        self.dispatcher.stop();
    }

    /// The event messages not yet delivered, oldest first.
    pub async fn pending_events(&self) -> Result<Vec<notifications::Pending>, S3Error> {
        Ok(notifications::pending(self.objects.store()).await?)
    }

    /// Serves one S3 request (its signature not yet verified): from the listener, or bytes
    /// built in-process (the fuzzing entries).
    pub async fn handle<B>(&self, req: Request<B>) -> Response
    where
        s3s::Body: From<B>,
    {
        let mut req = req.map(s3s::Body::from);
        wire::date_as_signing_time(req.headers_mut());
        match self.service.call(req).await {
            Ok(response) => wire::finish(response),
            Err(e) => wire::internal_error(&format!("{:?}", s3s::StdError::from(e))),
        }
    }

    /// Notifications of created and removed objects, for S3 event integrations.
    pub fn subscribe(&self) -> broadcast::Receiver<ObjectEvent> {
        self.objects.subscribe()
    }

    pub async fn create_bucket(&self, bucket: &str) -> Result<(), S3Error> {
        if !is_valid_bucket_name(bucket) {
            return Err(S3Error::InvalidBucketName(bucket.to_string()));
        }
        self.objects.create_bucket(bucket).await
    }

    pub async fn bucket_exists(&self, bucket: &str) -> Result<bool, S3Error> {
        self.objects.bucket_exists(bucket).await
    }

    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>, S3Error> {
        self.objects.list_buckets().await
    }

    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectInfo, S3Error> {
        self.objects.head(bucket, key).await
    }

    /// The whole body of an object (meant for photos and other small objects).
    pub async fn get_object_bytes(&self, bucket: &str, key: &str) -> Result<Vec<u8>, S3Error> {
        use std::io::Read;
        let (info, mut file) = self.objects.open_body(bucket, key).await?;
        let bytes = tokio::task::spawn_blocking(move || {
            let mut bytes = Vec::with_capacity(usize::try_from(info.size).unwrap_or(0));
            file.read_to_end(&mut bytes).map(|_| bytes)
        })
        .await
        .map_err(|e| StorageError::Worker(e.to_string()))?
        .map_err(|source| StorageError::Io { path: format!("s3://{bucket}/{key}").into(), source })?;
        Ok(bytes)
    }

    /// Stores an object durably, as PutObject does, and returns what was stored.
    pub async fn put_object_bytes(
        &self,
        bucket: &str,
        key: &str,
        bytes: impl Into<Bytes>,
        content_type: Option<&str>,
    ) -> Result<ObjectInfo, S3Error> {
        if key.is_empty() || key.len() > 1024 {
            return Err(S3Error::KeyTooLong);
        }
        self.objects.require_bucket(bucket).await?;
        let body = futures::stream::iter([Ok::<_, std::convert::Infallible>(bytes.into())]);
        let staged = self.objects.stage(body, Default::default(), objects::MAX_OBJECT_SIZE).await?;
        let object = NewObject {
            bucket: bucket.to_string(),
            key: key.to_string(),
            content_type: content_type.map(str::to_string),
            ..Default::default()
        };
        self.objects.commit(staged, object).await
    }

    /// Deletes an object; `Ok(false)` when there was none.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<bool, S3Error> {
        self.objects.delete_object(bucket, key).await
    }

    /// Every object whose key starts with `prefix`, in key order.
    pub async fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, S3Error> {
        let mut objects = Vec::new();
        let mut after = Cursor::Start;
        loop {
            let query = ListQuery { prefix: prefix.to_string(), delimiter: None, max_keys: 1000, after };
            let page = self.objects.list(bucket, query).await?;
            objects.extend(page.entries.into_iter().filter_map(|e| match e {
                Entry::Object(o) => Some(*o),
                Entry::CommonPrefix(_) => None,
            }));
            match page.next {
                Some(next) if page.truncated => after = next,
                _ => return Ok(objects),
            }
        }
    }
}

/// Starts S3 with the event target a service before it provides, and provides it to those
/// after it as the source of Rekognition's images (see `registry.rs`).
pub fn start(wiring: &mut Wiring) -> BoxFuture<'_, Result<Arc<dyn Service>, LocalCloudError>> {
    Box::pin(async move {
        let events = wiring.need::<Arc<dyn EventTarget>>("s3")?;
        let config = &wiring.config;
        let s3 = Arc::new(
            S3::new(wiring.store.clone(), &config.credentials, &config.region, events)
                .map_err(|e| LocalCloudError::S3(e.to_string()))?,
        );
        wiring.provide::<Arc<dyn ImageObjects>>(s3.clone());
        Ok(s3 as Arc<dyn Service>)
    })
}

/// S3 reads bodies itself, streaming, and refuses objects over its own limit.
const MAX_BODY: usize = objects::MAX_OBJECT_SIZE as usize;

const DECLARATION: Declaration = Declaration {
    signing_names: &["s3"],
    protocol: Protocol::RestXml,
    max_body: MAX_BODY,
    unsigned: Mark::Unclaimed,
    routes: &[],
};

impl Service for S3 {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn serve<'a>(&'a self, req: Request<Incoming>, _gate: &'a Gate) -> BoxFuture<'a, Response> {
        Box::pin(self.handle(req))
    }

    /// Undelivered events stay in the outbox for the next start.
    fn before_stop(&self) {
        self.shutdown();
    }
}

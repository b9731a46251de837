//! The local S3 as the source of the images Rekognition reads from `S3Object`s.

use futures::future::BoxFuture;

use super::{S3, S3Error};
use crate::local::rekognition::{ImageObjects, ObjectError};

impl ImageObjects for S3 {
    fn object_size<'a>(&'a self, bucket: &'a str, key: &'a str) -> BoxFuture<'a, Result<u64, ObjectError>> {
        Box::pin(async move { self.head_object(bucket, key).await.map(|info| info.size).map_err(object_error) })
    }

    fn object_bytes<'a>(&'a self, bucket: &'a str, key: &'a str) -> BoxFuture<'a, Result<Vec<u8>, ObjectError>> {
        Box::pin(async move { self.get_object_bytes(bucket, key).await.map_err(object_error) })
    }
}

fn object_error(e: S3Error) -> ObjectError {
    match e {
        S3Error::Storage(s) => ObjectError::Storage(s),
        // No such bucket or key (the only other errors a read gives).
        _ => ObjectError::Missing,
    }
}

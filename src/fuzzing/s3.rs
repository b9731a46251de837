//! The XML bodies S3 reads (DeleteObjects' `Delete`, CreateBucket's
//! `CreateBucketConfiguration`), sent as signed requests through the real S3 service —
//! s3s's parsing and our handlers — on a throwaway data directory.

use std::sync::{Arc, OnceLock};

use base64::Engine;
use md5::Digest;

use super::Outcome;
use futures::future::BoxFuture;

use crate::local::s3::{Delivery, EventTarget, S3};
use crate::local::sigv4::Credentials;
use crate::local::storage::Store;

const BUCKET: &str = "fuzz-bucket";
const HOST: &str = "127.0.0.1:4566";

struct Harness {
    runtime: tokio::runtime::Runtime,
    s3: S3,
    credentials: Credentials,
    // Kept for the process's life: the service's data directory.
    _dir: tempfile::TempDir,
}

/// Bucket notifications have nowhere to go while fuzzing: no function exists.
struct NoFunctions;

impl EventTarget for NoFunctions {
    fn function_exists<'a>(&'a self, _: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async { false })
    }
    fn deliver<'a>(&'a self, function_arn: &'a str, _: Vec<u8>) -> BoxFuture<'a, Delivery> {
        Box::pin(async move { Delivery::Gone(format!("{function_arn} does not exist while fuzzing")) })
    }
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary data directory");
        let store = Store::open(dir.path()).expect("the store opens");
        let credentials = Credentials {
            access_key: crate::local::DEFAULT_ACCESS_KEY.into(),
            secret_key: crate::local::DEFAULT_SECRET_KEY.into(),
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let s3 = runtime.block_on(async {
            // The notification dispatcher is a task of this runtime; no function exists here.
            let s3 = S3::new(store, &credentials, crate::local::DEFAULT_REGION, Arc::new(NoFunctions))
                .expect("the S3 service starts");
            s3.create_bucket(BUCKET).await.expect("the bucket");
            for key in ["a", "b/c", "photos/ü.jpg"] {
                s3.put_object_bytes(BUCKET, key, &b"x"[..], None).await.expect("an object");
            }
            s3
        });
        Harness { runtime, s3, credentials, _dir: dir }
    })
}

/// A request as an SDK would send it, signed for S3.
fn signed(method: &str, path_and_query: &str, body: &[u8], credentials: &Credentials) -> http::Request<bytes::Bytes> {
    let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body));
    let mut req = http::Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", HOST)
        .header("content-md5", md5)
        .header("content-length", body.len())
        .header("content-type", "application/xml")
        .body(bytes::Bytes::copy_from_slice(body))
        .expect("a well-formed request");
    super::sign(&mut req, "s3", crate::local::DEFAULT_REGION, credentials);
    req
}

/// Bytes: an XML body. One that mentions `CreateBucketConfiguration` goes to CreateBucket,
/// any other to DeleteObjects on the fuzz bucket.
pub fn s3_xml(data: &[u8]) -> Outcome {
    let h = harness();
    let create = data.windows(b"CreateBucket".len()).any(|w| w == b"CreateBucket");
    let (method, path) =
        if create { ("PUT", "/fuzz-created".to_string()) } else { ("POST", format!("/{BUCKET}?delete")) };
    let response = h.runtime.block_on(h.s3.handle(signed(method, &path, data, &h.credentials)));
    let status = response.status();
    assert!(
        !status.is_server_error(),
        "a hostile body is the client's error, never the server's: {status} for {method} {path}"
    );
    assert_ne!(status.as_u16(), 403, "a correctly signed request is not refused as unsigned: {method} {path}");
    if status.is_success() { Outcome::Accepted } else { Outcome::Refused }
}

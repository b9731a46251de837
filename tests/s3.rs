//! S3 through the real `aws-sdk-s3` client (default settings: flexible checksums,
//! aws-chunked uploads), presigned URLs over plain HTTP, and the bad inputs — each bad
//! input asserting S3's error code and that nothing stored changed.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart, Delete, EncodingType,
    MetadataDirective, ObjectIdentifier,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt;
use md5::{Digest, Md5};
use wildrydes::local::s3::S3;

use crate::common::TestCloud;

fn code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> String {
    err.as_service_error().and_then(|e| e.code()).unwrap_or("<no code>").to_string()
}

fn status<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

fn quoted_md5(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Md5::digest(bytes)))
}

async fn put(s3: &Client, bucket: &str, key: &str, body: &[u8]) {
    s3.put_object().bucket(bucket).key(key).body(ByteStream::from(body.to_vec())).send().await.expect("put_object");
}

async fn get(s3: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = s3.get_object().bucket(bucket).key(key).send().await.expect("get_object");
    out.body.collect().await.expect("body").into_bytes().to_vec()
}

async fn bucket_names(s3: &Client) -> Vec<String> {
    let out = s3.list_buckets().send().await.expect("list_buckets");
    out.buckets().iter().filter_map(|b| b.name().map(str::to_string)).collect()
}

async fn keys(s3: &Client, bucket: &str) -> Vec<String> {
    let out = s3.list_objects_v2().bucket(bucket).send().await.expect("list_objects_v2");
    out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
}

async fn cloud_with_bucket(bucket: &str) -> TestCloud {
    let cloud = TestCloud::start().await;
    cloud.clients.s3.create_bucket().bucket(bucket).send().await.expect("create_bucket");
    cloud
}

/// A raw HTTP request, for presigned URLs and for requests no SDK would send.
async fn raw(method: &str, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, http::HeaderMap, Vec<u8>) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let mut req = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(http_body_util::Full::new(bytes::Bytes::from(body))).expect("request");
    let resp = client.request(req).await.expect("request reaches the local cloud");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("response body").to_bytes().to_vec();
    (status, headers, body)
}

#[tokio::test]
async fn bucket_lifecycle_create_head_list_delete() {
    let cloud = TestCloud::start().await;
    let s3 = &cloud.clients.s3;
    let created = s3.create_bucket().bucket("rider-photos").send().await.unwrap();
    assert_eq!(created.location(), Some("/rider-photos"));
    s3.create_bucket().bucket("thumbnails").send().await.unwrap();
    s3.head_bucket().bucket("rider-photos").send().await.unwrap();
    assert_eq!(bucket_names(s3).await, ["rider-photos", "thumbnails"]);
    let listed = s3.list_buckets().send().await.unwrap();
    assert!(listed.buckets()[0].creation_date().is_some());

    s3.delete_bucket().bucket("rider-photos").send().await.unwrap();
    assert_eq!(bucket_names(s3).await, ["thumbnails"]);
    let err = s3.head_bucket().bucket("rider-photos").send().await.unwrap_err();
    assert_eq!(status(&err), Some(404));
}

#[tokio::test]
async fn creating_an_owned_bucket_again_answers_200_in_us_east_1_and_409_elsewhere() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    put(s3, "photos", "a.jpg", b"kept").await;
    let again = s3.create_bucket().bucket("photos").send().await.expect("us-east-1 answers 200");
    assert_eq!(again.location(), Some("/photos"));
    let elsewhere = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
        .build();
    let err = s3.create_bucket().bucket("photos").create_bucket_configuration(elsewhere).send().await.unwrap_err();
    assert_eq!(code(&err), "BucketAlreadyOwnedByYou");
    assert_eq!(status(&err), Some(409));
    assert_eq!(bucket_names(s3).await, ["photos"]);
    assert_eq!(get(s3, "photos", "a.jpg").await, b"kept");
}

#[tokio::test]
async fn invalid_bucket_names_are_refused_and_nothing_is_created() {
    let cloud = TestCloud::start().await;
    let s3 = &cloud.clients.s3;
    let long = "a".repeat(64);
    for name in
        ["ab", long.as_str(), "Upper", "under_score", "192.168.5.4", "xn--abc", "my-s3alias", "two..dots", "-dash"]
    {
        let err = s3.create_bucket().bucket(name).send().await.unwrap_err();
        assert_eq!(code(&err), "InvalidBucketName", "{name}");
        assert_eq!(status(&err), Some(400), "{name}");
        let message = err.as_service_error().and_then(|e| e.message()).unwrap_or("");
        assert_eq!(message, "The specified bucket is not valid.", "{name}");
    }
    assert!(bucket_names(s3).await.is_empty());
}

#[tokio::test]
async fn deleting_a_non_empty_bucket_is_bucket_not_empty() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    put(s3, "photos", "a.jpg", b"still here").await;
    let err = s3.delete_bucket().bucket("photos").send().await.unwrap_err();
    assert_eq!(code(&err), "BucketNotEmpty");
    assert_eq!(status(&err), Some(409));
    assert_eq!(bucket_names(s3).await, ["photos"]);
    assert_eq!(get(s3, "photos", "a.jpg").await, b"still here");
}

#[tokio::test]
async fn unknown_bucket_is_no_such_bucket_and_nothing_is_created() {
    let cloud = TestCloud::start().await;
    let s3 = &cloud.clients.s3;
    let err = s3.get_object().bucket("missing").key("k").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
    let err = s3.put_object().bucket("missing").key("k").body(ByteStream::from_static(b"x")).send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
    let err = s3.list_objects_v2().bucket("missing").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
    let err = s3.delete_bucket().bucket("missing").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
    let err = s3.delete_object().bucket("missing").key("k").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
    let err = s3.copy_object().copy_source("missing/k").bucket("missing").key("k2").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
    assert!(bucket_names(s3).await.is_empty());
}

#[tokio::test]
async fn unknown_key_is_no_such_key() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    put(s3, "photos", "other", b"x").await;
    let err = s3.get_object().bucket("photos").key("nope.jpg").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
    assert_eq!(status(&err), Some(404));
    assert_eq!(err.as_service_error().and_then(|e| e.message()), Some("The specified key does not exist."));
    let err = s3.head_object().bucket("photos").key("nope.jpg").send().await.unwrap_err();
    assert_eq!(status(&err), Some(404));
    assert!(err.into_service_error().is_not_found());
    assert_eq!(keys(s3, "photos").await, ["other"]);
}

#[tokio::test]
async fn put_and_get_keep_bytes_metadata_content_type_and_md5_etag() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    let body = b"\xff\xd8\xff\xe0 not really a jpeg".to_vec();
    let stored = s3
        .put_object()
        .bucket("photos")
        .key("riders/1_happy_face.jpg")
        .content_type("image/jpeg")
        .metadata("user-id", "user_a")
        .metadata("Source", "selfie cam")
        .cache_control("max-age=60")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.e_tag(), Some(quoted_md5(&body).as_str()));

    let got = s3.get_object().bucket("photos").key("riders/1_happy_face.jpg").send().await.unwrap();
    assert_eq!(got.e_tag(), Some(quoted_md5(&body).as_str()));
    assert_eq!(got.content_type(), Some("image/jpeg"));
    assert_eq!(got.content_length(), Some(body.len() as i64));
    assert_eq!(got.cache_control(), Some("max-age=60"));
    assert_eq!(got.content_encoding(), None, "aws-chunked is framing, not the object's encoding");
    let metadata = got.metadata().cloned().unwrap_or_default();
    assert_eq!(metadata.get("user-id").map(String::as_str), Some("user_a"));
    assert_eq!(metadata.get("source").map(String::as_str), Some("selfie cam"));
    assert!(got.last_modified().is_some());
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), body.as_slice());

    let head = s3.head_object().bucket("photos").key("riders/1_happy_face.jpg").send().await.unwrap();
    assert_eq!(head.content_length(), Some(body.len() as i64));
    assert_eq!(head.e_tag(), Some(quoted_md5(&body).as_str()));
    assert_eq!(head.content_type(), Some("image/jpeg"));
    assert_eq!(head.metadata().and_then(|m| m.get("user-id")).map(String::as_str), Some("user_a"));
}

#[tokio::test]
async fn sdk_default_upload_with_crc32_trailer_stores_exactly_the_bytes_sent() {
    // 3 MiB + 7 bytes: several aws-chunked chunks, an odd tail, a CRC32 trailer.
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    let body: Vec<u8> = (0..3 * 1024 * 1024 + 7).map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let put =
        s3.put_object().bucket("photos").key("big.bin").body(ByteStream::from(body.clone())).send().await.unwrap();
    assert_eq!(put.e_tag(), Some(quoted_md5(&body).as_str()));
    let expected_crc = base64_crc32(&body);
    assert_eq!(put.checksum_crc32(), Some(expected_crc.as_str()));

    let got =
        s3.get_object().bucket("photos").key("big.bin").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(got.checksum_crc32(), Some(expected_crc.as_str()));
    assert_eq!(got.content_length(), Some(body.len() as i64));
    let bytes = got.body.collect().await.unwrap().into_bytes();
    assert!(bytes.as_ref() == body.as_slice(), "stored bytes differ from the bytes sent");
}

#[tokio::test]
async fn sdk_streaming_upload_from_a_file_is_decoded_from_aws_chunked() {
    // A file body is streamed: the SDK frames it as aws-chunked with a CRC32 trailer.
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    let body: Vec<u8> = (0..5 * 1024 * 1024 + 123).map(|i: u32| (i.wrapping_mul(40503) >> 7) as u8).collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &body).unwrap();
    let stream = ByteStream::from_path(file.path()).await.unwrap();
    let put = s3.put_object().bucket("photos").key("streamed.bin").body(stream).send().await.unwrap();
    assert_eq!(put.e_tag(), Some(quoted_md5(&body).as_str()));
    assert_eq!(put.checksum_crc32(), Some(base64_crc32(&body).as_str()));
    let got = s3.get_object().bucket("photos").key("streamed.bin").send().await.unwrap();
    assert_eq!(got.content_encoding(), None);
    let bytes = got.body.collect().await.unwrap().into_bytes();
    assert!(bytes.as_ref() == body.as_slice(), "stored bytes differ from the file");
}

#[tokio::test]
async fn a_body_that_does_not_match_its_checksum_is_bad_digest_and_not_stored() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    put(s3, "photos", "a", b"original").await;
    let err = s3
        .put_object()
        .bucket("photos")
        .key("a")
        .checksum_crc32("AAAAAA==")
        .body(ByteStream::from_static(b"replacement"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "BadDigest");
    let err = s3
        .put_object()
        .bucket("photos")
        .key("a")
        .content_md5("1B2M2Y8AsgTpgAmY7PhCfg==") // the MD5 of nothing
        .body(ByteStream::from_static(b"replacement"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "BadDigest");
    assert_eq!(get(s3, "photos", "a").await, b"original");
    assert_eq!(cloud.cloud.as_ref().unwrap().router().store().blobs().list().unwrap().len(), 1, "no stray blob");
}

fn base64_crc32(bytes: &[u8]) -> String {
    // CRC-32 (IEEE), bitwise: small and independent of the server's implementation.
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    STANDARD.encode((!crc).to_be_bytes())
}

#[tokio::test]
async fn range_gets_return_206_with_the_slice() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    put(s3, "photos", "digits", b"0123456789").await;
    for (range, expected, content_range) in [
        ("bytes=2-5", &b"2345"[..], "bytes 2-5/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=6-", b"6789", "bytes 6-9/10"),
        ("bytes=8-100", b"89", "bytes 8-9/10"),
    ] {
        let out = s3.get_object().bucket("photos").key("digits").range(range).send().await.unwrap();
        assert_eq!(out.content_range(), Some(content_range), "{range}");
        assert_eq!(out.content_length(), Some(expected.len() as i64), "{range}");
        assert_eq!(out.body.collect().await.unwrap().into_bytes().as_ref(), expected, "{range}");
    }
    let err = s3.get_object().bucket("photos").key("digits").range("bytes=10-20").send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidRange");
    assert_eq!(status(&err), Some(416));
}

#[tokio::test]
async fn range_get_answers_206_on_the_wire() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    put(s3, "photos", "digits", b"0123456789").await;
    let url = s3
        .get_object()
        .bucket("photos")
        .key("digits")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    let (status, headers, body) = raw("GET", url.uri(), &[("range", "bytes=1-3")], Vec::new()).await;
    assert_eq!(status, 206);
    assert_eq!(body, b"123");
    assert_eq!(headers.get("content-range").and_then(|v| v.to_str().ok()), Some("bytes 1-3/10"));
}

#[tokio::test]
async fn conditional_gets_follow_s3s_precedence() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    put(s3, "photos", "a", b"version one").await;
    let etag = quoted_md5(b"version one");
    let head = s3.head_object().bucket("photos").key("a").send().await.unwrap();
    let modified = head.last_modified().copied().unwrap();
    let before = DateTime::from_secs(modified.secs() - 3600);
    let after = DateTime::from_secs(modified.secs() + 3600);

    // If-Match
    let ok = s3.get_object().bucket("photos").key("a").if_match(&etag).send().await.unwrap();
    assert_eq!(ok.body.collect().await.unwrap().into_bytes().as_ref(), b"version one");
    let err = s3.get_object().bucket("photos").key("a").if_match("\"0000\"").send().await.unwrap_err();
    assert_eq!(code(&err), "PreconditionFailed");
    assert_eq!(status(&err), Some(412));

    // If-None-Match → 304 with the validators
    let err = s3.get_object().bucket("photos").key("a").if_none_match(&etag).send().await.unwrap_err();
    assert_eq!(status(&err), Some(304));
    let etag_header = err.raw_response().and_then(|r| r.headers().get("etag")).map(str::to_string);
    assert_eq!(etag_header.as_deref(), Some(etag.as_str()));
    s3.get_object().bucket("photos").key("a").if_none_match("\"other\"").send().await.unwrap();

    // If-Modified-Since / If-Unmodified-Since
    let err = s3.get_object().bucket("photos").key("a").if_modified_since(after).send().await.unwrap_err();
    assert_eq!(status(&err), Some(304));
    s3.get_object().bucket("photos").key("a").if_modified_since(before).send().await.unwrap();
    let err = s3.get_object().bucket("photos").key("a").if_unmodified_since(before).send().await.unwrap_err();
    assert_eq!(code(&err), "PreconditionFailed");
    s3.get_object().bucket("photos").key("a").if_unmodified_since(after).send().await.unwrap();

    // If-Match that holds overrides a failing If-Unmodified-Since; If-None-Match that
    // fails to match overrides a matching If-Modified-Since.
    s3.get_object().bucket("photos").key("a").if_match(&etag).if_unmodified_since(before).send().await.unwrap();
    s3.get_object().bucket("photos").key("a").if_none_match("\"other\"").if_modified_since(after).send().await.unwrap();

    // HEAD honours the same conditions.
    let err = s3.head_object().bucket("photos").key("a").if_none_match(&etag).send().await.unwrap_err();
    assert_eq!(status(&err), Some(304));
    let err = s3.head_object().bucket("photos").key("a").if_match("\"0000\"").send().await.unwrap_err();
    assert_eq!(status(&err), Some(412));
    assert_eq!(get(s3, "photos", "a").await, b"version one");
}

#[tokio::test]
async fn overwriting_a_key_replaces_its_body_and_etag() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    put(s3, "photos", "a", b"first").await;
    put(s3, "photos", "a", b"second, longer").await;
    assert_eq!(get(s3, "photos", "a").await, b"second, longer");
    let head = s3.head_object().bucket("photos").key("a").send().await.unwrap();
    assert_eq!(head.e_tag(), Some(quoted_md5(b"second, longer").as_str()));
    assert_eq!(keys(s3, "photos").await, ["a"]);
}

#[tokio::test]
async fn copy_object_copies_bytes_and_metadata_or_replaces_metadata() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    s3.create_bucket().bucket("thumbnails").send().await.unwrap();
    s3.put_object()
        .bucket("photos")
        .key("src key.jpg")
        .content_type("image/jpeg")
        .metadata("user-id", "user_a")
        .body(ByteStream::from_static(b"jpeg bytes"))
        .send()
        .await
        .unwrap();

    // COPY (the default): bytes and metadata travel.
    let copied =
        s3.copy_object().copy_source("photos/src%20key.jpg").bucket("thumbnails").key("copy.jpg").send().await.unwrap();
    let result = copied.copy_object_result().unwrap();
    assert_eq!(result.e_tag(), Some(quoted_md5(b"jpeg bytes").as_str()));
    let got = s3.get_object().bucket("thumbnails").key("copy.jpg").send().await.unwrap();
    assert_eq!(got.content_type(), Some("image/jpeg"));
    assert_eq!(got.metadata().and_then(|m| m.get("user-id")).map(String::as_str), Some("user_a"));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"jpeg bytes");

    // REPLACE: the request's metadata instead, even onto the same key.
    s3.copy_object()
        .copy_source("photos/src%20key.jpg")
        .bucket("photos")
        .key("src key.jpg")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("image/png")
        .metadata("user-id", "user_b")
        .send()
        .await
        .unwrap();
    let head = s3.head_object().bucket("photos").key("src key.jpg").send().await.unwrap();
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(head.metadata().and_then(|m| m.get("user-id")).map(String::as_str), Some("user_b"));
    assert_eq!(get(s3, "photos", "src key.jpg").await, b"jpeg bytes");

    // Copying onto itself without changing anything is refused, and changes nothing.
    let err = s3.copy_object().copy_source("photos/src%20key.jpg").bucket("photos").key("src key.jpg").send().await;
    assert_eq!(code(&err.unwrap_err()), "InvalidRequest");
    let err = s3.copy_object().copy_source("photos/absent").bucket("photos").key("x").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
    let err = s3
        .copy_object()
        .copy_source("photos/src%20key.jpg")
        .copy_source_if_match("\"0000\"")
        .bucket("photos")
        .key("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "PreconditionFailed");
    assert_eq!(keys(s3, "photos").await, ["src key.jpg"]);
    assert_eq!(keys(s3, "thumbnails").await, ["copy.jpg"]);
}

fn identifiers(keys: &[&str]) -> Delete {
    let objects = keys.iter().map(|k| ObjectIdentifier::builder().key(*k).build().unwrap()).collect();
    Delete::builder().set_objects(Some(objects)).build().unwrap()
}

#[tokio::test]
async fn delete_object_and_delete_objects_remove_keys() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    for key in ["a", "b", "c", "d"] {
        put(s3, "photos", key, key.as_bytes()).await;
    }
    s3.delete_object().bucket("photos").key("a").send().await.unwrap();
    // Deleting a key that is not there succeeds, as on S3.
    s3.delete_object().bucket("photos").key("a").send().await.unwrap();
    assert_eq!(keys(s3, "photos").await, ["b", "c", "d"]);

    let out = s3.delete_objects().bucket("photos").delete(identifiers(&["b", "c", "never-was"])).send().await.unwrap();
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, ["b", "c", "never-was"]);
    assert!(out.errors().is_empty());
    assert_eq!(keys(s3, "photos").await, ["d"]);

    let quiet =
        Delete::builder().objects(ObjectIdentifier::builder().key("d").build().unwrap()).quiet(true).build().unwrap();
    let out = s3.delete_objects().bucket("photos").delete(quiet).send().await.unwrap();
    assert!(out.deleted().is_empty());
    assert!(keys(s3, "photos").await.is_empty());
}

#[tokio::test]
async fn malformed_delete_objects_xml_is_malformed_xml_and_deletes_nothing() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    put(s3, "photos", "a", b"a").await;
    // The SDK cannot build bad XML, so swap the body before it signs the request.
    let err = s3
        .delete_objects()
        .bucket("photos")
        .delete(identifiers(&["a"]))
        .customize()
        .mutate_request(|req| {
            let bad = "<Delete><Object><Key>a</Key></Obj";
            *req.body_mut() = aws_smithy_types::body::SdkBody::from(bad);
            req.headers_mut().insert("content-length", bad.len().to_string());
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "MalformedXML");
    assert_eq!(status(&err), Some(400));
    assert_eq!(keys(s3, "photos").await, ["a"]);
}

#[tokio::test]
async fn list_objects_v2_paginates_with_continuation_tokens() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    let all: Vec<String> = (0..25).map(|i| format!("p/{i:02}.jpg")).collect();
    for key in &all {
        put(s3, "photos", key, b"x").await;
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let out = s3
            .list_objects_v2()
            .bucket("photos")
            .prefix("p/")
            .max_keys(10)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        pages.push((out.key_count(), out.is_truncated()));
        seen.extend(out.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        assert_eq!(out.max_keys(), Some(10));
        for object in out.contents() {
            assert_eq!(object.size(), Some(1));
            assert_eq!(object.e_tag(), Some(quoted_md5(b"x").as_str()));
        }
        match out.next_continuation_token() {
            Some(next) => token = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, [(Some(10), Some(true)), (Some(10), Some(true)), (Some(5), Some(false))]);
    assert_eq!(seen, all);

    // The SDK's paginator drives the same tokens.
    let paged: Vec<String> = s3
        .list_objects_v2()
        .bucket("photos")
        .max_keys(7)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .iter()
        .flat_map(|page| page.contents().iter().filter_map(|o| o.key().map(str::to_string)))
        .collect();
    assert_eq!(paged, all);

    let after = s3.list_objects_v2().bucket("photos").start_after("p/20.jpg").send().await.unwrap();
    let rest: Vec<&str> = after.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(rest, ["p/21.jpg", "p/22.jpg", "p/23.jpg", "p/24.jpg"]);

    let err = s3.list_objects_v2().bucket("photos").continuation_token("garbage!").send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
}

#[tokio::test]
async fn delimiter_listing_rolls_keys_up_into_common_prefixes() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    for key in ["a/1.jpg", "a/2.jpg", "b/x/1.jpg", "b/y.jpg", "c.jpg", "d/", "e.jpg"] {
        put(s3, "photos", key, b"x").await;
    }
    let out = s3.list_objects_v2().bucket("photos").delimiter("/").send().await.unwrap();
    let objects: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = out.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(objects, ["c.jpg", "e.jpg"]);
    assert_eq!(prefixes, ["a/", "b/", "d/"]);
    assert_eq!(out.key_count(), Some(5));
    assert_eq!(out.delimiter(), Some("/"));

    let out = s3.list_objects_v2().bucket("photos").prefix("b/").delimiter("/").send().await.unwrap();
    let objects: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = out.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(objects, ["b/y.jpg"]);
    assert_eq!(prefixes, ["b/x/"]);

    // Common prefixes count against max-keys and paginate like keys.
    let mut entries = Vec::new();
    let mut token = None;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket("photos")
            .delimiter("/")
            .max_keys(2)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        assert!(out.key_count().unwrap_or(0) <= 2);
        entries.extend(out.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_string)));
        entries.extend(out.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        token = out.next_continuation_token().map(str::to_string);
        if token.is_none() {
            assert_eq!(out.is_truncated(), Some(false));
            break;
        }
    }
    entries.sort();
    assert_eq!(entries, ["a/", "b/", "c.jpg", "d/", "e.jpg"]);
}

#[tokio::test]
async fn odd_keys_are_names_never_paths() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    let long = "k".repeat(1024);
    let odd = [
        "../../../../etc/passwd",
        "..",
        "/leading/slash",
        "a//double",
        "dot/./segment",
        "back\\slash",
        "nul\0byte",
        "space and+plus&amp;?#%",
        "unicode/日本語/ün✓.jpg",
        long.as_str(),
    ];
    for (i, key) in odd.iter().enumerate() {
        put(s3, "photos", key, format!("body {i}").as_bytes()).await;
    }
    for (i, key) in odd.iter().enumerate() {
        assert_eq!(get(s3, "photos", key).await, format!("body {i}").as_bytes(), "{key:?}");
    }
    // A NUL cannot travel in XML 1.0: like S3, list such keys with encoding-type=url.
    let listed = s3.list_objects_v2().bucket("photos").encoding_type(EncodingType::Url).send().await.unwrap();
    let decode = |k: &str| percent_encoding::percent_decode_str(&k.replace('+', " ")).decode_utf8_lossy().into_owned();
    let listed: Vec<String> = listed.contents().iter().filter_map(|o| o.key()).map(decode).collect();
    let mut expected: Vec<&str> = odd.to_vec();
    expected.sort_unstable();
    assert_eq!(listed, expected);
    // Nothing was written outside the blob store.
    for entry in std::fs::read_dir(cloud.dir.path()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(name == "blobs" || name == "lambda" || name.starts_with("wildrydes.sqlite"), "unexpected entry {name}");
    }

    let too_long = "k".repeat(1025);
    let err = s3.put_object().bucket("photos").key(&too_long).body(ByteStream::from_static(b"x")).send().await;
    assert_eq!(code(&err.unwrap_err()), "KeyTooLongError");
    let count = s3.list_objects_v2().bucket("photos").encoding_type(EncodingType::Url).send().await.unwrap();
    assert_eq!(count.key_count(), Some(odd.len() as i32));
}

#[tokio::test]
async fn presigned_get_and_put_work_over_plain_http() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    let config = PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let put = s3.put_object().bucket("photos").key("up.jpg").presigned(config.clone()).await.unwrap();
    let headers: Vec<(&str, &str)> = put.headers().collect();
    let (status, _, _) = raw("PUT", put.uri(), &headers, b"uploaded by URL".to_vec()).await;
    assert_eq!(status, 200);
    assert_eq!(get(s3, "photos", "up.jpg").await, b"uploaded by URL");
    // Sent without a Content-Type, so S3 reports its default.
    let head = s3.head_object().bucket("photos").key("up.jpg").send().await.unwrap();
    assert_eq!(head.content_type(), Some("binary/octet-stream"));

    let get_url = s3.get_object().bucket("photos").key("up.jpg").presigned(config).await.unwrap();
    let (status, headers, body) = raw("GET", get_url.uri(), &[], Vec::new()).await;
    assert_eq!(status, 200);
    assert_eq!(body, b"uploaded by URL");
    assert_eq!(headers.get("etag").and_then(|v| v.to_str().ok()), Some(quoted_md5(b"uploaded by URL").as_str()));

    // A tampered URL no longer matches its signature.
    let tampered = get_url.uri().replace("up.jpg", "up2.jpg");
    let (status, _, body) = raw("GET", &tampered, &[], Vec::new()).await;
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("<Code>SignatureDoesNotMatch</Code>"));
}

#[tokio::test]
async fn expired_presigned_url_is_access_denied() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    put(s3, "photos", "a.jpg", b"secret").await;
    let config = PresigningConfig::builder()
        .start_time(SystemTime::now() - Duration::from_secs(3600))
        .expires_in(Duration::from_secs(60))
        .build()
        .unwrap();
    let url = s3.get_object().bucket("photos").key("a.jpg").presigned(config.clone()).await.unwrap();
    let (status, _, body) = raw("GET", url.uri(), &[], Vec::new()).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 403);
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    assert!(body.contains("Request has expired"), "{body}");

    let put_url = s3.put_object().bucket("photos").key("a.jpg").presigned(config).await.unwrap();
    let (status, _, _) = raw("PUT", put_url.uri(), &[], b"overwritten".to_vec()).await;
    assert_eq!(status, 403);
    assert_eq!(get(s3, "photos", "a.jpg").await, b"secret");
}

#[tokio::test]
async fn wrong_secret_is_signature_does_not_match_and_stores_nothing() {
    let cloud = cloud_with_bucket("photos").await;
    let bad = cloud.clients_with_credentials("wildrydes", "not-the-secret", "us-east-1").await;
    let err =
        bad.s3.put_object().bucket("photos").key("k").body(ByteStream::from_static(b"x")).send().await.unwrap_err();
    assert_eq!(code(&err), "SignatureDoesNotMatch");
    assert_eq!(status(&err), Some(403));
    let message = err.as_service_error().and_then(|e| e.message()).unwrap_or("");
    assert!(message.contains("signature we calculated does not match"), "{message}");
    let err = bad.s3.create_bucket().bucket("other").send().await.unwrap_err();
    assert_eq!(code(&err), "SignatureDoesNotMatch");
    let s3 = &cloud.clients.s3;
    assert!(keys(s3, "photos").await.is_empty());
    assert_eq!(bucket_names(s3).await, ["photos"]);
}

#[tokio::test]
async fn unknown_access_key_is_invalid_access_key_id_and_stores_nothing() {
    let cloud = cloud_with_bucket("photos").await;
    let bad = cloud.clients_with_credentials("AKIAEXAMPLE", "wildrydes", "us-east-1").await;
    let err =
        bad.s3.put_object().bucket("photos").key("k").body(ByteStream::from_static(b"x")).send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidAccessKeyId");
    assert_eq!(status(&err), Some(403));
    let err = bad.s3.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidAccessKeyId");
    assert!(keys(&cloud.clients.s3, "photos").await.is_empty());
}

#[tokio::test]
async fn unsigned_requests_are_access_denied_and_store_nothing() {
    let cloud = cloud_with_bucket("photos").await;
    put(&cloud.clients.s3, "photos", "a.jpg", b"private").await;
    let base = &cloud.endpoint;
    for (method, path, body) in [
        ("GET", "/", Vec::new()),
        ("GET", "/photos/a.jpg", Vec::new()),
        ("PUT", "/photos/b.jpg", b"anonymous".to_vec()),
        ("PUT", "/newbucket", Vec::new()),
        ("DELETE", "/photos/a.jpg", Vec::new()),
    ] {
        let (status, _, body) = raw(method, &format!("{base}{path}"), &[], body).await;
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 403, "{method} {path}");
        assert!(body.contains("<Code>AccessDenied</Code>"), "{method} {path}: {body}");
    }
    let s3 = &cloud.clients.s3;
    assert_eq!(keys(s3, "photos").await, ["a.jpg"]);
    assert_eq!(get(s3, "photos", "a.jpg").await, b"private");
    assert_eq!(bucket_names(s3).await, ["photos"]);
}

#[tokio::test]
async fn virtual_host_style_addresses_the_bucket_by_host() {
    let cloud = cloud_with_bucket("photos").await;
    put(&cloud.clients.s3, "photos", "vh.txt", b"by host").await;
    // A client addressing buckets as <bucket>.localhost:<port>; the request still goes to
    // 127.0.0.1, with the virtual host in the Host header it signed.
    let port = cloud.endpoint.rsplit(':').next().unwrap().to_string();
    let config = cloud
        .clients
        .s3
        .config()
        .to_builder()
        .endpoint_url(format!("http://localhost:{port}"))
        .force_path_style(false)
        .build();
    let vh = Client::from_conf(config);
    let url = vh
        .get_object()
        .bucket("photos")
        .key("vh.txt")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    let parsed: http::Uri = url.uri().parse().unwrap();
    let host = parsed.authority().unwrap().to_string();
    assert_eq!(host, format!("photos.localhost:{port}"));
    let direct = format!("{}{}", cloud.endpoint, parsed.path_and_query().unwrap());
    let (status, _, body) = raw("GET", &direct, &[("host", &host)], Vec::new()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body, b"by host");
}

#[tokio::test]
async fn objects_survive_a_restart() {
    let cloud = cloud_with_bucket("photos").await;
    put(&cloud.clients.s3, "photos", "kept.jpg", b"durable bytes").await;
    put(&cloud.clients.s3, "photos", "gone.jpg", b"deleted before restart").await;
    cloud.clients.s3.delete_object().bucket("photos").key("gone.jpg").send().await.unwrap();
    let cloud = cloud.restart().await;
    let s3 = &cloud.clients.s3;
    assert_eq!(bucket_names(s3).await, ["photos"]);
    assert_eq!(keys(s3, "photos").await, ["kept.jpg"]);
    assert_eq!(get(s3, "photos", "kept.jpg").await, b"durable bytes");
}

#[tokio::test]
async fn blobs_left_by_an_interrupted_write_are_swept_at_start_up() {
    let cloud = cloud_with_bucket("photos").await;
    put(&cloud.clients.s3, "photos", "kept.jpg", b"referenced").await;
    let store = cloud.cloud.as_ref().unwrap().router().store().clone();
    // What a crash between committing a blob and the metadata transaction leaves: a
    // journalled blob nothing points at. Another service's blob is not S3's to sweep.
    let orphan = store.blobs().put(b"orphan").unwrap();
    let foreign = store.blobs().put(b"function code").unwrap();
    let journalled = orphan.clone();
    store
        .call_blocking(move |c| Ok(c.execute("INSERT INTO s3_blob_journal (blob_id) VALUES (?1)", [&journalled])?))
        .unwrap();
    drop(store);

    let cloud = cloud.restart().await;
    let blobs = cloud.cloud.as_ref().unwrap().router().store().blobs().list().unwrap();
    assert!(!blobs.contains(&orphan), "the orphan was swept");
    assert!(blobs.contains(&foreign), "a blob S3 never journalled is left alone");
    assert_eq!(blobs.len(), 2, "the referenced blob and the foreign one remain");
    assert_eq!(get(&cloud.clients.s3, "photos", "kept.jpg").await, b"referenced");
}

#[tokio::test]
async fn plain_api_reads_and_writes_what_the_sdk_sees() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = cloud.cloud.as_ref().unwrap().router().service::<S3>();
    let mut events = s3.subscribe();
    let info = s3.put_object_bytes("photos", "from-api.jpg", b"api bytes".to_vec(), Some("image/jpeg")).await.unwrap();
    assert_eq!(info.etag, hex::encode(Md5::digest(b"api bytes")));
    let event = events.recv().await.unwrap();
    assert!(
        matches!(event, wildrydes::local::s3::ObjectEvent::Created { ref key, size: 9, .. } if key == "from-api.jpg")
    );
    assert_eq!(get(&cloud.clients.s3, "photos", "from-api.jpg").await, b"api bytes");

    put(&cloud.clients.s3, "photos", "from-sdk.jpg", b"sdk bytes").await;
    assert_eq!(s3.get_object_bytes("photos", "from-sdk.jpg").await.unwrap(), b"sdk bytes");
    let listed: Vec<String> = s3.list_objects("photos", "from-").await.unwrap().into_iter().map(|o| o.key).collect();
    assert_eq!(listed, ["from-api.jpg", "from-sdk.jpg"]);
    assert!(matches!(
        s3.get_object_bytes("photos", "nope").await,
        Err(wildrydes::local::s3::S3Error::NoSuchKey { .. })
    ));
    assert!(matches!(
        s3.put_object_bytes("missing", "k", b"x".to_vec(), None).await,
        Err(wildrydes::local::s3::S3Error::NoSuchBucket(_))
    ));
}

#[tokio::test]
async fn acknowledged_puts_survive_kill_9() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let start = |dir: &std::path::Path| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wildrydes"))
            .args(["--data-dir", dir.to_str().unwrap(), "serve", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("wildrydes serve starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let endpoint = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| line.split_whitespace().find(|w| w.starts_with("http://")).map(str::to_string))
            .expect("serve prints its endpoint");
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        (child, endpoint)
    };
    let client_for = |endpoint: String| async move {
        wildrydes::cloud::Clients::for_target(&wildrydes::cloud::Target::local(endpoint)).await.s3
    };

    let (mut server, endpoint) = start(dir.path());
    let s3 = client_for(endpoint).await;
    s3.create_bucket().bucket("photos").send().await.unwrap();
    let bodies: Vec<Vec<u8>> = (0..20).map(|i| format!("acknowledged write {i}").repeat(i + 1).into_bytes()).collect();
    for (i, body) in bodies.iter().enumerate() {
        put(&s3, "photos", &format!("k{i:02}"), body).await;
    }
    put(&s3, "photos", "k00", b"overwritten").await;
    server.kill().unwrap(); // SIGKILL: no shutdown path runs
    server.wait().unwrap();

    let (mut server, endpoint) = start(dir.path());
    let s3 = client_for(endpoint).await;
    assert_eq!(get(&s3, "photos", "k00").await, b"overwritten");
    for (i, body) in bodies.iter().enumerate().skip(1) {
        assert_eq!(&get(&s3, "photos", &format!("k{i:02}")).await, body);
    }
    assert_eq!(keys(&s3, "photos").await.len(), 20);
    server.kill().unwrap();
    server.wait().unwrap();
}

// Multipart uploads.

const MIB: usize = 1024 * 1024;

/// Bytes that differ from one offset to the next, so a part out of place shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + usize::from(seed) * 7) % 251) as u8).collect()
}

/// AWS's multipart ETag, quoted: the MD5 of the parts' binary MD5s, a dash, the count.
fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut md5 = Md5::new();
    for part in parts {
        md5.update(Md5::digest(part));
    }
    format!("\"{}-{}\"", hex::encode(md5.finalize()), parts.len())
}

async fn start_upload(s3: &Client, bucket: &str, key: &str) -> String {
    let out = s3.create_multipart_upload().bucket(bucket).key(key).send().await.expect("create_multipart_upload");
    out.upload_id().expect("an upload id").to_string()
}

async fn upload_part(s3: &Client, bucket: &str, key: &str, id: &str, number: i32, body: &[u8]) -> CompletedPart {
    let out = s3
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .part_number(number)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .expect("upload_part");
    assert_eq!(out.e_tag(), Some(quoted_md5(body).as_str()));
    CompletedPart::builder()
        .part_number(number)
        .e_tag(out.e_tag().unwrap())
        .set_checksum_crc32(out.checksum_crc32().map(str::to_string))
        .build()
}

fn parts_list(parts: Vec<CompletedPart>) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder().set_parts(Some(parts)).build()
}

async fn complete(
    s3: &Client,
    bucket: &str,
    key: &str,
    id: &str,
    parts: Vec<CompletedPart>,
) -> Result<
    aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput,
    SdkError<aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadError, HttpResponse>,
> {
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(id)
        .multipart_upload(parts_list(parts))
        .send()
        .await
}

async fn upload_ids(s3: &Client, bucket: &str) -> Vec<(String, String)> {
    let out = s3.list_multipart_uploads().bucket(bucket).send().await.expect("list_multipart_uploads");
    out.uploads().iter().map(|u| (u.key().unwrap_or("").to_string(), u.upload_id().unwrap_or("").to_string())).collect()
}

fn blob_count(cloud: &TestCloud) -> usize {
    cloud.cloud.as_ref().unwrap().router().store().blobs().list().unwrap().len()
}

#[tokio::test]
async fn multipart_upload_round_trips_bytes_with_aws_etag_and_attributes() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    let created = s3
        .create_multipart_upload()
        .bucket("photos")
        .key("big/selfie one.jpg")
        .content_type("image/jpeg")
        .metadata("rider", "user_a")
        .send()
        .await
        .unwrap();
    assert_eq!(created.bucket(), Some("photos"));
    assert_eq!(created.key(), Some("big/selfie one.jpg"));
    let id = created.upload_id().unwrap();
    let bodies = [pattern(5 * MIB, 1), pattern(5 * MIB + 7, 2), pattern(1000, 3)];
    // Parts arrive in any order; one uploaded twice keeps the second body.
    let mut parts = Vec::new();
    upload_part(s3, "photos", "big/selfie one.jpg", id, 2, b"replaced by the next upload").await;
    for (i, body) in bodies.iter().enumerate().rev() {
        parts.push(upload_part(s3, "photos", "big/selfie one.jpg", id, i as i32 + 1, body).await);
    }
    parts.reverse();

    let listed = s3.list_parts().bucket("photos").key("big/selfie one.jpg").upload_id(id).send().await.unwrap();
    let sizes: Vec<(i32, i64)> = listed.parts().iter().map(|p| (p.part_number().unwrap(), p.size().unwrap())).collect();
    assert_eq!(sizes, [(1, 5 * MIB as i64), (2, 5 * MIB as i64 + 7), (3, 1000)]);
    assert_eq!(listed.parts()[1].e_tag(), Some(quoted_md5(&bodies[1]).as_str()));
    assert_eq!(listed.is_truncated(), Some(false));
    let page = s3.list_parts().bucket("photos").key("big/selfie one.jpg").upload_id(id).max_parts(2).send().await;
    let page = page.unwrap();
    assert_eq!(page.parts().len(), 2);
    assert_eq!((page.is_truncated(), page.next_part_number_marker()), (Some(true), Some("2")));
    assert_eq!(upload_ids(s3, "photos").await, [("big/selfie one.jpg".to_string(), id.to_string())]);
    assert!(keys(s3, "photos").await.is_empty(), "nothing is visible before the upload completes");

    let done = complete(s3, "photos", "big/selfie one.jpg", id, parts).await.unwrap();
    let expected_etag = multipart_etag(&[&bodies[0], &bodies[1], &bodies[2]]);
    assert_eq!(done.e_tag(), Some(expected_etag.as_str()));
    assert_eq!(done.key(), Some("big/selfie one.jpg"));
    assert_eq!(get(s3, "photos", "big/selfie one.jpg").await, bodies.concat());
    let head = s3.head_object().bucket("photos").key("big/selfie one.jpg").send().await.unwrap();
    assert_eq!(head.content_type(), Some("image/jpeg"));
    assert_eq!(head.metadata().unwrap()["rider"], "user_a");
    assert_eq!(head.content_length(), Some(bodies.iter().map(Vec::len).sum::<usize>() as i64));
    assert_eq!(head.e_tag(), Some(expected_etag.as_str()));
    // A range read crosses a part boundary.
    let ranged = s3.get_object().bucket("photos").key("big/selfie one.jpg").range(format!(
        "bytes={}-{}",
        5 * MIB - 2,
        5 * MIB + 1
    ));
    let ranged = ranged.send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(&ranged[..], &bodies.concat()[5 * MIB - 2..5 * MIB + 2]);

    // The upload and its parts are gone: only the object's body is left on disk.
    assert!(upload_ids(s3, "photos").await.is_empty());
    let err = s3.list_parts().bucket("photos").key("big/selfie one.jpg").upload_id(id).send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
    let again = complete(s3, "photos", "big/selfie one.jpg", id, vec![]).await.unwrap_err();
    assert_eq!(code(&again), "MalformedXML");
    assert_eq!(blob_count(&cloud), 1);
}

#[tokio::test]
async fn multipart_checksums_are_composite_or_full_object_as_asked() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    let bodies = [pattern(5 * MIB, 4), pattern(300, 5)];
    let whole = bodies.concat();
    for (key, kind) in [("composite", ChecksumType::Composite), ("full", ChecksumType::FullObject)] {
        let created = s3
            .create_multipart_upload()
            .bucket("photos")
            .key(key)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .checksum_type(kind.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(created.checksum_algorithm(), Some(&ChecksumAlgorithm::Crc32));
        assert_eq!(created.checksum_type(), Some(&kind));
        let id = created.upload_id().unwrap();
        let mut parts = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            let part = upload_part(s3, "photos", key, id, i as i32 + 1, body).await;
            assert_eq!(part.checksum_crc32(), Some(base64_crc32(body).as_str()));
            parts.push(part);
        }
        let done = complete(s3, "photos", key, id, parts).await.unwrap();
        let expected = match kind {
            ChecksumType::FullObject => base64_crc32(&whole),
            _ => {
                let raw: Vec<u8> = bodies.iter().flat_map(|b| STANDARD.decode(base64_crc32(b)).unwrap()).collect();
                format!("{}-2", base64_crc32(&raw))
            }
        };
        assert_eq!(done.checksum_crc32(), Some(expected.as_str()), "{key}");
        let got = s3.get_object().bucket("photos").key(key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        assert_eq!(got.checksum_crc32(), Some(expected.as_str()), "{key}");
        assert_eq!(got.body.collect().await.unwrap().into_bytes(), whole, "{key}");
    }

    // A part whose checksum is not the one uploaded is InvalidPart; a declared object
    // size that is not the parts' sum is InvalidRequest; neither writes anything.
    let id = start_upload(s3, "photos", "checked").await;
    let part = upload_part(s3, "photos", "checked", &id, 1, b"only part").await;
    let wrong = CompletedPart::builder()
        .part_number(1)
        .e_tag(part.e_tag().unwrap())
        .checksum_crc32(base64_crc32(b"other"))
        .build();
    let err = complete(s3, "photos", "checked", &id, vec![wrong]).await.unwrap_err();
    assert_eq!(code(&err), "InvalidPart");
    let err = s3
        .complete_multipart_upload()
        .bucket("photos")
        .key("checked")
        .upload_id(&id)
        .mpu_object_size(10)
        .multipart_upload(parts_list(vec![part.clone()]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRequest");
    assert_eq!(keys(s3, "photos").await, ["composite", "full"]);
    complete(s3, "photos", "checked", &id, vec![part]).await.expect("the right list completes");
    assert_eq!(get(s3, "photos", "checked").await, b"only part");

    let err = s3
        .create_multipart_upload()
        .bucket("photos")
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRequest");
}

#[tokio::test]
async fn completing_checks_part_order_etags_and_sizes_and_keeps_the_upload_on_failure() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    let id = start_upload(s3, "photos", "k").await;
    let small1 = upload_part(s3, "photos", "k", &id, 1, b"tiny").await;
    let small2 = upload_part(s3, "photos", "k", &id, 2, b"tiny too").await;

    let err = complete(s3, "photos", "k", &id, vec![small1.clone(), small2.clone()]).await.unwrap_err();
    assert_eq!((code(&err).as_str(), status(&err)), ("EntityTooSmall", Some(400)));
    let err = complete(s3, "photos", "k", &id, vec![small2.clone(), small1.clone()]).await.unwrap_err();
    assert_eq!((code(&err).as_str(), status(&err)), ("InvalidPartOrder", Some(400)));
    let wrong_etag = CompletedPart::builder().part_number(1).e_tag(quoted_md5(b"not the part")).build();
    let err = complete(s3, "photos", "k", &id, vec![wrong_etag]).await.unwrap_err();
    assert_eq!((code(&err).as_str(), status(&err)), ("InvalidPart", Some(400)));
    let missing = CompletedPart::builder().part_number(3).e_tag(quoted_md5(b"x")).build();
    let err = complete(s3, "photos", "k", &id, vec![missing]).await.unwrap_err();
    assert_eq!(code(&err), "InvalidPart");
    let err = complete(s3, "photos", "k", &id, vec![]).await.unwrap_err();
    assert_eq!((code(&err).as_str(), status(&err)), ("MalformedXML", Some(400)));

    for number in [0, 10_001] {
        let err = s3
            .upload_part()
            .bucket("photos")
            .key("k")
            .upload_id(&id)
            .part_number(number)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "InvalidArgument", "part {number}");
    }

    // An unknown upload id, or a known one under another key, is NoSuchUpload (404).
    for (key, upload) in [("k", "no-such-upload"), ("other-key", id.as_str())] {
        let err = s3
            .upload_part()
            .bucket("photos")
            .key(key)
            .upload_id(upload)
            .part_number(1)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!((code(&err).as_str(), status(&err)), ("NoSuchUpload", Some(404)));
        let err = complete(s3, "photos", key, upload, vec![small1.clone()]).await.unwrap_err();
        assert_eq!(code(&err), "NoSuchUpload");
        let err = s3.abort_multipart_upload().bucket("photos").key(key).upload_id(upload).send().await.unwrap_err();
        assert_eq!(code(&err), "NoSuchUpload");
        let err = s3.list_parts().bucket("photos").key(key).upload_id(upload).send().await.unwrap_err();
        assert_eq!(code(&err), "NoSuchUpload");
    }
    let err = s3.create_multipart_upload().bucket("no-such-bucket").key("k").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");

    // Nothing was written; the upload is intact and completes with a valid list (the
    // last part may be small, and parts left out are discarded).
    assert!(keys(s3, "photos").await.is_empty());
    assert_eq!(upload_ids(s3, "photos").await.len(), 1);
    complete(s3, "photos", "k", &id, vec![small2]).await.expect("one small last part is fine");
    assert_eq!(get(s3, "photos", "k").await, b"tiny too");
    assert_eq!(blob_count(&cloud), 1, "the part left out is deleted with the upload");
}

#[tokio::test]
async fn aborting_an_upload_leaves_nothing_listed_or_on_disk() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    put(s3, "photos", "kept.jpg", b"unrelated").await;
    let first = start_upload(s3, "photos", "video.mp4").await;
    let second = start_upload(s3, "photos", "video.mp4").await;
    upload_part(s3, "photos", "video.mp4", &first, 1, &pattern(1000, 1)).await;
    upload_part(s3, "photos", "video.mp4", &first, 2, &pattern(1000, 2)).await;
    upload_part(s3, "photos", "video.mp4", &second, 1, &pattern(1000, 3)).await;
    assert_eq!(blob_count(&cloud), 4);

    s3.abort_multipart_upload().bucket("photos").key("video.mp4").upload_id(&first).send().await.unwrap();
    assert_eq!(upload_ids(s3, "photos").await, [("video.mp4".to_string(), second.clone())]);
    let err = s3.list_parts().bucket("photos").key("video.mp4").upload_id(&first).send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
    s3.abort_multipart_upload().bucket("photos").key("video.mp4").upload_id(&second).send().await.unwrap();
    assert!(upload_ids(s3, "photos").await.is_empty());
    assert_eq!(keys(s3, "photos").await, ["kept.jpg"]);
    assert_eq!(blob_count(&cloud), 1, "only the unrelated object's body is left");

    // Deleting a bucket takes its uploads in progress with it.
    s3.delete_object().bucket("photos").key("kept.jpg").send().await.unwrap();
    let third = start_upload(s3, "photos", "late.mp4").await;
    upload_part(s3, "photos", "late.mp4", &third, 1, b"part").await;
    s3.delete_bucket().bucket("photos").send().await.unwrap();
    assert_eq!(blob_count(&cloud), 0);
}

#[tokio::test]
async fn list_multipart_uploads_pages_by_key_and_rolls_up_prefixes() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    let mut started = Vec::new();
    for key in ["b.jpg", "a/1.jpg", "b.jpg", "a/2.jpg", "c d.jpg"] {
        started.push((key.to_string(), start_upload(s3, "photos", key).await));
    }
    let all = upload_ids(s3, "photos").await;
    let keys_listed: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys_listed, ["a/1.jpg", "a/2.jpg", "b.jpg", "b.jpg", "c d.jpg"]);
    // Uploads of one key in the order they were started.
    assert_eq!(all[2].1, started[0].1);
    assert_eq!(all[3].1, started[2].1);

    let mut seen = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    loop {
        let page = s3
            .list_multipart_uploads()
            .bucket("photos")
            .max_uploads(2)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .unwrap();
        seen.extend(page.uploads().iter().map(|u| (u.key().unwrap().to_string(), u.upload_id().unwrap().to_string())));
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_string);
        id_marker = page.next_upload_id_marker().map(str::to_string);
    }
    assert_eq!(seen, all, "pages of two cover every upload once");

    let rolled = s3.list_multipart_uploads().bucket("photos").delimiter("/").send().await.unwrap();
    let prefixes: Vec<&str> = rolled.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["a/"]);
    assert_eq!(rolled.uploads().len(), 3);
    let under_a = s3.list_multipart_uploads().bucket("photos").prefix("a/").send().await.unwrap();
    assert_eq!(under_a.uploads().len(), 2);
    assert_eq!(under_a.prefix(), Some("a/"));
    let encoded = s3.list_multipart_uploads().bucket("photos").prefix("c").encoding_type(EncodingType::Url).send();
    let encoded = encoded.await.unwrap();
    assert_eq!(encoded.uploads()[0].key(), Some("c%20d.jpg"), "keys are URL-encoded as asked");
}

/// UploadPartCopy of `source` (in bucket "photos") into part `number` of upload `id`.
async fn copy_part(
    s3: &Client,
    key: &str,
    id: &str,
    number: i32,
    source: &str,
    range: Option<String>,
) -> Result<
    aws_sdk_s3::types::CopyPartResult,
    SdkError<aws_sdk_s3::operation::upload_part_copy::UploadPartCopyError, HttpResponse>,
> {
    let request = s3.upload_part_copy().bucket("photos").key(key).upload_id(id).part_number(number);
    let copied = request.copy_source(format!("photos/{source}")).set_copy_source_range(range).send().await?;
    Ok(copied.copy_part_result.expect("a CopyPartResult"))
}

#[tokio::test]
async fn upload_part_copy_copies_a_range_of_an_object() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    let source = pattern(6 * MIB, 9);
    put(s3, "photos", "source.bin", &source).await;
    let first_5_mib = Some(format!("bytes=0-{}", 5 * MIB - 1));
    let id = start_upload(s3, "photos", "copy.bin").await;
    let copied = copy_part(s3, "copy.bin", &id, 1, "source.bin", first_5_mib.clone()).await.unwrap();
    let etag = copied.e_tag().unwrap().to_string();
    assert_eq!(etag, quoted_md5(&source[..5 * MIB]));
    let tail = upload_part(s3, "photos", "copy.bin", &id, 2, b"tail").await;
    let past_the_end = Some(format!("bytes=0-{}", 6 * MIB));
    let err = copy_part(s3, "copy.bin", &id, 3, "source.bin", past_the_end).await.unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
    let err = copy_part(s3, "copy.bin", &id, 3, "missing.bin", None).await.unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");

    let first = CompletedPart::builder().part_number(1).e_tag(etag).build();
    complete(s3, "photos", "copy.bin", &id, vec![first, tail]).await.unwrap();
    assert_eq!(get(s3, "photos", "copy.bin").await, [&source[..5 * MIB], b"tail"].concat());

    // A copied part is hashed with the upload's algorithm like an uploaded one, so the
    // object gets its composite checksum.
    let created = s3
        .create_multipart_upload()
        .bucket("photos")
        .key("checked.bin")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap();
    let id = created.upload_id().unwrap();
    let result = copy_part(s3, "checked.bin", id, 1, "source.bin", first_5_mib).await.unwrap();
    assert_eq!(result.checksum_crc32(), Some(base64_crc32(&source[..5 * MIB]).as_str()));
    let first = CompletedPart::builder().part_number(1).e_tag(result.e_tag().unwrap()).build();
    let tail = upload_part(s3, "photos", "checked.bin", id, 2, b"tail").await;
    let done = complete(s3, "photos", "checked.bin", id, vec![first, tail]).await.unwrap();
    let raw: Vec<u8> =
        [&source[..5 * MIB], b"tail"].iter().flat_map(|b| STANDARD.decode(base64_crc32(b)).unwrap()).collect();
    assert_eq!(done.checksum_crc32(), Some(format!("{}-2", base64_crc32(&raw)).as_str()));
}

#[tokio::test]
async fn acknowledged_parts_survive_a_restart_and_the_sweep() {
    let cloud = cloud_with_bucket("photos").await;
    let id = start_upload(&cloud.clients.s3, "photos", "k").await;
    let first = upload_part(&cloud.clients.s3, "photos", "k", &id, 1, &pattern(5 * MIB, 1)).await;
    let second = upload_part(&cloud.clients.s3, "photos", "k", &id, 2, b"last").await;
    // As a crash between a part's blob and its row leaves it: a journalled orphan. The
    // sweep must delete it and keep the journalled blobs that parts reference.
    let store = cloud.cloud.as_ref().unwrap().router().store().clone();
    let orphan = store.blobs().put(b"orphan part").unwrap();
    let journalled = orphan.clone();
    store
        .call_blocking(move |c| {
            c.execute("INSERT INTO s3_blob_journal (blob_id) VALUES (?1)", [&journalled])?;
            c.execute("INSERT INTO s3_blob_journal (blob_id) SELECT blob_id FROM s3_parts", [])?;
            Ok(())
        })
        .unwrap();
    drop(store);

    let cloud = cloud.restart().await;
    let blobs = cloud.cloud.as_ref().unwrap().router().store().blobs().list().unwrap();
    assert!(!blobs.contains(&orphan));
    assert_eq!(blobs.len(), 2, "both parts are kept");
    let s3 = &cloud.clients.s3;
    assert_eq!(upload_ids(s3, "photos").await, [("k".to_string(), id.clone())]);
    complete(s3, "photos", "k", &id, vec![first, second]).await.unwrap();
    assert_eq!(get(s3, "photos", "k").await, [pattern(5 * MIB, 1), b"last".to_vec()].concat());
}

#[tokio::test]
async fn a_completed_upload_records_the_complete_multipart_upload_event() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    let config = aws_sdk_s3::types::LambdaFunctionConfiguration::builder()
        .id("all")
        .lambda_function_arn("arn:aws:lambda:us-east-1:000000000000:function:sink")
        .events(aws_sdk_s3::types::Event::from("s3:ObjectCreated:*"))
        .build()
        .unwrap();
    s3.put_bucket_notification_configuration()
        .bucket("photos")
        .skip_destination_validation(true)
        .notification_configuration(
            aws_sdk_s3::types::NotificationConfiguration::builder().lambda_function_configurations(config).build(),
        )
        .send()
        .await
        .unwrap();
    // With delivery stopped, the recorded event stays in the outbox to be read.
    let router = cloud.cloud.as_ref().unwrap().router();
    router.service::<S3>().shutdown();
    let id = start_upload(s3, "photos", "uploads/u/big.jpg").await;
    let part = upload_part(s3, "photos", "uploads/u/big.jpg", &id, 1, b"body").await;
    let done = complete(s3, "photos", "uploads/u/big.jpg", &id, vec![part]).await.unwrap();

    let pending = router.service::<S3>().pending_events().await.unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    let message: serde_json::Value = serde_json::from_str(&pending[0].payload).unwrap();
    let record = &message["Records"][0];
    assert_eq!(record["eventName"], "ObjectCreated:CompleteMultipartUpload");
    assert_eq!(record["s3"]["object"]["key"], "uploads/u/big.jpg");
    assert_eq!(record["s3"]["object"]["size"], 4);
    assert_eq!(format!("\"{}\"", record["s3"]["object"]["eTag"].as_str().unwrap()), done.e_tag().unwrap());
}

// What every operation gets from the wire layer.

#[tokio::test]
async fn error_bodies_carry_the_request_id_of_the_response() {
    let cloud = cloud_with_bucket("photos").await;
    let err = cloud.clients.s3.get_object().bucket("photos").key("missing").send().await.unwrap_err();
    let raw = err.raw_response().expect("an HTTP response");
    let header = raw.headers().get("x-amz-request-id").expect("a request id header").to_string();
    let body = std::str::from_utf8(raw.body().bytes().expect("a buffered body")).unwrap().to_string();
    assert!(body.contains(&format!("<RequestId>{header}</RequestId>")), "{body}");
    assert!(body.contains("<Code>NoSuchKey</Code>"), "{body}");
}

/// SSE-C's three headers, as the SDK sends them, on any request builder.
macro_rules! with_customer_key {
    ($builder:expr, $key:expr) => {
        $builder
            .sse_customer_algorithm("AES256")
            .sse_customer_key(STANDARD.encode($key))
            .sse_customer_key_md5(STANDARD.encode(Md5::digest($key)))
    };
}

#[tokio::test]
async fn customer_key_encryption_is_refused_as_not_implemented_and_stores_nothing() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    let key = [7u8; 32];
    let put_encrypted = s3.put_object().bucket("photos").key("secret.jpg").body(ByteStream::from_static(b"secret"));
    let err = with_customer_key!(put_encrypted, key).send().await.unwrap_err();
    assert_eq!((code(&err).as_str(), status(&err)), ("NotImplemented", Some(501)));
    assert!(keys(s3, "photos").await.is_empty());

    put(s3, "photos", "plain.jpg", b"plain").await;
    let err = with_customer_key!(s3.get_object().bucket("photos").key("plain.jpg"), key).send().await.unwrap_err();
    assert_eq!(code(&err), "NotImplemented");
    let create = s3.create_multipart_upload().bucket("photos").key("secret.bin");
    let err = with_customer_key!(create, key).send().await.unwrap_err();
    assert_eq!(code(&err), "NotImplemented");
    assert!(upload_ids(s3, "photos").await.is_empty());
}

#[tokio::test]
async fn an_empty_content_md5_is_invalid_digest_and_stores_nothing() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    let err = s3
        .put_object()
        .bucket("photos")
        .key("k")
        .body(ByteStream::from_static(b"body"))
        .customize()
        .mutate_request(|req| {
            req.headers_mut().insert("content-md5", "");
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&err).as_str(), status(&err)), ("InvalidDigest", Some(400)));
    assert!(keys(s3, "photos").await.is_empty());
}

// Object tagging.

async fn tags_of(s3: &Client, bucket: &str, key: &str) -> Vec<(String, String)> {
    let out = s3.get_object_tagging().bucket(bucket).key(key).send().await.expect("get_object_tagging");
    out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()
}

fn tag(key: &str, value: &str) -> aws_sdk_s3::types::Tag {
    aws_sdk_s3::types::Tag::builder().key(key).value(value).build().unwrap()
}

fn tagging(tags: Vec<aws_sdk_s3::types::Tag>) -> aws_sdk_s3::types::Tagging {
    aws_sdk_s3::types::Tagging::builder().set_tag_set(Some(tags)).build().unwrap()
}

async fn put_tagged(s3: &Client, bucket: &str, key: &str, body: &[u8], tagging: &str) {
    let put = s3.put_object().bucket(bucket).key(key).body(ByteStream::from(body.to_vec())).tagging(tagging);
    put.send().await.expect("put_object with tags");
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn object_tags_are_stored_with_the_object_replaced_and_deleted() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    put_tagged(s3, "photos", "a.jpg", b"tagged", "rider=user_a&note=two%20words").await;
    assert_eq!(tags_of(s3, "photos", "a.jpg").await, owned(&[("rider", "user_a"), ("note", "two words")]));
    let got = s3.get_object().bucket("photos").key("a.jpg").send().await.unwrap();
    assert_eq!(got.tag_count(), Some(2));
    let etag = got.e_tag().unwrap().to_string();

    s3.put_object_tagging()
        .bucket("photos")
        .key("a.jpg")
        .tagging(tagging(vec![tag("status", "checked")]))
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(s3, "photos", "a.jpg").await, owned(&[("status", "checked")]));
    let head = s3.head_object().bucket("photos").key("a.jpg").send().await.unwrap();
    assert_eq!(head.e_tag(), Some(etag.as_str()), "tagging leaves the object as it was");
    assert_eq!(get(s3, "photos", "a.jpg").await, b"tagged");

    // Tags survive a restart, with the object.
    let cloud = cloud.restart().await;
    let s3 = &cloud.clients.s3;
    assert_eq!(tags_of(s3, "photos", "a.jpg").await, owned(&[("status", "checked")]));
    s3.delete_object_tagging().bucket("photos").key("a.jpg").send().await.unwrap();
    assert!(tags_of(s3, "photos", "a.jpg").await.is_empty());
    let got = s3.get_object().bucket("photos").key("a.jpg").send().await.unwrap();
    assert_eq!(got.tag_count(), None);

    // A new object under the key has only the tags its PUT names.
    s3.put_object_tagging().bucket("photos").key("a.jpg").tagging(tagging(vec![tag("k", "v")])).send().await.unwrap();
    put(s3, "photos", "a.jpg", b"replaced").await;
    assert!(tags_of(s3, "photos", "a.jpg").await.is_empty());

    let err = s3.get_object_tagging().bucket("photos").key("missing").send().await.unwrap_err();
    assert_eq!((code(&err).as_str(), status(&err)), ("NoSuchKey", Some(404)));
    let err = s3
        .put_object_tagging()
        .bucket("photos")
        .key("missing")
        .tagging(tagging(vec![tag("k", "v")]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
    let err = s3.delete_object_tagging().bucket("nope-bucket").key("a.jpg").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
}

#[tokio::test]
async fn tags_over_s3s_limits_are_refused_and_change_nothing() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    put_tagged(s3, "photos", "a.jpg", b"x", "kept=yes").await;
    let eleven: Vec<_> = (0..11).map(|i| tag(&format!("k{i}"), "v")).collect();
    let ten: Vec<_> = (0..10).map(|i| tag(&format!("k{i}"), "v")).collect();
    let refusals = [
        (eleven, "BadRequest"),
        (vec![tag(&"k".repeat(129), "v")], "InvalidTag"),
        (vec![tag("k", &"v".repeat(257))], "InvalidTag"),
        (vec![tag("k", "1"), tag("k", "2")], "InvalidTag"),
        (vec![tag("aws:reserved", "1")], "InvalidTag"),
    ];
    for (tags, expected) in refusals {
        let err =
            s3.put_object_tagging().bucket("photos").key("a.jpg").tagging(tagging(tags)).send().await.unwrap_err();
        assert_eq!((code(&err).as_str(), status(&err)), (expected, Some(400)));
    }
    assert_eq!(tags_of(s3, "photos", "a.jpg").await, owned(&[("kept", "yes")]));
    s3.put_object_tagging().bucket("photos").key("a.jpg").tagging(tagging(ten)).send().await.expect("ten is the limit");
    let longest = vec![tag(&"k".repeat(128), &"v".repeat(256))];
    s3.put_object_tagging()
        .bucket("photos")
        .key("a.jpg")
        .tagging(tagging(longest))
        .send()
        .await
        .expect("at the limits");

    // The same limits on the x-amz-tagging header; nothing is stored.
    let header: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
    let err = s3
        .put_object()
        .bucket("photos")
        .key("b.jpg")
        .body(ByteStream::from_static(b"x"))
        .tagging(header.join("&"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "BadRequest");
    let err = s3
        .put_object()
        .bucket("photos")
        .key("b.jpg")
        .body(ByteStream::from_static(b"x"))
        .tagging(format!("k={}", "v".repeat(257)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidTag");
    assert_eq!(keys(s3, "photos").await, ["a.jpg"]);
}

#[tokio::test]
async fn copies_keep_or_replace_tags_per_the_tagging_directive_and_multipart_uploads_take_them() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    put_tagged(s3, "photos", "src", b"x", "a=1").await;
    s3.copy_object().bucket("photos").key("kept").copy_source("photos/src").send().await.unwrap();
    assert_eq!(tags_of(s3, "photos", "kept").await, owned(&[("a", "1")]));
    s3.copy_object()
        .bucket("photos")
        .key("replaced")
        .copy_source("photos/src")
        .tagging_directive(aws_sdk_s3::types::TaggingDirective::Replace)
        .tagging("b=2")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(s3, "photos", "replaced").await, owned(&[("b", "2")]));
    s3.copy_object()
        .bucket("photos")
        .key("untagged")
        .copy_source("photos/src")
        .tagging_directive(aws_sdk_s3::types::TaggingDirective::Replace)
        .send()
        .await
        .unwrap();
    assert!(tags_of(s3, "photos", "untagged").await.is_empty());

    let created =
        s3.create_multipart_upload().bucket("photos").key("big").tagging("upload=multipart").send().await.unwrap();
    let id = created.upload_id().unwrap();
    let part = upload_part(s3, "photos", "big", id, 1, b"one part").await;
    complete(s3, "photos", "big", id, vec![part]).await.unwrap();
    assert_eq!(tags_of(s3, "photos", "big").await, owned(&[("upload", "multipart")]));
}

// The details SDKs rely on.

#[tokio::test]
async fn listings_encode_spaces_as_percent_20_and_echo_what_s3_echoes() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    for key in ["my photos/a b.jpg", "my photos/c.jpg", "z.jpg"] {
        put(s3, "photos", key, b"x").await;
    }
    // The Rust SDK does not decode names: what it shows is what was on the wire.
    let v2 = s3
        .list_objects_v2()
        .bucket("photos")
        .encoding_type(EncodingType::Url)
        .prefix("my photos/")
        .send()
        .await
        .unwrap();
    let keys_listed: Vec<&str> = v2.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys_listed, ["my%20photos/a%20b.jpg", "my%20photos/c.jpg"]);
    assert_eq!(v2.prefix(), Some("my%20photos/"), "V2 encodes Prefix");
    assert!(v2.contents()[0].owner().is_none(), "V2 names owners only with FetchOwner");

    let v1 = s3
        .list_objects()
        .bucket("photos")
        .encoding_type(EncodingType::Url)
        .prefix("my photos/")
        .delimiter("")
        .marker("my photos/a b.jpg")
        .send()
        .await
        .unwrap();
    let keys_listed: Vec<&str> = v1.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys_listed, ["my%20photos/c.jpg"]);
    assert_eq!(v1.prefix(), Some("my photos/"), "V1 does not encode Prefix");
    assert_eq!(v1.marker(), Some("my%20photos/a%20b.jpg"));
    assert_eq!(v1.delimiter(), None, "an empty delimiter is not echoed");
    assert!(v1.contents()[0].owner().and_then(|o| o.id()).is_some(), "V1 names the owner");
    let plain = s3.list_objects().bucket("photos").send().await.unwrap();
    assert_eq!(plain.marker(), Some(""), "V1 always echoes Marker");

    let owners = s3.list_objects_v2().bucket("photos").fetch_owner(true).send().await.unwrap();
    assert!(owners.contents().iter().all(|o| o.owner().and_then(|o| o.id()).is_some()));
    // An empty continuation token starts at the beginning and is echoed.
    let from_start = s3.list_objects_v2().bucket("photos").continuation_token("").send().await.unwrap();
    assert_eq!(from_start.key_count(), Some(3));
    assert_eq!(from_start.continuation_token(), Some(""));
}

#[tokio::test]
async fn list_buckets_pages_with_max_buckets_and_a_continuation_token() {
    let cloud = TestCloud::start().await;
    let s3 = &cloud.clients.s3;
    for name in ["bucket-a", "bucket-b", "bucket-c", "other-d", "other-e"] {
        s3.create_bucket().bucket(name).send().await.unwrap();
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = s3.list_buckets().max_buckets(2).set_continuation_token(token.clone()).send().await.unwrap();
        assert!(page.buckets().len() <= 2);
        seen.extend(page.buckets().iter().filter_map(|b| b.name().map(str::to_string)));
        token = page.continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["bucket-a", "bucket-b", "bucket-c", "other-d", "other-e"]);
    let prefixed = s3.list_buckets().prefix("other-").send().await.unwrap();
    let names: Vec<&str> = prefixed.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["other-d", "other-e"]);
    assert_eq!(prefixed.prefix(), Some("other-"));
    let err = s3.list_buckets().max_buckets(0).send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
    let err = s3.list_buckets().continuation_token("not a token!").send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
}

#[tokio::test]
async fn conditional_puts_refuse_to_overwrite_as_s3_does() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    put(s3, "photos", "a.jpg", b"first").await;
    let current = quoted_md5(b"first");
    let err = s3
        .put_object()
        .bucket("photos")
        .key("a.jpg")
        .body(ByteStream::from_static(b"second"))
        .if_none_match("*")
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&err).as_str(), status(&err)), ("PreconditionFailed", Some(412)));
    let err = s3
        .put_object()
        .bucket("photos")
        .key("a.jpg")
        .body(ByteStream::from_static(b"second"))
        .if_none_match(&current)
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&err).as_str(), status(&err)), ("PreconditionFailed", Some(412)));
    assert_eq!(get(s3, "photos", "a.jpg").await, b"first");
    // Another ETag does not match: the write goes ahead.
    s3.put_object()
        .bucket("photos")
        .key("a.jpg")
        .body(ByteStream::from_static(b"second"))
        .if_none_match(quoted_md5(b"something else"))
        .send()
        .await
        .unwrap();
    assert_eq!(get(s3, "photos", "a.jpg").await, b"second");
    let err = s3
        .put_object()
        .bucket("photos")
        .key("missing.jpg")
        .body(ByteStream::from_static(b"x"))
        .if_match(&current)
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&err).as_str(), status(&err)), ("NoSuchKey", Some(404)));
    assert_eq!(keys(s3, "photos").await, ["a.jpg"]);
}

#[tokio::test]
async fn expires_and_content_encoding_come_back_as_sent() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    let expires = DateTime::from_secs(1_900_000_000);
    s3.put_object()
        .bucket("photos")
        .key("a.gz")
        .body(ByteStream::from_static(b"compressed"))
        .expires(expires)
        .content_encoding("deflate, gzip")
        .send()
        .await
        .unwrap();
    let head = s3.head_object().bucket("photos").key("a.gz").send().await.unwrap();
    assert_eq!(head.expires_string(), Some("Sun, 17 Mar 2030 17:46:40 GMT"));
    assert_eq!(head.content_encoding(), Some("deflate, gzip"));
    let got = s3.get_object().bucket("photos").key("a.gz").send().await.unwrap();
    assert_eq!(got.expires_string(), Some("Sun, 17 Mar 2030 17:46:40 GMT"));
    assert_eq!(got.content_encoding(), Some("deflate, gzip"));
    // A copy keeps it; a multipart upload takes it from CreateMultipartUpload.
    s3.copy_object().bucket("photos").key("copy.gz").copy_source("photos/a.gz").send().await.unwrap();
    let head = s3.head_object().bucket("photos").key("copy.gz").send().await.unwrap();
    assert_eq!(head.expires_string(), Some("Sun, 17 Mar 2030 17:46:40 GMT"));
    let created = s3.create_multipart_upload().bucket("photos").key("mp").expires(expires).send().await.unwrap();
    let id = created.upload_id().unwrap();
    let part = upload_part(s3, "photos", "mp", id, 1, b"x").await;
    complete(s3, "photos", "mp", id, vec![part]).await.unwrap();
    let head = s3.head_object().bucket("photos").key("mp").send().await.unwrap();
    assert_eq!(head.expires_string(), Some("Sun, 17 Mar 2030 17:46:40 GMT"));
}

#[tokio::test]
async fn response_overrides_apply_and_part_numbers_read_the_parts_uploaded() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    put(s3, "photos", "a.jpg", b"whole").await;
    let got = s3
        .get_object()
        .bucket("photos")
        .key("a.jpg")
        .response_content_type("image/jpeg")
        .response_content_disposition("attachment; filename=\"selfie.jpg\"")
        .response_cache_control("no-cache")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("image/jpeg"));
    assert_eq!(got.content_disposition(), Some("attachment; filename=\"selfie.jpg\""));
    assert_eq!(got.cache_control(), Some("no-cache"));

    // An object put whole is its own part 1.
    let part = s3.get_object().bucket("photos").key("a.jpg").part_number(1).send().await.unwrap();
    assert_eq!(part.body.collect().await.unwrap().into_bytes().as_ref(), b"whole");
    let err = s3.get_object().bucket("photos").key("a.jpg").part_number(2).send().await.unwrap_err();
    assert_eq!((code(&err).as_str(), status(&err)), ("InvalidPartNumber", Some(416)));
    // A multipart object answers each part as it was uploaded, with the part count.
    let bodies = [pattern(5 * MIB, 1), b"second part".to_vec()];
    let id = start_upload(s3, "photos", "mp").await;
    let mut parts = Vec::new();
    for (number, body) in (1..).zip(&bodies) {
        parts.push(upload_part(s3, "photos", "mp", &id, number, body).await);
    }
    complete(s3, "photos", "mp", &id, parts).await.unwrap();
    for (number, body) in (1..).zip(&bodies) {
        let got = s3.get_object().bucket("photos").key("mp").part_number(number).send().await.unwrap();
        assert_eq!(got.parts_count(), Some(2));
        assert_eq!(got.content_length(), Some(body.len() as i64));
        assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], &body[..], "part {number}");
        let head = s3.head_object().bucket("photos").key("mp").part_number(number).send().await.unwrap();
        assert_eq!((head.content_length(), head.parts_count()), (Some(body.len() as i64), Some(2)));
    }
    let err = s3.get_object().bucket("photos").key("mp").part_number(3).send().await.unwrap_err();
    assert_eq!(code(&err), "InvalidPartNumber");
    // Parts survive a restart with the object.
    let cloud = cloud.restart().await;
    let got = cloud.clients.s3.get_object().bucket("photos").key("mp").part_number(2).send().await.unwrap();
    assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], b"second part");
}

#[tokio::test]
async fn object_lock_and_website_redirects_are_refused_and_store_nothing() {
    let cloud = cloud_with_bucket("photos").await;
    let s3 = &cloud.clients.s3;
    let err = s3
        .put_object()
        .bucket("photos")
        .key("held.jpg")
        .body(ByteStream::from_static(b"x"))
        .object_lock_legal_hold_status(aws_sdk_s3::types::ObjectLockLegalHoldStatus::On)
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&err).as_str(), status(&err)), ("InvalidRequest", Some(400)));
    let err = s3
        .put_object()
        .bucket("photos")
        .key("moved.html")
        .body(ByteStream::from_static(b"x"))
        .website_redirect_location("/elsewhere.html")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotImplemented");
    let err = s3.create_bucket().bucket("locked").object_lock_enabled_for_bucket(true).send().await.unwrap_err();
    assert_eq!(code(&err), "NotImplemented");
    assert!(keys(s3, "photos").await.is_empty());
    assert_eq!(bucket_names(s3).await, ["photos"]);
}

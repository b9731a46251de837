//! s3s's `S3` trait on our object store: each operation checks S3's rules and errors,
//! then calls `objects`. Operations not implemented here answer s3s's `NotImplemented`.
//! Multipart uploads (`multipart`) and object tagging (`tagging`) have rooms of their own;
//! the trait's methods for them only hand over.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use futures::Stream;
use http::HeaderMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::*;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Request, S3Response, S3Result, s3_error};
use time::OffsetDateTime;
use tokio::sync::mpsc;

mod multipart;
mod tagging;

use super::S3Error;
use super::notifications::{self, CreatedBy, EventTarget};
use super::objects::{
    Cursor, Entry, ListPage, ListQuery, MAX_OBJECT_SIZE, NewObject, ObjectHeaders, ObjectInfo, ObjectStore,
    checksum_hasher, checksum_values,
};

const READ_CHUNK: usize = 256 * 1024;
/// The checksum algorithms S3 accepts, with the header suffix that names each.
const ALGORITHMS: [(&str, &str); 5] =
    [("crc32", "CRC32"), ("crc32c", "CRC32C"), ("crc64nvme", "CRC64NVME"), ("sha1", "SHA1"), ("sha256", "SHA256")];

pub struct Backend {
    objects: Arc<ObjectStore>,
    /// Validates the functions a notification configuration names.
    events: Arc<dyn EventTarget>,
}

impl Backend {
    pub fn new(objects: Arc<ObjectStore>, events: Arc<dyn EventTarget>) -> Self {
        Self { objects, events }
    }
}

/// Our errors in S3's words.
impl From<S3Error> for s3s::S3Error {
    fn from(e: S3Error) -> Self {
        match e {
            S3Error::NoSuchBucket(_) => s3_error!(NoSuchBucket, "The specified bucket does not exist"),
            S3Error::NoSuchKey { .. } => s3_error!(NoSuchKey, "The specified key does not exist."),
            S3Error::InvalidBucketName(_) => s3_error!(InvalidBucketName, "The specified bucket is not valid."),
            S3Error::BucketAlreadyOwnedByYou(_) => s3_error!(
                BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it."
            ),
            S3Error::BucketNotEmpty(_) => s3_error!(BucketNotEmpty, "The bucket you tried to delete is not empty"),
            S3Error::KeyTooLong => s3_error!(KeyTooLongError, "Your key is too long"),
            S3Error::EntityTooLarge => {
                s3_error!(EntityTooLarge, "Your proposed upload exceeds the maximum allowed size")
            }
            S3Error::EntityTooSmall => {
                s3_error!(EntityTooSmall, "Your proposed upload is smaller than the minimum allowed object size.")
            }
            S3Error::NoSuchUpload => s3_error!(
                NoSuchUpload,
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
            ),
            S3Error::InvalidPart => s3_error!(
                InvalidPart,
                "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
            ),
            S3Error::InvalidPartOrder => s3_error!(
                InvalidPartOrder,
                "The list of parts was not in ascending order. Parts must be ordered by part number."
            ),
            S3Error::ObjectSizeMismatch { declared, computed } => s3_error!(
                InvalidRequest,
                "The provided 'x-amz-mp-object-size' header value {declared} does not match what was computed: {computed}"
            ),
            S3Error::BadChecksum(upper) => {
                s3_error!(BadDigest, "The {upper} you specified did not match the calculated checksum.")
            }
            S3Error::IncompleteBody(detail) => s3_error!(
                IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header: {detail}"
            ),
            S3Error::Storage(e) => {
                tracing::error!("S3 storage error: {e}");
                s3_error!(InternalError, "We encountered an internal error. Please try again.")
            }
        }
    }
}

fn precondition_failed() -> s3s::S3Error {
    s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold")
}

/// 304 carries the validators, as S3 sends them, and no body.
fn not_modified(info: &ObjectInfo) -> s3s::S3Error {
    let mut err = s3_error!(NotModified, "Not Modified");
    let mut headers = HeaderMap::new();
    if let Ok(v) = format!("\"{}\"", info.etag).parse() {
        headers.insert(http::header::ETAG, v);
    }
    if let Ok(v) = http_date(info.last_modified).parse() {
        headers.insert(http::header::LAST_MODIFIED, v);
    }
    err.set_headers(headers);
    err
}

fn http_date(t: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.to_offset(time::UtcOffset::UTC).format(format).unwrap_or_default()
}

fn etag(info: &ObjectInfo) -> ETag {
    ETag::Strong(info.etag.clone())
}

fn timestamp(t: OffsetDateTime) -> Timestamp {
    Timestamp::from(t)
}

enum Verdict {
    Proceed,
    NotModified,
    PreconditionFailed,
}

struct Conditions<'a> {
    if_match: Option<&'a ETagCondition>,
    if_none_match: Option<&'a ETagCondition>,
    if_modified_since: Option<&'a Timestamp>,
    if_unmodified_since: Option<&'a Timestamp>,
}

/// S3's (RFC 9110's) precedence: If-Match decides over If-Unmodified-Since, If-None-Match
/// over If-Modified-Since; a failed match is 412, a matched none-match 304.
fn evaluate(info: &ObjectInfo, c: &Conditions<'_>) -> Verdict {
    let matches = |cond: &ETagCondition| match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(tag) => tag.value() == info.etag,
    };
    let seconds = |t: &Timestamp| OffsetDateTime::from(t.clone());
    if let Some(cond) = c.if_match {
        if !matches(cond) {
            return Verdict::PreconditionFailed;
        }
    } else if let Some(t) = c.if_unmodified_since
        && info.last_modified > seconds(t)
    {
        return Verdict::PreconditionFailed;
    }
    if let Some(cond) = c.if_none_match {
        if matches(cond) {
            return Verdict::NotModified;
        }
    } else if let Some(t) = c.if_modified_since
        && info.last_modified <= seconds(t)
    {
        return Verdict::NotModified;
    }
    Verdict::Proceed
}

/// `Expires` as stored: whole seconds.
fn expires_at(expires: Option<Timestamp>) -> Option<i64> {
    expires.map(|t| OffsetDateTime::from(t).unix_timestamp())
}

fn from_unix(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The bytes (start, end exclusive) `partNumber` names: a part of a multipart object
/// (S3 keeps the part boundaries), or part 1 of an object put whole, which is all of it.
fn part_range(info: &ObjectInfo, part: i32) -> S3Result<(u64, u64)> {
    if !(1..=10_000).contains(&part) {
        return Err(s3_error!(InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive"));
    }
    let index = usize::try_from(part - 1).unwrap_or(usize::MAX);
    if info.part_sizes.is_empty() && index == 0 {
        return Ok((0, info.size));
    }
    let Some(size) = info.part_sizes.get(index) else {
        let mut err = s3s::S3Error::with_message(
            s3s::S3ErrorCode::Custom("InvalidPartNumber".into()),
            "The requested partnumber is not satisfiable",
        );
        err.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
        return Err(err);
    };
    let start: u64 = info.part_sizes[..index].iter().sum();
    Ok((start, start + size))
}

/// `x-amz-mp-parts-count`, which S3 sends with a part of a multipart object.
fn parts_count(info: &ObjectInfo, part_number: Option<i32>) -> Option<i32> {
    part_number.filter(|_| !info.part_sizes.is_empty()).map(|_| i32::try_from(info.part_sizes.len()).unwrap_or(0))
}

fn content_type(info: &ObjectInfo) -> String {
    info.content_type.clone().unwrap_or_else(|| "binary/octet-stream".into())
}

fn user_metadata(info: &ObjectInfo) -> Option<Metadata> {
    (!info.metadata.is_empty()).then(|| info.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// `aws-chunked` describes the upload's framing, not the object: S3 does not store it.
/// Any other value is stored byte for byte (`deflate, gzip` stays so).
fn stored_content_encoding(value: Option<String>) -> Option<String> {
    let value = value?;
    let tokens = || value.split(',').map(str::trim);
    if !tokens().any(|e| e.eq_ignore_ascii_case("aws-chunked")) {
        return Some(value);
    }
    let kept: Vec<&str> = tokens().filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked")).collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

fn checksum_of(checksums: &BTreeMap<String, String>, name: &str) -> Option<String> {
    checksums.get(name).cloned()
}

/// A blob read on a blocking thread, handed over in chunks.
struct BlobStream {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    remaining: usize,
}

impl BlobStream {
    fn spawn(mut file: std::fs::File, start: u64, len: u64) -> Self {
        let (tx, rx) = mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = file.seek(SeekFrom::Start(start)) {
                let _ = tx.blocking_send(Err(e));
                return;
            }
            let mut left = len;
            while left > 0 {
                let mut chunk = vec![0u8; READ_CHUNK.min(usize::try_from(left).unwrap_or(READ_CHUNK))];
                match file.read(&mut chunk) {
                    Ok(0) => {
                        let _ = tx.blocking_send(Err(std::io::ErrorKind::UnexpectedEof.into()));
                        return;
                    }
                    Ok(n) => {
                        chunk.truncate(n);
                        left -= n as u64;
                        if tx.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                            return; // the client went away
                        }
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
        });
        Self { rx, remaining: usize::try_from(len).unwrap_or(usize::MAX) }
    }
}

impl Stream for BlobStream {
    type Item = Result<Bytes, s3s::StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.remaining = self.remaining.saturating_sub(chunk.len());
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl ByteStream for BlobStream {
    fn remaining_length(&self) -> RemainingLength {
        RemainingLength::new_exact(self.remaining)
    }
}

/// Which checksums to compute for an upload: those the client sent (with their values),
/// named in `x-amz-sdk-checksum-algorithm`, or announced as a trailer.
fn wanted_checksums(
    sent: BTreeMap<String, String>,
    algorithm: Option<&ChecksumAlgorithm>,
    headers: &HeaderMap,
) -> BTreeMap<String, Option<String>> {
    let mut wanted: BTreeMap<String, Option<String>> = sent.into_iter().map(|(name, v)| (name, Some(v))).collect();
    if let Some(algorithm) = algorithm {
        let algorithm = algorithm.as_str().to_ascii_lowercase();
        if ALGORITHMS.iter().any(|(name, _)| *name == algorithm) {
            wanted.entry(algorithm).or_insert(None);
        }
    }
    if let Some(trailer) = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
        for name in trailer.split(',').filter_map(|t| t.trim().strip_prefix("x-amz-checksum-")) {
            let name = name.to_ascii_lowercase();
            if ALGORITHMS.iter().any(|(known, _)| *known == name) {
                wanted.entry(name).or_insert(None);
            }
        }
    }
    wanted
}

fn hasher_for(wanted: &BTreeMap<String, Option<String>>) -> s3s::checksum::ChecksumHasher {
    checksum_hasher(wanted.keys().map(String::as_str))
}

/// A stored object's or part's checksums as a response's five fields, in the order of
/// [`ALGORITHMS`].
fn checksum_fields(checksums: &BTreeMap<String, String>) -> [Option<String>; 5] {
    ALGORITHMS.map(|(name, _)| checksum_of(checksums, name))
}

/// The five checksum values a request or a listed part carries, in the order of
/// [`ALGORITHMS`].
macro_rules! sent_checksums {
    ($input:expr) => {
        [
            $input.checksum_crc32.clone(),
            $input.checksum_crc32c.clone(),
            $input.checksum_crc64nvme.clone(),
            $input.checksum_sha1.clone(),
            $input.checksum_sha256.clone(),
        ]
    };
}
use sent_checksums;

/// The checksums named by algorithm, from [`sent_checksums!`]'s five values.
fn named_checksums(values: [Option<String>; 5]) -> BTreeMap<String, String> {
    ALGORITHMS.iter().zip(values).filter_map(|((name, _), value)| value.map(|v| (name.to_string(), v))).collect()
}

/// Compares the body's digests with the ones the client declared (headers, trailers,
/// Content-MD5), as S3 does before it acknowledges anything.
fn verify_digests(
    wanted: &BTreeMap<String, Option<String>>,
    trailers: Option<HeaderMap>,
    computed: &BTreeMap<String, String>,
    content_md5: Option<&str>,
    md5_hex: &str,
) -> S3Result<()> {
    if let Some(content_md5) = content_md5 {
        let declared = STANDARD
            .decode(content_md5.trim())
            .ok()
            .filter(|d| d.len() == 16)
            .ok_or_else(|| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))?;
        if hex::encode(declared) != md5_hex {
            return Err(s3_error!(BadDigest, "The Content-MD5 you specified did not match what we received."));
        }
    }
    for (name, upper) in ALGORITHMS {
        let from_trailer = trailers
            .as_ref()
            .and_then(|t| t.get(format!("x-amz-checksum-{name}")))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let Some(declared) = from_trailer.or_else(|| wanted.get(name).cloned().flatten()) else {
            continue;
        };
        if computed.get(name) != Some(&declared) {
            return Err(s3_error!(BadDigest, "The {upper} you specified did not match the calculated checksum."));
        }
    }
    Ok(())
}

/// List continuation tokens: opaque to clients, a cursor to us.
fn encode_token(cursor: &Cursor) -> Option<String> {
    let raw = match cursor {
        Cursor::Start => return None,
        Cursor::AfterKey(key) => format!("k{key}"),
        Cursor::AfterPrefix(prefix) => format!("p{prefix}"),
    };
    Some(URL_SAFE_NO_PAD.encode(raw))
}

fn decode_token(token: &str) -> S3Result<Cursor> {
    let invalid = || s3_error!(InvalidArgument, "The continuation token provided is incorrect");
    let raw = URL_SAFE_NO_PAD.decode(token).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(invalid)?;
    match raw.split_at_checked(1) {
        Some(("k", key)) => Ok(Cursor::AfterKey(key.to_string())),
        Some(("p", prefix)) => Ok(Cursor::AfterPrefix(prefix.to_string())),
        _ => Err(invalid()),
    }
}

fn max_keys(requested: Option<i32>) -> S3Result<usize> {
    match requested {
        None => Ok(1000),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys cannot be negative")),
        Some(n) => Ok(usize::try_from(n).unwrap_or(1000).min(1000)),
    }
}

/// `encoding-type=url`: names in the response are URL-encoded, as the aws CLI and boto3
/// request and then decode.
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

/// A name URL-encoded as S3 encodes it in listings (space as `%20`).
fn listing_encode(s: &str) -> String {
    utf8_percent_encode(s, URL_ENCODE).to_string()
}

/// A key URL-encoded as S3 encodes it in event records (space as `+`).
pub(super) fn url_encode(s: &str) -> String {
    listing_encode(s).replace("%20", "+")
}

struct Names {
    url: bool,
}

impl Names {
    fn new(encoding_type: Option<&EncodingType>) -> S3Result<Self> {
        match encoding_type.map(EncodingType::as_str) {
            None => Ok(Self { url: false }),
            Some(EncodingType::URL) => Ok(Self { url: true }),
            Some(other) => Err(s3_error!(InvalidArgument, "Invalid Encoding Method specified in Request: {other}")),
        }
    }

    fn name(&self, s: String) -> String {
        if self.url { listing_encode(&s) } else { s }
    }

    fn opt(&self, s: Option<String>) -> Option<String> {
        s.map(|s| self.name(s))
    }
}

/// A page of entries as ListObjects(V2) reports them, each object with its owner when
/// `with_owner` (always in V1; in V2 with FetchOwner).
fn contents(page: ListPage, names: &Names, with_owner: bool) -> (Option<Vec<Object>>, Option<Vec<CommonPrefix>>) {
    let mut objects = Vec::new();
    let mut prefixes = Vec::new();
    for entry in page.entries {
        match entry {
            Entry::Object(o) => objects.push(Object {
                key: Some(names.name(o.key.clone())),
                size: Some(i64::try_from(o.size).unwrap_or(i64::MAX)),
                e_tag: Some(etag(&o)),
                last_modified: Some(timestamp(o.last_modified)),
                storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
                owner: with_owner.then(owner),
                ..Default::default()
            }),
            Entry::CommonPrefix(p) => prefixes.push(CommonPrefix { prefix: Some(names.name(p)) }),
        }
    }
    ((!objects.is_empty()).then_some(objects), (!prefixes.is_empty()).then_some(prefixes))
}

/// An object's attributes as a write names them.
fn new_object(
    bucket: String,
    key: String,
    content_type: Option<String>,
    metadata: Option<Metadata>,
    headers: ObjectHeaders,
) -> NewObject {
    NewObject {
        bucket,
        key,
        content_type,
        metadata: metadata.unwrap_or_default().into_iter().collect(),
        headers,
        ..Default::default()
    }
}

/// A request body on its way in, with the digests that must hold for it.
struct Upload {
    body: Option<StreamingBlob>,
    wanted: BTreeMap<String, Option<String>>,
    trailing_headers: Option<s3s::TrailingHeaders>,
    content_md5: Option<String>,
}

impl Backend {
    /// Stages a body of at most `max_size` bytes and checks its digests (Content-MD5 and
    /// checksums, sent as headers or trailers), as S3 does before acknowledging anything;
    /// returns it with the checksums computed.
    async fn stage_verified(
        &self,
        upload: Upload,
        max_size: u64,
    ) -> S3Result<(super::objects::StagedBlob, BTreeMap<String, String>)> {
        let body = upload
            .body
            .unwrap_or_else(|| StreamingBlob::wrap(futures::stream::empty::<Result<Bytes, std::io::Error>>()));
        let staged = self.objects.stage(body, hasher_for(&upload.wanted), max_size).await?;
        let computed = checksum_values(&staged.checksums);
        let trailers = upload.trailing_headers.and_then(|t| t.take());
        verify_digests(&upload.wanted, trailers, &computed, upload.content_md5.as_deref(), &staged.md5)?;
        Ok((staged, computed))
    }

    /// Conditional writes (PutObject, CompleteMultipartUpload): If-None-Match `*` writes
    /// only a new key, If-None-Match with an ETag only over another version; If-Match
    /// replaces only that version, and a missing key is NoSuchKey.
    async fn check_write_conditions(
        &self,
        bucket: &str,
        key: &str,
        if_match: Option<&ETagCondition>,
        if_none_match: Option<&ETagCondition>,
    ) -> S3Result<()> {
        if if_match.is_none() && if_none_match.is_none() {
            return Ok(());
        }
        let existing = match self.objects.head(bucket, key).await {
            Ok(info) => Some(info),
            Err(S3Error::NoSuchKey { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let matches = |cond: &ETagCondition, info: &ObjectInfo| match cond {
            ETagCondition::Any => true,
            ETagCondition::ETag(tag) => tag.value() == info.etag,
        };
        if let Some(cond) = if_match {
            match &existing {
                None => return Err(S3Error::NoSuchKey { bucket: bucket.into(), key: key.into() }.into()),
                Some(info) if !matches(cond, info) => return Err(precondition_failed()),
                Some(_) => {}
            }
        }
        if let (Some(cond), Some(info)) = (if_none_match, &existing)
            && matches(cond, info)
        {
            return Err(precondition_failed());
        }
        Ok(())
    }

    /// The source object a copy names, once its conditions hold (a failed condition is
    /// a 412, never a 304).
    async fn copy_source(&self, source: &CopySource, conditions: &Conditions<'_>) -> S3Result<ObjectInfo> {
        let (bucket, key) = match source {
            CopySource::Bucket { bucket, key, .. } => (bucket.to_string(), key.to_string()),
            _ => return Err(s3_error!(NotImplemented, "Only bucket/key copy sources are supported locally.")),
        };
        let info = self.objects.head(&bucket, &key).await?;
        if !matches!(evaluate(&info, conditions), Verdict::Proceed) {
            return Err(precondition_failed());
        }
        Ok(info)
    }
}

#[async_trait::async_trait]
impl s3s::S3 for Backend {
    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        let bucket = req.input.bucket.clone();
        if !super::is_valid_bucket_name(&bucket) {
            return Err(S3Error::InvalidBucketName(bucket).into());
        }
        // In us-east-1 (where local buckets live) S3 answers 200 to creating a bucket you
        // already own; elsewhere BucketAlreadyOwnedByYou.
        let us_east_1 = req
            .input
            .create_bucket_configuration
            .and_then(|c| c.location_constraint)
            .is_none_or(|l| l.as_str().is_empty() || l.as_str() == "us-east-1");
        match self.objects.create_bucket(&bucket).await {
            Err(S3Error::BucketAlreadyOwnedByYou(_)) if us_east_1 => {}
            other => other?,
        }
        Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{bucket}")) }))
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        self.objects.require_bucket(&req.input.bucket).await?;
        // AWS names the bucket's region in x-amz-bucket-region; local buckets are us-east-1
        // buckets (see GetBucketLocation).
        Ok(S3Response::new(HeadBucketOutput { bucket_region: Some("us-east-1".into()), ..Default::default() }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.objects.require_bucket(&req.input.bucket).await?;
        // us-east-1 buckets report an empty location constraint.
        Ok(S3Response::new(GetBucketLocationOutput::default()))
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.objects.delete_bucket(&req.input.bucket).await?;
        Ok(S3Response::new(DeleteBucketOutput::default()))
    }

    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        let input = req.input;
        let max = match input.max_buckets {
            None => usize::MAX,
            Some(n) if (1..=10_000).contains(&n) => usize::try_from(n).unwrap_or(usize::MAX),
            Some(_) => {
                return Err(s3_error!(InvalidArgument, "Argument max-buckets must be an integer between 1 and 10000"));
            }
        };
        // The token names the last bucket of the page before, like a list continuation token.
        let after = match input.continuation_token.as_deref().filter(|t| !t.is_empty()) {
            None => None,
            Some(token) => match decode_token(token)? {
                Cursor::AfterKey(name) => Some(name),
                _ => return Err(s3_error!(InvalidArgument, "The continuation token provided is incorrect")),
            },
        };
        let prefix = input.prefix.clone().unwrap_or_default();
        let mut matching = self
            .objects
            .list_buckets()
            .await?
            .into_iter()
            .filter(|b| b.name.starts_with(&prefix) && after.as_ref().is_none_or(|after| b.name > *after));
        let page: Vec<Bucket> = matching
            .by_ref()
            .take(max)
            .map(|b| Bucket { name: Some(b.name), creation_date: Some(timestamp(b.created)), bucket_region: None })
            .collect();
        let more = matching.next().is_some();
        let continuation_token = if more {
            page.last().and_then(|b| b.name.clone()).and_then(|name| encode_token(&Cursor::AfterKey(name)))
        } else {
            None
        };
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(page),
            owner: Some(owner()),
            prefix: input.prefix,
            continuation_token,
        }))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let S3Request { input, headers, trailing_headers, .. } = req;
        self.objects.require_bucket(&input.bucket).await?;
        if input.content_length.is_some_and(|len| u64::try_from(len).unwrap_or(u64::MAX) > MAX_OBJECT_SIZE) {
            return Err(S3Error::EntityTooLarge.into());
        }
        self.check_write_conditions(&input.bucket, &input.key, input.if_match.as_ref(), input.if_none_match.as_ref())
            .await?;
        let tags = tagging::from_header(input.tagging.as_deref())?;

        let sent = named_checksums(sent_checksums!(input));
        let wanted = wanted_checksums(sent, input.checksum_algorithm.as_ref(), &headers);
        let upload = Upload { body: input.body, wanted, trailing_headers, content_md5: input.content_md5 };
        let (staged, computed) = self.stage_verified(upload, MAX_OBJECT_SIZE).await?;

        let headers = ObjectHeaders {
            cache_control: input.cache_control,
            content_disposition: input.content_disposition,
            content_encoding: stored_content_encoding(input.content_encoding),
            content_language: input.content_language,
            expires: expires_at(input.expires),
        };
        let object = NewObject {
            checksums: computed,
            tags,
            ..new_object(input.bucket, input.key, input.content_type, input.metadata, headers)
        };
        let info = self.objects.commit(staged, object).await?;
        let [crc32, crc32c, crc64nvme, sha1, sha256] = checksum_fields(&info.checksums);
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag(&info)),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_crc64nvme: crc64nvme,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
            ..Default::default()
        }))
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        let (info, file) = self.objects.open_body(&input.bucket, &input.key).await?;
        let conditions = Conditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        };
        match evaluate(&info, &conditions) {
            Verdict::Proceed => {}
            Verdict::NotModified => return Err(not_modified(&info)),
            Verdict::PreconditionFailed => return Err(precondition_failed()),
        }
        let (start, end, content_range) = match (&input.range, input.part_number) {
            (Some(_), Some(_)) => {
                return Err(s3_error!(
                    InvalidRequest,
                    "Cannot specify both Range header and partNumber query parameter"
                ));
            }
            (None, None) => (0, info.size, None),
            // A part is answered as S3 answers a range: 206 with its Content-Range.
            (None, Some(part)) => {
                let (start, end) = part_range(&info, part)?;
                let range = (end > start).then(|| format!("bytes {}-{}/{}", start, end - 1, info.size));
                (start, end, range)
            }
            (Some(range), None) => {
                let r = range
                    .check(info.size)
                    .map_err(|_| s3_error!(InvalidRange, "The requested range is not satisfiable"))?;
                (r.start, r.end, Some(format!("bytes {}-{}/{}", r.start, r.end - 1, info.size)))
            }
        };
        // Checksums describe the whole object; S3 omits them for ranges.
        let with_checksums = content_range.is_none()
            && input.checksum_mode.as_ref().is_some_and(|m| m.as_str() == ChecksumMode::ENABLED);
        let checksum = |name| if with_checksums { checksum_of(&info.checksums, name) } else { None };
        let body = StreamingBlob::new(BlobStream::spawn(file, start, end - start));
        let output = GetObjectOutput {
            body: Some(body),
            accept_ranges: Some("bytes".into()),
            content_length: Some(i64::try_from(end - start).unwrap_or(i64::MAX)),
            content_range,
            content_type: Some(content_type(&info)),
            e_tag: Some(etag(&info)),
            last_modified: Some(timestamp(info.last_modified)),
            metadata: user_metadata(&info),
            cache_control: info.headers.cache_control.clone(),
            content_disposition: info.headers.content_disposition.clone(),
            content_encoding: info.headers.content_encoding.clone(),
            content_language: info.headers.content_language.clone(),
            expires: info.headers.expires.map(|t| timestamp(from_unix(t))),
            checksum_crc32: checksum("crc32"),
            checksum_crc32c: checksum("crc32c"),
            checksum_crc64nvme: checksum("crc64nvme"),
            checksum_sha1: checksum("sha1"),
            checksum_sha256: checksum("sha256"),
            tag_count: tagging::count(&info.tags),
            parts_count: parts_count(&info, input.part_number),
            ..Default::default()
        };
        // The response-* query parameters (presigned downloads) override the stored headers.
        let output = GetObjectOutput {
            content_type: input.response_content_type.or(output.content_type),
            cache_control: input.response_cache_control.or(output.cache_control),
            content_disposition: input.response_content_disposition.or(output.content_disposition),
            content_encoding: input.response_content_encoding.or(output.content_encoding),
            content_language: input.response_content_language.or(output.content_language),
            expires: input.response_expires.or(output.expires),
            ..output
        };
        Ok(S3Response::new(output))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let info = self.objects.head(&input.bucket, &input.key).await?;
        let (start, end) = match input.part_number {
            Some(part) => part_range(&info, part)?,
            None => (0, info.size),
        };
        let conditions = Conditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        };
        match evaluate(&info, &conditions) {
            Verdict::Proceed => {}
            Verdict::NotModified => return Err(not_modified(&info)),
            Verdict::PreconditionFailed => return Err(precondition_failed()),
        }
        let with_checksums = input.checksum_mode.as_ref().is_some_and(|m| m.as_str() == ChecksumMode::ENABLED);
        let checksum = |name| if with_checksums { checksum_of(&info.checksums, name) } else { None };
        Ok(S3Response::new(HeadObjectOutput {
            accept_ranges: Some("bytes".into()),
            content_length: Some(i64::try_from(end - start).unwrap_or(i64::MAX)),
            parts_count: parts_count(&info, input.part_number),
            content_type: Some(input.response_content_type.unwrap_or_else(|| content_type(&info))),
            e_tag: Some(etag(&info)),
            last_modified: Some(timestamp(info.last_modified)),
            metadata: user_metadata(&info),
            cache_control: input.response_cache_control.or_else(|| info.headers.cache_control.clone()),
            content_disposition: input
                .response_content_disposition
                .or_else(|| info.headers.content_disposition.clone()),
            content_encoding: input.response_content_encoding.or_else(|| info.headers.content_encoding.clone()),
            content_language: input.response_content_language.or_else(|| info.headers.content_language.clone()),
            expires: input.response_expires.or_else(|| info.headers.expires.map(|t| timestamp(from_unix(t)))),
            checksum_crc32: checksum("crc32"),
            checksum_crc32c: checksum("crc32c"),
            checksum_crc64nvme: checksum("crc64nvme"),
            checksum_sha1: checksum("sha1"),
            checksum_sha256: checksum("sha256"),
            ..Default::default()
        }))
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        // Deleting a key that is not there succeeds, as on S3.
        self.objects.delete_object(&req.input.bucket, &req.input.key).await?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        let count = input.delete.objects.len();
        if count == 0 || count > 1000 {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ));
        }
        self.objects.require_bucket(&input.bucket).await?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for object in input.delete.objects {
            match self.objects.delete_object(&input.bucket, &object.key).await {
                Ok(_) => {
                    if !quiet {
                        deleted.push(DeletedObject { key: Some(object.key), ..Default::default() });
                    }
                }
                Err(e) => {
                    let e = s3s::S3Error::from(e);
                    errors.push(Error {
                        key: Some(object.key),
                        code: Some(e.code().as_str().to_string()),
                        message: e.message().map(str::to_string),
                        version_id: None,
                    });
                }
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: (!deleted.is_empty()).then_some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let input = req.input;
        let conditions = Conditions {
            if_match: input.copy_source_if_match.as_ref(),
            if_none_match: input.copy_source_if_none_match.as_ref(),
            if_modified_since: input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
        };
        let source = self.copy_source(&input.copy_source, &conditions).await?;
        self.objects.require_bucket(&input.bucket).await?;
        let (src_bucket, src_key) = (source.bucket.clone(), source.key.clone());
        // The copy's tags: the source's (COPY, the default) or those of x-amz-tagging.
        let tags = match input.tagging_directive.as_ref().map(TaggingDirective::as_str) {
            None | Some(TaggingDirective::COPY) => source.tags.clone(),
            Some(TaggingDirective::REPLACE) => tagging::from_header(input.tagging.as_deref())?,
            Some(_) => return Err(s3_error!(InvalidArgument, "Unknown tagging directive.")),
        };
        let replace = input.metadata_directive.as_ref().is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        if !replace && src_bucket == input.bucket && src_key == input.key {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let object = if replace {
            let headers = ObjectHeaders {
                cache_control: input.cache_control,
                content_disposition: input.content_disposition,
                content_encoding: input.content_encoding,
                content_language: input.content_language,
                expires: expires_at(input.expires),
            };
            NewObject {
                checksums: source.checksums.clone(),
                tags,
                created_by: CreatedBy::Copy,
                ..new_object(input.bucket, input.key, input.content_type, input.metadata, headers)
            }
        } else {
            NewObject {
                bucket: input.bucket,
                key: input.key,
                content_type: source.content_type.clone(),
                metadata: source.metadata.clone(),
                headers: source.headers.clone(),
                checksums: source.checksums.clone(),
                tags,
                created_by: CreatedBy::Copy,
            }
        };
        // The copy keeps the source's checksums: nothing to compute on the way.
        let staged = self.objects.stage_copy(&source, None, Default::default()).await?;
        let info = self.objects.commit(staged, object).await?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&info)),
                last_modified: Some(timestamp(info.last_modified)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.create_upload(req).await
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        self.upload_one_part(req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        self.copy_part(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.complete_upload(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.abort_upload(req).await
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        self.list_uploads(req).await
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        self.list_upload_parts(req).await
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        self.put_tags(req).await
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        self.get_tags(req).await
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        self.delete_tags(req).await
    }

    async fn put_bucket_notification_configuration(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
        let input = req.input;
        self.objects.require_bucket(&input.bucket).await?;
        let validate_destinations = !input.skip_destination_validation.unwrap_or(false);
        let settings =
            notifications::validate(input.notification_configuration, validate_destinations, self.events.as_ref())
                .await?;
        self.objects.set_notifications(&input.bucket, settings).await?;
        Ok(S3Response::new(PutBucketNotificationConfigurationOutput::default()))
    }

    async fn get_bucket_notification_configuration(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        let settings = self.objects.notifications(&req.input.bucket).await?;
        Ok(S3Response::new(GetBucketNotificationConfigurationOutput {
            lambda_function_configurations: notifications::to_dto(settings),
            ..Default::default()
        }))
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let names = Names::new(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_keys)?;
        // An empty token is no token, as on S3 (and is echoed as given).
        let after = match (input.continuation_token.as_deref().filter(|t| !t.is_empty()), &input.start_after) {
            (Some(token), _) => decode_token(token)?,
            (None, Some(start)) if !start.is_empty() => Cursor::AfterKey(start.clone()),
            _ => Cursor::Start,
        };
        let query = ListQuery {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone(),
            max_keys: max,
            after,
        };
        let page = self.objects.list(&input.bucket, query).await?;
        let truncated = page.truncated;
        let next = page.next.as_ref().and_then(encode_token);
        let key_count = page.entries.len();
        let (contents, common_prefixes) = contents(page, &names, input.fetch_owner.unwrap_or(false));
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(names.name(input.prefix.unwrap_or_default())),
            delimiter: names.opt(input.delimiter.filter(|d| !d.is_empty())),
            start_after: names.opt(input.start_after),
            encoding_type: input.encoding_type,
            max_keys: Some(i32::try_from(max).unwrap_or(1000)),
            key_count: Some(i32::try_from(key_count).unwrap_or(i32::MAX)),
            is_truncated: Some(truncated),
            continuation_token: input.continuation_token,
            next_continuation_token: if truncated { next } else { None },
            contents,
            common_prefixes,
            ..Default::default()
        }))
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let names = Names::new(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_keys)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        // V1 resumes after a marker; a marker that is a common prefix skips all under it.
        let after = match input.marker.as_deref().filter(|m| !m.is_empty()) {
            None => Cursor::Start,
            Some(marker) => {
                let rolled_up = input.delimiter.as_deref().filter(|d| !d.is_empty()).is_some_and(|d| {
                    marker.strip_prefix(prefix.as_str()).and_then(|rest| rest.find(d).map(|p| p + d.len()))
                        == Some(marker.len() - prefix.len())
                });
                if rolled_up { Cursor::AfterPrefix(marker.to_string()) } else { Cursor::AfterKey(marker.to_string()) }
            }
        };
        let query = ListQuery { prefix, delimiter: input.delimiter.clone(), max_keys: max, after };
        let page = self.objects.list(&input.bucket, query).await?;
        let truncated = page.truncated;
        let next_marker = match &page.next {
            Some(Cursor::AfterKey(k)) | Some(Cursor::AfterPrefix(k)) if truncated => Some(names.name(k.clone())),
            _ => None,
        };
        let (contents, common_prefixes) = contents(page, &names, true);
        // V1 encodes Delimiter, Marker, NextMarker and the names listed, but not Prefix
        // (botocore decodes exactly those), and always echoes Marker.
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            prefix: Some(input.prefix.unwrap_or_default()),
            delimiter: names.opt(input.delimiter.filter(|d| !d.is_empty())),
            marker: Some(names.name(input.marker.unwrap_or_default())),
            encoding_type: input.encoding_type,
            max_keys: Some(i32::try_from(max).unwrap_or(1000)),
            is_truncated: Some(truncated),
            next_marker,
            contents,
            common_prefixes,
            ..Default::default()
        }))
    }
}

/// The canonical user id the local cloud's one account shows as bucket owner.
const LOCAL_OWNER_ID: &str = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";

/// The local cloud's one account, as owner of buckets and objects.
fn owner() -> Owner {
    Owner { display_name: Some("wildrydes".into()), id: Some(LOCAL_OWNER_ID.into()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_tokens_round_trip() {
        for cursor in [Cursor::AfterKey("a/b c+ü".into()), Cursor::AfterPrefix("photos/".into())] {
            let token = encode_token(&cursor).unwrap();
            assert_eq!(decode_token(&token).unwrap(), cursor);
        }
        assert!(decode_token("not a token!").is_err());
    }

    #[test]
    fn url_encoding_matches_what_botocore_decodes() {
        let names = Names { url: true };
        assert_eq!(names.name("a b+c/ü".into()), "a%20b%2Bc/%C3%BC");
        assert_eq!(url_encode("a b+c"), "a+b%2Bc", "event records write a space as +");
    }

    #[test]
    fn aws_chunked_is_not_stored_as_content_encoding() {
        assert_eq!(stored_content_encoding(Some("aws-chunked".into())), None);
        assert_eq!(stored_content_encoding(Some("gzip,aws-chunked".into())), Some("gzip".into()));
        assert_eq!(stored_content_encoding(Some("deflate, gzip".into())), Some("deflate, gzip".into()));
    }
}

//! The multipart upload operations: S3's rules, limits and errors for
//! Create/UploadPart/UploadPartCopy/Complete/Abort/ListMultipartUploads/ListParts, on the
//! store's uploads (`objects::multipart`).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::{
    ALGORITHMS, Backend, LOCAL_OWNER_ID, Names, checksum_fields, etag, named_checksums, owner, sent_checksums,
    timestamp, wanted_checksums,
};
use crate::local::s3::S3Error;
use crate::local::s3::objects::{
    CompletedPart as Requested, Expected, MAX_PART_SIZE, MAX_PARTS, UploadInfo, UploadQuery, checksum_hasher,
    checksum_values,
};

fn check_part_number(part_number: i32) -> S3Result<()> {
    if (1..=MAX_PARTS).contains(&part_number) {
        Ok(())
    } else {
        Err(s3_error!(InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive"))
    }
}

fn malformed_xml() -> s3s::S3Error {
    s3_error!(MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema")
}

/// The upload's checksum algorithm and type, checked as S3 checks them. Without a type,
/// CRC64NVME is FULL_OBJECT and the others COMPOSITE.
fn checksum_settings(
    algorithm: Option<&ChecksumAlgorithm>,
    kind: Option<&ChecksumType>,
) -> S3Result<(Option<String>, Option<String>)> {
    let Some(algorithm) = algorithm else {
        if kind.is_some() {
            return Err(s3_error!(
                InvalidRequest,
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
            ));
        }
        return Ok((None, None));
    };
    let name = algorithm.as_str().to_ascii_lowercase();
    if !ALGORITHMS.iter().any(|(known, _)| *known == name) {
        return Err(s3_error!(
            InvalidRequest,
            "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]"
        ));
    }
    let kind = match kind.map(ChecksumType::as_str) {
        None if name == "crc64nvme" => ChecksumType::FULL_OBJECT,
        None => ChecksumType::COMPOSITE,
        Some(ChecksumType::COMPOSITE) if name == "crc64nvme" => {
            return Err(s3_error!(
                InvalidRequest,
                "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm."
            ));
        }
        Some(ChecksumType::FULL_OBJECT) if name.starts_with("sha") => {
            return Err(s3_error!(
                InvalidRequest,
                "The FULL_OBJECT checksum type cannot be used with the {name} checksum algorithm."
            ));
        }
        Some(ChecksumType::COMPOSITE) => ChecksumType::COMPOSITE,
        Some(ChecksumType::FULL_OBJECT) => ChecksumType::FULL_OBJECT,
        Some(other) => {
            return Err(s3_error!(InvalidRequest, "Value for x-amz-checksum-type header is invalid: {other}"));
        }
    };
    Ok((Some(name), Some(kind.to_string())))
}

fn algorithm_dto(upload: &UploadInfo) -> Option<ChecksumAlgorithm> {
    upload.checksum_algorithm.as_deref().map(|a| ChecksumAlgorithm::from(a.to_ascii_uppercase()))
}

fn type_dto(upload: &UploadInfo) -> Option<ChecksumType> {
    upload.checksum_type.clone().map(ChecksumType::from)
}

fn initiator() -> Initiator {
    Initiator { display_name: Some("wildrydes".into()), id: Some(LOCAL_OWNER_ID.into()) }
}

/// `bytes=first-last` of an object of `size` bytes, as (start, end exclusive).
fn copy_source_range(range: &str, size: u64) -> S3Result<(u64, u64)> {
    let parsed = range
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .and_then(|(first, last)| Some((first.parse::<u64>().ok()?, last.parse::<u64>().ok()?)));
    let Some((first, last)) = parsed.filter(|(first, last)| first <= last) else {
        return Err(s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
        ));
    };
    if last >= size {
        return Err(s3_error!(InvalidArgument, "Range specified is not valid for source object of size: {size}"));
    }
    Ok((first, last + 1))
}

/// Where the completed object is, as S3's `Location` says: a URL on the host the request
/// was sent to, path-style.
fn object_url(headers: &http::HeaderMap, bucket: &str, key: &str) -> String {
    let host = headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    format!("http://{host}/{bucket}/{}", super::listing_encode(key))
}

impl Backend {
    pub(super) async fn create_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        let (algorithm, kind) = checksum_settings(input.checksum_algorithm.as_ref(), input.checksum_type.as_ref())?;
        let tags = super::tagging::from_header(input.tagging.as_deref())?;
        let mut object = super::new_object(
            input.bucket,
            input.key,
            input.content_type,
            input.metadata,
            super::ObjectHeaders {
                cache_control: input.cache_control,
                content_disposition: input.content_disposition,
                content_encoding: super::stored_content_encoding(input.content_encoding),
                content_language: input.content_language,
                expires: super::expires_at(input.expires),
            },
        );
        object.tags = tags;
        let upload = self.objects.create_upload(object, algorithm, kind).await?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(upload.bucket.clone()),
            key: Some(upload.key.clone()),
            checksum_algorithm: algorithm_dto(&upload),
            checksum_type: type_dto(&upload),
            upload_id: Some(upload.upload_id),
            ..Default::default()
        }))
    }

    pub(super) async fn upload_one_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let S3Request { input, headers, trailing_headers, .. } = req;
        check_part_number(input.part_number)?;
        if input.content_length.is_some_and(|len| u64::try_from(len).unwrap_or(u64::MAX) > MAX_PART_SIZE) {
            return Err(S3Error::EntityTooLarge.into());
        }
        let upload = self.objects.upload(&input.bucket, &input.key, &input.upload_id).await?;
        let sent = named_checksums(sent_checksums!(input));
        let mut wanted = wanted_checksums(sent, input.checksum_algorithm.as_ref(), &headers);
        // Every part is hashed with the upload's algorithm, for the object's checksum.
        if let Some(algorithm) = &upload.checksum_algorithm {
            wanted.entry(algorithm.clone()).or_insert(None);
        }
        let body = super::Upload { body: input.body, wanted, trailing_headers, content_md5: input.content_md5 };
        let (staged, computed) = self.stage_verified(body, MAX_PART_SIZE).await?;
        let part = self.objects.commit_part(&upload, input.part_number, staged, computed).await?;
        let [crc32, crc32c, crc64nvme, sha1, sha256] = checksum_fields(&part.checksums);
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(part.etag)),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_crc64nvme: crc64nvme,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
            ..Default::default()
        }))
    }

    pub(super) async fn copy_part(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let input = req.input;
        check_part_number(input.part_number)?;
        let upload = self.objects.upload(&input.bucket, &input.key, &input.upload_id).await?;
        let conditions = super::Conditions {
            if_match: input.copy_source_if_match.as_ref(),
            if_none_match: input.copy_source_if_none_match.as_ref(),
            if_modified_since: input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
        };
        let source = self.copy_source(&input.copy_source, &conditions).await?;
        let range = input.copy_source_range.as_deref().map(|r| copy_source_range(r, source.size)).transpose()?;
        let size = range.map_or(source.size, |(start, end)| end - start);
        if size > MAX_PART_SIZE {
            return Err(S3Error::EntityTooLarge.into());
        }
        // Hashed with the upload's algorithm, like an uploaded part, for the object's checksum.
        let hasher = checksum_hasher(upload.checksum_algorithm.as_deref());
        let staged = self.objects.stage_copy(&source, range, hasher).await?;
        let computed = checksum_values(&staged.checksums);
        let part = self.objects.commit_part(&upload, input.part_number, staged, computed).await?;
        let [crc32, crc32c, crc64nvme, sha1, sha256] = checksum_fields(&part.checksums);
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(ETag::Strong(part.etag)),
                last_modified: Some(timestamp(part.last_modified)),
                checksum_crc32: crc32,
                checksum_crc32c: crc32c,
                checksum_crc64nvme: crc64nvme,
                checksum_sha1: sha1,
                checksum_sha256: sha256,
            }),
            ..Default::default()
        }))
    }

    pub(super) async fn complete_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let S3Request { input, headers, .. } = req;
        let listed = input.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
        if listed.is_empty() {
            return Err(malformed_xml());
        }
        let mut requested = Vec::with_capacity(listed.len());
        for part in listed {
            let part_number = part.part_number.ok_or_else(malformed_xml)?;
            let checksums = named_checksums(sent_checksums!(part));
            let etag = part.e_tag.map(|e| e.value().to_string()).ok_or(S3Error::InvalidPart)?;
            requested.push(Requested { part_number, etag, checksums });
        }
        // The upload must exist before its parts or the key's conditions are looked at.
        self.objects.upload(&input.bucket, &input.key, &input.upload_id).await?;
        self.check_write_conditions(&input.bucket, &input.key, input.if_match.as_ref(), input.if_none_match.as_ref())
            .await?;
        let expect = Expected { size: input.mpu_object_size, checksums: named_checksums(sent_checksums!(input)) };
        let info = self.objects.complete_upload(&input.bucket, &input.key, &input.upload_id, requested, expect).await?;
        let [crc32, crc32c, crc64nvme, sha1, sha256] = checksum_fields(&info.checksums);
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(info.bucket.clone()),
            key: Some(info.key.clone()),
            location: Some(object_url(&headers, &info.bucket, &info.key)),
            e_tag: Some(etag(&info)),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_crc64nvme: crc64nvme,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
            ..Default::default()
        }))
    }

    pub(super) async fn abort_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input;
        if let Some(initiated) = &input.if_match_initiated_time {
            let upload = self.objects.upload(&input.bucket, &input.key, &input.upload_id).await?;
            if time::OffsetDateTime::from(initiated.clone()).unix_timestamp() != upload.initiated.unix_timestamp() {
                return Err(super::precondition_failed());
            }
        }
        self.objects.abort_upload(&input.bucket, &input.key, &input.upload_id).await?;
        Ok(S3Response::with_status(AbortMultipartUploadOutput::default(), http::StatusCode::NO_CONTENT))
    }

    pub(super) async fn list_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let input = req.input;
        let names = Names::new(input.encoding_type.as_ref())?;
        let max = match input.max_uploads {
            None => 1000,
            Some(n) if n < 0 => {
                return Err(s3_error!(
                    InvalidArgument,
                    "Argument max-uploads must be an integer between 0 and 2147483647"
                ));
            }
            Some(n) => usize::try_from(n).unwrap_or(1000).min(1000),
        };
        let query = UploadQuery {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone(),
            max_uploads: max,
            key_marker: input.key_marker.clone(),
            // An upload id marker counts only with a key marker, as on S3.
            upload_id_marker: input.key_marker.as_ref().and(input.upload_id_marker.clone()),
        };
        let page = self.objects.list_uploads(&input.bucket, query).await?;
        let uploads: Vec<MultipartUpload> = page
            .uploads
            .into_iter()
            .map(|u| MultipartUpload {
                checksum_algorithm: algorithm_dto(&u),
                checksum_type: type_dto(&u),
                initiated: Some(timestamp(u.initiated)),
                initiator: Some(initiator()),
                key: Some(names.name(u.key)),
                owner: Some(owner()),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                upload_id: Some(u.upload_id),
            })
            .collect();
        let prefixes: Vec<CommonPrefix> =
            page.common_prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(names.name(p)) }).collect();
        let (next_key, next_id) = match page.next {
            Some((key, id)) => (Some(names.name(key)), id),
            None => (None, None),
        };
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix.map(|p| names.name(p)),
            delimiter: names.opt(input.delimiter.filter(|d| !d.is_empty())),
            encoding_type: input.encoding_type,
            key_marker: Some(names.name(input.key_marker.unwrap_or_default())),
            upload_id_marker: Some(input.upload_id_marker.unwrap_or_default()),
            next_key_marker: next_key,
            next_upload_id_marker: next_id,
            max_uploads: Some(i32::try_from(max).unwrap_or(1000)),
            is_truncated: Some(page.truncated),
            uploads: (!uploads.is_empty()).then_some(uploads),
            common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
            ..Default::default()
        }))
    }

    pub(super) async fn list_upload_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = req.input;
        let max = match input.max_parts {
            None => 1000,
            Some(n) if n < 0 => {
                return Err(s3_error!(
                    InvalidArgument,
                    "Argument max-parts must be an integer between 0 and 2147483647"
                ));
            }
            Some(n) => usize::try_from(n).unwrap_or(1000).min(1000),
        };
        let after = input.part_number_marker.unwrap_or(0).max(0);
        let page = self.objects.list_parts(&input.bucket, &input.key, &input.upload_id, after, max).await?;
        let next = page.parts.last().map(|p| p.part_number);
        let parts: Vec<Part> = page
            .parts
            .into_iter()
            .map(|p| {
                let [crc32, crc32c, crc64nvme, sha1, sha256] = checksum_fields(&p.checksums);
                Part {
                    checksum_crc32: crc32,
                    checksum_crc32c: crc32c,
                    checksum_crc64nvme: crc64nvme,
                    checksum_sha1: sha1,
                    checksum_sha256: sha256,
                    e_tag: Some(ETag::Strong(p.etag)),
                    last_modified: Some(timestamp(p.last_modified)),
                    part_number: Some(p.part_number),
                    size: Some(i64::try_from(p.size).unwrap_or(i64::MAX)),
                }
            })
            .collect();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            checksum_algorithm: algorithm_dto(&page.upload),
            checksum_type: type_dto(&page.upload),
            initiator: Some(initiator()),
            owner: Some(owner()),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            part_number_marker: Some(after),
            next_part_number_marker: next,
            max_parts: Some(i32::try_from(max).unwrap_or(1000)),
            is_truncated: Some(page.truncated),
            parts: (!parts.is_empty()).then_some(parts),
            ..Default::default()
        }))
    }
}

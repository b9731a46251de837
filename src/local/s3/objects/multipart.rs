//! Multipart uploads in the store: an upload in progress (`s3_uploads`) with the
//! attributes its object will have, and its parts (`s3_parts`), each a blob of its own.
//!
//! Durability: a part's blob is journalled and committed before the row that names it, so
//! an acknowledged part survives kill -9 and an unacknowledged one is swept at start-up.
//! Completing an upload writes the object's body as one new blob (the listed parts
//! concatenated) and then, in one transaction, makes the object visible, records its
//! `ObjectCreated:CompleteMultipartUpload` events and forgets the upload and every part;
//! the part blobs are deleted after that. Aborting forgets the upload and deletes its
//! parts the same way. Nothing here is ever reachable from a bucket name or key.

use std::collections::BTreeMap;

use md5::{Digest, Md5};
use rusqlite::{OptionalExtension, Transaction, params};
use time::OffsetDateTime;

use super::{
    CHUNK, CreatedBy, Cursor, NewObject, ObjectInfo, ObjectStore, StagedBlob, StorageError, bucket_exists,
    checksum_hasher, checksum_values, from_json, from_unix, to_json, write_object,
};
use crate::local::s3::S3Error;
use crate::local::storage::Blobs;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS s3_uploads (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    upload_id TEXT NOT NULL UNIQUE,
    bucket TEXT NOT NULL REFERENCES s3_buckets(name),
    key BLOB NOT NULL,
    initiated INTEGER NOT NULL,
    content_type TEXT,
    metadata TEXT NOT NULL,
    headers TEXT NOT NULL,
    checksum_algorithm TEXT,
    checksum_type TEXT,
    tags TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS s3_uploads_by_key ON s3_uploads (bucket, key, seq);
CREATE TABLE IF NOT EXISTS s3_parts (
    upload_id TEXT NOT NULL REFERENCES s3_uploads(upload_id),
    part_number INTEGER NOT NULL,
    blob_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    checksums TEXT NOT NULL,
    last_modified INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
";

/// AWS's limits: part numbers 1 to 10,000; a part of at most 5 GiB; every part but the
/// last at least 5 MiB; the object at most 5 TiB.
pub const MAX_PARTS: i32 = 10_000;
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
const MAX_MULTIPART_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024 * 1024;

/// An upload in progress.
#[derive(Debug, Clone)]
pub struct UploadInfo {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub initiated: OffsetDateTime,
    /// The checksum algorithm every part is hashed with (`crc32` …), if one was asked for.
    pub checksum_algorithm: Option<String>,
    /// `COMPOSITE` or `FULL_OBJECT`, when there is an algorithm.
    pub checksum_type: Option<String>,
}

/// One uploaded part.
#[derive(Debug, Clone)]
pub struct PartInfo {
    pub part_number: i32,
    pub size: u64,
    /// Hex MD5 of the part, without quotes.
    pub etag: String,
    pub checksums: BTreeMap<String, String>,
    pub last_modified: OffsetDateTime,
    blob_id: String,
}

/// A part as CompleteMultipartUpload lists it.
#[derive(Debug, Clone)]
pub struct CompletedPart {
    pub part_number: i32,
    /// Without quotes.
    pub etag: String,
    /// Checksums the client names for the part, which must be the part's.
    pub checksums: BTreeMap<String, String>,
}

/// What the client says the completed object will be (`x-amz-mp-object-size`, and
/// whole-object checksums), checked before the object is written.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    pub size: Option<i64>,
    pub checksums: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct PartsPage {
    pub upload: UploadInfo,
    pub parts: Vec<PartInfo>,
    pub truncated: bool,
}

#[derive(Debug, Clone)]
pub struct UploadQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub max_uploads: usize,
    /// Uploads of keys after this key, or of this key initiated after `upload_id_marker`.
    pub key_marker: Option<String>,
    pub upload_id_marker: Option<String>,
}

#[derive(Debug, Clone)]
pub struct UploadPage {
    pub uploads: Vec<UploadInfo>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// The key and upload id the next page starts after, when truncated.
    pub next: Option<(String, Option<String>)>,
}

const UPLOAD_COLUMNS: &str = "upload_id, bucket, key, initiated, checksum_algorithm, checksum_type";

fn upload_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UploadInfo> {
    let key: Vec<u8> = r.get(2)?;
    Ok(UploadInfo {
        upload_id: r.get(0)?,
        bucket: r.get(1)?,
        key: String::from_utf8_lossy(&key).into_owned(),
        initiated: from_unix(r.get(3)?),
        checksum_algorithm: r.get(4)?,
        checksum_type: r.get(5)?,
    })
}

fn part_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PartInfo> {
    let size: i64 = r.get(2)?;
    Ok(PartInfo {
        part_number: r.get(0)?,
        blob_id: r.get(1)?,
        size: u64::try_from(size).unwrap_or(0),
        etag: r.get(3)?,
        checksums: from_json(&r.get::<_, String>(4)?),
        last_modified: from_unix(r.get(5)?),
    })
}

/// The upload `upload_id` of `bucket`/`key`, or NoSuchUpload (NoSuchBucket first).
fn find_upload(
    conn: &rusqlite::Connection,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<Result<UploadInfo, S3Error>, StorageError> {
    let sql = format!("SELECT {UPLOAD_COLUMNS} FROM s3_uploads WHERE upload_id = ?1 AND bucket = ?2 AND key = ?3");
    let found = conn.prepare_cached(&sql)?.query_row(params![upload_id, bucket, key.as_bytes()], upload_from_row);
    match found.optional()? {
        Some(upload) => Ok(Ok(upload)),
        None if !bucket_exists(conn, bucket)? => Ok(Err(S3Error::NoSuchBucket(bucket.to_string()))),
        None => Ok(Err(S3Error::NoSuchUpload)),
    }
}

fn all_parts(conn: &rusqlite::Connection, upload_id: &str) -> Result<Vec<PartInfo>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT part_number, blob_id, size, etag, checksums, last_modified FROM s3_parts
         WHERE upload_id = ?1 ORDER BY part_number",
    )?;
    Ok(stmt.query_map([upload_id], part_from_row)?.collect::<Result<_, _>>()?)
}

/// Inside a transaction: forgets an upload and its parts, journalling the part blobs
/// (which the caller deletes after the commit).
fn forget_upload(tx: &Transaction<'_>, upload_id: &str) -> Result<Vec<String>, StorageError> {
    let blobs: Vec<String> = tx
        .prepare("DELETE FROM s3_parts WHERE upload_id = ?1 RETURNING blob_id")?
        .query_map([upload_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for blob in &blobs {
        tx.execute("INSERT OR IGNORE INTO s3_blob_journal (blob_id) VALUES (?1)", [blob])?;
    }
    tx.execute("DELETE FROM s3_uploads WHERE upload_id = ?1", [upload_id])?;
    Ok(blobs)
}

/// Inside the transaction that deletes a bucket: forgets its uploads in progress.
pub(super) fn forget_bucket_uploads(tx: &Transaction<'_>, bucket: &str) -> Result<Vec<String>, StorageError> {
    let ids: Vec<String> = tx
        .prepare("SELECT upload_id FROM s3_uploads WHERE bucket = ?1")?
        .query_map([bucket], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut blobs = Vec::new();
    for id in ids {
        blobs.extend(forget_upload(tx, &id)?);
    }
    Ok(blobs)
}

/// The parts `requested` names, checked as S3 checks them: ascending part numbers
/// (InvalidPartOrder), each uploaded with that ETag and those checksums (InvalidPart),
/// each but the last at least 5 MiB (EntityTooSmall).
fn chosen_parts(requested: &[CompletedPart], uploaded: &[PartInfo]) -> Result<Vec<PartInfo>, S3Error> {
    if requested.windows(2).any(|w| w[0].part_number >= w[1].part_number) {
        return Err(S3Error::InvalidPartOrder);
    }
    let by_number: BTreeMap<i32, &PartInfo> = uploaded.iter().map(|p| (p.part_number, p)).collect();
    let mut chosen = Vec::with_capacity(requested.len());
    for want in requested {
        let part = by_number
            .get(&want.part_number)
            .filter(|p| p.etag == want.etag)
            .filter(|p| want.checksums.iter().all(|(name, value)| p.checksums.get(name) == Some(value)))
            .ok_or(S3Error::InvalidPart)?;
        chosen.push((*part).clone());
    }
    if chosen.iter().rev().skip(1).any(|p| p.size < MIN_PART_SIZE) {
        return Err(S3Error::EntityTooSmall);
    }
    if chosen.iter().map(|p| p.size).sum::<u64>() > MAX_MULTIPART_OBJECT_SIZE {
        return Err(S3Error::EntityTooLarge);
    }
    Ok(chosen)
}

/// AWS's multipart ETag: the MD5 of the parts' binary MD5s, a dash, the part count.
fn multipart_etag(parts: &[PartInfo]) -> String {
    let mut md5 = Md5::new();
    for part in parts {
        md5.update(hex::decode(&part.etag).unwrap_or_default());
    }
    format!("{}-{}", hex::encode(md5.finalize()), parts.len())
}

fn checksum_value(checksum: &s3s::dto::Checksum, algorithm: &str) -> Option<String> {
    checksum_values(checksum).remove(algorithm)
}

/// A COMPOSITE object checksum, as S3 computes it: the checksum of the parts' binary
/// checksums, a dash, the part count. `None` if a part lacks the algorithm's checksum.
fn composite_checksum(algorithm: &str, parts: &[PartInfo]) -> Option<String> {
    use base64::Engine;
    let mut hasher = checksum_hasher([algorithm]);
    for part in parts {
        let raw = base64::engine::general_purpose::STANDARD.decode(part.checksums.get(algorithm)?).ok()?;
        hasher.update(&raw);
    }
    Some(format!("{}-{}", checksum_value(&hasher.finalize(), algorithm)?, parts.len()))
}

/// How a completion attempt ended.
enum Completion {
    Done(Box<ObjectInfo>, super::Written, Vec<String>),
    /// A part was replaced while the body was being written: build it again.
    PartsChanged,
}

impl ObjectStore {
    /// Starts an upload of `object`'s key; the object gets `object`'s attributes when the
    /// upload completes.
    pub async fn create_upload(
        &self,
        object: NewObject,
        checksum_algorithm: Option<String>,
        checksum_type: Option<String>,
    ) -> Result<UploadInfo, S3Error> {
        let upload = UploadInfo {
            // Random and long like AWS's, and never a path.
            upload_id: format!("{}{}", Blobs::new_id(), Blobs::new_id()),
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            initiated: from_unix(OffsetDateTime::now_utc().unix_timestamp()),
            checksum_algorithm,
            checksum_type,
        };
        let row = upload.clone();
        self.store
            .call(move |conn| {
                if !bucket_exists(conn, &row.bucket)? {
                    return Ok(Err(S3Error::NoSuchBucket(row.bucket)));
                }
                conn.execute(
                    "INSERT INTO s3_uploads (upload_id, bucket, key, initiated, content_type, metadata, headers,
                     checksum_algorithm, checksum_type, tags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![
                        row.upload_id,
                        row.bucket,
                        row.key.as_bytes(),
                        row.initiated.unix_timestamp(),
                        object.content_type,
                        to_json(&object.metadata),
                        to_json(&object.headers),
                        row.checksum_algorithm,
                        row.checksum_type,
                        to_json(&object.tags),
                    ],
                )?;
                Ok(Ok(()))
            })
            .await??;
        Ok(upload)
    }

    /// The upload `upload_id` of `bucket`/`key`, or NoSuchUpload.
    pub async fn upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<UploadInfo, S3Error> {
        let (bucket, key, upload_id) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        self.store.call(move |conn| find_upload(conn, &bucket, &key, &upload_id)).await?
    }

    /// Makes a staged part durable and records it, replacing a part with the same number.
    pub async fn commit_part(
        &self,
        upload: &UploadInfo,
        part_number: i32,
        staged: StagedBlob,
        checksums: BTreeMap<String, String>,
    ) -> Result<PartInfo, S3Error> {
        let StagedBlob { writer, size, md5, .. } = staged;
        let blob_id = self.make_durable(writer).await?;
        let part = PartInfo {
            part_number,
            size,
            etag: md5,
            checksums,
            last_modified: from_unix(OffsetDateTime::now_utc().unix_timestamp()),
            blob_id: blob_id.clone(),
        };
        let (row, upload) = (part.clone(), upload.clone());
        let outcome = self
            .store
            .call(move |conn| {
                let tx = conn.transaction()?;
                // Aborted or completed while the part was being written.
                if let Err(e) = find_upload(&tx, &upload.bucket, &upload.key, &upload.upload_id)? {
                    return Ok(Err(e));
                }
                let replaced: Option<String> = tx
                    .query_row(
                        "SELECT blob_id FROM s3_parts WHERE upload_id = ?1 AND part_number = ?2",
                        params![upload.upload_id, row.part_number],
                        |r| r.get(0),
                    )
                    .optional()?;
                tx.execute(
                    "INSERT OR REPLACE INTO s3_parts
                     (upload_id, part_number, blob_id, size, etag, checksums, last_modified)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        upload.upload_id,
                        row.part_number,
                        row.blob_id,
                        i64::try_from(row.size).unwrap_or(i64::MAX),
                        row.etag,
                        to_json(&row.checksums),
                        row.last_modified.unix_timestamp(),
                    ],
                )?;
                tx.execute("DELETE FROM s3_blob_journal WHERE blob_id = ?1", [&row.blob_id])?;
                if let Some(old) = &replaced {
                    tx.execute("INSERT OR IGNORE INTO s3_blob_journal (blob_id) VALUES (?1)", [old])?;
                }
                tx.commit()?;
                Ok(Ok(replaced))
            })
            .await?;
        match outcome {
            Ok(replaced) => {
                self.drop_blobs(replaced.into_iter().collect()).await?;
                Ok(part)
            }
            Err(e) => {
                self.drop_blobs(vec![blob_id]).await?;
                Err(e)
            }
        }
    }

    /// Up to `max` parts numbered above `after`, in part-number order.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        after: i32,
        max: usize,
    ) -> Result<PartsPage, S3Error> {
        let (bucket, key, upload_id) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        self.store
            .call(move |conn| {
                let upload = match find_upload(conn, &bucket, &key, &upload_id)? {
                    Ok(upload) => upload,
                    Err(e) => return Ok(Err(e)),
                };
                let mut stmt = conn.prepare_cached(
                    "SELECT part_number, blob_id, size, etag, checksums, last_modified FROM s3_parts
                     WHERE upload_id = ?1 AND part_number > ?2 ORDER BY part_number LIMIT ?3",
                )?;
                let limit = i64::try_from(max).unwrap_or(i64::MAX).saturating_add(1);
                let mut parts: Vec<PartInfo> =
                    stmt.query_map(params![upload_id, after, limit], part_from_row)?.collect::<Result<_, _>>()?;
                let truncated = parts.len() > max;
                parts.truncate(max);
                Ok(Ok(PartsPage { upload, parts, truncated }))
            })
            .await?
    }

    /// Forgets an upload and deletes its parts.
    pub async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(), S3Error> {
        let (bucket, key, upload_id) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        let blobs = self
            .store
            .call(move |conn| {
                let tx = conn.transaction()?;
                if let Err(e) = find_upload(&tx, &bucket, &key, &upload_id)? {
                    return Ok(Err(e));
                }
                let blobs = forget_upload(&tx, &upload_id)?;
                tx.commit()?;
                Ok(Ok(blobs))
            })
            .await??;
        Ok(self.drop_blobs(blobs).await?)
    }

    /// Completes an upload from the parts `requested` lists: the object becomes visible,
    /// replacing any with that key, and the upload and all its parts are gone.
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        requested: Vec<CompletedPart>,
        expect: Expected,
    ) -> Result<ObjectInfo, S3Error> {
        // Another attempt only if a part is re-uploaded during the copy; a client that
        // keeps doing that gets InvalidPart, as if its ETag no longer matched.
        for _ in 0..3 {
            match self.try_complete(bucket, key, upload_id, &requested, &expect).await? {
                Completion::Done(info, written, released) => {
                    self.published(&info, written, released).await?;
                    return Ok(*info);
                }
                Completion::PartsChanged => continue,
            }
        }
        Err(S3Error::InvalidPart)
    }

    async fn try_complete(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        requested: &[CompletedPart],
        expect: &Expected,
    ) -> Result<Completion, S3Error> {
        let (b, k, u) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        let (upload, object, uploaded) = self
            .store
            .call(move |conn| {
                let upload = match find_upload(conn, &b, &k, &u)? {
                    Ok(upload) => upload,
                    Err(e) => return Ok(Err(e)),
                };
                let object = conn.query_row(
                    "SELECT content_type, metadata, headers, tags FROM s3_uploads WHERE upload_id = ?1",
                    [&u],
                    |r| {
                        Ok(NewObject {
                            bucket: b.clone(),
                            key: k.clone(),
                            content_type: r.get(0)?,
                            metadata: from_json(&r.get::<_, String>(1)?),
                            headers: from_json(&r.get::<_, String>(2)?),
                            checksums: BTreeMap::new(),
                            tags: from_json(&r.get::<_, String>(3)?),
                            created_by: CreatedBy::CompleteMultipartUpload,
                        })
                    },
                )?;
                Ok(Ok((upload, object, all_parts(conn, &u)?)))
            })
            .await??;
        let parts = chosen_parts(requested, &uploaded)?;
        let size: u64 = parts.iter().map(|p| p.size).sum();
        if let Some(declared) = expect.size
            && u64::try_from(declared).ok() != Some(size)
        {
            return Err(S3Error::ObjectSizeMismatch { declared, computed: size });
        }

        // The body: the parts' blobs end to end, hashed for a FULL_OBJECT checksum.
        let algorithm = upload.checksum_algorithm.clone();
        let full_object = upload.checksum_type.as_deref() == Some(s3s::dto::ChecksumType::FULL_OBJECT);
        let mut hasher = algorithm.as_deref().filter(|_| full_object).map(|a| checksum_hasher([a]));
        let mut writer = self.store.blobs().writer()?;
        let paths: Vec<_> = parts.iter().map(|p| self.store.blobs().path(&p.blob_id)).collect::<Result<_, _>>()?;
        let copied = tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut buf = vec![0u8; CHUNK];
            for path in paths {
                let mut file = match std::fs::File::open(&path) {
                    Ok(file) => file,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(source) => return Err(StorageError::Io { path, source }),
                };
                loop {
                    let n = file.read(&mut buf).map_err(|source| StorageError::Io { path: path.clone(), source })?;
                    if n == 0 {
                        break;
                    }
                    if let Some(hasher) = hasher.as_mut() {
                        hasher.update(&buf[..n]);
                    }
                    writer.write_all(&buf[..n])?;
                }
            }
            Ok(Some((writer, hasher.map(|h| h.finalize()))))
        })
        .await
        .map_err(|e| StorageError::Worker(e.to_string()))??;
        let Some((writer, full_checksum)) = copied else {
            return Ok(Completion::PartsChanged);
        };
        let mut object = object;
        if let Some(algorithm) = &algorithm {
            let value = match &full_checksum {
                Some(checksum) => checksum_value(checksum, algorithm),
                None => composite_checksum(algorithm, &parts),
            };
            if let Some(value) = value {
                object.checksums.insert(algorithm.clone(), value);
            }
        }
        // A whole-object checksum the client declares must be the one computed ("-N" aside).
        let bare = |v: &str| v.split_once('-').map_or(v, |(value, _)| value).to_string();
        for (name, declared) in &expect.checksums {
            if object.checksums.get(name).map(|v| bare(v)) != Some(bare(declared)) {
                return Err(S3Error::BadChecksum(name.to_ascii_uppercase()));
            }
        }
        let blob_id = self.make_durable(writer).await?;
        let part_sizes = parts.iter().map(|p| p.size).collect();
        let info = object.stored(size, multipart_etag(&parts), part_sizes, blob_id.clone());
        let (row, region, upload_id) = (info.clone(), self.region.clone(), upload.upload_id.clone());
        let expected: Vec<(i32, String)> = parts.iter().map(|p| (p.part_number, p.blob_id.clone())).collect();
        let outcome = self
            .store
            .call(move |conn| {
                let tx = conn.transaction()?;
                if let Err(e) = find_upload(&tx, &row.bucket, &row.key, &upload_id)? {
                    return Ok(Err(e)); // completed or aborted meanwhile
                }
                let now: Vec<(i32, String)> = all_parts(&tx, &upload_id)?
                    .into_iter()
                    .filter(|p| expected.iter().any(|(n, _)| *n == p.part_number))
                    .map(|p| (p.part_number, p.blob_id))
                    .collect();
                if now != expected {
                    return Ok(Ok(None));
                }
                let written = write_object(&tx, &row, &region, CreatedBy::CompleteMultipartUpload)?;
                let released = forget_upload(&tx, &upload_id)?;
                tx.commit()?;
                Ok(Ok(Some((written, released))))
            })
            .await?;
        match outcome {
            Ok(Some((written, released))) => Ok(Completion::Done(Box::new(info), written, released)),
            Ok(None) => {
                self.drop_blobs(vec![blob_id]).await?;
                Ok(Completion::PartsChanged)
            }
            Err(e) => {
                self.drop_blobs(vec![blob_id]).await?;
                Err(e)
            }
        }
    }

    /// A page of a bucket's uploads in progress: by key, then by when each was initiated;
    /// keys with the delimiter after the prefix rolled up into common prefixes.
    pub async fn list_uploads(&self, bucket: &str, query: UploadQuery) -> Result<UploadPage, S3Error> {
        self.read_bucket(bucket, move |conn, bucket| upload_page(conn, bucket, &query)).await
    }
}

fn upload_page(conn: &rusqlite::Connection, bucket: &str, query: &UploadQuery) -> Result<UploadPage, StorageError> {
    let mut page = UploadPage { uploads: Vec::new(), common_prefixes: Vec::new(), truncated: false, next: None };
    if query.max_uploads == 0 {
        return Ok(page);
    }
    let delimiter = query.delimiter.as_deref().filter(|d| !d.is_empty());
    // Where the scan starts: after the marker's key, or within it after the marker upload.
    let (from_key, after_seq): (Vec<u8>, i64) = match (&query.key_marker, &query.upload_id_marker) {
        (Some(key), Some(id)) if !key.is_empty() && !id.is_empty() => {
            let seq: Option<i64> = conn
                .query_row(
                    "SELECT seq FROM s3_uploads WHERE bucket = ?1 AND key = ?2 AND upload_id = ?3",
                    params![bucket, key.as_bytes(), id],
                    |r| r.get(0),
                )
                .optional()?;
            match seq {
                Some(seq) => (key.as_bytes().to_vec(), seq),
                None => (super::successor_of_key(key.as_bytes()), 0),
            }
        }
        // A marker that is a rolled-up common prefix skips every key under it.
        (Some(key), _) if delimiter.is_some_and(|d| key.len() > query.prefix.len() && key.ends_with(d)) => {
            match super::successor_of_prefix(key.as_bytes()) {
                Some(next) => (next, 0),
                None => return Ok(page),
            }
        }
        (Some(key), _) if !key.is_empty() => (super::successor_of_key(key.as_bytes()), 0),
        _ => (Vec::new(), 0),
    };
    let from_key = std::cmp::max(from_key, query.prefix.as_bytes().to_vec());
    let sql = format!(
        "SELECT {UPLOAD_COLUMNS} FROM s3_uploads WHERE bucket = ?1 AND (key > ?2 OR (key = ?2 AND seq > ?3))
         ORDER BY key, seq"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![bucket, from_key, after_seq], upload_from_row)?;
    let mut last: Option<Cursor> = None;
    let mut count = 0;
    for row in rows {
        let upload = row?;
        if !upload.key.starts_with(&query.prefix) {
            break; // the scan started at the prefix: this is past every key with it
        }
        let rest = &upload.key[query.prefix.len()..];
        let common =
            delimiter.and_then(|d| rest.find(d).map(|p| upload.key[..query.prefix.len() + p + d.len()].to_string()));
        if let Some(common) = &common
            && page.common_prefixes.last() == Some(common)
        {
            continue;
        }
        if count == query.max_uploads {
            page.truncated = true;
            page.next = match last {
                Some(Cursor::AfterPrefix(p)) => Some((p, None)),
                Some(Cursor::AfterKey(_)) => page.uploads.last().map(|u| (u.key.clone(), Some(u.upload_id.clone()))),
                _ => None,
            };
            return Ok(page);
        }
        count += 1;
        match common {
            Some(common) => {
                last = Some(Cursor::AfterPrefix(common.clone()));
                page.common_prefixes.push(common);
            }
            None => {
                last = Some(Cursor::AfterKey(upload.key.clone()));
                page.uploads.push(upload);
            }
        }
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(number: i32, size: u64, body: &[u8]) -> PartInfo {
        PartInfo {
            part_number: number,
            size,
            etag: hex::encode(Md5::digest(body)),
            checksums: BTreeMap::new(),
            last_modified: OffsetDateTime::UNIX_EPOCH,
            blob_id: format!("{number:032x}"),
        }
    }

    fn ask(number: i32, body: &[u8]) -> CompletedPart {
        CompletedPart { part_number: number, etag: hex::encode(Md5::digest(body)), checksums: BTreeMap::new() }
    }

    #[test]
    fn multipart_etag_is_the_md5_of_the_part_md5s() {
        let parts = [part(1, 1, b"a"), part(2, 1, b"b")];
        let mut md5 = Md5::new();
        md5.update(Md5::digest(b"a"));
        md5.update(Md5::digest(b"b"));
        assert_eq!(multipart_etag(&parts), format!("{}-2", hex::encode(md5.finalize())));
    }

    #[test]
    fn completion_checks_order_etags_and_sizes() {
        let uploaded = [part(1, MIN_PART_SIZE, b"one"), part(2, 1, b"two"), part(3, 1, b"three")];
        assert!(chosen_parts(&[ask(1, b"one"), ask(3, b"three")], &uploaded).is_ok());
        assert!(matches!(chosen_parts(&[ask(2, b"two"), ask(1, b"one")], &uploaded), Err(S3Error::InvalidPartOrder)));
        assert!(matches!(chosen_parts(&[ask(1, b"one"), ask(1, b"one")], &uploaded), Err(S3Error::InvalidPartOrder)));
        assert!(matches!(chosen_parts(&[ask(1, b"other")], &uploaded), Err(S3Error::InvalidPart)));
        assert!(matches!(chosen_parts(&[ask(4, b"four")], &uploaded), Err(S3Error::InvalidPart)));
        assert!(matches!(chosen_parts(&[ask(2, b"two"), ask(3, b"three")], &uploaded), Err(S3Error::EntityTooSmall)));
    }
}

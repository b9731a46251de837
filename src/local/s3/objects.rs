//! S3's storage: bucket and object metadata in SQLite (tables prefixed `s3_`), object
//! bodies as blobs named by generated ids, so no bucket name or key ever becomes a path.
//!
//! Durability order for every write: the new blob is committed (fsync, rename) first,
//! then the SQLite transaction that points at it, then the blob it replaced is deleted.
//! The blob directory is shared with other services (Lambda keeps function code there),
//! so S3 cannot treat every blob it does not reference as garbage. Instead it journals
//! the ids of blobs it is about to commit or drop (`s3_blob_journal`); at start-up it
//! deletes the journalled blobs no object references — a crash's leftovers, and only S3's.
//!
//! The transaction that makes an object visible also records its S3 event messages in
//! the notification outbox (`notifications`), so an acknowledged write never loses them.
//!
//! Multipart uploads and their parts (`multipart`) follow the same order: a part's blob is
//! committed before the row that names it, and completing an upload is one transaction.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::{Notify, broadcast, mpsc};

use super::S3Error;
use super::notifications::{self, CreatedBy, CreatedObject, NotificationSettings};
use crate::local::storage::{BlobWriter, StorageError, Store};

mod multipart;
pub use multipart::{CompletedPart, Expected, MAX_PART_SIZE, MAX_PARTS, UploadInfo, UploadQuery};

/// The largest object a single PUT may carry, as on AWS.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
const CHUNK: usize = 256 * 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS s3_buckets (
    name TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS s3_objects (
    bucket TEXT NOT NULL REFERENCES s3_buckets(name),
    key BLOB NOT NULL,
    blob_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    content_type TEXT,
    metadata TEXT NOT NULL,
    headers TEXT NOT NULL,
    checksums TEXT NOT NULL,
    last_modified INTEGER NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    part_sizes TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS s3_blob_journal (
    blob_id TEXT PRIMARY KEY
) WITHOUT ROWID;
";

/// The standard headers S3 stores with an object and returns on GET/HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectHeaders {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// `Expires`, in seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
}

/// What is stored about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// The MD5 of the body in hex, without quotes.
    pub etag: String,
    pub content_type: Option<String>,
    /// User metadata (`x-amz-meta-*`), names lower-cased.
    pub metadata: BTreeMap<String, String>,
    pub headers: ObjectHeaders,
    /// Checksums the client asked for, by algorithm (`crc32`, `sha256` …), base64.
    pub checksums: BTreeMap<String, String>,
    /// Whole seconds, as S3 reports it.
    pub last_modified: OffsetDateTime,
    /// The object's tags, in the order they were given.
    pub tags: Vec<(String, String)>,
    /// The sizes of the parts a multipart upload assembled it from, in order; empty for
    /// an object put whole.
    pub part_sizes: Vec<u64>,
    pub(super) blob_id: String,
}

/// What a write supplies besides the body.
#[derive(Debug, Clone, Default)]
pub struct NewObject {
    pub bucket: String,
    pub key: String,
    pub content_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub headers: ObjectHeaders,
    pub checksums: BTreeMap<String, String>,
    pub tags: Vec<(String, String)>,
    /// The write that creates it, which names its S3 event.
    pub created_by: CreatedBy,
}

impl NewObject {
    /// The object as stored now: its bytes' size, ETag, part sizes (empty unless assembled
    /// from a multipart upload) and blob.
    fn stored(self, size: u64, etag: String, part_sizes: Vec<u64>, blob_id: String) -> ObjectInfo {
        ObjectInfo {
            bucket: self.bucket,
            key: self.key,
            size,
            etag,
            content_type: self.content_type,
            metadata: self.metadata,
            headers: self.headers,
            checksums: self.checksums,
            last_modified: from_unix(OffsetDateTime::now_utc().unix_timestamp()),
            tags: self.tags,
            part_sizes,
            blob_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    pub name: String,
    pub created: OffsetDateTime,
}

/// A change to a bucket's objects, for S3 event notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectEvent {
    Created { bucket: String, key: String, size: u64, etag: String },
    Removed { bucket: String, key: String },
}

/// A body written to a temporary blob, hashed, not yet durable or visible.
pub struct StagedBlob {
    writer: BlobWriter,
    pub size: u64,
    /// Hex MD5.
    pub md5: String,
    pub checksums: s3s::dto::Checksum,
}

/// Where a listing resumes: after a key, or after every key under a common prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    Start,
    AfterKey(String),
    AfterPrefix(String),
}

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub max_keys: usize,
    pub after: Cursor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Object(Box<ObjectInfo>),
    CommonPrefix(String),
}

#[derive(Debug, Clone)]
pub struct ListPage {
    pub entries: Vec<Entry>,
    pub truncated: bool,
    /// Where the next page starts, when truncated.
    pub next: Option<Cursor>,
}

pub struct ObjectStore {
    store: Store,
    events: broadcast::Sender<ObjectEvent>,
    /// The region event records name.
    region: String,
    /// Signalled when an event message is added to the outbox.
    outbox: Arc<Notify>,
}

impl ObjectStore {
    /// Creates the tables if needed and sweeps the blobs a crash left behind.
    pub fn open(store: Store, region: &str) -> Result<Self, S3Error> {
        let orphans = store.call_blocking(|conn| {
            conn.execute_batch(SCHEMA)?;
            conn.execute_batch(multipart::SCHEMA)?;
            // Data directories from before object tagging.
            add_column(conn, "s3_objects", "tags", "TEXT NOT NULL DEFAULT '[]'")?;
            add_column(conn, "s3_uploads", "tags", "TEXT NOT NULL DEFAULT '[]'")?;
            add_column(conn, "s3_objects", "part_sizes", "TEXT NOT NULL DEFAULT '[]'")?;
            conn.execute_batch(notifications::SCHEMA)?;
            let journal: Vec<String> = conn
                .prepare("SELECT blob_id FROM s3_blob_journal")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            if journal.is_empty() {
                return Ok(journal);
            }
            let referenced: HashSet<String> = conn
                .prepare("SELECT blob_id FROM s3_objects UNION ALL SELECT blob_id FROM s3_parts")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(journal.into_iter().filter(|id| !referenced.contains(id)).collect())
        })?;
        for id in &orphans {
            store.blobs().delete(id)?;
        }
        store.call_blocking(|conn| Ok(conn.execute("DELETE FROM s3_blob_journal", [])?))?;
        if !orphans.is_empty() {
            tracing::info!("S3: swept {} blobs left behind by an interrupted write", orphans.len());
        }
        let (events, _) = broadcast::channel(1024);
        Ok(Self { store, events, region: region.to_string(), outbox: Arc::new(Notify::new()) })
    }

    /// What the outbox's dispatcher waits on.
    pub fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox.clone()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The bucket's notification settings (NoSuchBucket if there is no bucket).
    pub async fn notifications(&self, bucket: &str) -> Result<NotificationSettings, S3Error> {
        self.read_bucket(bucket, notifications::load).await
    }

    /// Replaces the bucket's notification settings.
    pub async fn set_notifications(&self, bucket: &str, settings: NotificationSettings) -> Result<(), S3Error> {
        let bucket = bucket.to_string();
        self.store
            .call(move |conn| {
                let tx = conn.transaction()?;
                if !bucket_exists(&tx, &bucket)? {
                    return Ok(Err(S3Error::NoSuchBucket(bucket)));
                }
                notifications::save(&tx, &bucket, &settings)?;
                tx.commit()?;
                Ok(Ok(()))
            })
            .await?
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ObjectEvent> {
        self.events.subscribe()
    }

    pub async fn create_bucket(&self, name: &str) -> Result<(), S3Error> {
        let name = name.to_string();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        self.store
            .call(move |conn| {
                let inserted = conn.execute(
                    "INSERT OR IGNORE INTO s3_buckets (name, created_at) VALUES (?1, ?2)",
                    params![name, now],
                )?;
                Ok(if inserted == 0 { Err(S3Error::BucketAlreadyOwnedByYou(name)) } else { Ok(()) })
            })
            .await?
    }

    pub async fn bucket_exists(&self, name: &str) -> Result<bool, S3Error> {
        let name = name.to_string();
        Ok(self.store.call(move |conn| bucket_exists(conn, &name)).await?)
    }

    pub async fn require_bucket(&self, name: &str) -> Result<(), S3Error> {
        if self.bucket_exists(name).await? { Ok(()) } else { Err(S3Error::NoSuchBucket(name.to_string())) }
    }

    /// Deletes an empty bucket; its multipart uploads in progress go with it.
    pub async fn delete_bucket(&self, name: &str) -> Result<(), S3Error> {
        let name = name.to_string();
        let parts = self
            .store
            .call(move |conn| {
                let tx = conn.transaction()?;
                if !bucket_exists(&tx, &name)? {
                    return Ok(Err(S3Error::NoSuchBucket(name)));
                }
                let has_objects: bool =
                    tx.query_row("SELECT EXISTS (SELECT 1 FROM s3_objects WHERE bucket = ?1)", [&name], |r| r.get(0))?;
                if has_objects {
                    return Ok(Err(S3Error::BucketNotEmpty(name)));
                }
                let parts = multipart::forget_bucket_uploads(&tx, &name)?;
                tx.execute("DELETE FROM s3_notifications WHERE bucket = ?1", [&name])?;
                tx.execute("DELETE FROM s3_buckets WHERE name = ?1", [&name])?;
                tx.commit()?;
                Ok(Ok(parts))
            })
            .await??;
        Ok(self.drop_blobs(parts).await?)
    }

    pub async fn list_buckets(&self) -> Result<Vec<BucketInfo>, S3Error> {
        Ok(self
            .store
            .call(|conn| {
                let mut stmt = conn.prepare("SELECT name, created_at FROM s3_buckets ORDER BY name")?;
                let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
                let mut buckets = Vec::new();
                for row in rows {
                    let (name, created) = row?;
                    buckets.push(BucketInfo { name, created: from_unix(created) });
                }
                Ok(buckets)
            })
            .await?)
    }

    /// The stored object, or NoSuchBucket / NoSuchKey.
    pub async fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, S3Error> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.store
            .call(move |conn| {
                if let Some(info) = select_object(conn, &bucket, &key)? {
                    return Ok(Ok(info));
                }
                if !bucket_exists(conn, &bucket)? {
                    return Ok(Err(S3Error::NoSuchBucket(bucket)));
                }
                Ok(Err(S3Error::NoSuchKey { bucket, key }))
            })
            .await?
    }

    /// Streams `body` into a temporary blob on a blocking thread, hashing it on the way
    /// (MD5 for the ETag plus whichever checksums `hasher` has switched on).
    pub async fn stage<S, E>(
        &self,
        body: S,
        hasher: s3s::checksum::ChecksumHasher,
        max_size: u64,
    ) -> Result<StagedBlob, S3Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let mut writer = self.store.blobs().writer()?;
        let (tx, mut rx) = mpsc::channel::<Bytes>(8);
        let worker = tokio::task::spawn_blocking(move || {
            let mut md5 = Md5::new();
            let mut hasher = hasher;
            let mut size = 0u64;
            while let Some(chunk) = rx.blocking_recv() {
                md5.update(&chunk);
                hasher.update(&chunk);
                writer.write_all(&chunk)?;
                size += chunk.len() as u64;
            }
            Ok::<_, StorageError>((writer, size, hex::encode(md5.finalize()), hasher.finalize()))
        });
        let mut failure = None;
        let mut received = 0u64;
        let mut body = std::pin::pin!(body);
        while let Some(item) = body.next().await {
            match item {
                Ok(chunk) => {
                    received += chunk.len() as u64;
                    if received > max_size {
                        failure = Some(S3Error::EntityTooLarge);
                        break;
                    }
                    if tx.send(chunk).await.is_err() {
                        break; // the writer failed; its error is reported below
                    }
                }
                Err(e) => {
                    failure = Some(S3Error::IncompleteBody(e.to_string()));
                    break;
                }
            }
        }
        drop(tx);
        let written = worker.await.map_err(|e| StorageError::Worker(e.to_string()))?;
        // On failure the uncommitted writer is dropped here, which removes its temp file.
        if let Some(failure) = failure {
            return Err(failure);
        }
        let (writer, size, md5, checksums) = written?;
        Ok(StagedBlob { writer, size, md5, checksums })
    }

    /// Copies a stored object's body, or the bytes `range` (start, end exclusive) of it,
    /// into a new temporary blob, hashed with `hasher` on the way. A range's MD5 is
    /// computed too; a whole copy keeps the source's.
    pub async fn stage_copy(
        &self,
        source: &ObjectInfo,
        range: Option<(u64, u64)>,
        hasher: s3s::checksum::ChecksumHasher,
    ) -> Result<StagedBlob, S3Error> {
        let path = self.store.blobs().path(&source.blob_id)?;
        let mut writer = self.store.blobs().writer()?;
        let (bucket, key) = (source.bucket.clone(), source.key.clone());
        let (start, end) = range.unwrap_or((0, source.size));
        let whole_md5 = range.is_none().then(|| source.etag.clone());
        tokio::task::spawn_blocking(move || {
            let mut file = match std::fs::File::open(&path) {
                Ok(file) => file,
                // Replaced or deleted since it was looked up.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(S3Error::NoSuchKey { bucket, key }),
                Err(source) => return Err(StorageError::Io { path, source }.into()),
            };
            let io = |source| StorageError::Io { path: path.clone(), source };
            std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(start)).map_err(io)?;
            let mut md5 = Md5::new();
            let mut hasher = hasher;
            let mut left = end - start;
            let mut buf = vec![0u8; CHUNK];
            while left > 0 {
                let want = usize::try_from(left).unwrap_or(CHUNK).min(CHUNK);
                let n = file.read(&mut buf[..want]).map_err(io)?;
                if n == 0 {
                    return Err(io(std::io::ErrorKind::UnexpectedEof.into()).into());
                }
                if whole_md5.is_none() {
                    md5.update(&buf[..n]);
                }
                hasher.update(&buf[..n]);
                writer.write_all(&buf[..n])?;
                left -= n as u64;
            }
            let md5 = whole_md5.unwrap_or_else(|| hex::encode(md5.finalize()));
            Ok(StagedBlob { writer, size: end - start, md5, checksums: hasher.finalize() })
        })
        .await
        .map_err(|e| StorageError::Worker(e.to_string()))?
    }

    /// Makes a staged body durable and points `object` at it, replacing any object with
    /// that key; then deletes the replaced body.
    pub async fn commit(&self, staged: StagedBlob, object: NewObject) -> Result<ObjectInfo, S3Error> {
        let StagedBlob { writer, size, md5, .. } = staged;
        let id = self.make_durable(writer).await?;

        let (region, created_by) = (self.region.clone(), object.created_by);
        let info = object.stored(size, md5, Vec::new(), id.clone());
        let row = info.clone();
        let outcome = self
            .store
            .call(move |conn| {
                let tx = conn.transaction()?;
                if !bucket_exists(&tx, &row.bucket)? {
                    return Ok(Err(S3Error::NoSuchBucket(row.bucket)));
                }
                let written = write_object(&tx, &row, &region, created_by)?;
                tx.commit()?;
                Ok(Ok(written))
            })
            .await?;
        match outcome {
            Ok(written) => {
                self.published(&info, written, Vec::new()).await?;
                Ok(info)
            }
            Err(e) => {
                // The bucket went away while the body was being written.
                self.drop_blobs(vec![id]).await?;
                Err(e)
            }
        }
    }

    /// Journals a staged blob's id, then makes the blob durable: from here on a crash
    /// leaves nothing the start-up sweep cannot find.
    async fn make_durable(&self, writer: BlobWriter) -> Result<String, S3Error> {
        self.journal(vec![writer.id().to_string()]).await?;
        Ok(tokio::task::spawn_blocking(move || writer.commit())
            .await
            .map_err(|e| StorageError::Worker(e.to_string()))??)
    }

    /// After the transaction that made `info` visible: wakes the outbox, deletes the body
    /// it replaced and any other blobs the transaction released, tells subscribers.
    async fn published(&self, info: &ObjectInfo, written: Written, released: Vec<String>) -> Result<(), S3Error> {
        if written.recorded > 0 {
            self.outbox.notify_one();
        }
        let dropped: Vec<String> = written.replaced.into_iter().chain(released).collect();
        if !dropped.is_empty() {
            self.drop_blobs(dropped).await?;
        }
        let _ = self.events.send(ObjectEvent::Created {
            bucket: info.bucket.clone(),
            key: info.key.clone(),
            size: info.size,
            etag: info.etag.clone(),
        });
        Ok(())
    }

    /// Replaces an object's tags (NoSuchBucket / NoSuchKey when there is no object). The
    /// object is otherwise unchanged, as on S3: same ETag, same Last-Modified.
    pub async fn set_tags(&self, bucket: &str, key: &str, tags: Vec<(String, String)>) -> Result<(), S3Error> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.store
            .call(move |conn| {
                let updated = conn.execute(
                    "UPDATE s3_objects SET tags = ?3 WHERE bucket = ?1 AND key = ?2",
                    params![bucket, key.as_bytes(), to_json(&tags)],
                )?;
                if updated > 0 {
                    Ok(Ok(()))
                } else if !bucket_exists(conn, &bucket)? {
                    Ok(Err(S3Error::NoSuchBucket(bucket)))
                } else {
                    Ok(Err(S3Error::NoSuchKey { bucket, key }))
                }
            })
            .await?
    }

    /// Deletes an object; `Ok(false)` when there was none (S3 answers success either way).
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<bool, S3Error> {
        let (b, k) = (bucket.to_string(), key.to_string());
        let removed = self
            .store
            .call(move |conn| {
                let tx = conn.transaction()?;
                if !bucket_exists(&tx, &b)? {
                    return Ok(Err(S3Error::NoSuchBucket(b)));
                }
                let blob: Option<String> = tx
                    .query_row(
                        "DELETE FROM s3_objects WHERE bucket = ?1 AND key = ?2 RETURNING blob_id",
                        params![b, k.as_bytes()],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(blob) = &blob {
                    tx.execute("INSERT OR IGNORE INTO s3_blob_journal (blob_id) VALUES (?1)", [blob])?;
                }
                tx.commit()?;
                Ok(Ok(blob))
            })
            .await??;
        match removed {
            Some(blob) => {
                self.drop_blobs(vec![blob]).await?;
                let _ = self.events.send(ObjectEvent::Removed { bucket: bucket.to_string(), key: key.to_string() });
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Opens an object's body for reading, with what is stored about it.
    /// Retries the lookup when a concurrent write replaced the body in between.
    pub async fn open_body(&self, bucket: &str, key: &str) -> Result<(ObjectInfo, std::fs::File), S3Error> {
        for _ in 0..3 {
            let info = self.head(bucket, key).await?;
            let path = self.store.blobs().path(&info.blob_id)?;
            let opened = tokio::task::spawn_blocking(move || std::fs::File::open(&path).map_err(|e| (path, e)))
                .await
                .map_err(|e| StorageError::Worker(e.to_string()))?;
            match opened {
                Ok(file) => return Ok((info, file)),
                Err((_, e)) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err((path, source)) => return Err(StorageError::Io { path, source }.into()),
            }
        }
        Err(S3Error::NoSuchKey { bucket: bucket.to_string(), key: key.to_string() })
    }

    pub async fn list(&self, bucket: &str, query: ListQuery) -> Result<ListPage, S3Error> {
        self.read_bucket(bucket, move |conn, bucket| list_page(conn, bucket, &query)).await
    }

    /// Runs `read` on the database for `bucket`, or answers NoSuchBucket.
    async fn read_bucket<R: Send + 'static>(
        &self,
        bucket: &str,
        read: impl FnOnce(&rusqlite::Connection, &str) -> Result<R, StorageError> + Send + 'static,
    ) -> Result<R, S3Error> {
        let bucket = bucket.to_string();
        self.store
            .call(move |conn| {
                if !bucket_exists(conn, &bucket)? {
                    return Ok(Err(S3Error::NoSuchBucket(bucket)));
                }
                Ok(Ok(read(conn, &bucket)?))
            })
            .await?
    }

    /// Records blob ids S3 is about to make durable or to delete, so a crash in between
    /// leaves nothing the start-up sweep cannot find.
    async fn journal(&self, ids: Vec<String>) -> Result<(), StorageError> {
        self.store
            .call(move |conn| {
                let tx = conn.transaction()?;
                for id in &ids {
                    tx.execute("INSERT OR IGNORE INTO s3_blob_journal (blob_id) VALUES (?1)", [id])?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }

    /// Deletes journalled blobs no object references any more, then forgets them.
    async fn drop_blobs(&self, ids: Vec<String>) -> Result<(), StorageError> {
        let store = self.store.clone();
        let to_delete = ids.clone();
        tokio::task::spawn_blocking(move || to_delete.iter().try_for_each(|id| store.blobs().delete(id)))
            .await
            .map_err(|e| StorageError::Worker(e.to_string()))??;
        self.store
            .call(move |conn| {
                let tx = conn.transaction()?;
                for id in &ids {
                    tx.execute("DELETE FROM s3_blob_journal WHERE blob_id = ?1", [id])?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }
}

/// What writing an object's row did: the body it replaced, and how many event messages
/// it recorded.
struct Written {
    replaced: Option<String>,
    recorded: usize,
}

/// Inside a transaction: points `row`'s key at its (committed, journalled) blob, journals
/// the body it replaces, and records the object's event messages in the outbox, so an
/// acknowledged write never loses them.
fn write_object(
    tx: &rusqlite::Transaction<'_>,
    row: &ObjectInfo,
    region: &str,
    created_by: CreatedBy,
) -> Result<Written, StorageError> {
    let replaced: Option<String> = tx
        .query_row(
            "SELECT blob_id FROM s3_objects WHERE bucket = ?1 AND key = ?2",
            params![row.bucket, row.key.as_bytes()],
            |r| r.get(0),
        )
        .optional()?;
    tx.execute(
        "INSERT OR REPLACE INTO s3_objects
         (bucket, key, blob_id, size, etag, content_type, metadata, headers, checksums, last_modified, tags,
          part_sizes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            row.bucket,
            row.key.as_bytes(),
            row.blob_id,
            i64::try_from(row.size).unwrap_or(i64::MAX),
            row.etag,
            row.content_type,
            to_json(&row.metadata),
            to_json(&row.headers),
            to_json(&row.checksums),
            row.last_modified.unix_timestamp(),
            to_json(&row.tags),
            to_json(&row.part_sizes),
        ],
    )?;
    tx.execute("DELETE FROM s3_blob_journal WHERE blob_id = ?1", [&row.blob_id])?;
    if let Some(old) = &replaced {
        tx.execute("INSERT OR IGNORE INTO s3_blob_journal (blob_id) VALUES (?1)", [old])?;
    }
    let created = CreatedObject { bucket: &row.bucket, key: &row.key, size: row.size, etag: &row.etag, created_by };
    let recorded = notifications::record_created(tx, region, &created)?;
    Ok(Written { replaced, recorded })
}

/// A checksum hasher with the named algorithms (`crc32`, `sha256` …) switched on.
pub fn checksum_hasher<'a>(algorithms: impl IntoIterator<Item = &'a str>) -> s3s::checksum::ChecksumHasher {
    let mut hasher = s3s::checksum::ChecksumHasher::default();
    for algorithm in algorithms {
        match algorithm {
            "crc32" => hasher.crc32 = Some(Default::default()),
            "crc32c" => hasher.crc32c = Some(Default::default()),
            "crc64nvme" => hasher.crc64nvme = Some(Default::default()),
            "sha1" => hasher.sha1 = Some(Default::default()),
            "sha256" => hasher.sha256 = Some(Default::default()),
            _ => {}
        }
    }
    hasher
}

/// The checksums a hasher computed, by algorithm name, base64.
pub fn checksum_values(checksum: &s3s::dto::Checksum) -> BTreeMap<String, String> {
    let pairs = [
        ("crc32", &checksum.checksum_crc32),
        ("crc32c", &checksum.checksum_crc32c),
        ("crc64nvme", &checksum.checksum_crc64nvme),
        ("sha1", &checksum.checksum_sha1),
        ("sha256", &checksum.checksum_sha256),
    ];
    pairs.into_iter().filter_map(|(name, value)| value.clone().map(|v| (name.to_string(), v))).collect()
}

fn bucket_exists(conn: &rusqlite::Connection, name: &str) -> Result<bool, StorageError> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM s3_buckets WHERE name = ?1)", [name], |r| r.get(0))?)
}

const OBJECT_COLUMNS: &str =
    "bucket, key, blob_id, size, etag, content_type, metadata, headers, checksums, last_modified, tags, part_sizes";

fn select_object(conn: &rusqlite::Connection, bucket: &str, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
    let sql = format!("SELECT {OBJECT_COLUMNS} FROM s3_objects WHERE bucket = ?1 AND key = ?2");
    Ok(conn.prepare_cached(&sql)?.query_row(params![bucket, key.as_bytes()], object_from_row).optional()?)
}

fn object_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ObjectInfo> {
    let key: Vec<u8> = r.get(1)?;
    let size: i64 = r.get(3)?;
    Ok(ObjectInfo {
        bucket: r.get(0)?,
        key: String::from_utf8_lossy(&key).into_owned(),
        blob_id: r.get(2)?,
        size: u64::try_from(size).unwrap_or(0),
        etag: r.get(4)?,
        content_type: r.get(5)?,
        metadata: from_json(&r.get::<_, String>(6)?),
        headers: from_json(&r.get::<_, String>(7)?),
        checksums: from_json(&r.get::<_, String>(8)?),
        last_modified: from_unix(r.get(9)?),
        tags: from_json(&r.get::<_, String>(10)?),
        part_sizes: from_json(&r.get::<_, String>(11)?),
    })
}

/// Adds a column to a table created before the column existed.
fn add_column(conn: &rusqlite::Connection, table: &str, column: &str, decl: &str) -> Result<(), StorageError> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
        params![table, column],
        |r| r.get(0),
    )?;
    if !exists {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))?;
    }
    Ok(())
}

/// One page of a listing. Keys sort by their UTF-8 bytes, as S3 sorts them. A common
/// prefix is reported once and the scan then jumps past every key under it.
fn list_page(conn: &rusqlite::Connection, bucket: &str, query: &ListQuery) -> Result<ListPage, StorageError> {
    if query.max_keys == 0 {
        return Ok(ListPage { entries: Vec::new(), truncated: false, next: None });
    }
    let prefix = query.prefix.as_bytes();
    let upper = successor_of_prefix(prefix);
    let resume = match &query.after {
        Cursor::Start => Some(Vec::new()),
        Cursor::AfterKey(key) => Some(successor_of_key(key.as_bytes())),
        Cursor::AfterPrefix(p) => successor_of_prefix(p.as_bytes()),
    };
    let Some(resume) = resume else {
        return Ok(ListPage { entries: Vec::new(), truncated: false, next: None });
    };
    let mut from = std::cmp::max(resume, prefix.to_vec());

    let sql = format!("SELECT {OBJECT_COLUMNS} FROM s3_objects WHERE bucket = ?1 AND key >= ?2 ORDER BY key LIMIT ?3");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut entries = Vec::new();
    loop {
        let limit = (query.max_keys - entries.len() + 1) as i64;
        let batch: Vec<ObjectInfo> =
            stmt.query_map(params![bucket, from, limit], object_from_row)?.collect::<Result<_, _>>()?;
        let fetched = batch.len();
        let mut jumped = false;
        for object in batch {
            if upper.as_deref().is_some_and(|upper| object.key.as_bytes() >= upper) {
                return Ok(ListPage { entries, truncated: false, next: None });
            }
            if entries.len() == query.max_keys {
                let next = match entries.last() {
                    Some(Entry::Object(o)) => Some(Cursor::AfterKey(o.key.clone())),
                    Some(Entry::CommonPrefix(p)) => Some(Cursor::AfterPrefix(p.clone())),
                    None => None,
                };
                return Ok(ListPage { entries, truncated: true, next });
            }
            let rest = object.key.get(query.prefix.len()..).unwrap_or("");
            let delimiter = query.delimiter.as_deref().filter(|d| !d.is_empty());
            if let Some(pos) = delimiter.and_then(|d| rest.find(d).map(|p| p + d.len())) {
                let common = object.key[..query.prefix.len() + pos].to_string();
                match successor_of_prefix(common.as_bytes()) {
                    Some(next) => from = next,
                    None => {
                        entries.push(Entry::CommonPrefix(common));
                        return Ok(ListPage { entries, truncated: false, next: None });
                    }
                }
                entries.push(Entry::CommonPrefix(common));
                jumped = true;
                break;
            }
            from = successor_of_key(object.key.as_bytes());
            entries.push(Entry::Object(Box::new(object)));
        }
        if !jumped && (fetched as i64) < limit {
            return Ok(ListPage { entries, truncated: false, next: None });
        }
    }
}

/// The smallest byte string greater than `key`.
fn successor_of_key(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    next.push(0);
    next
}

/// The smallest byte string greater than every string starting with `prefix`; `None`
/// when there is none (empty prefix, or only 0xFF bytes).
fn successor_of_prefix(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut next = prefix.to_vec();
    while let Some(last) = next.pop() {
        if last < 0xFF {
            next.push(last + 1);
            return Some(next);
        }
    }
    None
}

fn from_unix(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".into())
}

fn from_json<T: for<'de> Deserialize<'de> + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_skips_everything_under_the_prefix() {
        assert_eq!(successor_of_prefix(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(successor_of_prefix(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(successor_of_prefix(b""), None);
        assert!(successor_of_key(b"a/") < b"a/b".to_vec());
        assert!(successor_of_key(b"a/") > b"a/".to_vec());
    }
}

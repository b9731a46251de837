//! The local cloud's one data directory: an SQLite database (WAL) for metadata and a blob
//! directory for object bodies and function code.
//!
//! Durability rule: a write is acknowledged only after it is on disk. Blobs are written to
//! a temporary file, fsynced, renamed into place and their directory fsynced *before* the
//! SQLite transaction that references them commits; SQLite runs with `synchronous=FULL`.
//! So after a kill -9 every acknowledged write is present, and at worst an unreferenced
//! blob is left behind (swept at start-up by the service that owns it).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("invalid blob id '{0}'")]
    InvalidBlobId(String),
    #[error("the storage worker stopped: {0}")]
    Worker(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io { path: path.to_path_buf(), source }
}

/// The database and blob directory, shared by every service of the local cloud.
#[derive(Clone)]
pub struct Store {
    db: Arc<Mutex<Connection>>,
    blobs: Arc<Blobs>,
    dir: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the data directory `dir`.
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let db_path = dir.join("wildrydes.sqlite");
        let conn = Connection::open(&db_path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let blobs = Blobs::open(&dir.join("blobs"))?;
        Ok(Self { db: Arc::new(Mutex::new(conn)), blobs: Arc::new(blobs), dir: dir.to_path_buf() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn blobs(&self) -> &Blobs {
        &self.blobs
    }

    /// Runs `f` on the database connection on a blocking thread, so SQLite's fsyncs
    /// never stall the async runtime.
    pub async fn call<F, R>(&self, f: F) -> Result<R, StorageError>
    where
        F: FnOnce(&mut Connection) -> Result<R, StorageError> + Send + 'static,
        R: Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock poisons it; SQLite's own transaction already
            // rolled back, so the connection is still consistent and safe to reuse.
            let mut conn = db.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| StorageError::Worker(e.to_string()))?
    }

    /// Runs `f` on the connection on the current thread (for start-up and tests).
    pub fn call_blocking<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, StorageError>,
    ) -> Result<R, StorageError> {
        let mut conn = self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut conn)
    }
}

/// Content stored as files named by random ids, written atomically.
pub struct Blobs {
    dir: PathBuf,
}

impl Blobs {
    fn open(dir: &Path) -> Result<Self, StorageError> {
        fs::create_dir_all(dir.join("tmp")).map_err(io_err(dir))?;
        // Leftovers of writes interrupted by a crash were never acknowledged.
        if let Ok(entries) = fs::read_dir(dir.join("tmp")) {
            for entry in entries.flatten() {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(Self { dir: dir.to_path_buf() })
    }

    /// A fresh blob id; ids are generated here, never taken from user input, so a blob
    /// path can never leave the blob directory.
    pub fn new_id() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    pub fn path(&self, id: &str) -> Result<PathBuf, StorageError> {
        if id.len() < 3 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StorageError::InvalidBlobId(id.to_string()));
        }
        Ok(self.dir.join(&id[..2]).join(id))
    }

    /// A writer for a new blob: bytes go to a temporary file, which becomes the blob only
    /// on [`BlobWriter::commit`].
    pub fn writer(&self) -> Result<BlobWriter, StorageError> {
        let id = Self::new_id();
        let tmp = self.dir.join("tmp").join(&id);
        let file = File::create(&tmp).map_err(io_err(&tmp))?;
        let final_path = self.path_unchecked(&id);
        Ok(BlobWriter { id, tmp, file: Some(file), final_path })
    }

    fn path_unchecked(&self, id: &str) -> PathBuf {
        self.dir.join(&id[..2]).join(id)
    }

    /// Writes `bytes` as a new blob, durably, and returns its id.
    pub fn put(&self, bytes: &[u8]) -> Result<String, StorageError> {
        let mut writer = self.writer()?;
        writer.write_all(bytes)?;
        writer.commit()
    }

    pub fn read(&self, id: &str) -> Result<Vec<u8>, StorageError> {
        let path = self.path(id)?;
        fs::read(&path).map_err(io_err(&path))
    }

    pub fn delete(&self, id: &str) -> Result<(), StorageError> {
        let path = self.path(id)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::Io { path, source: e }),
        }
    }

    /// Every blob id on disk, for sweeping blobs no metadata refers to.
    pub fn list(&self) -> Result<Vec<String>, StorageError> {
        let mut ids = Vec::new();
        for shard in fs::read_dir(&self.dir).map_err(io_err(&self.dir))?.flatten() {
            if shard.file_name() == "tmp" || !shard.path().is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path()).map_err(io_err(&shard.path()))?.flatten() {
                ids.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(ids)
    }
}

pub struct BlobWriter {
    id: String,
    tmp: PathBuf,
    file: Option<File>,
    final_path: PathBuf,
}

impl BlobWriter {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        let file = self.file.as_mut().expect("writer used after commit");
        file.write_all(bytes).map_err(io_err(&self.tmp))
    }

    /// Makes the blob durable: fsync the file, rename it into place, fsync the directory.
    pub fn commit(mut self) -> Result<String, StorageError> {
        let file = self.file.take().expect("writer committed twice");
        file.sync_all().map_err(io_err(&self.tmp))?;
        drop(file);
        let shard = self.final_path.parent().expect("blob path has a shard directory").to_path_buf();
        fs::create_dir_all(&shard).map_err(io_err(&shard))?;
        fs::rename(&self.tmp, &self.final_path).map_err(io_err(&self.final_path))?;
        File::open(&shard).and_then(|d| d.sync_all()).map_err(io_err(&shard))?;
        Ok(std::mem::take(&mut self.id))
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_round_trips_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let id = store.blobs().put(b"hello").unwrap();
        assert_eq!(store.blobs().read(&id).unwrap(), b"hello");
        assert_eq!(store.blobs().list().unwrap(), vec![id.clone()]);
        store.blobs().delete(&id).unwrap();
        assert!(store.blobs().read(&id).is_err());
    }

    #[test]
    fn blob_ids_from_outside_cannot_escape_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for bad in ["../../etc/passwd", "/etc/passwd", "ab/../../x", "", "a\0b"] {
            assert!(matches!(store.blobs().path(bad), Err(StorageError::InvalidBlobId(_))), "{bad:?}");
        }
    }

    #[test]
    fn an_uncommitted_blob_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut writer = store.blobs().writer().unwrap();
        writer.write_all(b"partial").unwrap();
        drop(writer);
        assert!(store.blobs().list().unwrap().is_empty());
        assert_eq!(fs::read_dir(dir.path().join("blobs/tmp")).unwrap().count(), 0);
    }

    #[test]
    fn database_runs_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mode: String = store.call_blocking(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?)).unwrap();
        assert_eq!(mode, "wal");
    }
}

//! Face collections: durable in the local cloud's SQLite (collections, faces with their
//! 128-d vectors as BLOBs), searched in memory.
//!
//! Every change is one SQLite transaction, committed before the caller answers, and only
//! then applied to the in-memory vector index, so what a client was told survives a
//! kill -9 and the index is rebuilt from SQLite on start. A collection is scanned exactly
//! while small; past [`DEFAULT_ANN_THRESHOLD`] faces an HNSW graph is built from it in a
//! background thread (exact scan meanwhile) and kept up to date from then on.
//!
//! The graph is a cache of SQLite, saved beside it (`rekognition-graphs/`) after each
//! build: at 1,000,000 faces a build is an hour, a load seconds. After a restart the saved
//! graph is loaded and caught up with SQLite — faces deleted since the save removed (keys
//! are AUTOINCREMENT, never reused, so every key the graph can hold is at most the table's
//! sequence), faces added since inserted — before it answers; a file that will not load is
//! rebuilt from SQLite.
//!
//! May touch: `storage`, `vectors`. Knows nothing of HTTP or of the face models.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rusqlite::{OptionalExtension, params};

use super::analyses::ImageKey;
use super::faces::{BoundingBox, EMBEDDING_DIM};
use super::vectors::{ExactIndex, FaceIndex, HnswIndex, HnswParams, Vector, VectorError};
use crate::local::storage::{StorageError, Store};

/// Past this many faces a collection is searched through an HNSW graph.
pub const DEFAULT_ANN_THRESHOLD: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum CollectionError {
    #[error("The collection id: {0} does not exist")]
    NotFound(String),
    #[error("The collection id: {0} already exists")]
    AlreadyExists(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Vectors(#[from] VectorError),
}

impl From<rusqlite::Error> for CollectionError {
    fn from(e: rusqlite::Error) -> Self {
        CollectionError::Storage(StorageError::Sqlite(e))
    }
}

#[derive(Debug, Clone)]
pub struct CollectionInfo {
    pub id: String,
    /// Seconds since the epoch.
    pub created: f64,
    pub face_model_version: String,
    pub face_count: u64,
}

/// A face as stored and as Rekognition's `Face` shape reports it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoredFace {
    pub face_id: String,
    pub bounding_box: BoundingBox,
    pub image_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_image_id: Option<String>,
    pub confidence: f32,
    pub index_faces_model_version: String,
}

/// A face to add: its record and its identity vector.
pub struct NewFace {
    pub face: StoredFace,
    pub embedding: Vector,
}

/// One collection's vectors: exact while small, HNSW once large.
#[derive(Default)]
struct Vectors {
    exact: Option<ExactIndex>,
    hnsw: Option<HnswIndex>,
    building: bool,
    /// The HNSW graph in use came from the saved file rather than a build.
    graph_loaded: bool,
    /// No key the collection ever held is larger: bounds the catch-up of a saved graph.
    max_key: u64,
}

impl Vectors {
    fn new() -> Self {
        Self { exact: Some(ExactIndex::new()), ..Default::default() }
    }

    fn add(&mut self, key: u64, v: &Vector) -> Result<(), VectorError> {
        self.max_key = self.max_key.max(key);
        if let Some(h) = self.hnsw.as_mut() {
            h.add(key, v)?;
        }
        if let Some(e) = self.exact.as_mut() {
            e.add(key, v)?;
        }
        Ok(())
    }

    fn remove(&mut self, key: u64) -> Result<(), VectorError> {
        if let Some(h) = self.hnsw.as_mut() {
            h.remove(key)?;
        }
        if let Some(e) = self.exact.as_mut() {
            e.remove(key)?;
        }
        Ok(())
    }

    /// A copy of the faces while the exact index is kept (until the graph takes over).
    fn snapshot(&self) -> Option<Vec<(u64, Vector)>> {
        self.exact.as_ref().map(|e| e.iter().map(|(k, x)| (k, *x)).collect())
    }

    fn len(&self) -> usize {
        self.hnsw.as_ref().map(|h| h.len()).or_else(|| self.exact.as_ref().map(|e| e.len())).unwrap_or(0)
    }

    fn search(&self, q: &Vector, k: usize) -> Result<Vec<(u64, f32)>, VectorError> {
        match (&self.hnsw, &self.exact) {
            (Some(h), _) => h.search(q, k),
            (None, Some(e)) => e.search(q, k),
            (None, None) => Ok(Vec::new()),
        }
    }
}

type Shared = Arc<RwLock<Vectors>>;

pub struct Collections {
    store: Store,
    mem: RwLock<HashMap<String, Shared>>,
    /// Serialises changes so SQLite and the in-memory index apply them in one order.
    writes: tokio::sync::Mutex<()>,
    ann_threshold: usize,
    hnsw: HnswParams,
    /// Where the collections' HNSW graphs are saved.
    graphs: PathBuf,
}

/// A collection's saved graph: named by a digest of its id, which may hold any character.
fn graph_file(graphs: &Path, collection: &str) -> PathBuf {
    use sha2::Digest;
    graphs.join(format!("{}.usearch", hex::encode(sha2::Sha256::digest(collection.as_bytes()))))
}

/// The saved graph of a collection, loaded, or None (none saved, or unreadable: logged).
fn load_graph(path: &Path, params: HnswParams) -> Option<HnswIndex> {
    if !path.exists() {
        return None;
    }
    match HnswIndex::load(params, path) {
        Ok(index) => Some(index),
        Err(e) => {
            tracing::warn!("the saved HNSW graph {} does not load ({e}); rebuilding it from SQLite", path.display());
            None
        }
    }
}

/// Removes saved graphs of collections that no longer exist (deleted by a DeleteCollection
/// killed before it removed the file) and temporary files of an interrupted save.
fn remove_orphan_graphs<'a>(graphs: &Path, collections: impl Iterator<Item = &'a String>) {
    let keep: std::collections::HashSet<PathBuf> = collections.map(|id| graph_file(graphs, id)).collect();
    let Ok(entries) = std::fs::read_dir(graphs) else { return };
    for path in entries.flatten().map(|e| e.path()) {
        if !keep.contains(&path) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Brings `index` up to `target` (the collection as it is now): removes each of `held` (the
/// keys it may hold) that `target` lacks, and adds what it misses, on up to two threads.
/// Returns the number of changes. Afterwards the index holds exactly `target`'s keys.
fn catch_up(
    index: &mut HnswIndex,
    held: impl IntoIterator<Item = u64>,
    target: &[(u64, Vector)],
) -> Result<usize, VectorError> {
    let wanted: std::collections::HashSet<u64> = target.iter().map(|(k, _)| *k).collect();
    let mut changes = 0;
    for key in held {
        if !wanted.contains(&key) && index.contains(key) {
            index.remove(key)?;
            changes += 1;
        }
    }
    let missing: Vec<(u64, Vector)> = target.iter().filter(|(k, _)| !index.contains(*k)).copied().collect();
    add_in_parallel(index, &missing)?;
    Ok(changes + missing.len())
}

/// Adds `faces` on up to two threads (the cores are shared with inference).
fn add_in_parallel(index: &HnswIndex, faces: &[(u64, Vector)]) -> Result<(), VectorError> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(2);
    let room = index.len() + faces.len();
    index.reserve(room + room / 4, threads)?;
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || faces.iter().skip(t).step_by(threads).try_for_each(|(k, v)| index.add_shared(*k, v)))
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().unwrap_or_else(|_| Err(VectorError::Hnsw("a build thread panicked".into()))))
    })
}

/// The collection's faces as its exact index holds them now.
fn snapshot_of(shared: &Shared) -> Option<Vec<(u64, Vector)>> {
    shared.read().unwrap_or_else(|p| p.into_inner()).snapshot()
}

fn now() -> f64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9
}

fn to_blob(v: &Vector) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Option<Vector> {
    if b.len() != EMBEDDING_DIM * 4 {
        return None;
    }
    let mut v = [0.0f32; EMBEDDING_DIM];
    for (x, c) in v.iter_mut().zip(b.chunks_exact(4)) {
        *x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    Some(v)
}

const FACE_COLUMNS: &str =
    "face_id, image_id, external_image_id, bbox_left, bbox_top, bbox_width, bbox_height, confidence, model_version";

fn row_to_face(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredFace> {
    Ok(StoredFace {
        face_id: r.get(0)?,
        image_id: r.get(1)?,
        external_image_id: r.get(2)?,
        bounding_box: BoundingBox { left: r.get(3)?, top: r.get(4)?, width: r.get(5)?, height: r.get(6)? },
        confidence: r.get(7)?,
        index_faces_model_version: r.get(8)?,
    })
}

/// The faces stored from the image with this digest under this ExternalImageId (or none).
fn faces_of_image(
    conn: &rusqlite::Connection,
    collection: &str,
    digest: &ImageKey,
    external_image_id: Option<&str>,
) -> rusqlite::Result<Vec<StoredFace>> {
    conn.prepare_cached(&format!(
        "SELECT {FACE_COLUMNS} FROM rek_faces
         WHERE collection_id = ?1 AND image_digest = ?2 AND external_image_id IS ?3 ORDER BY key"
    ))?
    .query_map(params![collection, digest.as_slice(), external_image_id], row_to_face)?
    .collect()
}

fn collection_exists(conn: &rusqlite::Connection, id: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM rek_collections WHERE id = ?1")?.exists(params![id])
}

impl Collections {
    /// Creates the tables if needed and loads every collection's vectors.
    pub fn open(store: Store) -> Result<Self, CollectionError> {
        Self::open_with(store, DEFAULT_ANN_THRESHOLD, HnswParams::default())
    }

    pub fn open_with(store: Store, ann_threshold: usize, hnsw: HnswParams) -> Result<Self, CollectionError> {
        let loaded = store.call_blocking(|conn| {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS rek_collections (
                     id TEXT PRIMARY KEY,
                     created_at REAL NOT NULL,
                     face_model_version TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS rek_faces (
                     key INTEGER PRIMARY KEY AUTOINCREMENT,
                     face_id TEXT NOT NULL UNIQUE,
                     collection_id TEXT NOT NULL REFERENCES rek_collections(id) ON DELETE CASCADE,
                     image_id TEXT NOT NULL,
                     external_image_id TEXT,
                     bbox_left REAL NOT NULL,
                     bbox_top REAL NOT NULL,
                     bbox_width REAL NOT NULL,
                     bbox_height REAL NOT NULL,
                     confidence REAL NOT NULL,
                     model_version TEXT NOT NULL,
                     embedding BLOB NOT NULL,
                     created_at REAL NOT NULL,
                     image_digest BLOB
                 );
                 CREATE INDEX IF NOT EXISTS rek_faces_by_collection ON rek_faces(collection_id, face_id);",
            )?;
            // Databases written before faces remembered their image gain the column; their
            // old faces have none and so are never taken for a repeat.
            let has_digest =
                conn.prepare("SELECT 1 FROM pragma_table_info('rek_faces') WHERE name = 'image_digest'")?.exists([])?;
            if !has_digest {
                conn.execute_batch("ALTER TABLE rek_faces ADD COLUMN image_digest BLOB")?;
            }
            conn.execute_batch(
                "CREATE INDEX IF NOT EXISTS rek_faces_by_image ON rek_faces(collection_id, image_digest)",
            )?;
            let mut map: HashMap<String, Vec<(u64, Vector)>> = HashMap::new();
            for id in conn
                .prepare("SELECT id FROM rek_collections")?
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?
            {
                map.insert(id, Vec::new());
            }
            let sequence: i64 = conn
                .query_row("SELECT seq FROM sqlite_sequence WHERE name = 'rek_faces'", [], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            let mut stmt = conn.prepare("SELECT collection_id, key, embedding FROM rek_faces")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let collection: String = r.get(0)?;
                let key: i64 = r.get(1)?;
                let blob: Vec<u8> = r.get(2)?;
                match from_blob(&blob) {
                    Some(v) => map.entry(collection).or_default().push((key as u64, v)),
                    None => tracing::error!("face row {key} has a malformed embedding; it is not searchable"),
                }
            }
            Ok((map, sequence as u64))
        })?;
        let (loaded, sequence) = loaded;
        // Made by the first save: most data directories never hold a collection that large.
        let graphs = store.dir().join("rekognition-graphs");
        remove_orphan_graphs(&graphs, loaded.keys());
        let collections = Self {
            store,
            mem: RwLock::new(HashMap::new()),
            writes: tokio::sync::Mutex::new(()),
            ann_threshold,
            hnsw,
            graphs,
        };
        {
            let mut mem = collections.mem.write().unwrap_or_else(|p| p.into_inner());
            for (id, faces) in loaded {
                let mut vectors = Vectors::new();
                for (key, v) in &faces {
                    vectors.add(*key, v)?;
                }
                // A face deleted since the graph was saved may have had the largest key.
                vectors.max_key = vectors.max_key.max(sequence);
                let shared = Arc::new(RwLock::new(vectors));
                collections.maybe_build_ann(&id, &shared);
                mem.insert(id, shared);
            }
        }
        Ok(collections)
    }

    fn vectors_of(&self, id: &str) -> Option<Shared> {
        self.mem.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    /// Starts building the HNSW graph of a collection that outgrew the exact scan, or
    /// loading its saved one. Either runs on a copy; changes made meanwhile are replayed
    /// onto it before it is used.
    fn maybe_build_ann(&self, id: &str, shared: &Shared) {
        let (snapshot, max_key, path) = {
            let mut v = shared.write().unwrap_or_else(|p| p.into_inner());
            if v.hnsw.is_some() || v.building || v.len() <= self.ann_threshold {
                return;
            }
            let Some(snapshot) = v.snapshot() else { return };
            v.building = true;
            (snapshot, v.max_key, graph_file(&self.graphs, id))
        };
        let shared = shared.clone();
        let params = self.hnsw;
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let ready = (|| {
                // The graph holds exactly `last`'s keys once each step below is done.
                let mut last = snapshot;
                let (mut index, loaded) = match load_graph(&path, params) {
                    Some(index) => (index, true),
                    None => (HnswIndex::new(params, last.len())?, false),
                };
                // Every key a saved graph can hold is at most the table's sequence; a new
                // graph holds none.
                let held = 1..=if loaded { max_key } else { 0 };
                let mut changes = catch_up(&mut index, held, &last)?;
                // Faces added meanwhile, while they are many, outside the lock searches need.
                while let Some(now) = snapshot_of(&shared) {
                    if now.iter().filter(|(k, _)| !index.contains(*k)).count() < 1000 {
                        break;
                    }
                    changes += catch_up(&mut index, last.iter().map(|(k, _)| *k), &now)?;
                    last = now;
                }
                // Saved when built, and when a loaded file was far behind (else every restart
                // would replay the same work).
                if (!loaded || changes > 1000.max(last.len() / 10))
                    && let Err(e) = index.save(&path)
                {
                    tracing::warn!(
                        "the HNSW graph could not be saved to {} ({e}); a restart rebuilds it",
                        path.display()
                    );
                }
                Ok::<_, VectorError>((index, loaded, last))
            })();
            let mut v = shared.write().unwrap_or_else(|p| p.into_inner());
            v.building = false;
            let (mut index, loaded, last) = match ready {
                Ok(ready) => ready,
                Err(e) => return tracing::error!("HNSW build failed, staying with exact search: {e}"),
            };
            let Some(exact) = v.exact.as_ref() else { return };
            // Replay the last few changes, made while the graph was being built or loaded.
            let mut replay = || -> Result<(), VectorError> {
                for (k, _) in &last {
                    if !exact.contains(*k) {
                        index.remove(*k)?;
                    }
                }
                for (k, x) in exact.iter() {
                    if !index.contains(k) {
                        index.add(k, x)?;
                    }
                }
                Ok(())
            };
            match replay() {
                Ok(()) => {
                    tracing::info!(
                        "HNSW index of {} faces {} in {:.1} s",
                        index.len(),
                        if loaded { "loaded from its saved graph" } else { "built" },
                        started.elapsed().as_secs_f64()
                    );
                    v.hnsw = Some(index);
                    v.exact = None;
                    v.graph_loaded = loaded;
                }
                Err(e) => tracing::error!("HNSW build failed, staying with exact search: {e}"),
            }
        });
    }

    /// True once a collection's HNSW graph came from its saved file (for tests and logs).
    pub fn graph_was_loaded(&self, id: &str) -> bool {
        self.vectors_of(id).is_some_and(|v| v.read().unwrap_or_else(|p| p.into_inner()).graph_loaded)
    }

    /// True while a collection is searched through its HNSW graph (for tests and the bench).
    pub fn uses_ann(&self, id: &str) -> bool {
        self.vectors_of(id).is_some_and(|v| v.read().unwrap_or_else(|p| p.into_inner()).hnsw.is_some())
    }

    pub async fn create(&self, id: &str, face_model_version: &str) -> Result<CollectionInfo, CollectionError> {
        let _w = self.writes.lock().await;
        let info = CollectionInfo {
            id: id.to_string(),
            created: now(),
            face_model_version: face_model_version.to_string(),
            face_count: 0,
        };
        let row = info.clone();
        let inserted = self
            .store
            .call(move |conn| {
                Ok(conn.execute(
                    "INSERT INTO rek_collections (id, created_at, face_model_version) VALUES (?1, ?2, ?3)
                     ON CONFLICT(id) DO NOTHING",
                    params![row.id, row.created, row.face_model_version],
                )?)
            })
            .await?;
        if inserted == 0 {
            return Err(CollectionError::AlreadyExists(id.to_string()));
        }
        self.mem
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), Arc::new(RwLock::new(Vectors::new())));
        Ok(info)
    }

    pub async fn delete(&self, id: &str) -> Result<(), CollectionError> {
        let _w = self.writes.lock().await;
        let key = id.to_string();
        let deleted = self
            .store
            .call(move |conn| {
                let tx = conn.transaction()?;
                tx.execute("DELETE FROM rek_faces WHERE collection_id = ?1", params![key])?;
                let n = tx.execute("DELETE FROM rek_collections WHERE id = ?1", params![key])?;
                tx.commit()?;
                Ok(n)
            })
            .await?;
        if deleted == 0 {
            return Err(CollectionError::NotFound(id.to_string()));
        }
        self.mem.write().unwrap_or_else(|p| p.into_inner()).remove(id);
        // A kill before this leaves an orphan, removed at the next start.
        let _ = std::fs::remove_file(graph_file(&self.graphs, id));
        Ok(())
    }

    pub async fn describe(&self, id: &str) -> Result<CollectionInfo, CollectionError> {
        let key = id.to_string();
        self.store
            .call(move |conn| {
                Ok(conn
                    .query_row(
                        "SELECT c.id, c.created_at, c.face_model_version,
                                (SELECT COUNT(*) FROM rek_faces f WHERE f.collection_id = c.id)
                         FROM rek_collections c WHERE c.id = ?1",
                        params![key],
                        |r| {
                            Ok(CollectionInfo {
                                id: r.get(0)?,
                                created: r.get(1)?,
                                face_model_version: r.get(2)?,
                                face_count: r.get::<_, i64>(3)? as u64,
                            })
                        },
                    )
                    .optional()?)
            })
            .await?
            .ok_or_else(|| CollectionError::NotFound(id.to_string()))
    }

    /// Collections in id order after `after`, at most `limit`, and whether more follow.
    pub async fn list(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<(Vec<(String, String)>, bool), CollectionError> {
        let mut rows = self
            .store
            .call(move |conn| {
                let mut stmt = conn
                    .prepare("SELECT id, face_model_version FROM rek_collections WHERE id > ?1 ORDER BY id LIMIT ?2")?;
                let rows = stmt
                    .query_map(params![after.unwrap_or_default(), limit as i64 + 1], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<Vec<(String, String)>, _>>()?;
                Ok(rows)
            })
            .await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        Ok((rows, more))
    }

    /// Adds faces in one transaction; then makes them searchable.
    pub async fn add_faces(&self, id: &str, faces: Vec<NewFace>) -> Result<Vec<StoredFace>, CollectionError> {
        self.index_image(id, None, faces).await
    }

    /// Adds the faces found in one image, as IndexFaces does. AWS documents that the same
    /// image indexed again into the same collection with the same ExternalImageId saves no
    /// duplicate face metadata: a face already stored from these bytes (SHA-256 `digest`)
    /// under this external id, at this bounding box, is answered with its stored record and
    /// not added again, and new faces of a known image keep its ImageId. This is what makes
    /// a re-delivered AddFaceToIndex task (delivery is at-least-once) harmless.
    pub async fn index_image(
        &self,
        id: &str,
        digest: Option<ImageKey>,
        mut faces: Vec<NewFace>,
    ) -> Result<Vec<StoredFace>, CollectionError> {
        let _w = self.writes.lock().await;
        let key = id.to_string();
        let created = now();
        let (stored, keys) = self
            .store
            .call(move |conn| {
                let tx = conn.transaction()?;
                if !collection_exists(&tx, &key)? {
                    return Ok(None);
                }
                let known = match (&digest, faces.first()) {
                    (Some(digest), Some(first)) => {
                        faces_of_image(&tx, &key, digest, first.face.external_image_id.as_deref())?
                    }
                    _ => Vec::new(),
                };
                if let Some(image_id) = known.first().map(|f| f.image_id.clone()) {
                    for f in &mut faces {
                        f.face.image_id = image_id.clone();
                    }
                }
                let mut answer = Vec::with_capacity(faces.len());
                let mut keys = Vec::with_capacity(faces.len());
                {
                    let mut stmt = tx.prepare_cached(
                        "INSERT INTO rek_faces (face_id, collection_id, image_id, external_image_id, bbox_left,
                             bbox_top, bbox_width, bbox_height, confidence, model_version, embedding, created_at,
                             image_digest)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                    )?;
                    for f in faces {
                        if let Some(same) = known.iter().find(|k| k.bounding_box == f.face.bounding_box) {
                            tracing::info!(
                                collection = %key,
                                face_id = %same.face_id,
                                external_image_id = ?same.external_image_id,
                                "IndexFaces repeated for an indexed image: answered with the stored face"
                            );
                            answer.push(same.clone());
                            continue;
                        }
                        let b = f.face.bounding_box;
                        stmt.execute(params![
                            f.face.face_id,
                            key,
                            f.face.image_id,
                            f.face.external_image_id,
                            b.left,
                            b.top,
                            b.width,
                            b.height,
                            f.face.confidence,
                            f.face.index_faces_model_version,
                            to_blob(&f.embedding),
                            created,
                            digest.as_ref().map(|d| d.as_slice()),
                        ])?;
                        keys.push((tx.last_insert_rowid() as u64, f.embedding));
                        answer.push(f.face);
                    }
                }
                tx.commit()?;
                Ok(Some((answer, keys)))
            })
            .await?
            .ok_or_else(|| CollectionError::NotFound(id.to_string()))?;
        if let Some(shared) = self.vectors_of(id) {
            {
                let mut v = shared.write().unwrap_or_else(|p| p.into_inner());
                for (k, e) in &keys {
                    v.add(*k, e)?;
                }
            }
            self.maybe_build_ann(id, &shared);
        }
        Ok(stored)
    }

    /// Faces in FaceId order after `after`, at most `limit`, and whether more follow.
    pub async fn list_faces(
        &self,
        id: &str,
        after: Option<String>,
        limit: usize,
    ) -> Result<(Vec<StoredFace>, bool), CollectionError> {
        let key = id.to_string();
        let mut faces = self
            .store
            .call(move |conn| {
                if !collection_exists(conn, &key)? {
                    return Ok(None);
                }
                let mut stmt = conn.prepare(&format!(
                    "SELECT {FACE_COLUMNS} FROM rek_faces WHERE collection_id = ?1 AND face_id > ?2
                     ORDER BY face_id LIMIT ?3"
                ))?;
                let rows = stmt
                    .query_map(params![key, after.unwrap_or_default(), limit as i64 + 1], row_to_face)?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Some(rows))
            })
            .await?
            .ok_or_else(|| CollectionError::NotFound(id.to_string()))?;
        let more = faces.len() > limit;
        faces.truncate(limit);
        Ok((faces, more))
    }

    /// Deletes the faces that exist; returns (deleted, not found), each in request order.
    pub async fn delete_faces(
        &self,
        id: &str,
        face_ids: Vec<String>,
    ) -> Result<(Vec<String>, Vec<String>), CollectionError> {
        let _w = self.writes.lock().await;
        let key = id.to_string();
        let (deleted, missing, keys) = self
            .store
            .call(move |conn| {
                let tx = conn.transaction()?;
                if !collection_exists(&tx, &key)? {
                    return Ok(None);
                }
                let (mut deleted, mut missing, mut keys) = (Vec::new(), Vec::new(), Vec::new());
                {
                    let mut find =
                        tx.prepare_cached("SELECT key FROM rek_faces WHERE collection_id = ?1 AND face_id = ?2")?;
                    let mut del = tx.prepare_cached("DELETE FROM rek_faces WHERE key = ?1")?;
                    for face_id in face_ids {
                        match find.query_row(params![key, face_id], |r| r.get::<_, i64>(0)).optional()? {
                            Some(k) => {
                                del.execute(params![k])?;
                                keys.push(k as u64);
                                deleted.push(face_id);
                            }
                            None => missing.push(face_id),
                        }
                    }
                }
                tx.commit()?;
                Ok(Some((deleted, missing, keys)))
            })
            .await?
            .ok_or_else(|| CollectionError::NotFound(id.to_string()))?;
        if let Some(shared) = self.vectors_of(id) {
            let mut v = shared.write().unwrap_or_else(|p| p.into_inner());
            for k in keys {
                v.remove(k)?;
            }
        }
        Ok((deleted, missing))
    }

    /// The stored face and its vector, if the collection holds it.
    pub async fn face_vector(&self, id: &str, face_id: &str) -> Result<Option<(u64, Vector)>, CollectionError> {
        let (key, fid) = (id.to_string(), face_id.to_string());
        let found = self
            .store
            .call(move |conn| {
                if !collection_exists(conn, &key)? {
                    return Ok(None);
                }
                let row = conn
                    .query_row(
                        "SELECT key, embedding FROM rek_faces WHERE collection_id = ?1 AND face_id = ?2",
                        params![key, fid],
                        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
                    )
                    .optional()?;
                Ok(Some(row))
            })
            .await?
            .ok_or_else(|| CollectionError::NotFound(id.to_string()))?;
        Ok(found.and_then(|(k, blob)| from_blob(&blob).map(|v| (k as u64, v))))
    }

    /// The faces most similar to `query` with cosine ≥ `min_cos`, at most `max`, most
    /// similar first, never the face keyed `exclude`.
    pub async fn search(
        &self,
        id: &str,
        query: Vector,
        max: usize,
        min_cos: f32,
        exclude: Option<u64>,
    ) -> Result<Vec<(StoredFace, f32)>, CollectionError> {
        let shared = self.vectors_of(id).ok_or_else(|| CollectionError::NotFound(id.to_string()))?;
        let hits = tokio::task::spawn_blocking(move || {
            let v = shared.read().unwrap_or_else(|p| p.into_inner());
            let extra = usize::from(exclude.is_some());
            // Ask for a few; ask for more only while every answer clears the threshold.
            let mut k = max.min(64) + extra;
            loop {
                let hits = v.search(&query, k)?;
                let all_pass = hits.iter().all(|(_, c)| *c >= min_cos);
                if !all_pass || hits.len() < k || k >= max + extra {
                    let hits: Vec<(u64, f32)> =
                        hits.into_iter().filter(|(key, c)| *c >= min_cos && Some(*key) != exclude).take(max).collect();
                    return Ok::<_, VectorError>(hits);
                }
                k = (k * 4).min(max + extra);
            }
        })
        .await
        .map_err(|e| StorageError::Worker(e.to_string()))??;
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<i64> = hits.iter().map(|(k, _)| *k as i64).collect();
        let rows = self
            .store
            .call(move |conn| {
                let mut stmt = conn.prepare_cached(&format!("SELECT {FACE_COLUMNS} FROM rek_faces WHERE key = ?1"))?;
                let mut out = HashMap::new();
                for k in keys {
                    if let Some(face) = stmt.query_row(params![k], row_to_face).optional()? {
                        out.insert(k as u64, face);
                    }
                }
                Ok(out)
            })
            .await?;
        let mut rows = rows;
        // A face deleted between the vector search and this read is simply not reported.
        Ok(hits.into_iter().filter_map(|(k, c)| rows.remove(&k).map(|f| (f, c))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(i: u64) -> Vector {
        let mut v = [0.0f32; EMBEDDING_DIM];
        let mut s = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        for x in v.iter_mut() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            *x = (s >> 11) as f32 / (1u64 << 53) as f32 - 0.5;
        }
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.map(|x| x / n)
    }

    fn face(i: u64) -> NewFace {
        NewFace {
            face: StoredFace {
                face_id: uuid::Uuid::new_v4().to_string(),
                bounding_box: BoundingBox { left: 0.1, top: 0.2, width: 0.3, height: 0.4 },
                image_id: uuid::Uuid::new_v4().to_string(),
                external_image_id: Some(format!("user_{i}")),
                confidence: 99.0,
                index_faces_model_version: "1.0".into(),
            },
            embedding: unit(i),
        }
    }

    /// "big": 800 faces over a threshold of 500, searched through its HNSW graph.
    async fn big_collection() -> (tempfile::TempDir, Store, Collections, Vec<StoredFace>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let c = Collections::open_with(store.clone(), 500, HnswParams::default()).unwrap();
        c.create("big", "1.0").await.unwrap();
        let stored = c.add_faces("big", (0..800).map(face).collect()).await.unwrap();
        wait_for_ann(&c, "big").await;
        (dir, store, c, stored)
    }

    #[tokio::test]
    async fn large_collection_switches_to_hnsw_keeps_deletes_and_answers_the_same_after_reopen() {
        let (_dir, store, c, stored) = big_collection().await;
        assert!(c.uses_ann("big"), "an 800-face collection over a 500 threshold is searched by HNSW");
        let hits = c.search("big", unit(123), 1, 0.99, None).await.unwrap();
        assert_eq!(hits[0].0.face_id, stored[123].face_id);
        let (deleted, missing) = c.delete_faces("big", vec![stored[123].face_id.clone()]).await.unwrap();
        assert_eq!((deleted.len(), missing.len()), (1, 0));
        assert!(c.search("big", unit(123), 5, 0.99, None).await.unwrap().is_empty(), "deleted at once");
        drop(c);

        let c = Collections::open_with(store, 500, HnswParams::default()).unwrap();
        assert_eq!(c.describe("big").await.unwrap().face_count, 799);
        let hits = c.search("big", unit(456), 1, 0.99, None).await.unwrap();
        assert_eq!(hits[0].0.face_id, stored[456].face_id, "exact or HNSW, the same answer after reopening");
        assert!(c.search("big", unit(123), 5, 0.99, None).await.unwrap().is_empty());
    }

    async fn wait_for_ann(c: &Collections, id: &str) {
        for _ in 0..400 {
            if c.uses_ann(id) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{id} never switched to its HNSW graph");
    }

    async fn best(c: &Collections, id: &str, i: u64) -> Option<String> {
        c.search(id, unit(i), 1, 0.99, None).await.unwrap().first().map(|(f, _)| f.face_id.clone())
    }

    #[tokio::test]
    async fn the_saved_graph_is_loaded_after_a_restart_and_caught_up_with_what_changed_since() {
        let (dir, store, c, stored) = big_collection().await;
        assert!(!c.graph_was_loaded("big"), "the first graph is built");
        let file = graph_file(&dir.path().join("rekognition-graphs"), "big");
        assert!(file.exists(), "the built graph is saved");
        // Changes the saved file does not hold: faces added, an old face deleted, and the
        // newest face (the largest key) deleted.
        let added = c.add_faces("big", (800..850).map(face).collect()).await.unwrap();
        c.delete_faces("big", vec![stored[5].face_id.clone(), added[49].face_id.clone()]).await.unwrap();
        drop(c);

        let c = Collections::open_with(store.clone(), 500, HnswParams::default()).unwrap();
        wait_for_ann(&c, "big").await;
        assert!(c.graph_was_loaded("big"), "a restart loads the saved graph instead of building");
        assert_eq!(c.describe("big").await.unwrap().face_count, 848);
        assert_eq!(best(&c, "big", 820).await.as_deref(), Some(added[20].face_id.as_str()), "added since the save");
        assert_eq!(best(&c, "big", 300).await.as_deref(), Some(stored[300].face_id.as_str()));
        assert_eq!(best(&c, "big", 5).await, None, "deleted since the save");
        assert_eq!(best(&c, "big", 849).await, None, "the largest key, deleted since the save");
        drop(c);

        // A file that does not load is rebuilt from SQLite, with the same answers.
        std::fs::write(&file, b"not a usearch graph").unwrap();
        let c = Collections::open_with(store.clone(), 500, HnswParams::default()).unwrap();
        wait_for_ann(&c, "big").await;
        assert!(!c.graph_was_loaded("big"));
        assert_eq!(best(&c, "big", 820).await.as_deref(), Some(added[20].face_id.as_str()));
        assert_eq!(best(&c, "big", 5).await, None);
        assert!(HnswIndex::load(HnswParams::default(), &file).is_ok(), "and saved again");

        // DeleteCollection takes its graph with it; a stray file is gone after a restart.
        c.delete("big").await.unwrap();
        assert!(!file.exists());
        let stray = dir.path().join("rekognition-graphs").join("stray.usearch");
        std::fs::write(&stray, b"x").unwrap();
        drop(c);
        let _c = Collections::open_with(store, 500, HnswParams::default()).unwrap();
        assert!(!stray.exists());
    }

    #[tokio::test]
    async fn indexing_an_image_again_under_the_same_external_id_adds_nothing_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let c = Collections::open(store.clone()).unwrap();
        c.create("riders", "1.0").await.unwrap();
        let digest: ImageKey = [7; 32];
        let first = c.index_image("riders", Some(digest), vec![face(1)]).await.unwrap();
        let again = c.index_image("riders", Some(digest), vec![face(1)]).await.unwrap();
        assert_eq!(again[0].face_id, first[0].face_id);
        assert_eq!(c.describe("riders").await.unwrap().face_count, 1);
        // Another image, or no digest at all (add_faces), is always a new face.
        c.index_image("riders", Some([8; 32]), vec![face(1)]).await.unwrap();
        c.add_faces("riders", vec![face(1)]).await.unwrap();
        assert_eq!(c.describe("riders").await.unwrap().face_count, 3);
        drop(c);
        let c = Collections::open(store).unwrap();
        let after = c.index_image("riders", Some(digest), vec![face(1)]).await.unwrap();
        assert_eq!(after[0].face_id, first[0].face_id, "remembered across a reopen");
        assert_eq!(c.describe("riders").await.unwrap().face_count, 3);
    }

    #[tokio::test]
    async fn a_database_from_before_image_digests_gains_the_column_and_keeps_its_faces() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let c = Collections::open(store.clone()).unwrap();
        c.create("old", "1.0").await.unwrap();
        c.add_faces("old", vec![face(1)]).await.unwrap();
        drop(c);
        store
            .call_blocking(|conn| {
                Ok(conn
                    .execute_batch("DROP INDEX rek_faces_by_image; ALTER TABLE rek_faces DROP COLUMN image_digest")?)
            })
            .unwrap();
        let c = Collections::open(store).unwrap();
        assert_eq!(c.describe("old").await.unwrap().face_count, 1);
        c.index_image("old", Some([1; 32]), vec![face(2)]).await.unwrap();
        assert_eq!(c.describe("old").await.unwrap().face_count, 2);
    }

    #[tokio::test]
    async fn adding_to_a_missing_collection_is_not_found_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let c = Collections::open(Store::open(dir.path()).unwrap()).unwrap();
        assert!(matches!(c.add_faces("nope", vec![face(1)]).await, Err(CollectionError::NotFound(_))));
        assert!(c.create("a", "1.0").await.is_ok());
        assert!(matches!(c.create("a", "1.0").await, Err(CollectionError::AlreadyExists(_))));
    }
}

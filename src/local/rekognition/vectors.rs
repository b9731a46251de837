//! Nearest-neighbour search over a collection's face vectors (L2-normalised, 128-d, so
//! the inner product is the cosine). Two implementations behind [`FaceIndex`]: an exact
//! scan, right and fast while a collection is small, and an HNSW graph (usearch) for
//! large collections. Both take deletes at once: a removed key is never returned.

use std::collections::HashMap;

use super::faces::EMBEDDING_DIM;

pub type Vector = [f32; EMBEDDING_DIM];

#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    #[error("the HNSW index failed: {0}")]
    Hnsw(String),
}

/// A set of vectors keyed by u64 (the face's SQLite rowid).
pub trait FaceIndex: Send + Sync {
    fn add(&mut self, key: u64, vector: &Vector) -> Result<(), VectorError>;
    fn remove(&mut self, key: u64) -> Result<(), VectorError>;
    /// Up to `k` keys with their cosine to `query`, most similar first.
    fn search(&self, query: &Vector, k: usize) -> Result<Vec<(u64, f32)>, VectorError>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub fn dot(a: &Vector, b: &Vector) -> f32 {
    // Four accumulators let the compiler vectorise the loop even without -ffast-math.
    let mut acc = [0.0f32; 4];
    for (ca, cb) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
        for i in 0..4 {
            acc[i] += ca[i] * cb[i];
        }
    }
    acc.iter().sum()
}

/// Every vector compared with the query: exact, O(n).
#[derive(Default)]
pub struct ExactIndex {
    keys: Vec<u64>,
    vectors: Vec<Vector>,
    slot: HashMap<u64, usize>,
}

impl ExactIndex {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, &Vector)> {
        self.keys.iter().copied().zip(self.vectors.iter())
    }

    pub fn contains(&self, key: u64) -> bool {
        self.slot.contains_key(&key)
    }
}

impl FaceIndex for ExactIndex {
    fn add(&mut self, key: u64, vector: &Vector) -> Result<(), VectorError> {
        if let Some(&i) = self.slot.get(&key) {
            self.vectors[i] = *vector;
        } else {
            self.slot.insert(key, self.keys.len());
            self.keys.push(key);
            self.vectors.push(*vector);
        }
        Ok(())
    }

    fn remove(&mut self, key: u64) -> Result<(), VectorError> {
        if let Some(i) = self.slot.remove(&key) {
            self.keys.swap_remove(i);
            self.vectors.swap_remove(i);
            if let Some(&moved) = self.keys.get(i) {
                self.slot.insert(moved, i);
            }
        }
        Ok(())
    }

    fn search(&self, query: &Vector, k: usize) -> Result<Vec<(u64, f32)>, VectorError> {
        let mut all: Vec<(u64, f32)> = self.iter().map(|(key, v)| (key, dot(query, v))).collect();
        let k = k.min(all.len());
        if k == 0 {
            return Ok(Vec::new());
        }
        all.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
        all.truncate(k);
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(all)
    }

    fn len(&self) -> usize {
        self.keys.len()
    }
}

/// HNSW parameters; the defaults are the ones measured in `benches/face_index.rs`.
#[derive(Debug, Clone, Copy)]
pub struct HnswParams {
    /// Edges per node (M).
    pub connectivity: usize,
    /// Candidate list while inserting (efConstruction).
    pub expansion_add: usize,
    /// Candidate list while searching (ef): the recall/latency knob.
    pub expansion_search: usize,
}

impl Default for HnswParams {
    /// Measured with `benches/face_index.rs` at 200,000 vectors (assets/models/README.md):
    /// M 32 / efConstruction 256 finds the same person at recall@1 1.000 with ef 64-128
    /// (p99 1.7-3.2 ms), where M 16 / 128 needed ef 256 for 0.998 and fell to 0.91 at 1M.
    /// The graph costs ~3x the build time and ~35% more memory; duplicates missed cost more.
    fn default() -> Self {
        Self { connectivity: 32, expansion_add: 256, expansion_search: 128 }
    }
}

/// usearch takes file names as UTF-8 strings.
fn utf8(path: &std::path::Path) -> Result<&str, VectorError> {
    path.to_str().ok_or_else(|| VectorError::Hnsw(format!("{} is not UTF-8", path.display())))
}

/// usearch's HNSW over f32 vectors with the inner-product metric.
pub struct HnswIndex {
    index: usearch::Index,
}

impl HnswIndex {
    pub fn new(params: HnswParams, capacity: usize) -> Result<Self, VectorError> {
        let options = usearch::IndexOptions {
            dimensions: EMBEDDING_DIM,
            metric: usearch::MetricKind::IP,
            quantization: usearch::ScalarKind::F32,
            connectivity: params.connectivity,
            expansion_add: params.expansion_add,
            expansion_search: params.expansion_search,
            multi: false,
        };
        let index = usearch::Index::new(&options).map_err(|e| VectorError::Hnsw(e.to_string()))?;
        index.reserve(capacity.max(1024)).map_err(|e| VectorError::Hnsw(e.to_string()))?;
        Ok(Self { index })
    }

    pub fn set_expansion_search(&self, ef: usize) {
        self.index.change_expansion_search(ef);
    }

    /// Adds from several threads at once (the bench's parallel build): capacity must have
    /// been reserved with [`HnswIndex::new`] and `threads` ≥ the number of callers.
    pub fn add_shared(&self, key: u64, vector: &Vector) -> Result<(), VectorError> {
        self.index.add(key, vector.as_slice()).map_err(|e| VectorError::Hnsw(e.to_string()))
    }

    /// Reserves room for `capacity` vectors and `threads` concurrent callers.
    pub fn reserve(&self, capacity: usize, threads: usize) -> Result<(), VectorError> {
        self.index.reserve_capacity_and_threads(capacity, threads).map_err(|e| VectorError::Hnsw(e.to_string()))
    }

    /// Brute-force search inside usearch (the bench's ground truth).
    pub fn exact_search(&self, query: &Vector, k: usize) -> Result<Vec<(u64, f32)>, VectorError> {
        let found = self.index.exact_search(query.as_slice(), k).map_err(|e| VectorError::Hnsw(e.to_string()))?;
        Ok(found.keys.into_iter().zip(found.distances).map(|(key, d)| (key, 1.0 - d)).collect())
    }

    pub fn contains(&self, key: u64) -> bool {
        self.index.contains(key)
    }

    /// Writes the graph to `path` through a temporary file and a rename, so a kill leaves
    /// either the previous file or the new one, never half of one.
    pub fn save(&self, path: &std::path::Path) -> Result<(), VectorError> {
        let tmp = path.with_extension("tmp");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| VectorError::Hnsw(format!("creating {}: {e}", dir.display())))?;
        }
        self.index.save(utf8(&tmp)?).map_err(|e| VectorError::Hnsw(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| VectorError::Hnsw(format!("renaming {}: {e}", tmp.display())))
    }

    /// A graph saved by [`HnswIndex::save`], searched with `params`' ef. Refuses a file of
    /// another dimension (another face model) rather than answering from it.
    pub fn load(params: HnswParams, path: &std::path::Path) -> Result<Self, VectorError> {
        let this = Self::new(params, 0)?;
        this.index.load(utf8(path)?).map_err(|e| VectorError::Hnsw(e.to_string()))?;
        if this.index.dimensions() != EMBEDDING_DIM {
            return Err(VectorError::Hnsw(format!(
                "{} holds {}-d vectors, not {EMBEDDING_DIM}-d",
                path.display(),
                this.index.dimensions()
            )));
        }
        this.index.change_expansion_add(params.expansion_add);
        this.index.change_expansion_search(params.expansion_search);
        Ok(this)
    }

    /// Bytes held by the graph and the vectors.
    pub fn memory_usage(&self) -> usize {
        self.index.memory_usage()
    }
}

impl FaceIndex for HnswIndex {
    fn add(&mut self, key: u64, vector: &Vector) -> Result<(), VectorError> {
        if self.index.contains(key) {
            self.index.remove(key).map_err(|e| VectorError::Hnsw(e.to_string()))?;
        }
        if self.index.size() + 1 > self.index.capacity() {
            let grown = (self.index.capacity() * 2).max(1024);
            self.index.reserve(grown).map_err(|e| VectorError::Hnsw(e.to_string()))?;
        }
        self.index.add(key, vector.as_slice()).map_err(|e| VectorError::Hnsw(e.to_string()))
    }

    fn remove(&mut self, key: u64) -> Result<(), VectorError> {
        self.index.remove(key).map(|_| ()).map_err(|e| VectorError::Hnsw(e.to_string()))
    }

    fn search(&self, query: &Vector, k: usize) -> Result<Vec<(u64, f32)>, VectorError> {
        if k == 0 || self.index.size() == 0 {
            return Ok(Vec::new());
        }
        let found = self.index.search(query.as_slice(), k).map_err(|e| VectorError::Hnsw(e.to_string()))?;
        // usearch's inner-product distance is 1 − dot.
        Ok(found.keys.into_iter().zip(found.distances).map(|(key, d)| (key, 1.0 - d)).collect())
    }

    fn len(&self) -> usize {
        self.index.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64) -> Vector {
        // A small xorshift: deterministic pseudo-random unit vectors without a dependency.
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut v = [0.0f32; EMBEDDING_DIM];
        for x in v.iter_mut() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            *x = (s >> 11) as f32 / (1u64 << 53) as f32 - 0.5;
        }
        normalised(v)
    }

    fn normalised(v: Vector) -> Vector {
        let n = dot(&v, &v).sqrt();
        v.map(|x| x / n)
    }

    #[test]
    fn exact_index_finds_the_vector_itself_first_and_forgets_removed_keys() {
        let mut index = ExactIndex::new();
        for k in 0..100 {
            index.add(k, &unit(k)).unwrap();
        }
        let top = index.search(&unit(42), 3).unwrap();
        assert_eq!(top[0].0, 42);
        assert!((top[0].1 - 1.0).abs() < 1e-5);
        index.remove(42).unwrap();
        assert_eq!(index.len(), 99);
        assert!(index.search(&unit(42), 100).unwrap().iter().all(|(k, _)| *k != 42));
        // The vector moved into the removed slot is still found under its own key.
        assert_eq!(index.search(&unit(99), 1).unwrap()[0].0, 99);
    }

    #[test]
    fn hnsw_index_agrees_with_exact_search_and_takes_deletes_at_once() {
        let mut hnsw = HnswIndex::new(HnswParams::default(), 16).unwrap();
        let mut exact = ExactIndex::new();
        for k in 0..3000 {
            hnsw.add(k, &unit(k)).unwrap();
            exact.add(k, &unit(k)).unwrap();
        }
        assert_eq!(hnsw.len(), 3000);
        // Queries as a collection sees them: another photo of someone in it (a stored
        // vector moved to cosine ≈ 0.95).
        let mut agree = 0;
        for q in 0..200u64 {
            let (base, noise) = (unit(q * 13), unit(100_000 + q));
            let query = normalised(std::array::from_fn(|i| base[i] + 0.33 * noise[i]));
            assert!(dot(&query, &base) > 0.9);
            if hnsw.search(&query, 1).unwrap()[0].0 == exact.search(&query, 1).unwrap()[0].0 {
                agree += 1;
            }
        }
        assert!(agree >= 198, "recall@1 {agree}/200");
        hnsw.remove(7).unwrap();
        assert_eq!(hnsw.len(), 2999);
        assert!(hnsw.search(&unit(7), 10).unwrap().iter().all(|(k, _)| *k != 7));
        let (key, cos) = hnsw.search(&unit(8), 1).unwrap()[0];
        assert_eq!(key, 8);
        assert!((cos - 1.0).abs() < 1e-4);
    }
}

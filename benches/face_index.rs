//! The face collections' vector index at scale (not a test): N synthetic 128-d unit
//! vectors (default 1,000,000) in the HNSW index the collections switch to when large.
//! Reports build time, memory, search latency p50/p99 and recall@1 against exact search,
//! for several search widths (ef), then the whole SearchFaces path of a collection of the
//! same size (SQLite rows + the index the collection builds itself).
//!
//!     cargo bench --bench face_index
//!     BENCH_N=100000 BENCH_QUERIES=500 BENCH_E2E=0 cargo bench --profile dev --bench face_index
//!
//! (`--profile dev` reuses the test build: the dependencies, usearch and SQLite included,
//! are optimised there too; the numbers in assets/models/README.md were taken that way.)
//!
//! Two kinds of queries: "same person" = a stored vector moved to cosine ≈ 0.94 with it
//! (another photo of someone in the collection: the duplicate check the workflow makes),
//! and "stranger" = a fresh random vector (the worst case for HNSW: on uniformly random
//! vectors the nearest neighbour is barely nearer than the rest).

use std::time::Instant;

use wildrydes::local::rekognition::collections::{Collections, NewFace, StoredFace};
use wildrydes::local::rekognition::faces::{BoundingBox, EMBEDDING_DIM};
use wildrydes::local::rekognition::vectors::{FaceIndex, HnswIndex, HnswParams, Vector, dot};
use wildrydes::local::storage::Store;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Standard normal (Box–Muller), so normalised vectors are uniform on the sphere.
    fn normal(&mut self) -> f32 {
        let u1 = ((self.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }
    fn unit(&mut self) -> Vector {
        let mut v = [0.0f32; EMBEDDING_DIM];
        v.iter_mut().for_each(|x| *x = self.normal());
        normalise(v)
    }
}

fn normalise(v: Vector) -> Vector {
    let n = dot(&v, &v).sqrt().max(1e-12);
    v.map(|x| x / n)
}

/// `v` moved to cosine ≈ `cos` with itself, in a random direction.
fn near(rng: &mut Rng, v: &Vector, cos: f32) -> Vector {
    let noise = rng.unit();
    let k = (1.0 / (cos * cos) - 1.0).sqrt();
    let mut out = [0.0f32; EMBEDDING_DIM];
    for i in 0..EMBEDDING_DIM {
        out[i] = v[i] + k * noise[i];
    }
    normalise(out)
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    // `cargo bench` passes --bench; a filter argument is not used.
    let n = env("BENCH_N", 1_000_000);
    let queries = env("BENCH_QUERIES", 1000);
    let threads = env("BENCH_THREADS", 2);
    // BENCH_M / BENCH_EFC try other graphs than the collections' default.
    let default = HnswParams::default();
    let params = HnswParams {
        connectivity: env("BENCH_M", default.connectivity),
        expansion_add: env("BENCH_EFC", default.expansion_add),
        ..default
    };
    println!(
        "face index bench: {n} vectors of {EMBEDDING_DIM} dims, {queries} queries of each kind, {threads} build threads"
    );
    println!("HNSW: connectivity {} expansion_add {}", params.connectivity, params.expansion_add);

    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let rss0 = rss_mb();
    let vectors: Vec<Vector> = (0..n).map(|_| rng.unit()).collect();
    println!("vectors generated: {:.0} MB raw, RSS {:.0} MB", (n * EMBEDDING_DIM * 4) as f64 / 1e6, rss_mb() - rss0);

    let rss_before = rss_mb();
    let started = Instant::now();
    let index = HnswIndex::new(params, n).expect("index");
    index.reserve(n, threads).expect("reserve");
    std::thread::scope(|s| {
        for t in 0..threads {
            let (index, vectors) = (&index, &vectors);
            s.spawn(move || {
                for i in (t..vectors.len()).step_by(threads) {
                    index.add_shared(i as u64, &vectors[i]).expect("add");
                    if t == 0 && i % 100_000 == 0 && i > 0 {
                        println!("  {i} added, {:.0} s", started.elapsed().as_secs_f64());
                    }
                }
            });
        }
    });
    let build = started.elapsed().as_secs_f64();
    println!(
        "build: {build:.1} s ({:.0} vectors/s); index memory {:.0} MB (usearch), RSS +{:.0} MB",
        n as f64 / build,
        index.memory_usage() as f64 / 1e6,
        rss_mb() - rss_before
    );

    // Ground truth by exact (brute-force) search, inside usearch so it is optimised even in
    // the dev profile.
    let same: Vec<(u64, Vector)> = (0..queries)
        .map(|_| {
            let i = (rng.next() % n as u64) as usize;
            (i as u64, near(&mut rng, &vectors[i], 0.94))
        })
        .collect();
    let strangers: Vec<Vector> = (0..queries).map(|_| rng.unit()).collect();
    let started = Instant::now();
    let truth_same: Vec<u64> = same.iter().map(|(_, q)| index.exact_search(q, 1).expect("exact")[0].0).collect();
    let truth_strangers: Vec<u64> = strangers.iter().map(|q| index.exact_search(q, 1).expect("exact")[0].0).collect();
    let exact_ms = started.elapsed().as_secs_f64() * 1000.0 / (2 * queries) as f64;
    println!("exact search: {exact_ms:.1} ms per query");
    let planted = same.iter().zip(&truth_same).filter(|((i, _), t)| i == *t).count();
    println!("same-person queries whose exact nearest is the planted vector: {planted}/{queries}");

    println!("\n| ef | same person: recall@1 | p50 ms | p99 ms | stranger: recall@1 | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|---|---|");
    for ef in [16, 32, 64, 128, 256, 512] {
        index.set_expansion_search(ef);
        let mut row = format!("| {ef} ");
        for (qs, truth) in
            [(same.iter().map(|(_, q)| *q).collect::<Vec<_>>(), &truth_same), (strangers.clone(), &truth_strangers)]
        {
            let mut times = Vec::with_capacity(qs.len());
            let mut hits = 0;
            for (q, t) in qs.iter().zip(truth.iter()) {
                let started = Instant::now();
                let found = index.search(q, 1).expect("search");
                times.push(started.elapsed().as_secs_f64() * 1000.0);
                hits += usize::from(found.first().map(|f| f.0) == Some(*t));
            }
            times.sort_by(f64::total_cmp);
            row += &format!(
                "| {:.4} | {:.3} | {:.3} ",
                hits as f64 / qs.len() as f64,
                percentile(&times, 0.5),
                percentile(&times, 0.99)
            );
        }
        println!("{row}|");
    }
    drop(index);

    if env("BENCH_E2E", 1) == 0 {
        return;
    }
    // The whole SearchFaces path below HTTP: vector search plus the SQLite read of the hits,
    // in a collection that built its own HNSW graph (default ef) from SQLite-backed faces.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("store");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let collections = Collections::open(store.clone()).expect("collections");
        collections.create("bench", "1.0").await.expect("create");
        let started = Instant::now();
        let ids: Vec<String> = (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect();
        for (chunk, vs) in ids.chunks(10_000).zip(vectors.chunks(10_000)) {
            let faces = chunk
                .iter()
                .zip(vs)
                .map(|(id, v)| NewFace {
                    face: StoredFace {
                        face_id: id.clone(),
                        bounding_box: BoundingBox { left: 0.25, top: 0.2, width: 0.5, height: 0.6 },
                        image_id: id.clone(),
                        external_image_id: Some("bench".into()),
                        confidence: 99.0,
                        index_faces_model_version: "1.0".into(),
                    },
                    embedding: *v,
                })
                .collect();
            collections.add_faces("bench", faces).await.expect("add faces");
        }
        println!("\nSQLite: {n} faces stored in {:.1} s", started.elapsed().as_secs_f64());
        while !collections.uses_ann("bench") {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        println!("collection's own HNSW ready {:.1} s after the first insert", started.elapsed().as_secs_f64());
        drop(collections);
        let started = Instant::now();
        let collections = Collections::open(store).expect("reopen");
        println!("reopen (load {n} vectors from SQLite): {:.1} s", started.elapsed().as_secs_f64());
        while !collections.uses_ann("bench") {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        println!(
            "HNSW ready {:.1} s after reopening ({})",
            started.elapsed().as_secs_f64(),
            if collections.graph_was_loaded("bench") { "loaded from its saved graph" } else { "rebuilt from SQLite" }
        );
        let mut times = Vec::new();
        let mut hits = 0;
        for ((i, q), t) in same.iter().zip(&truth_same) {
            let started = Instant::now();
            let found = collections.search("bench", *q, 1, 0.0, None).await.expect("search");
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            hits += usize::from(found.first().map(|f| f.0.face_id.as_str()) == Some(ids[*t as usize].as_str()));
            let _ = i;
        }
        times.sort_by(f64::total_cmp);
        println!(
            "SearchFaces path (index + SQLite, default ef {}): recall@1 {:.4}, p50 {:.3} ms, p99 {:.3} ms",
            params.expansion_search,
            hits as f64 / same.len() as f64,
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    });
}

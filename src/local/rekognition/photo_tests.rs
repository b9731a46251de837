//! Tests on real photos: the committed assets/selfies and, when present, ../shared/photos.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::faces::{FaceAnalyzer, cosine, similarity};

fn analyzer() -> &'static FaceAnalyzer {
    static A: OnceLock<FaceAnalyzer> = OnceLock::new();
    A.get_or_init(|| FaceAnalyzer::load_default().expect("models in assets/models"))
}

fn shared_photos() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/photos/dev");
    if dir.is_dir() { Some(dir) } else { None }
}

#[test]
#[ignore = "measurement: prints every signal for every shared photo"]
fn measure_shared_photos() {
    let Some(dev) = shared_photos() else {
        eprintln!("skipped: ../shared/photos/dev not found");
        return;
    };
    let a = analyzer();
    let mut files: Vec<PathBuf> = Vec::new();
    for d in [dev.clone(), dev.join("unverified")] {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if matches!(p.extension().and_then(|e| e.to_str()), Some("jpg" | "png")) {
                files.push(p);
            }
        }
    }
    let extra = std::env::var("MEASURE_EXTRA").ok();
    if let Some(x) = extra {
        for p in x.split(':') {
            files.push(PathBuf::from(p));
        }
    }
    files.sort();
    let mut embeddings = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let t = std::time::Instant::now();
        let img = a.decode(&bytes).unwrap();
        let td = t.elapsed();
        let t = std::time::Instant::now();
        let faces = a.detect(&img).unwrap();
        let tdet = t.elapsed();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        println!("{name}: {}x{} faces={} decode={:?} detect={:?}", img.width(), img.height(), faces.len(), td, tdet);
        for face in &faces {
            let t = std::time::Instant::now();
            let e = a.embed(&img, face).unwrap();
            let te = t.elapsed();
            let b = face.bounding_box;
            println!(
                "  box=({:.3},{:.3},{:.3},{:.3}) det={:.3} mesh={:.3} conf={:.1} pose=({:.1},{:.1},{:.1}) q=({:.1},{:.1}) eyes={:?} sg={:?} open={:?} embed={:?}",
                b.left, b.top, b.width, b.height, face.detection_score, face.mesh_score, face.confidence,
                face.pose.roll, face.pose.yaw, face.pose.pitch, face.quality.brightness, face.quality.sharpness,
                face.eyes, face.sunglasses, face.eyes_open, te
            );
            embeddings.push((name.clone(), e));
        }
    }
    for i in 0..embeddings.len() {
        for j in i + 1..embeddings.len() {
            let (na, ea) = &embeddings[i];
            let (nb, eb) = &embeddings[j];
            println!("pair {na} {nb} cos={:.4} sim={:.1}", cosine(ea, eb), similarity(ea, eb));
        }
    }
}

/// Paints opaque dark lenses (and a bridge) over the detected eyes: how
/// `assets/selfies/2_sunglasses.jpg` was made from a public-domain face (see MANIFEST.tsv).
pub(crate) fn paint_sunglasses(image: &mut image::RgbImage, face: &super::faces::DetectedFace) {
    let (l, r) = face.eye_centres();
    let d = ((r.0 - l.0).powi(2) + (r.1 - l.1).powi(2)).sqrt();
    let angle = (r.1 - l.1).atan2(r.0 - l.0);
    let (sin, cos) = angle.sin_cos();
    let (rx, ry) = (0.46 * d, 0.34 * d);
    let (w, h) = (image.width() as i64, image.height() as i64);
    let lens = image::Rgb([18u8, 18, 22]);
    let x0 = (l.0.min(r.0) - d).floor().max(0.0) as i64;
    let x1 = (l.0.max(r.0) + d).ceil().min(w as f32) as i64;
    let y0 = (l.1.min(r.1) - d).floor().max(0.0) as i64;
    let y1 = (l.1.max(r.1) + d).ceil().min(h as f32) as i64;
    for y in y0..y1 {
        for x in x0..x1 {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let mut paint = false;
            for c in [l, r] {
                // Coordinates in the face's upright frame.
                let (dx, dy) = (px - c.0, py - c.1);
                let (u, v) = (dx * cos + dy * sin, -dx * sin + dy * cos);
                if (u / rx).powi(2) + (v / ry).powi(2) <= 1.0 {
                    paint = true;
                }
            }
            // The bridge: a bar between the lenses at eye height.
            let (dx, dy) = (px - (l.0 + r.0) / 2.0, py - (l.1 + r.1) / 2.0);
            let (u, v) = (dx * cos + dy * sin, -dx * sin + dy * cos);
            if u.abs() <= 0.2 * d && (v + 0.12 * d).abs() <= 0.04 * d {
                paint = true;
            }
            if paint {
                image.put_pixel(x as u32, y as u32, lens);
            }
        }
    }
}

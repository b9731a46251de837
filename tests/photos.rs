//! The face models on real photos, through the analyzer's public API: the committed
//! assets/selfies and test photos and, when present, ../shared/photos. The photos' names
//! are read here only, to find the files and their manifests; no result depends on one.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use wildrydes::local::rekognition::faces::{FaceAnalyzer, cosine, similarity};

fn analyzer() -> &'static FaceAnalyzer {
    static A: OnceLock<FaceAnalyzer> = OnceLock::new();
    A.get_or_init(|| FaceAnalyzer::load_default().expect("models in assets/models"))
}

pub(crate) fn shared_photos() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/photos/dev");
    if dir.is_dir() { Some(dir) } else { None }
}

pub(crate) struct Photo {
    pub path: PathBuf,
    pub category: String,
    pub person: String,
}

/// The photos listed in `dir/MANIFEST.tsv` (file, category, person_id, …).
pub(crate) fn manifest(dir: &Path) -> Vec<Photo> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            (cols.len() >= 3).then(|| Photo {
                path: dir.join(cols[0]),
                category: cols[1].to_string(),
                person: cols[2].to_string(),
            })
        })
        .collect()
}

fn selfies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/selfies")
}

/// Checks every photo against its manifest category and every pair of single-face photos
/// against their person ids; prints the counts and every pair's similarity.
fn check_photos(photos: &[Photo]) {
    let a = analyzer();
    let mut failures = Vec::new();
    let mut counts = std::collections::BTreeMap::<String, (usize, usize)>::new();
    let mut identities = Vec::new();
    for photo in photos {
        let name = photo.path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let bytes = std::fs::read(&photo.path).expect("photo readable");
        let image = a.decode(&bytes).expect("photo decodes");
        let faces = a.detect(&image).expect("detection runs");
        let sunglasses: Vec<bool> = faces.iter().map(|f| f.sunglasses.is_some_and(|s| s.value)).collect();
        let ok = match photo.category.as_str() {
            "one_face" => faces.len() == 1 && !sunglasses[0],
            "sunglasses" => faces.len() == 1 && sunglasses[0],
            "multiple_faces" => faces.len() >= 2,
            "no_face" => faces.is_empty(),
            // An animal's head, seen front or side, is not a face.
            "animal" => faces.is_empty(),
            other => panic!("unknown category {other}"),
        };
        println!(
            "{name}: category {} → {} face(s), sunglasses {:?}, scores {:?} {}",
            photo.category,
            faces.len(),
            sunglasses,
            faces.iter().map(|f| (f.eyes.sunglasses_score * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
            if ok { "ok" } else { "WRONG" }
        );
        let entry = counts.entry(photo.category.clone()).or_default();
        entry.0 += usize::from(ok);
        entry.1 += 1;
        if !ok {
            failures.push(format!(
                "{name}: {} but {} face(s), sunglasses {:?}",
                photo.category,
                faces.len(),
                sunglasses
            ));
        }
        if matches!(photo.category.as_str(), "one_face" | "sunglasses") && faces.len() == 1 && !photo.person.is_empty()
        {
            let e = a.embed(&image, &faces[0]).expect("embedding runs");
            identities.push((name, photo.person.clone(), e));
        }
    }
    for (category, (ok, n)) in &counts {
        println!("{category}: {ok}/{n} right");
    }
    for i in 0..identities.len() {
        for j in i + 1..identities.len() {
            let (na, pa, ea) = &identities[i];
            let (nb, pb, eb) = &identities[j];
            let sim = similarity(ea, eb);
            let same = pa == pb;
            println!(
                "{na} ~ {nb}: cosine {:.4} similarity {sim:.1} ({})",
                cosine(ea, eb),
                if same { "same" } else { "different" }
            );
            if same != (sim >= 80.0) {
                failures.push(format!("{na} ~ {nb}: similarity {sim:.1} but same person = {same}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn committed_selfies_have_their_manifest_face_counts_sunglasses_and_identities() {
    check_photos(&manifest(&selfies_dir()));
}

fn test_photos_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/test-photos")
}

#[test]
fn committed_test_photos_have_their_manifest_face_counts_and_animals_none() {
    let photos = manifest(&test_photos_dir());
    assert!(photos.iter().filter(|p| p.category == "animal").count() >= 4, "the animal photos are listed");
    check_photos(&photos);
}

#[test]
fn shared_dev_photos_have_their_manifest_face_counts_sunglasses_and_identities() {
    let Some(dev) = shared_photos() else {
        eprintln!("skipped: ../shared/photos/dev not found");
        return;
    };
    let mut photos = manifest(&dev);
    let unverified = dev.join("unverified");
    if unverified.join("MANIFEST.tsv").is_file() {
        photos.extend(manifest(&unverified));
    } else {
        eprintln!("../shared/photos/dev/unverified not found: checking dev/ only");
    }
    check_photos(&photos);
}

#[test]
fn a_player_turned_away_is_found_by_the_pose_model_without_an_identity() {
    let a = analyzer();
    let path = test_photos_dir().join("group_basketball_1.png");
    let image = a.decode(&std::fs::read(path).expect("committed test photo")).expect("decodes");
    let faces = a.detect(&image).expect("detects");
    assert_eq!(faces.len(), 2, "{faces:#?}");
    let (seen, turned): (Vec<_>, Vec<_>) = faces.iter().partition(|f| f.seen_by_face_models());
    assert_eq!((seen.len(), turned.len()), (1, 1), "{faces:#?}");
    let turned = turned[0];
    assert!(turned.bounding_box.left > 0.6 && turned.bounding_box.top < 0.3, "{:?}", turned.bounding_box);
    assert!(turned.pose.yaw < -45.0, "turned to the viewer's left: {:?}", turned.pose);
    assert!(turned.sunglasses.is_none() && turned.eyes_open.is_none());
    assert!(matches!(a.embed(&image, turned), Err(wildrydes::local::rekognition::faces::FaceError::TurnedAway)));
    assert!(a.embed(&image, seen[0]).is_ok());
}

#[test]
fn garbage_bytes_are_a_typed_error_not_a_panic() {
    let err = analyzer().decode(b"\x89PNG\r\n\x1a\n garbage after a PNG signature").unwrap_err();
    assert!(
        matches!(
            err,
            wildrydes::local::rekognition::faces::FaceError::Decode(
                wildrydes::local::rekognition::decode::DecodeError::InvalidFormat { .. }
            )
        ),
        "{err:?}"
    );
}

#[test]
fn a_face_painted_with_dark_lenses_turns_into_sunglasses() {
    let a = analyzer();
    let bytes = std::fs::read(selfies_dir().join("1_happy_face.jpg")).expect("happy face");
    let mut image = a.decode(&bytes).expect("decodes");
    let faces = a.detect(&image).expect("detects");
    assert_eq!(faces.len(), 1);
    assert_eq!(faces[0].sunglasses.map(|s| s.value), Some(false));
    paint_sunglasses(&mut image, &faces[0]);
    let painted = a.detect(&image).expect("detects");
    assert_eq!(painted.len(), 1, "the painted face is still a face");
    assert_eq!(painted[0].sunglasses.map(|s| s.value), Some(true), "{:?}", painted[0].eyes);
}

/// Regenerates assets/selfies/2_sunglass_face.jpg from the public-domain photo it was made of.
#[test]
#[ignore = "writes assets/selfies/2_sunglass_face.jpg; run by hand to regenerate it"]
fn make_sunglasses_selfie() {
    let Some(dev) = shared_photos() else {
        eprintln!("skipped: ../shared/photos/dev not found");
        return;
    };
    let a = analyzer();
    let bytes = std::fs::read(dev.join("person_biden_1.jpg")).expect("source photo");
    let mut image = a.decode(&bytes).expect("decodes");
    let faces = a.detect(&image).expect("detects");
    assert_eq!(faces.len(), 1);
    paint_sunglasses(&mut image, &faces[0]);
    save_jpeg(&image, "2_sunglass_face.jpg");
}

/// Regenerates assets/selfies/3_multiple_faces.jpg: two public-domain portraits side by side (the
/// only licence-cleared group photo, opencv's basketball1.png, has a near-profile face
/// BlazeFace misses; see README).
#[test]
#[ignore = "writes assets/selfies/3_multiple_faces.jpg; run by hand to regenerate it"]
fn make_group_selfie() {
    let Some(dev) = shared_photos() else {
        eprintln!("skipped: ../shared/photos/dev not found");
        return;
    };
    let a = analyzer();
    let load = |name: &str| {
        let img = a.decode(&std::fs::read(dev.join(name)).expect("source photo")).expect("decodes");
        let h = 400u32;
        let w = (img.width() as u64 * h as u64 / img.height() as u64) as u32;
        image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle)
    };
    let (left, right) = (load("person_obama_1.jpg"), load("person_hopper_1.jpg"));
    let mut canvas = image::RgbImage::from_pixel(left.width() + right.width(), 400, image::Rgb([255, 255, 255]));
    image::imageops::replace(&mut canvas, &left, 0, 0);
    image::imageops::replace(&mut canvas, &right, i64::from(left.width()), 0);
    save_jpeg(&canvas, "3_multiple_faces.jpg");
}

fn save_jpeg(image: &image::RgbImage, name: &str) {
    let out = std::fs::File::create(selfies_dir().join(name)).expect("writable");
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(out), 90);
    encoder.encode_image(image).expect("encodes");
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
    for f in &files {
        let img = a.decode(&std::fs::read(f).unwrap()).unwrap();
        let faces = a.detect(&img).unwrap();
        let seen: Vec<_> = faces.into_iter().filter(|f| f.seen_by_face_models()).collect();
        let t = std::time::Instant::now();
        let found = a.turned_heads(&img, &seen, 0.1).unwrap();
        let took = t.elapsed();
        let scores: Vec<_> = found
            .iter()
            .filter(|(h, _)| h.person_score >= 0.05)
            .map(|(h, framed)| {
                format!(
                    "pose {:.3} framed {framed:.3} person {:.2} at {:?}",
                    h.face_score(),
                    h.person_score,
                    h.centre()
                )
            })
            .collect();
        println!("HEADS {} ({took:?}): {scores:?}", f.display());
    }
    if std::env::var("MEASURE_ONLY").as_deref() == Ok("heads") {
        return;
    }
    let t = std::time::Instant::now();
    let low = FaceAnalyzer::load(
        &wildrydes::local::rekognition::faces::default_models_dir(),
        wildrydes::local::rekognition::faces::AnalyzerConfig { min_detection_score: 0.1, ..Default::default() },
    )
    .unwrap();
    println!("model load (5 models): {:?}", t.elapsed());
    for f in &files {
        let img = low.decode(&std::fs::read(f).unwrap()).unwrap();
        let faces = low.detect(&img).unwrap();
        let s: Vec<_> = faces.iter().map(|f| (f.detection_score, f.mesh_score)).collect();
        println!("LOW {}: {s:?}", f.display());
    }
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
            let e = a.embed(&img, face);
            let te = t.elapsed();
            let b = face.bounding_box;
            println!(
                "  box=({:.3},{:.3},{:.3},{:.3}) det={:.3} mesh={:.3} conf={:.1} pose=({:.1},{:.1},{:.1}) q=({:.1},{:.1}) eyes={:?} sg={:?} open={:?} embed={:?}",
                b.left,
                b.top,
                b.width,
                b.height,
                face.detection_score,
                face.mesh_score,
                face.confidence,
                face.pose.roll,
                face.pose.yaw,
                face.pose.pitch,
                face.quality.brightness,
                face.quality.sharpness,
                face.eyes,
                face.sunglasses,
                face.eyes_open,
                te
            );
            if let Ok(e) = e {
                embeddings.push((name.clone(), e));
            }
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
/// `assets/selfies/2_sunglass_face.jpg` was made from a public-domain face (see MANIFEST.tsv).
fn paint_sunglasses(image: &mut image::RgbImage, face: &wildrydes::local::rekognition::faces::DetectedFace) {
    let (l, r) = face.eye_centres().expect("a face the face models saw");
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

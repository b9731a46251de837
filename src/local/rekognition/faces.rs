//! Face analysis for the local Rekognition, all real models run on the process's inference
//! engine (ONNX Runtime, else tract: see `engine`):
//!
//! - **detection**: MediaPipe BlazeFace (back-camera model, 256×256) on the whole image and,
//!   for large images, on overlapping tiles, merged by weighted non-max suppression;
//! - **landmarks, pose, eyes**: MediaPipe Face Mesh (468 points with depth, plus a face
//!   presence score that rejects what the detector mistook for a face) on a crop rotated
//!   upright by the detector's eye keypoints, and MediaPipe Iris on each eye;
//! - **identity**: dlib's ResNet (128-d) on a 150×150 chip aligned on the eyes;
//! - **turned faces**: MoveNet MultiPose's head keypoints, for faces turned too far for the
//!   three face models (see `heads`); reported without mesh, identity or eye attributes.
//!
//! Models load once from a directory (see [`default_models_dir`]). Every number that
//! decides something (thresholds, the similarity calibration) is measured, and the
//! measurements are in `assets/models/README.md`.

use std::path::{Path, PathBuf};

use image::RgbImage;

use super::decode::{DecodeError, DecodeLimits, decode_image};
use super::engine::{Element, Input, Model};
use super::heads::{Head, HeadFinder};
use super::pixels::{Affine, Letterbox, Sources, inside, laplacian_variance, luma, mean, warp};
use timings::{Stage, timed};

pub mod timings;

pub const EMBEDDING_DIM: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error("cannot load the face model {path}: {message}")]
    Model { path: PathBuf, message: String },
    #[error("face model inference failed: {0}")]
    Inference(String),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("the face is turned too far from the camera for an identity vector")]
    TurnedAway,
    #[error("no inference engine for the face models: {0}")]
    Engine(String),
}

/// Where the models are: `$WILDRYDES_MODELS_DIR`, else `assets/models` next to the
/// executable or one of its parent directories (installed or `target/…` layouts), else the
/// source tree's `assets/models` (tests and `cargo run`).
pub fn default_models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WILDRYDES_MODELS_DIR") {
        return PathBuf::from(dir);
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(5) {
            let candidate = dir.join("assets").join("models");
            if candidate.join(DETECTOR_FILE).is_file() {
                return candidate;
            }
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets").join("models")
}

const DETECTOR_FILE: &str = "blazeface-back.onnx";
const MESH_FILE: &str = "facemesh.onnx";
const IRIS_FILE: &str = "iris.onnx";
const EMBEDDER_FILE: &str = "dlib_resnet.onnx";

const DETECTOR_SIZE: usize = 256;
/// MoveNet's person score from which a person's head guides the detector's tiles
/// (`FaceAnalyzer::unexplained_people`; measured in assets/models/README.md).
const TILE_MIN_PERSON_SCORE: f32 = 0.1;
const MESH_SIZE: usize = 192;
const IRIS_SIZE: usize = 64;
const CHIP_SIZE: usize = 150;

/// The decisions' numbers; defaults are the measured ones (assets/models/README.md).
#[derive(Debug, Clone)]
pub struct AnalyzerConfig {
    /// BlazeFace score (after sigmoid) for a candidate to be looked at by the mesh.
    pub min_detection_score: f32,
    /// Face Mesh presence score for a candidate to count as a face.
    pub min_mesh_score: f32,
    /// Sunglasses score (see [`EyeSignals::sunglasses_score`]) at and above which the
    /// face is wearing sunglasses.
    pub sunglasses_threshold: f32,
    /// Eye aspect ratio (lid gap / eye width) below which eyes count as closed.
    pub eyes_open_threshold: f32,
    /// [`Head::face_score`] at and above which a person's head that the face models did
    /// not find counts as a (turned) face, if BlazeFace agrees at
    /// `min_turned_detection_score` on a window framing it. Above 1 the pose model is not
    /// run at all.
    pub min_turned_face_score: f32,
    pub min_turned_detection_score: f32,
    /// Run the detector's tiles only where MoveNet places a person the whole-image pass
    /// did not explain (see `FaceAnalyzer::unexplained_people`); false runs every tile.
    pub guided_tiles: bool,
    pub decode_limits: DecodeLimits,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        Self {
            min_detection_score: 0.5,
            min_mesh_score: 0.5,
            sunglasses_threshold: 0.5,
            eyes_open_threshold: 0.12,
            min_turned_face_score: 0.30,
            min_turned_detection_score: 0.3,
            guided_tiles: true,
            decode_limits: DecodeLimits::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BoundingBox {
    pub left: f32,
    pub top: f32,
    pub width: f32,
    pub height: f32,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Landmark {
    /// Rekognition's landmark type, e.g. `eyeLeft` (left as the viewer sees it).
    #[serde(rename = "Type")]
    pub kind: &'static str,
    /// Ratios of the image width and height.
    pub x: f32,
    pub y: f32,
}

/// Degrees. Roll from the eye line; yaw and pitch from Face Mesh's depth output.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pose {
    pub roll: f32,
    pub yaw: f32,
    pub pitch: f32,
}

/// 0..100, from pixel statistics of the face crop.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Quality {
    pub brightness: f32,
    pub sharpness: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BoolAttribute {
    pub value: bool,
    pub confidence: f32,
}

/// The raw measurements behind Sunglasses and EyesOpen, kept for reporting and tuning.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EyeSignals {
    /// Mean luma of both eye windows over the mean luma of the cheeks.
    pub eye_cheek_ratio: f32,
    /// (bright part of the eye opening − iris disc) / cheek luma, from the Iris model's
    /// iris and the mesh's eye contour: the white of the eye around a dark iris.
    pub sclera_contrast: f32,
    /// Mean distance between the Iris model's eye contour and the mesh's, in eye widths.
    pub contour_disagreement: f32,
    /// Iris radius predicted by the Iris model, in eye widths.
    pub iris_radius: f32,
    /// Eye aspect ratio (mean of both eyes), from the mesh's lids.
    pub eye_aspect_ratio: f32,
    /// 0..1, the combined sunglasses evidence.
    pub sunglasses_score: f32,
}

#[derive(Debug, Clone)]
pub struct DetectedFace {
    pub bounding_box: BoundingBox,
    /// 0..100.
    pub confidence: f32,
    pub landmarks: Vec<Landmark>,
    pub pose: Pose,
    pub quality: Quality,
    /// None for a turned face: its eyes are not seen well enough to say.
    pub sunglasses: Option<BoolAttribute>,
    pub eyes_open: Option<BoolAttribute>,
    /// BlazeFace's score; for a turned face √(MoveNet's [`Head::face_score`] × BlazeFace's
    /// score on the window framing it).
    pub detection_score: f32,
    pub mesh_score: f32,
    pub eyes: EyeSignals,
    /// Face Mesh points in source pixels (x, y, depth); None for a face found turned away
    /// by the pose model alone.
    mesh: Option<Vec<[f32; 3]>>,
}

impl BoundingBox {
    /// From a box in source pixels (x0, y0, x1, y1) of an image `size` (w, h) pixels.
    pub fn from_pixels((x0, y0, x1, y1): (f32, f32, f32, f32), (w, h): (f32, f32)) -> Self {
        Self { left: x0 / w, top: y0 / h, width: (x1 - x0) / w, height: (y1 - y0) / h }
    }
}

impl DetectedFace {
    /// The eye centres in source pixels, viewer's left first (None for a turned face).
    pub fn eye_centres(&self) -> Option<((f32, f32), (f32, f32))> {
        let mesh = self.mesh.as_ref()?;
        Some((centroid(mesh, &DLIB_EYE_LEFT), centroid(mesh, &DLIB_EYE_RIGHT)))
    }

    /// Whether the face models saw this face (so it has an identity vector and eye
    /// attributes), rather than the pose model alone.
    pub fn seen_by_face_models(&self) -> bool {
        self.mesh.is_some()
    }

    /// The box in source pixels (x, y, w, h).
    pub fn pixel_box(&self, image: &RgbImage) -> (f32, f32, f32, f32) {
        let (w, h) = (image.width() as f32, image.height() as f32);
        let b = self.bounding_box;
        (b.left * w, b.top * h, b.width * w, b.height * h)
    }
}

// Face Mesh indices. "Left" is the viewer's left (the subject's right eye), as in
// Rekognition's eyeLeft.
const EYE_LEFT_CONTOUR: [usize; 16] = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246];
const EYE_RIGHT_CONTOUR: [usize; 16] = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466];
// The six points dlib's 68-point model puts on each eye: their mean is dlib's eye centre.
const DLIB_EYE_LEFT: [usize; 6] = [33, 160, 158, 133, 153, 144];
const DLIB_EYE_RIGHT: [usize; 6] = [362, 385, 387, 263, 373, 380];
const CHEEK_LEFT: usize = 205;
const CHEEK_RIGHT: usize = 425;

const LANDMARKS: [(&str, usize); 28] = [
    ("leftEyeBrowLeft", 70),
    ("leftEyeBrowRight", 107),
    ("leftEyeBrowUp", 105),
    ("rightEyeBrowLeft", 336),
    ("rightEyeBrowRight", 300),
    ("rightEyeBrowUp", 334),
    ("leftEyeLeft", 33),
    ("leftEyeRight", 133),
    ("leftEyeUp", 159),
    ("leftEyeDown", 145),
    ("rightEyeLeft", 362),
    ("rightEyeRight", 263),
    ("rightEyeUp", 386),
    ("rightEyeDown", 374),
    ("nose", 1),
    ("noseLeft", 129),
    ("noseRight", 358),
    ("mouthLeft", 61),
    ("mouthRight", 291),
    ("mouthUp", 0),
    ("mouthDown", 17),
    ("upperJawlineLeft", 234),
    ("midJawlineLeft", 172),
    ("chinBottom", 152),
    ("midJawlineRight", 397),
    ("upperJawlineRight", 454),
    ("foreheadTop", 10),
    ("noseBridge", 6),
];

pub struct FaceAnalyzer {
    detector: Model,
    mesh: Model,
    iris: Model,
    embedder: Model,
    heads: HeadFinder,
    config: AnalyzerConfig,
    anchors: Vec<(f32, f32)>,
}

impl std::fmt::Debug for FaceAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceAnalyzer").field("config", &self.config).finish_non_exhaustive()
    }
}

fn load(path: &Path, shape: &[usize]) -> Result<Model, FaceError> {
    Model::load(path, shape, Element::F32)
}

fn nhwc(pixels: &[[f32; 3]], f: impl Fn(f32) -> f32) -> Input {
    Input::F32(pixels.iter().flat_map(|p| [f(p[0]), f(p[1]), f(p[2])]).collect())
}

/// BlazeFace's anchors for a 256 input: strides 16 and 32 with 2 and 6 anchors per cell.
fn blazeface_anchors() -> Vec<(f32, f32)> {
    let mut anchors = Vec::with_capacity(896);
    for (stride, per_cell) in [(16usize, 2usize), (32, 6)] {
        let cells = DETECTOR_SIZE.div_ceil(stride);
        for gy in 0..cells {
            for gx in 0..cells {
                for _ in 0..per_cell {
                    anchors.push(((gx as f32 + 0.5) * stride as f32, (gy as f32 + 0.5) * stride as f32));
                }
            }
        }
    }
    anchors
}

/// A candidate the mesh confirmed, before the eye models and the rest of its description.
struct MeshedFace {
    mesh: Vec<[f32; 3]>,
    mesh_score: f32,
    detection_score: f32,
    /// The mesh's extent in source pixels, inside the image (x0, y0, x1, y1).
    pixel_box: (f32, f32, f32, f32),
    bounding_box: BoundingBox,
    confidence: f32,
}

/// A detector candidate in source pixels.
#[derive(Debug, Clone)]
struct Candidate {
    score: f32,
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
    /// BlazeFace keypoints: two eyes, nose, mouth, two ear tragions.
    keypoints: [(f32, f32); 6],
}

impl Candidate {
    fn area(&self) -> f32 {
        (self.x1 - self.x0).max(0.0) * (self.y1 - self.y0).max(0.0)
    }
    fn intersection(&self, o: &Candidate) -> f32 {
        let w = (self.x1.min(o.x1) - self.x0.max(o.x0)).max(0.0);
        let h = (self.y1.min(o.y1) - self.y0.max(o.y0)).max(0.0);
        w * h
    }
    fn iou(&self, o: &Candidate) -> f32 {
        let i = self.intersection(o);
        i / (self.area() + o.area() - i).max(1e-6)
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x.clamp(-80.0, 80.0)).exp())
}

impl FaceAnalyzer {
    /// Loads the five models from `dir` (see [`default_models_dir`]).
    pub fn load(dir: &Path, config: AnalyzerConfig) -> Result<Self, FaceError> {
        Ok(Self {
            detector: load(&dir.join(DETECTOR_FILE), &[1, DETECTOR_SIZE, DETECTOR_SIZE, 3])?,
            mesh: load(&dir.join(MESH_FILE), &[1, MESH_SIZE, MESH_SIZE, 3])?,
            iris: load(&dir.join(IRIS_FILE), &[1, IRIS_SIZE, IRIS_SIZE, 3])?,
            embedder: load(&dir.join(EMBEDDER_FILE), &[1, CHIP_SIZE, CHIP_SIZE, 3])?,
            heads: HeadFinder::load(dir)?,
            config,
            anchors: blazeface_anchors(),
        })
    }

    pub fn load_default() -> Result<Self, FaceError> {
        Self::load(&default_models_dir(), AnalyzerConfig::default())
    }

    pub fn config(&self) -> &AnalyzerConfig {
        &self.config
    }

    /// Decodes JPEG/PNG bytes (EXIF orientation applied, pixel limit enforced first).
    pub fn decode(&self, bytes: &[u8]) -> Result<RgbImage, FaceError> {
        Ok(timed(Stage::Decode, || decode_image(bytes, self.config.decode_limits))?)
    }

    /// Every face in the image, largest first.
    pub fn detect(&self, image: &RgbImage) -> Result<Vec<DetectedFace>, FaceError> {
        // BlazeFace's whole-image window and MoveNet's input: the same pixels, sampled once.
        let letterbox = Letterbox::of(image, DETECTOR_SIZE);
        let heads = self.heads_if_wanted(&letterbox, self.config.min_turned_face_score)?;
        let candidates = self.candidates(image, &letterbox, &heads)?;
        // The mesh first, for every candidate: it places the face's box and says whether it
        // is a face at all. Two detector boxes on one face (e.g. a whole-image and a tile
        // detection that NMS kept apart) converge on the same mesh: the more confident one is
        // kept, and only kept faces get the eye models and the rest of the description.
        let mut meshed = Vec::new();
        let sources = Sources::new(image);
        for c in candidates.iter().filter(|c| c.score >= self.config.min_detection_score) {
            if let Some(face) = self.mesh_face(&sources, c)? {
                meshed.push(face);
            }
        }
        meshed.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        let mut kept: Vec<DetectedFace> = Vec::new();
        for face in meshed {
            if !kept.iter().any(|k| overlap(&k.bounding_box, &face.bounding_box) > 0.5) {
                kept.push(self.describe(image, face)?);
            }
        }
        for (head, framed_score) in self.frame_heads(image, heads, &kept, self.config.min_turned_face_score)? {
            if framed_score < self.config.min_turned_detection_score {
                continue;
            }
            if let Some(face) = turned_face(image, &head, framed_score) {
                kept.push(face);
            }
        }
        kept.sort_by(|a, b| {
            let area = |f: &DetectedFace| f.bounding_box.width * f.bounding_box.height;
            area(b).total_cmp(&area(a))
        });
        Ok(kept)
    }

    /// MoveNet's people, unless no head could count (`min_face_score` above 1).
    fn heads_if_wanted(&self, letterbox: &Letterbox, min_face_score: f32) -> Result<Vec<Head>, FaceError> {
        if min_face_score > 1.0 {
            return Ok(Vec::new()); // no head can score above 1: the pose model is not run at all
        }
        self.heads.heads_in(letterbox)
    }

    /// The heads MoveNet places with a [`Head::face_score`] of at least `min_face_score` where
    /// the face models found no face, each with BlazeFace's
    /// best score for a face centred in the head's box when a window frames it (at 2, 3 and
    /// 4 times the box's width): the pose model's evidence and the face detector's, which
    /// must agree (thresholds measured in assets/models/README.md).
    pub fn turned_heads(
        &self,
        image: &RgbImage,
        found: &[DetectedFace],
        min_face_score: f32,
    ) -> Result<Vec<(Head, f32)>, FaceError> {
        let heads = self.heads_if_wanted(&Letterbox::of(image, DETECTOR_SIZE), min_face_score)?;
        self.frame_heads(image, heads, found, min_face_score)
    }

    /// [`FaceAnalyzer::turned_heads`] for the heads MoveNet gave.
    fn frame_heads(
        &self,
        image: &RgbImage,
        heads: Vec<Head>,
        found: &[DetectedFace],
        min_face_score: f32,
    ) -> Result<Vec<(Head, f32)>, FaceError> {
        let (iw, ih) = (image.width() as f32, image.height() as f32);
        let mut out: Vec<(Head, f32)> = Vec::new();
        // MoveNet always answers six rows; the windows are run only for likely heads.
        for head in heads.into_iter().filter(|h| h.face_score() >= min_face_score) {
            let (Some(centre), Some((x0, y0, x1, y1))) = (head.centre(), head.face_box()) else { continue };
            // The same person's face, already found by the face models or as another head.
            let seen = |b: &BoundingBox| around(b, 0.5, (centre.0 / iw, centre.1 / ih));
            if found.iter().any(|f| seen(&f.bounding_box))
                || out.iter().filter_map(|(h, _)| h.face_box()).any(|b| seen(&BoundingBox::from_pixels(b, (iw, ih))))
            {
                continue;
            }
            let (cx, cy, w) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0, x1 - x0);
            let mut best = 0.0f32;
            for scale in [2.0, 3.0, 4.0] {
                let side = w * scale;
                for c in self.detect_window(image, cx - side / 2.0, cy - side / 2.0, side)? {
                    let (ccx, ccy) = ((c.x0 + c.x1) / 2.0, (c.y0 + c.y1) / 2.0);
                    if ccx >= x0 && ccx <= x1 && ccy >= y0 && ccy <= y1 {
                        best = best.max(c.score);
                    }
                }
            }
            out.push((head, best));
        }
        Ok(out)
    }

    /// BlazeFace over the whole image and, when faces of ~5% of the long side would be
    /// under ~20 detector pixels, over overlapping half-size tiles; merged by weighted NMS.
    fn candidates(&self, image: &RgbImage, letterbox: &Letterbox, heads: &[Head]) -> Result<Vec<Candidate>, FaceError> {
        let (w, h) = (image.width() as f32, image.height() as f32);
        let long = w.max(h);
        let mut all = self.detect_pixels(&letterbox.pixels, 0.0, 0.0, letterbox.side)?;
        if long >= 400.0 {
            let side = long / 2.0;
            let wanted = self.unexplained_people(&all, heads);
            for y in positions(h, side) {
                for x in positions(w, side) {
                    let holds = |&(px, py): &(f32, f32)| px >= x && px < x + side && py >= y && py < y + side;
                    if wanted.as_ref().is_none_or(|people| people.iter().any(holds)) {
                        all.extend(self.detect_window(image, x, y, side)?);
                    }
                }
            }
        }
        Ok(weighted_nms(all))
    }

    /// Where the tiles must look: the heads of the people MoveNet finds (person score ≥
    /// [`TILE_MIN_PERSON_SCORE`]) that no whole-image candidate explains; None (every tile)
    /// when the pose model did not run or found as many people as it can report, so more
    /// may be there. A tile only ever finds a face too small for the whole-image pass, and a
    /// face that small belongs to a person seen whole enough for MoveNet to place
    /// (measured in assets/models/README.md).
    fn unexplained_people(&self, whole: &[Candidate], heads: &[Head]) -> Option<Vec<(f32, f32)>> {
        let people: Vec<&Head> = heads.iter().filter(|h| h.person_score >= TILE_MIN_PERSON_SCORE).collect();
        if !self.config.guided_tiles || heads.is_empty() || people.len() >= heads.len() {
            return None;
        }
        let explained = |(px, py): (f32, f32)| {
            whole.iter().filter(|c| c.score >= self.config.min_detection_score).any(|c| {
                let (cw, ch) = (c.x1 - c.x0, c.y1 - c.y0);
                px >= c.x0 - cw && px <= c.x1 + cw && py >= c.y0 - ch && py <= c.y1 + ch
            })
        };
        Some(people.iter().map(|h| h.rough_centre()).filter(|&p| !explained(p)).collect())
    }

    fn detect_window(&self, image: &RgbImage, x0: f32, y0: f32, side: f32) -> Result<Vec<Candidate>, FaceError> {
        let s = side / DETECTOR_SIZE as f32;
        let m = Affine { a: s, b: 0.0, c: x0, d: 0.0, e: s, f: y0 };
        self.detect_pixels(&warp(image, &m, DETECTOR_SIZE, DETECTOR_SIZE), x0, y0, side)
    }

    /// BlazeFace on a window's pixels (`side` source pixels square from `x0`, `y0`): its
    /// candidates in source pixels.
    fn detect_pixels(&self, pixels: &[[f32; 3]], x0: f32, y0: f32, side: f32) -> Result<Vec<Candidate>, FaceError> {
        let s = side / DETECTOR_SIZE as f32;
        let outputs = self.detector.run(Stage::BlazeFace, nhwc(pixels, |v| v / 127.5 - 1.0))?;
        let raw = blazeface_rows(&outputs, self.anchors.len())?;
        let min = self.config.min_detection_score.min(0.3);
        let mut out = Vec::new();
        for (i, row) in raw.chunks_exact(17).enumerate() {
            let score = sigmoid(row[0]);
            if score < min {
                continue;
            }
            let (ax, ay) = self.anchors[i];
            let (cx, cy) = (row[1] + ax, row[2] + ay);
            let (bw, bh) = (row[3], row[4]);
            let to_src = |u: f32, v: f32| (x0 + u * s, y0 + v * s);
            let (sx0, sy0) = to_src(cx - bw / 2.0, cy - bh / 2.0);
            let (sx1, sy1) = to_src(cx + bw / 2.0, cy + bh / 2.0);
            let mut keypoints = [(0.0, 0.0); 6];
            for (k, kp) in keypoints.iter_mut().enumerate() {
                *kp = to_src(row[5 + 2 * k] + ax, row[6 + 2 * k] + ay);
            }
            out.push(Candidate { score, x0: sx0, y0: sy0, x1: sx1, y1: sy1, keypoints });
        }
        Ok(out)
    }

    /// Face Mesh on the candidate (with one refinement): the face's mesh, box and
    /// confidence, or None when the mesh says it is no face.
    fn mesh_face(&self, sources: &Sources, c: &Candidate) -> Result<Option<MeshedFace>, FaceError> {
        let image = sources.image;
        let (ex, ey) = (c.keypoints[0], c.keypoints[1]);
        let (el, er) = if ex.0 <= ey.0 { (ex, ey) } else { (ey, ex) };
        let angle = (er.1 - el.1).atan2(er.0 - el.0);
        let centre = ((c.x0 + c.x1) / 2.0, (c.y0 + c.y1) / 2.0);
        let side = (c.x1 - c.x0).max(c.y1 - c.y0) * 1.5;
        let (mut mesh, mut mesh_score) = self.run_mesh(sources, centre, side, angle)?;
        if mesh_score < self.config.min_mesh_score {
            return Ok(None);
        }
        // One refinement, as MediaPipe's tracker does: re-crop on the mesh itself.
        let (xs, ys): (Vec<f32>, Vec<f32>) = mesh.iter().map(|p| (p[0], p[1])).unzip();
        let (mx0, mx1) = (xs.iter().copied().fold(f32::MAX, f32::min), xs.iter().copied().fold(f32::MIN, f32::max));
        let (my0, my1) = (ys.iter().copied().fold(f32::MAX, f32::min), ys.iter().copied().fold(f32::MIN, f32::max));
        let (l, r) = (centroid(&mesh, &DLIB_EYE_LEFT), centroid(&mesh, &DLIB_EYE_RIGHT));
        let angle2 = (r.1 - l.1).atan2(r.0 - l.0);
        let centre2 = ((mx0 + mx1) / 2.0, (my0 + my1) / 2.0);
        let side2 = (mx1 - mx0).max(my1 - my0) * 1.5;
        let (mesh2, score2) = self.run_mesh(sources, centre2, side2, angle2)?;
        if score2 >= mesh_score * 0.9 {
            mesh = mesh2;
            mesh_score = mesh_score.max(score2);
        }

        let (iw, ih) = (image.width() as f32, image.height() as f32);
        let (xs, ys): (Vec<f32>, Vec<f32>) = mesh.iter().map(|p| (p[0], p[1])).unzip();
        let bx0 = xs.iter().copied().fold(f32::MAX, f32::min).max(0.0);
        let bx1 = xs.iter().copied().fold(f32::MIN, f32::max).min(iw);
        let by0 = ys.iter().copied().fold(f32::MAX, f32::min).max(0.0);
        let by1 = ys.iter().copied().fold(f32::MIN, f32::max).min(ih);
        if bx1 <= bx0 || by1 <= by0 {
            return Ok(None);
        }
        let bounding_box = BoundingBox::from_pixels((bx0, by0, bx1, by1), (iw, ih));
        let confidence = 100.0 * (c.score * mesh_score).sqrt();
        Ok(Some(MeshedFace {
            mesh,
            mesh_score,
            detection_score: c.score,
            pixel_box: (bx0, by0, bx1, by1),
            bounding_box,
            confidence,
        }))
    }

    /// Everything Rekognition reports about a meshed face: landmarks, pose, quality and
    /// the eyes (the Iris model on each).
    fn describe(&self, image: &RgbImage, face: MeshedFace) -> Result<DetectedFace, FaceError> {
        let MeshedFace { mesh, mesh_score, detection_score, pixel_box: (bx0, by0, bx1, by1), bounding_box, confidence } =
            face;
        let (iw, ih) = (image.width() as f32, image.height() as f32);
        let mut landmarks = Vec::with_capacity(LANDMARKS.len() + 4);
        let (l, r) = (centroid(&mesh, &DLIB_EYE_LEFT), centroid(&mesh, &DLIB_EYE_RIGHT));
        landmarks.push(Landmark { kind: "eyeLeft", x: l.0 / iw, y: l.1 / ih });
        landmarks.push(Landmark { kind: "eyeRight", x: r.0 / iw, y: r.1 / ih });
        for (kind, i) in LANDMARKS {
            // foreheadTop/noseBridge are not Rekognition types: used internally only.
            if kind == "foreheadTop" || kind == "noseBridge" {
                continue;
            }
            landmarks.push(Landmark { kind, x: mesh[i][0] / iw, y: mesh[i][1] / ih });
        }

        let pose = pose_of(&mesh);
        let quality = quality_of(image, bx0, by0, bx1, by1);
        let (eyes, pupils) = self.eye_signals(image, &mesh)?;
        if let Some((lp, rp)) = pupils {
            landmarks.push(Landmark { kind: "leftPupil", x: lp.0 / iw, y: lp.1 / ih });
            landmarks.push(Landmark { kind: "rightPupil", x: rp.0 / iw, y: rp.1 / ih });
        }
        let sunglasses = decide(eyes.sunglasses_score, self.config.sunglasses_threshold, 0.25);
        let mut eyes_open = decide_above(eyes.eye_aspect_ratio, self.config.eyes_open_threshold, 0.1);
        if sunglasses.value {
            // Lids behind dark lenses are guessed by the mesh, not seen.
            eyes_open.confidence = 50.0 + (eyes_open.confidence - 50.0) * 0.3;
        }
        Ok(DetectedFace {
            bounding_box,
            confidence,
            landmarks,
            pose,
            quality,
            sunglasses: Some(sunglasses),
            eyes_open: Some(eyes_open),
            detection_score,
            mesh_score,
            eyes,
            mesh: Some(mesh),
        })
    }

    fn run_mesh(
        &self,
        sources: &Sources,
        centre: (f32, f32),
        side: f32,
        angle: f32,
    ) -> Result<(Vec<[f32; 3]>, f32), FaceError> {
        let m = Affine::window(centre, side, angle, MESH_SIZE, false);
        let pixels = sources.warp(&m, MESH_SIZE, MESH_SIZE);
        let outputs = self.mesh.run(Stage::FaceMesh, nhwc(&pixels, |v| v / 255.0))?;
        let points = outputs
            .iter()
            .find(|(_, v)| v.len() == 468 * 3)
            .ok_or_else(|| FaceError::Inference("face mesh gave no 468×3 output".into()))?;
        let flag = outputs
            .iter()
            .find(|(_, v)| v.len() == 1)
            .ok_or_else(|| FaceError::Inference("face mesh gave no presence score".into()))?;
        let raw = flag.1[0];
        let score = if (0.0..=1.0).contains(&raw) { raw } else { sigmoid(raw) };
        let z_scale = m.scale();
        let mesh = points
            .1
            .chunks_exact(3)
            .map(|p| {
                let (x, y) = m.apply(p[0], p[1]);
                [x, y, p[2] * z_scale]
            })
            .collect();
        Ok((mesh, score))
    }

    /// Iris model on each eye, plus pixel statistics at the places the models point to.
    #[allow(clippy::type_complexity)]
    fn eye_signals(
        &self,
        image: &RgbImage,
        mesh: &[[f32; 3]],
    ) -> Result<(EyeSignals, Option<((f32, f32), (f32, f32))>), FaceError> {
        let cheek_radius = dist(centroid(mesh, &DLIB_EYE_LEFT), centroid(mesh, &DLIB_EYE_RIGHT)) * 0.12;
        let cheeks = [CHEEK_LEFT, CHEEK_RIGHT]
            .iter()
            .map(|&i| disc_luma(image, (mesh[i][0], mesh[i][1]), cheek_radius))
            .collect::<Vec<_>>();
        let cheek = mean(&cheeks).max(1.0);
        let mut ratios = Vec::new();
        let mut contrasts = Vec::new();
        let mut disagreements = Vec::new();
        let mut radii = Vec::new();
        let mut ears = Vec::new();
        let mut pupils = Vec::new();
        for (contour, flip) in [(&EYE_LEFT_CONTOUR, true), (&EYE_RIGHT_CONTOUR, false)] {
            let outer = (mesh[contour[0]][0], mesh[contour[0]][1]);
            let inner = (mesh[contour[8]][0], mesh[contour[8]][1]);
            let width = dist(outer, inner).max(1.0);
            let (a, b) = if outer.0 <= inner.0 { (outer, inner) } else { (inner, outer) };
            let angle = (b.1 - a.1).atan2(b.0 - a.0);
            let centre = ((outer.0 + inner.0) / 2.0, (outer.1 + inner.1) / 2.0);
            let side = width * 2.3;
            let m = Affine::window(centre, side, angle, IRIS_SIZE, flip);
            let pixels = warp(image, &m, IRIS_SIZE, IRIS_SIZE);
            let outputs = self.iris.run(Stage::Iris, nhwc(&pixels, |v| v / 255.0))?;
            let all: Vec<f32> = outputs.iter().flat_map(|(_, v)| v.iter().copied()).collect();
            if all.len() < 76 * 3 {
                return Err(FaceError::Inference(format!("iris model gave {} values, expected 228", all.len())));
            }
            // 71 contour/brow points then 5 iris points (centre first), in crop pixels.
            let (contour_pts, iris_pts) = if outputs.len() == 2 && outputs[0].1.len() == 15 {
                (outputs[1].1.clone(), outputs[0].1.clone())
            } else {
                (all[..213].to_vec(), all[213..228].to_vec())
            };
            let iris_c = (iris_pts[0], iris_pts[1]);
            let iris_r = (1..5).map(|k| dist(iris_c, (iris_pts[3 * k], iris_pts[3 * k + 1]))).sum::<f32>() / 4.0;
            // Mesh eye contour in crop coordinates, to compare and to mask the opening.
            let inv = invert(&m);
            let mesh_poly: Vec<(f32, f32)> = contour.iter().map(|&i| inv.apply(mesh[i][0], mesh[i][1])).collect();
            let model_poly: Vec<(f32, f32)> = (0..16).map(|k| (contour_pts[3 * k], contour_pts[3 * k + 1])).collect();
            let scale = IRIS_SIZE as f32 / 2.3;
            let d = mesh_poly.iter().map(|&p| nearest(&model_poly, p)).sum::<f32>() / 16.0 / scale;
            disagreements.push(d);
            radii.push(iris_r / scale);
            let mut opening = Vec::new();
            let mut disc = Vec::new();
            let mut window = Vec::new();
            for v in 0..IRIS_SIZE {
                for u in 0..IRIS_SIZE {
                    let p = (u as f32 + 0.5, v as f32 + 0.5);
                    let y = luma(pixels[v * IRIS_SIZE + u]);
                    if dist(p, (IRIS_SIZE as f32 / 2.0, IRIS_SIZE as f32 / 2.0)) < scale * 0.6 {
                        window.push(y);
                    }
                    if dist(p, iris_c) < iris_r * 0.8 {
                        disc.push(y);
                    } else if inside(&mesh_poly, p.0, p.1) {
                        opening.push(y);
                    }
                }
            }
            opening.sort_by(f32::total_cmp);
            let bright = mean(&opening[opening.len() / 2..]);
            contrasts.push((bright - mean(&disc)) / cheek);
            ratios.push(mean(&window) / cheek);
            let up = (mesh[contour[12]][0], mesh[contour[12]][1]);
            let down = (mesh[contour[4]][0], mesh[contour[4]][1]);
            ears.push(dist(up, down) / width);
            pupils.push(m.apply(iris_c.0, iris_c.1));
        }
        let mut s = EyeSignals {
            eye_cheek_ratio: mean(&ratios),
            sclera_contrast: mean(&contrasts),
            contour_disagreement: mean(&disagreements),
            iris_radius: mean(&radii),
            eye_aspect_ratio: mean(&ears),
            sunglasses_score: 0.0,
        };
        s.sunglasses_score = sunglasses_score(&s);
        Ok((s, Some((pupils[0], pupils[1]))))
    }

    /// The 128-d identity vector of `face`, L2-normalised.
    pub fn embed(&self, image: &RgbImage, face: &DetectedFace) -> Result<[f32; EMBEDDING_DIM], FaceError> {
        let (l, r) = face.eye_centres().ok_or(FaceError::TurnedAway)?;
        // dlib's chip (150 px, padding 0.25) puts the eye centres at these points.
        let (tl, tr) = ((47.55f32, 46.6f32), (100.48f32, 46.6f32));
        let angle = (r.1 - l.1).atan2(r.0 - l.0);
        let s = dist(l, r) / dist(tl, tr); // source pixels per chip pixel
        let (sin, cos) = angle.sin_cos();
        let (a, b, d, e) = (cos * s, -sin * s, sin * s, cos * s);
        // Chosen so that the chip point tl maps onto the source point l.
        let m = Affine { a, b, c: l.0 - a * tl.0 - b * tl.1, d, e, f: l.1 - d * tl.0 - e * tl.1 };
        let pixels = warp(image, &m, CHIP_SIZE, CHIP_SIZE);
        let outputs = self.embedder.run(Stage::Dlib, nhwc(&pixels, |v| v))?;
        let v = outputs
            .iter()
            .find(|(_, v)| v.len() == EMBEDDING_DIM)
            .ok_or_else(|| FaceError::Inference("embedding model gave no 128-d output".into()))?;
        let norm = v.1.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        let mut out = [0.0; EMBEDDING_DIM];
        for (o, x) in out.iter_mut().zip(&v.1) {
            *o = x / norm;
        }
        Ok(out)
    }
}

/// Cosine of two L2-normalised vectors.
pub fn cosine(a: &[f32; EMBEDDING_DIM], b: &[f32; EMBEDDING_DIM]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Similarity 0..100 from cosine, a logistic calibrated on the dev photos
/// (assets/models/README.md): 80 at `SIMILARITY_COSINE_AT_80`.
pub fn similarity(a: &[f32; EMBEDDING_DIM], b: &[f32; EMBEDDING_DIM]) -> f32 {
    similarity_from_cosine(cosine(a, b))
}

pub const SIMILARITY_COSINE_AT_80: f32 = 0.93;
pub const SIMILARITY_SLOPE: f32 = 40.0;

pub fn similarity_from_cosine(cos: f32) -> f32 {
    // 100/(1+e^{-k(c-c0)}) = 80 at c = c80  ⇒  c0 = c80 − ln 4 / k.
    let c0 = SIMILARITY_COSINE_AT_80 - 4f32.ln() / SIMILARITY_SLOPE;
    100.0 / (1.0 + (-SIMILARITY_SLOPE * (cos - c0)).exp())
}

/// A face for a head the pose model places but the face models did not find: box, pose,
/// the three landmarks MoveNet gives, and quality; nothing that needs the mesh.
fn turned_face(image: &RgbImage, head: &Head, framed_score: f32) -> Option<DetectedFace> {
    let (iw, ih) = (image.width() as f32, image.height() as f32);
    let (x0, y0, x1, y1) = head.face_box()?;
    let (x0, y0, x1, y1) = (x0.max(0.0), y0.max(0.0), x1.min(iw), y1.min(ih));
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let (roll, yaw) = head.pose();
    let landmarks = [("eyeLeft", head.eye_left), ("eyeRight", head.eye_right), ("nose", head.nose)]
        .into_iter()
        .map(|(kind, k)| Landmark { kind, x: k.x / iw, y: k.y / ih })
        .collect();
    let score = (head.face_score() * framed_score).sqrt();
    Some(DetectedFace {
        bounding_box: BoundingBox::from_pixels((x0, y0, x1, y1), (iw, ih)),
        confidence: 100.0 * score,
        landmarks,
        pose: Pose { roll, yaw, pitch: 0.0 },
        quality: quality_of(image, x0, y0, x1, y1),
        sunglasses: None,
        eyes_open: None,
        detection_score: score,
        mesh_score: 0.0,
        eyes: EyeSignals::default(),
        mesh: None,
    })
}

/// Whether the point (ratios) lies in the box grown by `margin` of its size on every side.
fn around(b: &BoundingBox, margin: f32, (x, y): (f32, f32)) -> bool {
    x >= b.left - margin * b.width
        && x <= b.left + (1.0 + margin) * b.width
        && y >= b.top - margin * b.height
        && y <= b.top + (1.0 + margin) * b.height
}

/// Intersection over the smaller box: 1 when one box lies inside the other.
fn overlap(a: &BoundingBox, b: &BoundingBox) -> f32 {
    let w = ((a.left + a.width).min(b.left + b.width) - a.left.max(b.left)).max(0.0);
    let h = ((a.top + a.height).min(b.top + b.height) - a.top.max(b.top)).max(0.0);
    w * h / (a.width * a.height).min(b.width * b.height).max(1e-9)
}

/// Dark lenses make the eye windows (placed by the mesh) much darker than the cheeks AND
/// hide the white of the eye around the iris (placed by the Iris model). Measured on the
/// dev photos (README): eye/cheek 0.27–0.35 with sunglasses vs 0.65–1.02 without;
/// sclera contrast ≤ 0.11 with vs 0.03–0.69 without. Both must agree.
fn sunglasses_score(s: &EyeSignals) -> f32 {
    sigmoid((0.5 - s.eye_cheek_ratio) * 25.0) * sigmoid((0.2 - s.sclera_contrast) * 30.0)
}

fn decide(score: f32, threshold: f32, spread: f32) -> BoolAttribute {
    let value = score >= threshold;
    let margin = ((score - threshold).abs() / spread).min(1.0);
    BoolAttribute { value, confidence: 50.0 + 49.9 * margin }
}

fn decide_above(v: f32, threshold: f32, spread: f32) -> BoolAttribute {
    decide(v, threshold, spread)
}

fn positions(len: f32, side: f32) -> Vec<f32> {
    if len <= side {
        return vec![0.0];
    }
    let n = ((len - side) / (side * 0.75)).ceil() as usize + 1;
    (0..n).map(|i| (len - side) * i as f32 / (n - 1) as f32).collect()
}

/// MediaPipe-style weighted NMS: overlapping candidates are averaged by score; a box mostly
/// inside a stronger one (a face cut by a tile edge) is dropped.
fn weighted_nms(mut all: Vec<Candidate>) -> Vec<Candidate> {
    all.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Candidate> = Vec::new();
    let mut used = vec![false; all.len()];
    for i in 0..all.len() {
        if used[i] {
            continue;
        }
        let top = all[i].clone();
        let mut sum = 0.0;
        let mut merged = Candidate { score: top.score, x0: 0.0, y0: 0.0, x1: 0.0, y1: 0.0, keypoints: [(0.0, 0.0); 6] };
        for j in i..all.len() {
            if used[j] {
                continue;
            }
            let o = &all[j];
            let iou = top.iou(o);
            let contained = top.intersection(o) / o.area().min(top.area()).max(1e-6);
            if iou > 0.3 || contained > 0.7 {
                used[j] = true;
                if iou > 0.5 {
                    let w = o.score;
                    sum += w;
                    merged.x0 += o.x0 * w;
                    merged.y0 += o.y0 * w;
                    merged.x1 += o.x1 * w;
                    merged.y1 += o.y1 * w;
                    for k in 0..6 {
                        merged.keypoints[k].0 += o.keypoints[k].0 * w;
                        merged.keypoints[k].1 += o.keypoints[k].1 * w;
                    }
                }
            }
        }
        if sum > 0.0 {
            merged.x0 /= sum;
            merged.y0 /= sum;
            merged.x1 /= sum;
            merged.y1 /= sum;
            for k in 0..6 {
                merged.keypoints[k].0 /= sum;
                merged.keypoints[k].1 /= sum;
            }
            kept.push(merged);
        } else {
            kept.push(top);
        }
    }
    kept
}

fn centroid(mesh: &[[f32; 3]], idx: &[usize]) -> (f32, f32) {
    let n = idx.len() as f32;
    (idx.iter().map(|&i| mesh[i][0]).sum::<f32>() / n, idx.iter().map(|&i| mesh[i][1]).sum::<f32>() / n)
}

fn dist(a: (f32, f32), b: (f32, f32)) -> f32 {
    ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
}

fn nearest(poly: &[(f32, f32)], p: (f32, f32)) -> f32 {
    poly.iter().map(|&q| dist(p, q)).fold(f32::MAX, f32::min)
}

fn invert(m: &Affine) -> Affine {
    let det = m.a * m.e - m.b * m.d;
    let det = if det.abs() < 1e-12 { 1e-12 } else { det };
    let (a, b, d, e) = (m.e / det, -m.b / det, -m.d / det, m.a / det);
    Affine { a, b, c: -(a * m.c + b * m.f), d, e, f: -(d * m.c + e * m.f) }
}

fn disc_luma(image: &RgbImage, c: (f32, f32), r: f32) -> f32 {
    let m = Affine::window(c, 2.0 * r, 0.0, 8, false);
    mean(&warp(image, &m, 8, 8).into_iter().map(luma).collect::<Vec<_>>())
}

/// Roll from the eye line; yaw from the depth difference of the outer eye corners and the
/// cheek edges across the face; pitch from the depth difference between forehead and chin.
fn pose_of(mesh: &[[f32; 3]]) -> Pose {
    let (l, r) = (centroid(mesh, &DLIB_EYE_LEFT), centroid(mesh, &DLIB_EYE_RIGHT));
    let roll = (r.1 - l.1).atan2(r.0 - l.0).to_degrees();
    let across = |a: usize, b: usize| {
        let (pa, pb) = (mesh[a], mesh[b]);
        let planar = ((pb[0] - pa[0]).powi(2) + (pb[1] - pa[1]).powi(2)).sqrt();
        (pb[2] - pa[2]).atan2(planar)
    };
    // Positive yaw: the face turns towards the viewer's right (its left cheek recedes).
    let yaw = -((across(234, 454) + across(33, 263)) / 2.0).to_degrees();
    // Positive pitch: the face tilts up (chin comes forward).
    let pitch = across(10, 152).to_degrees();
    Pose { roll, yaw, pitch }
}

fn quality_of(image: &RgbImage, x0: f32, y0: f32, x1: f32, y1: f32) -> Quality {
    const N: usize = 96;
    let side = (x1 - x0).max(y1 - y0);
    let m = Affine::window(((x0 + x1) / 2.0, (y0 + y1) / 2.0), side, 0.0, N, false);
    let grey: Vec<f32> = warp(image, &m, N, N).into_iter().map(luma).collect();
    let brightness = mean(&grey) / 255.0 * 100.0;
    // Laplacian variance on a fixed-size crop: ~0 blurred, ~100+ crisp; mapped to 0..100.
    let lv = laplacian_variance(&grey, N, N);
    let sharpness = 100.0 * (1.0 - (-lv / 60.0).exp());
    Quality { brightness, sharpness }
}

fn blazeface_rows(outputs: &[(Vec<usize>, Vec<f32>)], anchors: usize) -> Result<Vec<f32>, FaceError> {
    if let Some((_, v)) = outputs.iter().find(|(_, v)| v.len() == anchors * 17) {
        return Ok(v.clone());
    }
    // The converted model has four heads: scores [1,512,1] and boxes [1,512,16] for the
    // 16-stride anchors, then the same for the 384 32-stride anchors.
    let head = |n: usize, width: usize| outputs.iter().find(|(s, v)| s.last() == Some(&width) && v.len() == n * width);
    if let (Some(s512), Some(b512), Some(s384), Some(b384)) = (head(512, 1), head(512, 16), head(384, 1), head(384, 16))
        && 512 + 384 == anchors
    {
        let mut rows = Vec::with_capacity(anchors * 17);
        for (scores, boxes, n) in [(s512, b512, 512), (s384, b384, 384)] {
            for i in 0..n {
                rows.push(scores.1[i]);
                rows.extend_from_slice(&boxes.1[i * 16..(i + 1) * 16]);
            }
        }
        return Ok(rows);
    }
    let shapes: Vec<_> = outputs.iter().map(|(s, _)| s.clone()).collect();
    Err(FaceError::Inference(format!("unexpected BlazeFace outputs {shapes:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_cover_the_input_twice_then_six_times() {
        let a = blazeface_anchors();
        assert_eq!(a.len(), 896);
        assert_eq!(a[0], (8.0, 8.0));
        assert_eq!(a[512], (16.0, 16.0));
    }

    #[test]
    fn similarity_is_80_at_the_calibrated_cosine_and_monotonic() {
        assert!((similarity_from_cosine(SIMILARITY_COSINE_AT_80) - 80.0).abs() < 1e-3);
        assert!(similarity_from_cosine(0.99) > similarity_from_cosine(0.95));
        assert!(similarity_from_cosine(0.5) < 1.0);
    }

    #[test]
    fn tiles_cover_the_whole_side() {
        let p = positions(1080.0, 540.0);
        assert_eq!(p.first(), Some(&0.0));
        assert_eq!(p.last(), Some(&540.0));
        assert_eq!(positions(300.0, 540.0), vec![0.0]);
    }
}

/// Measurements behind the tile rule and the animal rule (assets/models/README.md): run by
/// hand with `MEASURE_DIRS=dir1:dir2 cargo test --lib measure_windows -- --ignored --nocapture`.
#[cfg(test)]
mod measure {
    use super::*;

    #[test]
    #[ignore = "measurement: prints every window's candidates and every head for the photos in MEASURE_DIRS"]
    fn measure_windows() {
        let a = FaceAnalyzer::load_default().unwrap();
        let every_tile =
            FaceAnalyzer::load(&default_models_dir(), AnalyzerConfig { guided_tiles: false, ..Default::default() })
                .unwrap();
        let dirs = std::env::var("MEASURE_DIRS").unwrap_or_default();
        let mut files: Vec<PathBuf> = Vec::new();
        for d in dirs.split(':').filter(|d| !d.is_empty()) {
            for e in std::fs::read_dir(d).unwrap().flatten() {
                let p = e.path();
                if matches!(p.extension().and_then(|e| e.to_str()), Some("jpg" | "png")) {
                    files.push(p);
                }
            }
        }
        files.sort();
        for f in &files {
            let image = a.decode(&std::fs::read(f).unwrap()).unwrap();
            let (iw, ih) = (image.width() as f32, image.height() as f32);
            let (faces, every_times) = timings::measure(|| every_tile.detect(&image).unwrap());
            let (guided, guided_times) = timings::measure(|| a.detect(&image).unwrap());
            println!(
                "== {} {}x{}: {} face(s) with every tile ({} BlazeFace windows), {} with guided tiles ({} windows)",
                f.display(),
                iw,
                ih,
                faces.len(),
                every_times.calls(Stage::BlazeFace),
                guided.len(),
                guided_times.calls(Stage::BlazeFace)
            );
            let letterbox = Letterbox::of(&image, DETECTOR_SIZE);
            let whole = a.detect_pixels(&letterbox.pixels, 0.0, 0.0, letterbox.side).unwrap();
            for face in &faces {
                let (x, y, w, h) = face.pixel_box(&image);
                let near = |c: &Candidate| {
                    let (cx, cy) = ((c.x0 + c.x1) / 2.0, (c.y0 + c.y1) / 2.0);
                    cx >= x && cx <= x + w && cy >= y && cy <= y + h
                };
                let best_whole = whole.iter().filter(|c| near(c)).map(|c| c.score).fold(0.0f32, f32::max);
                let heads = a.heads.heads_in(&letterbox).unwrap();
                let inside_box = |k: &crate::local::rekognition::heads::Keypoint| {
                    k.x >= x && k.x <= x + w && k.y >= y && k.y <= y + h
                };
                let on_face = heads
                    .iter()
                    .filter(|h| inside_box(&h.nose) || inside_box(&h.eye_left) || inside_box(&h.eye_right))
                    .map(|h| (h.person_score, h.face_score(), h.nose.score, h.eye_left.score, h.eye_right.score))
                    .fold((0.0f32, 0.0f32, 0.0f32, 0.0f32, 0.0f32), |b, h| if h.1 > b.1 { h } else { b });
                println!(
                    "  face at ({:.0},{:.0}) {:.0}x{:.0} px ({:.1} letterbox px) det {:.3} mesh {:.3} seen {}: whole-image best {:.3}; head on it (person, face, nose, eyes) {:.3?}; eyes {:?}",
                    x,
                    y,
                    w,
                    h,
                    w * DETECTOR_SIZE as f32 / letterbox.side,
                    face.detection_score,
                    face.mesh_score,
                    face.seen_by_face_models(),
                    best_whole,
                    on_face,
                    face.eyes
                );
            }
            for head in a.heads.heads_in(&letterbox).unwrap() {
                if head.person_score < 0.05 {
                    continue;
                }
                let spread = head.face_box().map(|(x0, _, x1, _)| (x1 - x0) * DETECTOR_SIZE as f32 / letterbox.side);
                println!(
                    "  head person {:.3} face {:.3} centre {:?} face box {:?} ({:?} letterbox px) nose {:.2} eyes {:.2}/{:.2} ears {:.2}/{:.2}",
                    head.person_score,
                    head.face_score(),
                    (head.centre().map(|(x, y)| (x.round(), y.round())), head.rough_centre()),
                    head.face_box().map(|(a, b, c, d)| (a.round(), b.round(), c.round(), d.round())),
                    spread,
                    head.nose.score,
                    head.eye_left.score,
                    head.eye_right.score,
                    head.ear_left.score,
                    head.ear_right.score
                );
            }
            let low: Vec<_> = whole.iter().map(|c| (c.score * 1000.0).round() / 1000.0).collect();
            println!("  whole-image candidates ≥ 0.3: {low:?}");
            let long = iw.max(ih);
            if long >= 400.0 {
                let side = long / 2.0;
                for y in positions(ih, side) {
                    for x in positions(iw, side) {
                        let found: Vec<_> = a
                            .detect_window(&image, x, y, side)
                            .unwrap()
                            .iter()
                            .filter(|c| c.score >= 0.5)
                            .map(|c| (c.score, ((c.x0 + c.x1) / 2.0).round(), ((c.y0 + c.y1) / 2.0).round()))
                            .collect();
                        println!("  tile ({x:.0},{y:.0}) side {side:.0}: candidates ≥ 0.5 (score, centre) {found:.3?}");
                    }
                }
            }
        }
    }
}

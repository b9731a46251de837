//! CheckFaceDuplicate: searches the rider collection (env `REKOGNITION_COLLECTION_ID`) for
//! the face in the photo; a match means the rider already has an account, which is a
//! `FaceAlreadyExistsError` the state machine catches. Returns `null` (the state discards it).

use aws_sdk_rekognition::Client;
use aws_sdk_rekognition::types::{FaceMatch, Image, S3Object};
use lambda_runtime::Diagnostic;
use serde_json::Value;
use thiserror::Error;
use wildrydes_lambda_shared::env::{self, Lookup};
use wildrydes_lambda_shared::{AwsError, ConfigError, FaceAlreadyExistsError, InputError, PhotoInput};

/// The workshop's similarity threshold, in percent.
pub const FACE_MATCH_THRESHOLD: f32 = 70.0;
/// The workshop asks for up to three matches; one is enough to refuse, the others are logged.
pub const MAX_FACES: i32 = 3;

#[derive(Debug, Error)]
pub enum FaceSearchError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    AlreadyExists(#[from] FaceAlreadyExistsError),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl From<FaceSearchError> for Diagnostic {
    fn from(error: FaceSearchError) -> Self {
        match error {
            FaceSearchError::Config(e) => e.into(),
            FaceSearchError::Input(e) => e.into(),
            FaceSearchError::AlreadyExists(e) => e.into(),
            FaceSearchError::Aws(e) => e.into(),
        }
    }
}

/// The Lambda handler: the event is the execution's state, `lookup` the environment.
pub async fn handle(client: &Client, lookup: Lookup<'_>, event: Value) -> Result<Value, FaceSearchError> {
    let collection = env::required(lookup, "REKOGNITION_COLLECTION_ID")?;
    let input = PhotoInput::from_event(event)?;
    let key = input.object_key()?;
    tracing::info!(user = %input.user_id, bucket = %input.s3_bucket, key = %key, %collection, "searching for the face");
    let image = Image::builder().s3_object(S3Object::builder().bucket(&input.s3_bucket).name(&key).build()).build();
    let output = client
        .search_faces_by_image()
        .collection_id(&collection)
        .image(image)
        .face_match_threshold(FACE_MATCH_THRESHOLD)
        .max_faces(MAX_FACES)
        .send()
        .await
        .map_err(|err| AwsError::from_sdk("SearchFacesByImage", &err))?;
    check_matches(output.face_matches())?;
    Ok(Value::Null)
}

/// Any match above the threshold (Rekognition applied it) means the face is taken.
pub fn check_matches(matches: &[FaceMatch]) -> Result<(), FaceAlreadyExistsError> {
    if matches.is_empty() {
        return Ok(());
    }
    for m in matches {
        let face = m.face.as_ref();
        tracing::info!(
            face_id = face.and_then(|f| f.face_id.as_deref()).unwrap_or("?"),
            external_image_id = face.and_then(|f| f.external_image_id.as_deref()).unwrap_or("?"),
            similarity = m.similarity.unwrap_or(0.0),
            "face already in the collection"
        );
    }
    Err(FaceAlreadyExistsError::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rekognition::types::Face;

    fn client() -> Client {
        let config = aws_sdk_rekognition::Config::builder()
            .behavior_version(aws_sdk_rekognition::config::BehaviorVersion::latest())
            .region(aws_sdk_rekognition::config::Region::new("us-east-1"))
            .build();
        Client::from_conf(config)
    }

    #[test]
    fn no_match_passes() {
        assert_eq!(check_matches(&[]), Ok(()));
    }

    #[test]
    fn a_match_is_face_already_exists_with_the_workshop_message() {
        let m = FaceMatch::builder()
            .similarity(99.5)
            .face(Face::builder().face_id("f-1").external_image_id("user_a").build())
            .build();
        let err = check_matches(&[m]).unwrap_err();
        let diagnostic: Diagnostic = FaceSearchError::from(err).into();
        assert_eq!(diagnostic.error_type, "FaceAlreadyExistsError");
        assert_eq!(diagnostic.error_message, "Face in the picture is already in the system.");
    }

    #[tokio::test]
    async fn missing_collection_variable_is_named() {
        let event = serde_json::json!({"userId": "u", "s3Bucket": "b", "s3Key": "k.jpg"});
        let err = handle(&client(), &|_| None, event).await.unwrap_err();
        let diagnostic: Diagnostic = err.into();
        assert_eq!(diagnostic.error_type, "ConfigurationError");
        assert_eq!(diagnostic.error_message, "environment variable REKOGNITION_COLLECTION_ID is not set");
    }
}

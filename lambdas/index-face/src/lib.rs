//! AddFaceToIndex: adds the rider's face to the collection (env `REKOGNITION_COLLECTION_ID`)
//! with the user id as its `ExternalImageId`, and returns the indexed `Face` (`FaceId`,
//! `BoundingBox`, `ImageId`, `ExternalImageId`, `Confidence`), which PersistMetadata stores.
//!
//! A task delivered twice (Step Functions delivery is at-least-once) indexes nothing twice:
//! AWS documents that IndexFaces of the same image into the same collection with the same
//! ExternalImageId saves no duplicate face metadata, and the local Rekognition does the same.

use aws_sdk_rekognition::Client;
use aws_sdk_rekognition::operation::index_faces::IndexFacesOutput;
use aws_sdk_rekognition::types::{Image, QualityFilter, S3Object};
use lambda_runtime::Diagnostic;
use serde_json::Value;
use thiserror::Error;
use wildrydes_lambda_shared::env::{self, Lookup};
use wildrydes_lambda_shared::rekognition::face_json;
use wildrydes_lambda_shared::{AwsError, ConfigError, InputError, PhotoInput};

/// The `errorType` when Rekognition indexed no face.
pub const FACE_NOT_INDEXED: &str = "FaceNotIndexedError";

#[derive(Debug, Error)]
pub enum IndexFaceError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("No face was indexed for user {user_id} from s3://{bucket}/{key}: {reasons}")]
    NotIndexed { user_id: String, bucket: String, key: String, reasons: String },
}

impl From<IndexFaceError> for Diagnostic {
    fn from(error: IndexFaceError) -> Self {
        match error {
            IndexFaceError::Config(e) => e.into(),
            IndexFaceError::Input(e) => e.into(),
            IndexFaceError::Aws(e) => e.into(),
            e @ IndexFaceError::NotIndexed { .. } => {
                Diagnostic { error_type: FACE_NOT_INDEXED.into(), error_message: e.to_string() }
            }
        }
    }
}

/// The Lambda handler: the event is the execution's state, `lookup` the environment.
pub async fn handle(client: &Client, lookup: Lookup<'_>, event: Value) -> Result<Value, IndexFaceError> {
    let collection = env::required(lookup, "REKOGNITION_COLLECTION_ID")?;
    let input = PhotoInput::from_event(event)?;
    let key = input.object_key()?;
    tracing::info!(user = %input.user_id, bucket = %input.s3_bucket, key = %key, %collection, "indexing the face");
    let image = Image::builder().s3_object(S3Object::builder().bucket(&input.s3_bucket).name(&key).build()).build();
    let output = client
        .index_faces()
        .collection_id(&collection)
        .image(image)
        .external_image_id(&input.user_id)
        // FaceDetection let through exactly one face; should Rekognition see a second,
        // smaller one, only the largest is the rider's, so one face per photo.
        .max_faces(1)
        // AUTO is AWS's default, stated so both targets agree: a face too poor to be matched
        // later would defeat the duplicate check, so it is refused rather than indexed.
        .quality_filter(QualityFilter::Auto)
        .send()
        .await
        .map_err(|err| AwsError::from_sdk("IndexFaces", &err))?;
    indexed_face(&output, &input, &key)
}

/// The one indexed face as AWS's JSON, or an error that gives Rekognition's reasons.
pub fn indexed_face(output: &IndexFacesOutput, input: &PhotoInput, key: &str) -> Result<Value, IndexFaceError> {
    if let Some(face) = output.face_records().iter().find_map(|record| record.face.as_ref()) {
        return Ok(face_json(face));
    }
    let reasons: Vec<&str> =
        output.unindexed_faces().iter().flat_map(|u| u.reasons()).map(|reason| reason.as_str()).collect();
    let reasons = if reasons.is_empty() {
        "Rekognition found no face to index".to_owned()
    } else {
        format!("Rekognition did not index the face ({})", reasons.join(", "))
    };
    Err(IndexFaceError::NotIndexed {
        user_id: input.user_id.clone(),
        bucket: input.s3_bucket.clone(),
        key: key.to_owned(),
        reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rekognition::types::{BoundingBox, Face, FaceRecord, Reason, UnindexedFace};
    use serde_json::json;

    fn input() -> PhotoInput {
        PhotoInput::from_event(json!({"userId": "user_a", "s3Bucket": "photos", "s3Key": "rider-selfie.jpg"})).unwrap()
    }

    #[test]
    fn returns_the_indexed_face_in_aws_shape() {
        let face = Face::builder()
            .face_id("f-1")
            .bounding_box(BoundingBox::builder().width(0.5).height(0.5).left(0.25).top(0.25).build())
            .image_id("i-1")
            .external_image_id("user_a")
            .confidence(99.5)
            .build();
        let output = IndexFacesOutput::builder().face_records(FaceRecord::builder().face(face).build()).build();
        let value = indexed_face(&output, &input(), "rider-selfie.jpg").unwrap();
        assert_eq!(
            value,
            json!({
                "FaceId": "f-1",
                "BoundingBox": {"Width": 0.5, "Height": 0.5, "Left": 0.25, "Top": 0.25},
                "ImageId": "i-1",
                "ExternalImageId": "user_a",
                "Confidence": 99.5
            })
        );
    }

    #[test]
    fn unindexed_face_is_an_error_with_rekognitions_reasons() {
        let output = IndexFacesOutput::builder()
            .unindexed_faces(
                UnindexedFace::builder().reasons(Reason::LowSharpness).reasons(Reason::SmallBoundingBox).build(),
            )
            .build();
        let err = indexed_face(&output, &input(), "rider-selfie.jpg").unwrap_err();
        let diagnostic: Diagnostic = err.into();
        assert_eq!(diagnostic.error_type, "FaceNotIndexedError");
        assert_eq!(
            diagnostic.error_message,
            "No face was indexed for user user_a from s3://photos/rider-selfie.jpg: \
             Rekognition did not index the face (LOW_SHARPNESS, SMALL_BOUNDING_BOX)"
        );
    }

    #[test]
    fn no_face_at_all_is_an_error() {
        let output = IndexFacesOutput::builder().build();
        let err = indexed_face(&output, &input(), "k").unwrap_err();
        assert!(err.to_string().contains("found no face"), "{err}");
    }

    #[tokio::test]
    async fn missing_collection_variable_is_named() {
        let config = aws_sdk_rekognition::Config::builder()
            .behavior_version(aws_sdk_rekognition::config::BehaviorVersion::latest())
            .region(aws_sdk_rekognition::config::Region::new("us-east-1"))
            .build();
        let event = json!({"userId": "u", "s3Bucket": "b", "s3Key": "k.jpg"});
        let err = handle(&Client::from_conf(config), &|_| None, event).await.unwrap_err();
        assert!(err.to_string().contains("REKOGNITION_COLLECTION_ID"), "{err}");
    }
}

//! FaceDetection: checks that the rider photo shows exactly one face, not wearing
//! sunglasses (Rekognition DetectFaces with all attributes), and returns that face's
//! details without its landmarks. An unusable photo is a `PhotoDoesNotMeetRequirementError`,
//! which the state machine catches and routes to the notification.

use aws_sdk_rekognition::Client;
use aws_sdk_rekognition::operation::detect_faces::DetectFacesError;
use aws_sdk_rekognition::types::{Attribute, FaceDetail, Image, S3Object};
use lambda_runtime::Diagnostic;
use serde_json::Value;
use thiserror::Error;
use wildrydes_lambda_shared::rekognition::face_detail_json;
use wildrydes_lambda_shared::{AwsError, InputError, PhotoDoesNotMeetRequirementError, PhotoInput};

/// The workshop's message for images Rekognition cannot read.
pub const UNSUPPORTED_FORMAT: &str = "Unsupported image file format. Only JPEG or PNG is supported";

#[derive(Debug, Error)]
pub enum FaceDetectionError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Requirement(#[from] PhotoDoesNotMeetRequirementError),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl From<FaceDetectionError> for Diagnostic {
    fn from(error: FaceDetectionError) -> Self {
        match error {
            FaceDetectionError::Input(e) => e.into(),
            FaceDetectionError::Requirement(e) => e.into(),
            FaceDetectionError::Aws(e) => e.into(),
        }
    }
}

/// The Lambda handler: the event is the execution's state.
pub async fn handle(client: &Client, event: Value) -> Result<Value, FaceDetectionError> {
    let input = PhotoInput::from_event(event)?;
    let key = input.object_key()?;
    tracing::info!(user = %input.user_id, bucket = %input.s3_bucket, key = %key, "detecting faces");
    let faces = detect_faces(client, &input.s3_bucket, &key).await?;
    let face = check_faces(&faces)?;
    Ok(face_detail_json(face, false))
}

/// DetectFaces on the S3 object, with Rekognition's image complaints turned into
/// requirement errors (the state machine tells the rider; other errors fail the task).
pub async fn detect_faces(client: &Client, bucket: &str, key: &str) -> Result<Vec<FaceDetail>, FaceDetectionError> {
    let image = Image::builder().s3_object(S3Object::builder().bucket(bucket).name(key).build()).build();
    let output = client.detect_faces().image(image).attributes(Attribute::All).send().await.map_err(|err| match err
        .as_service_error()
    {
        Some(DetectFacesError::InvalidImageFormatException(_)) => {
            FaceDetectionError::Requirement(PhotoDoesNotMeetRequirementError::new(UNSUPPORTED_FORMAT))
        }
        Some(DetectFacesError::ImageTooLargeException(e)) => {
            let message = e.message().unwrap_or("Image size is too large.");
            FaceDetectionError::Requirement(PhotoDoesNotMeetRequirementError::new(message))
        }
        _ => FaceDetectionError::Aws(AwsError::from_sdk("DetectFaces", &err)),
    })?;
    Ok(output.face_details.unwrap_or_default())
}

/// Beyond this yaw (degrees either way) IndexFaces' default quality filter refuses the face
/// as EXTREME_POSE, so the photo is refused here, where the rider is told why.
pub const MAX_YAW: f32 = 60.0;

/// The workshop's rules: exactly one face, facing the camera, not wearing sunglasses.
pub fn check_faces(faces: &[FaceDetail]) -> Result<&FaceDetail, PhotoDoesNotMeetRequirementError> {
    let [face] = faces else {
        return Err(PhotoDoesNotMeetRequirementError::new(format!("Detected {} faces in the photo.", faces.len())));
    };
    if let Some(yaw) = face.pose.as_ref().and_then(|p| p.yaw).filter(|y| y.abs() > MAX_YAW) {
        return Err(PhotoDoesNotMeetRequirementError::new(format!(
            "Face is turned away from the camera ({:.0}° to the side)",
            yaw.abs()
        )));
    }
    // Without the attribute (DetectFaces called without ALL) there is nothing to reject.
    if face.sunglasses.as_ref().is_some_and(|s| s.value) {
        return Err(PhotoDoesNotMeetRequirementError::new("Face is wearing sunglasses"));
    }
    Ok(face)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rekognition::types::{BoundingBox, Landmark, LandmarkType, Pose, Sunglasses};

    fn face(sunglasses: Option<bool>) -> FaceDetail {
        let mut builder = FaceDetail::builder()
            .bounding_box(BoundingBox::builder().width(0.3).height(0.4).left(0.2).top(0.1).build())
            .landmarks(Landmark::builder().r#type(LandmarkType::Nose).x(0.5).y(0.5).build())
            .confidence(99.9);
        if let Some(value) = sunglasses {
            builder = builder.sunglasses(Sunglasses::builder().value(value).confidence(98.0).build());
        }
        builder.build()
    }

    #[test]
    fn one_face_without_sunglasses_passes() {
        let faces = [face(Some(false))];
        assert!(std::ptr::eq(check_faces(&faces).unwrap(), &faces[0]));
    }

    #[test]
    fn no_face_is_rejected_with_the_count() {
        let err = check_faces(&[]).unwrap_err();
        assert_eq!(err.message, "Detected 0 faces in the photo.");
    }

    #[test]
    fn group_photo_is_rejected_with_the_count() {
        let err = check_faces(&[face(Some(false)), face(Some(false)), face(None)]).unwrap_err();
        assert_eq!(err.message, "Detected 3 faces in the photo.");
    }

    #[test]
    fn sunglasses_are_rejected() {
        let err = check_faces(&[face(Some(true))]).unwrap_err();
        assert_eq!(err.message, "Face is wearing sunglasses");
        let diagnostic: Diagnostic = FaceDetectionError::from(err).into();
        assert_eq!(diagnostic.error_type, "PhotoDoesNotMeetRequirementError");
    }

    #[test]
    fn a_face_turned_away_is_rejected_and_a_slightly_turned_one_passes() {
        let turned = |yaw: f32| FaceDetail::builder().pose(Pose::builder().yaw(yaw).build()).build();
        let err = check_faces(&[turned(-88.6)]).unwrap_err();
        assert_eq!(err.message, "Face is turned away from the camera (89° to the side)");
        assert!(check_faces(&[turned(-30.0)]).is_ok());
        assert!(check_faces(&[turned(60.0)]).is_ok());
    }

    #[test]
    fn face_without_sunglasses_attribute_passes() {
        assert!(check_faces(&[face(None)]).is_ok());
    }

    #[test]
    fn result_drops_landmarks_and_keeps_the_rest() {
        let faces = [face(Some(false))];
        let value = face_detail_json(check_faces(&faces).unwrap(), false);
        assert!(value.get("Landmarks").is_none());
        assert_eq!(value["Sunglasses"]["Value"], Value::Bool(false));
        assert_eq!(value["BoundingBox"]["Width"].to_string(), "0.3");
    }

    #[tokio::test]
    async fn event_without_s3_key_is_an_input_error() {
        let config = aws_sdk_rekognition::Config::builder()
            .behavior_version(aws_sdk_rekognition::config::BehaviorVersion::latest())
            .region(aws_sdk_rekognition::config::Region::new("us-east-1"))
            .build();
        let client = Client::from_conf(config);
        let err = handle(&client, serde_json::json!({"userId": "user_a", "s3Bucket": "b"})).await.unwrap_err();
        let diagnostic: Diagnostic = err.into();
        assert_eq!(diagnostic.error_type, "InvalidInputError");
        assert!(diagnostic.error_message.contains("s3Key"));
    }
}

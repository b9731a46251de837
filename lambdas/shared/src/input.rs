//! The execution input every task receives, and the result shapes the states add to it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::InputError;
use crate::key::decode_s3_key;

/// `{"userId": …, "s3Bucket": …, "s3Key": …}`, plus whatever earlier states added
/// (`detectedFaceDetails`, `parallelResult`, `errorInfo`…): the state machine passes the
/// whole state through, so unknown fields are kept rather than rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoInput {
    #[serde(rename = "userId")]
    pub user_id: String,
    #[serde(rename = "s3Bucket")]
    pub s3_bucket: String,
    /// As given: possibly URL-encoded (see [`PhotoInput::object_key`]).
    #[serde(rename = "s3Key")]
    pub s3_key: String,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl PhotoInput {
    /// Parses an event, with an error that says which field is missing or wrong.
    pub fn from_event(event: Value) -> Result<Self, InputError> {
        let input: PhotoInput = serde_json::from_value(event).map_err(|e| {
            InputError::new(format!("the event is not a photo input {{\"userId\", \"s3Bucket\", \"s3Key\"}}: {e}"))
        })?;
        for (field, value) in [("userId", &input.user_id), ("s3Bucket", &input.s3_bucket), ("s3Key", &input.s3_key)] {
            if value.trim().is_empty() {
                return Err(InputError::new(format!("{field} is empty")));
            }
        }
        Ok(input)
    }

    /// The S3 object key, URL-decoded.
    pub fn object_key(&self) -> Result<String, InputError> {
        decode_s3_key(&self.s3_key)
    }
}

/// Where the thumbnail function wrote the thumbnail. The lower-case field names are the
/// workshop's, and `PersistMetadata` stores this map as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThumbnailLocation {
    pub s3bucket: String,
    pub s3key: String,
}

/// The thumbnail function's result: `{"thumbnail": {"s3bucket": …, "s3key": …}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThumbnailResult {
    pub thumbnail: ThumbnailLocation,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let event = json!({
            "userId": "user_a",
            "s3Bucket": "photos",
            "s3Key": "rider-selfie.jpg",
            "detectedFaceDetails": {"Confidence": 99.99, "AgeRange": {"Low": 20, "High": 30}},
            "parallelResult": [{"FaceId": "f"}, {"thumbnail": {"s3bucket": "t", "s3key": "k"}}]
        });
        let input = PhotoInput::from_event(event.clone()).unwrap();
        assert_eq!(input.user_id, "user_a");
        assert_eq!(input.rest["detectedFaceDetails"]["AgeRange"]["High"], json!(30));
        assert_eq!(serde_json::to_value(&input).unwrap(), event);
    }

    #[test]
    fn missing_field_is_named() {
        let err = PhotoInput::from_event(json!({"userId": "u", "s3Bucket": "b"})).unwrap_err();
        assert!(err.message.contains("s3Key"), "{err}");
    }

    #[test]
    fn empty_user_id_is_rejected() {
        let err = PhotoInput::from_event(json!({"userId": "", "s3Bucket": "b", "s3Key": "k"})).unwrap_err();
        assert_eq!(err.message, "userId is empty");
    }

    #[test]
    fn object_key_is_url_decoded() {
        let input = PhotoInput::from_event(json!({"userId": "u", "s3Bucket": "b", "s3Key": "my+face%21.jpg"})).unwrap();
        assert_eq!(input.object_key().unwrap(), "my face!.jpg");
    }

    #[test]
    fn thumbnail_result_has_the_workshop_shape() {
        let result = ThumbnailResult { thumbnail: ThumbnailLocation { s3bucket: "t".into(), s3key: "k.jpg".into() } };
        assert_eq!(serde_json::to_value(result).unwrap(), json!({"thumbnail": {"s3bucket": "t", "s3key": "k.jpg"}}));
    }
}

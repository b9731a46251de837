//! PersistMetadata: stores the rider's photo metadata in the table named by env
//! `RIDER_PHOTOS_DDB_TABLE`: `Username` (the key) = userId, `s3key`, `s3bucket`, `faceId`
//! (from `parallelResult[0].FaceId`) and `thumbnail` (the map `parallelResult[1].thumbnail`).
//!
//! The workshop leaves `attribute_not_exists(Username)` commented out; here it is on, so a
//! second photo never silently replaces a rider's record: it is an error naming the user.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::Diagnostic;
use serde_json::{Map, Value};
use thiserror::Error;
use wildrydes_lambda_shared::env::{self, Lookup};
use wildrydes_lambda_shared::{AwsError, ConfigError, InputError, PhotoInput};

/// The `errorType` when the user already has an item.
pub const RIDER_PHOTO_ALREADY_EXISTS: &str = "RiderPhotoAlreadyExistsError";

/// Keeps a rider's first record: the put fails if the user already has one.
pub const CONDITION: &str = "attribute_not_exists(Username)";

#[derive(Debug, Error)]
pub enum PersistMetadataError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("User {user_id} already has a photo stored in table {table}; the item was not overwritten")]
    AlreadyExists { user_id: String, table: String },
}

impl From<PersistMetadataError> for Diagnostic {
    fn from(error: PersistMetadataError) -> Self {
        match error {
            PersistMetadataError::Config(e) => e.into(),
            PersistMetadataError::Input(e) => e.into(),
            PersistMetadataError::Aws(e) => e.into(),
            e @ PersistMetadataError::AlreadyExists { .. } => {
                Diagnostic { error_type: RIDER_PHOTO_ALREADY_EXISTS.into(), error_message: e.to_string() }
            }
        }
    }
}

/// What is stored, as plain JSON (also the function's result, for the execution's history).
#[derive(Debug, Clone, PartialEq)]
pub struct RiderPhoto {
    pub username: String,
    pub s3key: String,
    pub s3bucket: String,
    pub face_id: String,
    pub thumbnail: Map<String, Value>,
}

impl RiderPhoto {
    /// Picks the fields out of the state after ParallelProcessing.
    pub fn from_input(input: &PhotoInput) -> Result<Self, InputError> {
        let parallel = input
            .rest
            .get("parallelResult")
            .and_then(Value::as_array)
            .ok_or_else(|| InputError::new("parallelResult is missing or not an array"))?;
        let face_id = parallel
            .first()
            .and_then(|face| face.get("FaceId"))
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| InputError::new("parallelResult[0].FaceId is missing (the AddFaceToIndex result)"))?;
        let thumbnail =
            parallel.get(1).and_then(|result| result.get("thumbnail")).and_then(Value::as_object).ok_or_else(|| {
                InputError::new("parallelResult[1].thumbnail is missing or not a map (the Thumbnail result)")
            })?;
        Ok(Self {
            username: input.user_id.clone(),
            s3key: input.s3_key.clone(),
            s3bucket: input.s3_bucket.clone(),
            face_id: face_id.to_owned(),
            thumbnail: thumbnail.clone(),
        })
    }

    /// The DynamoDB item, with the workshop's attribute names.
    pub fn item(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("Username".to_owned(), AttributeValue::S(self.username.clone())),
            ("s3key".to_owned(), AttributeValue::S(self.s3key.clone())),
            ("s3bucket".to_owned(), AttributeValue::S(self.s3bucket.clone())),
            ("faceId".to_owned(), AttributeValue::S(self.face_id.clone())),
            ("thumbnail".to_owned(), AttributeValue::M(map_to_attributes(&self.thumbnail))),
        ])
    }

    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "Username": self.username,
            "s3key": self.s3key,
            "s3bucket": self.s3bucket,
            "faceId": self.face_id,
            "thumbnail": self.thumbnail,
        })
    }
}

/// JSON as DynamoDB attribute values (numbers keep their exact text).
pub fn json_to_attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(json_to_attribute).collect()),
        Value::Object(map) => AttributeValue::M(map_to_attributes(map)),
    }
}

fn map_to_attributes(map: &Map<String, Value>) -> HashMap<String, AttributeValue> {
    map.iter().map(|(k, v)| (k.clone(), json_to_attribute(v))).collect()
}

/// The Lambda handler: the event is the execution's state, `lookup` the environment.
pub async fn handle(client: &Client, lookup: Lookup<'_>, event: Value) -> Result<Value, PersistMetadataError> {
    let table = env::required(lookup, "RIDER_PHOTOS_DDB_TABLE")?;
    let input = PhotoInput::from_event(event)?;
    let photo = RiderPhoto::from_input(&input)?;
    tracing::info!(user = %photo.username, face_id = %photo.face_id, %table, "storing the rider photo");
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(photo.item()))
        .condition_expression(CONDITION)
        .send()
        .await
        .map_err(|err| match err.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(_)) => {
                PersistMetadataError::AlreadyExists { user_id: photo.username.clone(), table: table.clone() }
            }
            _ => PersistMetadataError::Aws(AwsError::from_sdk("PutItem", &err)),
        })?;
    Ok(photo.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state() -> Value {
        json!({
            "userId": "user_a",
            "s3Bucket": "rider-photos",
            "s3Key": "rider-selfie.jpg",
            "detectedFaceDetails": {"Confidence": 99.9},
            "parallelResult": [
                {"FaceId": "f-1", "ExternalImageId": "user_a", "Confidence": 99.9},
                {"thumbnail": {"s3bucket": "thumbnails", "s3key": "rider-selfie.jpg"}}
            ]
        })
    }

    #[test]
    fn item_has_the_workshop_attributes() {
        let photo = RiderPhoto::from_input(&PhotoInput::from_event(state()).unwrap()).unwrap();
        let item = photo.item();
        assert_eq!(item.len(), 5);
        assert_eq!(item["Username"], AttributeValue::S("user_a".into()));
        assert_eq!(item["s3key"], AttributeValue::S("rider-selfie.jpg".into()));
        assert_eq!(item["s3bucket"], AttributeValue::S("rider-photos".into()));
        assert_eq!(item["faceId"], AttributeValue::S("f-1".into()));
        assert_eq!(
            item["thumbnail"],
            AttributeValue::M(HashMap::from([
                ("s3bucket".to_owned(), AttributeValue::S("thumbnails".into())),
                ("s3key".to_owned(), AttributeValue::S("rider-selfie.jpg".into())),
            ]))
        );
    }

    #[test]
    fn result_is_the_stored_item_as_json() {
        let photo = RiderPhoto::from_input(&PhotoInput::from_event(state()).unwrap()).unwrap();
        assert_eq!(
            photo.to_json(),
            json!({
                "Username": "user_a", "s3key": "rider-selfie.jpg", "s3bucket": "rider-photos", "faceId": "f-1",
                "thumbnail": {"s3bucket": "thumbnails", "s3key": "rider-selfie.jpg"}
            })
        );
    }

    #[test]
    fn missing_face_id_is_named() {
        let mut event = state();
        event["parallelResult"][0] = json!({"Confidence": 99.0});
        let err = RiderPhoto::from_input(&PhotoInput::from_event(event).unwrap()).unwrap_err();
        assert!(err.message.contains("parallelResult[0].FaceId"), "{err}");
    }

    #[test]
    fn missing_thumbnail_is_named() {
        let mut event = state();
        event["parallelResult"] = json!([{"FaceId": "f-1"}]);
        let err = RiderPhoto::from_input(&PhotoInput::from_event(event).unwrap()).unwrap_err();
        assert!(err.message.contains("parallelResult[1].thumbnail"), "{err}");
    }

    #[test]
    fn missing_parallel_result_is_named() {
        let event = json!({"userId": "u", "s3Bucket": "b", "s3Key": "k"});
        let err = RiderPhoto::from_input(&PhotoInput::from_event(event).unwrap()).unwrap_err();
        assert!(err.message.contains("parallelResult"), "{err}");
    }

    #[test]
    fn json_values_map_to_attribute_types() {
        assert_eq!(json_to_attribute(&json!(null)), AttributeValue::Null(true));
        assert_eq!(json_to_attribute(&json!(true)), AttributeValue::Bool(true));
        assert_eq!(json_to_attribute(&json!(12.5)), AttributeValue::N("12.5".into()));
        assert_eq!(
            json_to_attribute(&json!(["a", 1])),
            AttributeValue::L(vec![AttributeValue::S("a".into()), AttributeValue::N("1".into())])
        );
    }

    #[test]
    fn already_stored_user_is_a_clear_error_naming_the_user() {
        let err = PersistMetadataError::AlreadyExists { user_id: "user_a".into(), table: "RiderPhotos".into() };
        let diagnostic: Diagnostic = err.into();
        assert_eq!(diagnostic.error_type, "RiderPhotoAlreadyExistsError");
        assert_eq!(
            diagnostic.error_message,
            "User user_a already has a photo stored in table RiderPhotos; the item was not overwritten"
        );
    }

    #[tokio::test]
    async fn missing_table_variable_is_named() {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .build();
        let err = handle(&Client::from_conf(config), &|_| None, state()).await.unwrap_err();
        assert_eq!(err.to_string(), "environment variable RIDER_PHOTOS_DDB_TABLE is not set");
    }
}

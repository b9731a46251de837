//! The upload trigger: the workshop's "S3 upload event" integration. S3 notifies this function
//! of each object created under `uploads/` in the rider photo bucket; for each record whose
//! (URL-decoded) key is `uploads/<userId>/<file>` it starts the state machine named by
//! `STATE_MACHINE_ARN` with the workflow's input `{"userId", "s3Bucket", "s3Key"}` (the key
//! as stored, not URL-encoded).
//!
//! S3 delivers events at least once, so a record may come again: the execution name is
//! derived from the bucket, the key and the event's sequencer (or ETag), and a second
//! StartExecution under that name is `ExecutionAlreadyExists`, which counts as done. A
//! record that does not name an upload (another prefix, no user, no file, a user id
//! Rekognition cannot store) is logged and skipped, never retried. A failed StartExecution
//! fails the invocation, so S3/Lambda retry the event; records already started dedupe.

use aws_sdk_sfn::Client;
use lambda_runtime::Diagnostic;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use thiserror::Error;
use wildrydes_lambda_shared::env::{self, Lookup};
use wildrydes_lambda_shared::s3_event::{S3Event, S3EventRecord};
use wildrydes_lambda_shared::{AwsError, ConfigError, PhotoInput, decode_s3_key};

/// Where riders' uploads go: `uploads/<userId>/<file>`.
pub const UPLOAD_PREFIX: &str = "uploads/";
/// Step Functions' limit on an execution name.
const MAX_EXECUTION_NAME: usize = 80;

#[derive(Debug, Error)]
pub enum TriggerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl From<TriggerError> for Diagnostic {
    fn from(error: TriggerError) -> Self {
        match error {
            TriggerError::Config(e) => e.into(),
            TriggerError::Aws(e) => e.into(),
        }
    }
}

/// Why a record starts nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Skip {
    #[error("{0} is not an object-created event")]
    NotCreated(String),
    #[error("the key {0:?} cannot be decoded: {1}")]
    Undecodable(String, String),
    #[error("the key {0:?} is not under {UPLOAD_PREFIX}")]
    NotAnUpload(String),
    #[error("the key {0:?} names no user: uploads go to {UPLOAD_PREFIX}<userId>/<file>")]
    NoUser(String),
    #[error("the key {0:?} names no file: uploads go to {UPLOAD_PREFIX}<userId>/<file>")]
    NoFile(String),
    #[error("the user id {0:?} has characters a face collection cannot store (letters, digits, _ . - : only)")]
    BadUser(String),
}

/// One upload, and the execution it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub user_id: String,
    pub bucket: String,
    /// As stored in the bucket (decoded).
    pub key: String,
    pub execution_name: String,
}

impl Upload {
    /// The workflow's input, in the workshop's shape.
    pub fn input(&self) -> String {
        let input = PhotoInput {
            user_id: self.user_id.clone(),
            s3_bucket: self.bucket.clone(),
            s3_key: self.key.clone(),
            rest: Default::default(),
        };
        serde_json::to_string(&input).unwrap_or_default()
    }
}

/// The user of a decoded key `uploads/<userId>/<file>`; `<file>` may sit in folders of its own.
pub fn user_of_key(key: &str) -> Result<&str, Skip> {
    let rest = key.strip_prefix(UPLOAD_PREFIX).ok_or_else(|| Skip::NotAnUpload(key.to_string()))?;
    let Some((user, file)) = rest.split_once('/') else {
        return Err(Skip::NoUser(key.to_string()));
    };
    if user.is_empty() {
        return Err(Skip::NoUser(key.to_string()));
    }
    // A key ending in `/` is a folder marker, not a photo.
    if file.is_empty() || file.ends_with('/') {
        return Err(Skip::NoFile(key.to_string()));
    }
    // The user id becomes the face's ExternalImageId: [a-zA-Z0-9_.\-:]+.
    if !user.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-:".contains(&b)) {
        return Err(Skip::BadUser(user.to_string()));
    }
    Ok(user)
}

/// A name for the execution of one event: the same for a redelivered event, different for
/// another upload (even of the same key), within Step Functions' rules (≤ 80 characters
/// of letters, digits, `-` and `_`).
pub fn execution_name(user_id: &str, bucket: &str, key: &str, version: &str) -> String {
    let mut hash = Sha256::new();
    for part in [bucket, key, version] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let digest = hex::encode(hash.finalize());
    let user: String = user_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(40)
        .collect();
    let name = format!("upload-{user}-{}", &digest[..32]);
    name.chars().take(MAX_EXECUTION_NAME).collect()
}

/// What one record asks for: an upload to start, or why it is skipped.
pub fn upload_of(record: &S3EventRecord) -> Result<Upload, Skip> {
    if !record.event_name.starts_with("ObjectCreated:") {
        return Err(Skip::NotCreated(record.event_name.clone()));
    }
    let encoded = &record.s3.object.key;
    let key = decode_s3_key(encoded).map_err(|e| Skip::Undecodable(encoded.clone(), e.to_string()))?;
    let user_id = user_of_key(&key)?.to_string();
    let object = &record.s3.object;
    let version = object.sequencer.as_deref().or(object.e_tag.as_deref()).unwrap_or_default();
    let bucket = record.s3.bucket.name.clone();
    let execution_name = execution_name(&user_id, &bucket, &key, version);
    Ok(Upload { user_id, bucket, key, execution_name })
}

/// Starts one execution per upload in the event; returns what was started and skipped.
pub async fn handle(client: &Client, lookup: Lookup<'_>, event: S3Event) -> Result<Value, TriggerError> {
    let state_machine = env::required(lookup, "STATE_MACHINE_ARN")?;
    let mut started = Vec::new();
    let mut skipped = Vec::new();
    for record in &event.records {
        let upload = match upload_of(record) {
            Ok(upload) => upload,
            Err(skip) => {
                tracing::info!("skipped: {skip}");
                skipped.push(json!({"key": record.s3.object.key, "reason": skip.to_string()}));
                continue;
            }
        };
        let request = client
            .start_execution()
            .state_machine_arn(&state_machine)
            .name(&upload.execution_name)
            .input(upload.input())
            .send()
            .await;
        let arn = match request {
            Ok(output) => output.execution_arn().to_string(),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_already_exists()) => {
                tracing::info!("{} was started before (a repeated event)", upload.execution_name);
                format!("{}:{}", state_machine.replacen(":stateMachine:", ":execution:", 1), upload.execution_name)
            }
            Err(e) => return Err(AwsError::from_sdk("StartExecution", &e).into()),
        };
        tracing::info!("started {arn} for s3://{}/{}", upload.bucket, upload.key);
        started.push(json!({"executionArn": arn, "userId": upload.user_id, "s3Key": upload.key}));
    }
    Ok(json!({"started": started, "skipped": skipped}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wildrydes_lambda_shared::s3_event::{S3Bucket, S3Entity, S3Object};

    fn record(key: &str) -> S3EventRecord {
        S3EventRecord {
            event_name: "ObjectCreated:Put".into(),
            s3: S3Entity {
                bucket: S3Bucket { name: "photos".into(), arn: None },
                object: S3Object {
                    key: key.into(),
                    size: Some(1),
                    e_tag: Some("etag".into()),
                    sequencer: Some("0055AED6DCD90281E5".into()),
                },
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn an_upload_key_names_the_user_and_keeps_the_key_as_stored() {
        let upload = upload_of(&record("uploads/user_a/selfie.jpg")).unwrap();
        assert_eq!(upload.user_id, "user_a");
        assert_eq!(upload.key, "uploads/user_a/selfie.jpg");
        assert_eq!(upload.bucket, "photos");
        let input: Value = serde_json::from_str(&upload.input()).unwrap();
        assert_eq!(input, json!({"userId": "user_a", "s3Bucket": "photos", "s3Key": "uploads/user_a/selfie.jpg"}));
    }

    #[test]
    fn url_encoded_keys_are_decoded_plus_as_space_and_unicode() {
        let upload = upload_of(&record("uploads/user_a/my+selfie%C3%A9.jpg")).unwrap();
        assert_eq!(upload.key, "uploads/user_a/my selfieé.jpg");
        let plus = upload_of(&record("uploads/user_a/a%2Bb.jpg")).unwrap();
        assert_eq!(plus.key, "uploads/user_a/a+b.jpg", "an encoded plus is a plus");
        let user = upload_of(&record("uploads/user%3Ab/x.jpg")).unwrap();
        assert_eq!(user.user_id, "user:b");
    }

    #[test]
    fn nested_folders_belong_to_the_first_folders_user() {
        let upload = upload_of(&record("uploads/user_a/2026/12/selfie.jpg")).unwrap();
        assert_eq!(upload.user_id, "user_a");
        assert_eq!(upload.key, "uploads/user_a/2026/12/selfie.jpg");
    }

    #[test]
    fn keys_that_name_no_upload_are_skipped_with_the_reason() {
        assert!(matches!(upload_of(&record("selfie.jpg")), Err(Skip::NotAnUpload(_))));
        assert!(matches!(upload_of(&record("photos/uploads/u/x.jpg")), Err(Skip::NotAnUpload(_))));
        assert!(matches!(upload_of(&record("uploads/selfie.jpg")), Err(Skip::NoUser(_))));
        assert!(matches!(upload_of(&record("uploads//selfie.jpg")), Err(Skip::NoUser(_))));
        assert!(matches!(upload_of(&record("uploads/user_a/")), Err(Skip::NoFile(_))));
        assert!(matches!(upload_of(&record("uploads/user+a/x.jpg")), Err(Skip::BadUser(u)) if u == "user a"));
        assert!(matches!(upload_of(&record("uploads/u/bad%FF.jpg")), Err(Skip::Undecodable(..))));
        let mut removed = record("uploads/user_a/x.jpg");
        removed.event_name = "ObjectRemoved:Delete".into();
        assert!(matches!(upload_of(&removed), Err(Skip::NotCreated(_))));
        let reason = upload_of(&record("uploads/selfie.jpg")).unwrap_err().to_string();
        assert!(reason.contains("uploads/<userId>/<file>"), "{reason}");
    }

    #[test]
    fn execution_names_repeat_for_a_redelivered_event_only() {
        let a = upload_of(&record("uploads/user_a/selfie.jpg")).unwrap().execution_name;
        assert_eq!(a, upload_of(&record("uploads/user_a/selfie.jpg")).unwrap().execution_name);
        let mut again = record("uploads/user_a/selfie.jpg");
        again.s3.object.sequencer = Some("0055AED6DCD90281E6".into());
        assert_ne!(a, upload_of(&again).unwrap().execution_name, "a new upload of the same key runs again");
        assert_ne!(a, upload_of(&record("uploads/user_a/other.jpg")).unwrap().execution_name);
    }

    #[test]
    fn execution_names_follow_step_functions_rules() {
        let long_user = "u".repeat(200);
        for name in [
            execution_name("user:with.dots", "b", "k", "v"),
            execution_name(&long_user, "b", "k", ""),
            execution_name("é", "b", "uploads/é/ü.jpg", "1"),
        ] {
            assert!(!name.is_empty() && name.len() <= 80, "{name}");
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{name}");
        }
    }
}

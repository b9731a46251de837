//! PhotoDoesNotMeetRequirement: tells the rider why their photo was refused. The message is
//! made from `errorInfo` (`{"Error": …, "Cause": "<the failed function's error as JSON
//! text>"}`), naming the user and the photo. With `NOTIFICATION_FROM` and `NOTIFICATION_TO`
//! set it is sent through SES v2 (the workshop's extra credit); either way it is returned:
//! `{"message": …, "messageId": … or null, "delivery": …}`.
//!
//! This is the error path, so a malformed state still produces a message rather than a
//! second failure.

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use lambda_runtime::Diagnostic;
use serde_json::{Value, json};
use thiserror::Error;
use wildrydes_lambda_shared::env::{self, Lookup};
use wildrydes_lambda_shared::error::{FACE_ALREADY_EXISTS, PHOTO_DOES_NOT_MEET_REQUIREMENT};
use wildrydes_lambda_shared::{AwsError, decode_s3_key};

pub const SUBJECT: &str = "Your Wild Rydes rider photo could not be used";

#[derive(Debug, Error)]
pub enum NotificationError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("the email could not be built: {0}")]
    Build(String),
}

impl From<NotificationError> for Diagnostic {
    fn from(error: NotificationError) -> Self {
        match error {
            NotificationError::Aws(e) => e.into(),
            e @ NotificationError::Build(_) => {
                Diagnostic { error_type: "NotificationError".into(), error_message: e.to_string() }
            }
        }
    }
}

/// Why the workflow failed, read leniently out of `errorInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error type: `errorInfo.Error`, else the Cause's `errorType`.
    pub error: Option<String>,
    /// The Cause's `errorMessage`, else the Cause's raw text.
    pub reason: Option<String>,
}

impl Failure {
    pub fn from_error_info(error_info: Option<&Value>) -> Self {
        let text =
            |v: Option<&Value>| v.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let error = text(error_info.and_then(|e| e.get("Error")));
        let cause = error_info.and_then(|e| e.get("Cause"));
        // Step Functions gives the Cause as JSON text; accept an already-parsed object too.
        let parsed = match cause {
            Some(Value::String(s)) => serde_json::from_str::<Value>(s).ok().filter(Value::is_object),
            Some(v @ Value::Object(_)) => Some(v.clone()),
            _ => None,
        };
        let reason = text(parsed.as_ref().and_then(|c| c.get("errorMessage"))).or_else(|| text(cause));
        let error = error.or_else(|| text(parsed.as_ref().and_then(|c| c.get("errorType"))));
        Self { error, reason }
    }
}

/// The rider-facing message for this state.
pub fn format_message(state: &Value) -> String {
    let user = state.get("userId").and_then(Value::as_str).filter(|u| !u.trim().is_empty()).unwrap_or("rider");
    let photo = match state.get("s3Key").and_then(Value::as_str) {
        Some(key) => {
            let key = decode_s3_key(key).unwrap_or_else(|_| key.to_owned());
            match state.get("s3Bucket").and_then(Value::as_str) {
                Some(bucket) => format!("the photo you uploaded (s3://{bucket}/{key})"),
                None => format!("the photo you uploaded ({key})"),
            }
        }
        None => "the photo you uploaded".to_owned(),
    };
    let failure = Failure::from_error_info(state.get("errorInfo"));
    let reason = failure.reason.as_deref().map(sentence);
    match (failure.error.as_deref(), reason) {
        (Some(PHOTO_DOES_NOT_MEET_REQUIREMENT), Some(reason)) => format!(
            "Hello {user}, {photo} does not meet the requirements for a rider photo: {reason} \
             Please upload a photo that shows only your face, without sunglasses."
        ),
        (Some(FACE_ALREADY_EXISTS), Some(reason)) => format!(
            "Hello {user}, {photo} could not be used: {reason} \
             A rider account with this face already exists; if it is yours, please sign in to it."
        ),
        (Some(error), Some(reason)) => {
            format!("Hello {user}, {photo} could not be processed ({error}): {reason} Please upload another photo.")
        }
        (Some(error), None) => {
            format!("Hello {user}, {photo} could not be processed ({error}). Please upload another photo.")
        }
        (None, Some(reason)) => {
            format!("Hello {user}, {photo} could not be processed: {reason} Please upload another photo.")
        }
        (None, None) => {
            format!("Hello {user}, {photo} could not be processed for an unknown reason. Please upload another photo.")
        }
    }
}

/// Ends the text as a sentence, so the message reads on ("…sunglasses." not "…sunglasses").
fn sentence(text: &str) -> String {
    if text.ends_with(['.', '!', '?']) { text.to_owned() } else { format!("{text}.") }
}

/// Where the message goes: both variables set, or a note of what is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Email { from: String, to: Vec<String> },
    NotConfigured { missing: Vec<&'static str> },
}

impl Delivery {
    pub fn from_env(lookup: Lookup<'_>) -> Self {
        let from = env::optional(lookup, "NOTIFICATION_FROM");
        // Several recipients may be given, separated by commas.
        let to: Vec<String> = env::optional(lookup, "NOTIFICATION_TO")
            .map(|to| to.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        match (from, to.is_empty()) {
            (Some(from), false) => Delivery::Email { from, to },
            (from, no_to) => {
                let mut missing = Vec::new();
                if from.is_none() {
                    missing.push("NOTIFICATION_FROM");
                }
                if no_to {
                    missing.push("NOTIFICATION_TO");
                }
                Delivery::NotConfigured { missing }
            }
        }
    }
}

/// The Lambda handler: the event is the execution's state, `lookup` the environment.
pub async fn handle(client: &Client, lookup: Lookup<'_>, event: Value) -> Result<Value, NotificationError> {
    let message = format_message(&event);
    tracing::info!(%message, "notifying the rider");
    match Delivery::from_env(lookup) {
        Delivery::Email { from, to } => {
            let message_id = send_email(client, &from, &to, &message).await?;
            Ok(json!({"message": message, "messageId": message_id, "delivery": format!("sent to {}", to.join(", "))}))
        }
        Delivery::NotConfigured { missing } => {
            let delivery = format!("not sent: {} not set, message formatted only", missing.join(" and "));
            Ok(json!({"message": message, "messageId": Value::Null, "delivery": delivery}))
        }
    }
}

async fn send_email(
    client: &Client,
    from: &str,
    to: &[String],
    text: &str,
) -> Result<Option<String>, NotificationError> {
    let content = |data: &str| {
        Content::builder().data(data).charset("UTF-8").build().map_err(|e| NotificationError::Build(e.to_string()))
    };
    let message =
        Message::builder().subject(content(SUBJECT)?).body(Body::builder().text(content(text)?).build()).build();
    let output = client
        .send_email()
        .from_email_address(from)
        .destination(Destination::builder().set_to_addresses(Some(to.to_vec())).build())
        .content(EmailContent::builder().simple(message).build())
        .send()
        .await
        .map_err(|err| AwsError::from_sdk("SendEmail", &err))?;
    Ok(output.message_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(error_info: Value) -> Value {
        json!({"userId": "user_a", "s3Bucket": "rider-photos", "s3Key": "rider-selfie.jpg", "errorInfo": error_info})
    }

    fn lambda_error(error_type: &str, message: &str) -> Value {
        let cause = json!({"errorType": error_type, "errorMessage": message}).to_string();
        json!({"Error": error_type, "Cause": cause})
    }

    #[test]
    fn sunglasses_message_names_user_photo_and_reason() {
        let message =
            format_message(&state(lambda_error("PhotoDoesNotMeetRequirementError", "Face is wearing sunglasses")));
        assert_eq!(
            message,
            "Hello user_a, the photo you uploaded (s3://rider-photos/rider-selfie.jpg) does not meet the \
             requirements for a rider photo: Face is wearing sunglasses. Please upload a photo that shows only your \
             face, without sunglasses."
        );
    }

    #[test]
    fn face_count_message_keeps_the_workshop_wording() {
        let message =
            format_message(&state(lambda_error("PhotoDoesNotMeetRequirementError", "Detected 3 faces in the photo.")));
        assert!(message.contains(": Detected 3 faces in the photo. Please upload"), "{message}");
    }

    #[test]
    fn unsupported_format_message() {
        let message = format_message(&state(lambda_error(
            "PhotoDoesNotMeetRequirementError",
            "Unsupported image file format. Only JPEG or PNG is supported",
        )));
        assert!(message.contains("Only JPEG or PNG is supported. Please upload"), "{message}");
    }

    #[test]
    fn duplicate_face_message() {
        let message = format_message(&state(lambda_error(
            "FaceAlreadyExistsError",
            "Face in the picture is already in the system.",
        )));
        assert!(message.starts_with("Hello user_a, the photo you uploaded (s3://rider-photos/rider-selfie.jpg)"));
        assert!(message.contains("could not be used: Face in the picture is already in the system."), "{message}");
        assert!(message.contains("already exists"), "{message}");
    }

    #[test]
    fn other_error_names_its_type() {
        let message = format_message(&state(lambda_error("States.Timeout", "Task timed out after 3.00 seconds")));
        assert!(
            message.contains("could not be processed (States.Timeout): Task timed out after 3.00 seconds."),
            "{message}"
        );
    }

    #[test]
    fn cause_that_is_not_json_is_used_as_text() {
        let message = format_message(&state(json!({"Error": "Lambda.Unknown", "Cause": "The function crashed"})));
        assert!(message.contains("(Lambda.Unknown): The function crashed. Please"), "{message}");
    }

    #[test]
    fn cause_json_without_error_message_is_used_as_text() {
        let failure = Failure::from_error_info(Some(&json!({"Error": "X", "Cause": "{\"trace\": []}"})));
        assert_eq!(failure, Failure { error: Some("X".into()), reason: Some("{\"trace\": []}".into()) });
    }

    #[test]
    fn error_type_comes_from_the_cause_when_error_is_missing() {
        let cause = json!({"errorType": "FaceAlreadyExistsError", "errorMessage": "dup"}).to_string();
        let failure = Failure::from_error_info(Some(&json!({"Cause": cause})));
        assert_eq!(failure, Failure { error: Some("FaceAlreadyExistsError".into()), reason: Some("dup".into()) });
    }

    #[test]
    fn missing_error_info_still_gives_a_message() {
        let message = format_message(&json!({"userId": "user_b", "s3Bucket": "b", "s3Key": "k.jpg"}));
        assert_eq!(
            message,
            "Hello user_b, the photo you uploaded (s3://b/k.jpg) could not be processed for an unknown reason. \
             Please upload another photo."
        );
    }

    #[test]
    fn malformed_state_still_gives_a_message() {
        let message = format_message(&json!({"errorInfo": "not an object", "s3Key": 7}));
        assert_eq!(
            message,
            "Hello rider, the photo you uploaded could not be processed for an unknown reason. Please upload another photo."
        );
        let message = format_message(&json!([1, 2]));
        assert!(message.starts_with("Hello rider"), "{message}");
    }

    #[test]
    fn url_encoded_key_is_shown_decoded() {
        let mut s = state(lambda_error("PhotoDoesNotMeetRequirementError", "Detected 0 faces in the photo."));
        s["s3Key"] = json!("my+photo.jpg");
        assert!(format_message(&s).contains("(s3://rider-photos/my photo.jpg)"));
    }

    #[test]
    fn delivery_needs_both_addresses() {
        let both = |name: &str| match name {
            "NOTIFICATION_FROM" => Some("noreply@wildrydes.example".to_owned()),
            "NOTIFICATION_TO" => Some("ops@wildrydes.example, rider@example.com".to_owned()),
            _ => None,
        };
        assert_eq!(
            Delivery::from_env(&both),
            Delivery::Email {
                from: "noreply@wildrydes.example".into(),
                to: vec!["ops@wildrydes.example".into(), "rider@example.com".into()]
            }
        );
        let only_from = |name: &str| (name == "NOTIFICATION_FROM").then(|| "a@b.example".to_owned());
        assert_eq!(Delivery::from_env(&only_from), Delivery::NotConfigured { missing: vec!["NOTIFICATION_TO"] });
        assert_eq!(
            Delivery::from_env(&|_| None),
            Delivery::NotConfigured { missing: vec!["NOTIFICATION_FROM", "NOTIFICATION_TO"] }
        );
    }

    #[tokio::test]
    async fn without_addresses_the_result_says_the_message_was_only_formatted() {
        let config = aws_sdk_sesv2::Config::builder()
            .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
            .region(aws_sdk_sesv2::config::Region::new("us-east-1"))
            .build();
        let event = state(lambda_error("PhotoDoesNotMeetRequirementError", "Detected 0 faces in the photo."));
        let result = handle(&Client::from_conf(config), &|_| None, event.clone()).await.unwrap();
        assert_eq!(result["message"], json!(format_message(&event)));
        assert_eq!(result["messageId"], Value::Null);
        assert_eq!(
            result["delivery"],
            json!("not sent: NOTIFICATION_FROM and NOTIFICATION_TO not set, message formatted only")
        );
    }
}

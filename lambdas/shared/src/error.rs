//! The errors the functions report. Each becomes a [`Diagnostic`] whose `errorType` is what
//! Step Functions matches in `Catch.ErrorEquals`, so these strings are part of the contract
//! with the state machines in `statemachine/`.

use std::error::Error as StdError;
use std::fmt::Debug;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use lambda_runtime::Diagnostic;
use thiserror::Error;

/// The `errorType` the state machines catch when a photo is unusable.
pub const PHOTO_DOES_NOT_MEET_REQUIREMENT: &str = "PhotoDoesNotMeetRequirementError";
/// The `errorType` the state machines catch when the face is already in the collection.
pub const FACE_ALREADY_EXISTS: &str = "FaceAlreadyExistsError";
/// The `errorType` of an event that lacks what the function needs.
pub const INVALID_INPUT: &str = "InvalidInputError";
/// The `errorType` of a function whose environment is incomplete or wrong.
pub const CONFIGURATION: &str = "ConfigurationError";

fn diagnostic(error_type: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic { error_type: error_type.to_owned(), error_message: message.into() }
}

/// The photo cannot be a rider photo: not exactly one face, sunglasses, bad format or size.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct PhotoDoesNotMeetRequirementError {
    pub message: String,
}

impl PhotoDoesNotMeetRequirementError {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

impl From<PhotoDoesNotMeetRequirementError> for Diagnostic {
    fn from(error: PhotoDoesNotMeetRequirementError) -> Self {
        diagnostic(PHOTO_DOES_NOT_MEET_REQUIREMENT, error.message)
    }
}

/// The face in the photo already belongs to a rider in the collection.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct FaceAlreadyExistsError {
    pub message: String,
}

impl Default for FaceAlreadyExistsError {
    /// The workshop's wording.
    fn default() -> Self {
        Self { message: "Face in the picture is already in the system.".into() }
    }
}

impl From<FaceAlreadyExistsError> for Diagnostic {
    fn from(error: FaceAlreadyExistsError) -> Self {
        diagnostic(FACE_ALREADY_EXISTS, error.message)
    }
}

/// The event lacks a field the function needs, or the field is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct InputError {
    pub message: String,
}

impl InputError {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

impl From<InputError> for Diagnostic {
    fn from(error: InputError) -> Self {
        diagnostic(INVALID_INPUT, error.message)
    }
}

/// An environment variable the function needs is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {variable} is {value:?}: {expected}")]
    Invalid { variable: &'static str, value: String, expected: &'static str },
}

impl From<ConfigError> for Diagnostic {
    fn from(error: ConfigError) -> Self {
        diagnostic(CONFIGURATION, error.to_string())
    }
}

/// An AWS call that failed. Its `errorType` is AWS's own error code (as the workshop's
/// Node.js functions report it), and its message is AWS's message, so what the caller sees
/// is what the service said.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{operation}: {code}: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub code: String,
    pub message: String,
}

impl AwsError {
    /// Keeps the service's code and message; a failure that never reached the service (no
    /// connection, timeout) gets a code of its own and the SDK's full error chain.
    pub fn from_sdk<E, R>(operation: &'static str, error: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
        R: Debug,
    {
        let (code, message) = match error {
            SdkError::ServiceError(service) => {
                let err = service.err();
                (
                    err.code().unwrap_or("UnknownServiceError").to_owned(),
                    err.message().map(str::to_owned).unwrap_or_else(|| DisplayErrorContext(err).to_string()),
                )
            }
            SdkError::TimeoutError(_) => ("SdkTimeoutError".to_owned(), DisplayErrorContext(error).to_string()),
            SdkError::DispatchFailure(_) => ("SdkDispatchFailure".to_owned(), DisplayErrorContext(error).to_string()),
            SdkError::ResponseError(_) => ("SdkResponseError".to_owned(), DisplayErrorContext(error).to_string()),
            _ => ("SdkError".to_owned(), DisplayErrorContext(error).to_string()),
        };
        Self { operation, code, message }
    }
}

impl From<AwsError> for Diagnostic {
    fn from(error: AwsError) -> Self {
        // The operation goes into the message only when the message is the SDK's (not the
        // service's), where it tells which call could not be made.
        let message = if error.code.starts_with("Sdk") {
            format!("{} could not complete: {}", error.operation, error.message)
        } else {
            error.message
        };
        Diagnostic { error_type: error.code, error_message: message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_errors_carry_the_error_types_the_state_machines_catch() {
        let d: Diagnostic = PhotoDoesNotMeetRequirementError::new("Detected 2 faces in the photo.").into();
        assert_eq!(d.error_type, "PhotoDoesNotMeetRequirementError");
        assert_eq!(d.error_message, "Detected 2 faces in the photo.");
        let d: Diagnostic = FaceAlreadyExistsError::default().into();
        assert_eq!(d.error_type, "FaceAlreadyExistsError");
        assert_eq!(d.error_message, "Face in the picture is already in the system.");
    }

    #[test]
    fn config_error_names_the_variable() {
        let d: Diagnostic = ConfigError::Missing("THUMBNAIL_BUCKET").into();
        assert_eq!(d.error_type, "ConfigurationError");
        assert!(d.error_message.contains("THUMBNAIL_BUCKET"));
    }

    #[test]
    fn service_error_keeps_aws_code_and_message() {
        let d: Diagnostic = AwsError {
            operation: "DetectFaces",
            code: "InvalidS3ObjectException".into(),
            message: "Unable to get object metadata from S3. Check object key, region and/or access permissions."
                .into(),
        }
        .into();
        assert_eq!(d.error_type, "InvalidS3ObjectException");
        assert!(d.error_message.starts_with("Unable to get object metadata"));
    }

    #[test]
    fn sdk_failure_names_the_operation() {
        let d: Diagnostic =
            AwsError { operation: "PutItem", code: "SdkDispatchFailure".into(), message: "connection refused".into() }
                .into();
        assert_eq!(d.error_type, "SdkDispatchFailure");
        assert_eq!(d.error_message, "PutItem could not complete: connection refused");
    }
}

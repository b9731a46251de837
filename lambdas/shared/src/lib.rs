//! Types and errors shared by the Lambda functions of the rider-photo workflow and the
//! upload trigger: the execution input, the results each state adds, the error types the
//! state machine catches, the S3 key decoding, S3's event message, reading the
//! environment, the SDK setup, and the conversion of Rekognition SDK types into the JSON
//! shapes AWS returns.
//!
//! Nothing here talks to the network by itself; the function crates hold the handlers.

pub mod aws;
pub mod env;
pub mod error;
pub mod input;
pub mod key;
pub mod rekognition;
pub mod s3_event;

pub use error::{AwsError, ConfigError, FaceAlreadyExistsError, InputError, PhotoDoesNotMeetRequirementError};
pub use input::{PhotoInput, ThumbnailLocation, ThumbnailResult};
pub use key::decode_s3_key;

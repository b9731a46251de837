//! The wire conventions shared by the local cloud's JSON services: the request they
//! receive after authentication, and AWS's error and response shapes for awsJson1_0,
//! awsJson1_1 and REST-JSON. (S3's REST-XML is the `s3s` framework's business.)

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use serde::Serialize;

use super::sigv4::CredentialScope;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Every response body the local cloud sends.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;
pub type Response = http::Response<Body>;

pub fn full_body(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

/// How a service frames its requests and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `X-Amz-Target: Prefix.Operation`, errors as `{"__type": …, "message": …}` (DynamoDB, Step Functions).
    AwsJson10,
    /// As 1.0 with content type `application/x-amz-json-1.1` (Rekognition).
    AwsJson11,
    /// Operations in method + path, errors with the `x-amzn-ErrorType` header (Lambda, SES v2).
    RestJson,
    /// S3.
    RestXml,
}

impl Protocol {
    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::AwsJson10 => "application/x-amz-json-1.0",
            Protocol::AwsJson11 => "application/x-amz-json-1.1",
            Protocol::RestJson => "application/json",
            Protocol::RestXml => "application/xml",
        }
    }
}

/// A request that passed authentication, with its body read in full.
#[derive(Debug)]
pub struct ApiRequest {
    pub method: Method,
    /// The path, percent-decoded.
    pub path: String,
    /// Query parameters, percent-decoded, in the order sent.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub scope: CredentialScope,
}

impl ApiRequest {
    /// The `X-Amz-Target` header as sent, `""` when there is none (for error messages).
    pub fn target(&self) -> &str {
        self.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The operation `X-Amz-Target: <prefix>.<Operation>` names: every awsJson service reads
    /// its operation here. `None` when the header is missing or names another prefix (the
    /// target of another service or API version).
    pub fn target_operation(&self, prefix: &str) -> Option<&str> {
        match self.target().split_once('.') {
            Some((p, operation)) if p == prefix => Some(operation),
            _ => None,
        }
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON; an empty body is `{}`, as AWS treats it.
    pub fn json_body<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &self.body };
        serde_json::from_slice(body).map_err(|e| {
            ApiError::serialization(format!(
                "Start of structure or map found where not expected, or the body is not valid JSON: {e}"
            ))
        })
    }
}

/// An error as AWS sends it: HTTP status, error code, message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Further members of a JSON error body (DynamoDB's ConditionalCheckFailedException
    /// carries the item); ignored by the other protocols.
    pub extra: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, code: code.into(), message: message.into(), extra: None }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::bad_request("ValidationException", message)
    }

    pub fn serialization(message: impl Into<String>) -> Self {
        Self::bad_request("SerializationException", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", message)
    }

    pub fn to_response(&self, protocol: Protocol) -> Response {
        let mut builder = http::Response::builder()
            .status(self.status)
            .header("x-amzn-requestid", request_id())
            .header(http::header::CONTENT_TYPE, protocol.content_type());
        let body = match protocol {
            Protocol::RestXml => {
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>",
                    xml_escape(&self.code),
                    xml_escape(&self.message)
                )
            }
            Protocol::AwsJson10 | Protocol::AwsJson11 => {
                let mut body = self.extra.as_deref().cloned().unwrap_or_default();
                body.insert("__type".into(), self.code.clone().into());
                body.insert("message".into(), self.message.clone().into());
                serde_json::Value::Object(body).to_string()
            }
            Protocol::RestJson => {
                builder = builder.header(
                    "x-amzn-errortype",
                    HeaderValue::from_str(&self.code).unwrap_or(HeaderValue::from_static("InternalFailure")),
                );
                serde_json::json!({ "message": self.message }).to_string()
            }
        };
        builder.body(full_body(body)).expect("static response parts are valid")
    }
}

impl From<super::storage::StorageError> for ApiError {
    fn from(e: super::storage::StorageError) -> Self {
        tracing::error!("storage error: {e}");
        ApiError::internal(format!("The local cloud could not access its data directory: {e}"))
    }
}

/// A successful JSON response.
pub fn json_response(protocol: Protocol, status: StatusCode, value: &impl Serialize) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    http::Response::builder()
        .status(status)
        .header("x-amzn-requestid", request_id())
        .header(http::header::CONTENT_TYPE, protocol.content_type())
        .body(full_body(body))
        .expect("static response parts are valid")
}

pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_target(target: Option<&str>) -> ApiRequest {
        let mut headers = HeaderMap::new();
        if let Some(t) = target {
            headers.insert("x-amz-target", HeaderValue::from_str(t).unwrap());
        }
        let scope = CredentialScope {
            access_key: "wildrydes".into(),
            date: "20261206".into(),
            region: "us-east-1".into(),
            service: "dynamodb".into(),
        };
        ApiRequest { method: Method::POST, path: "/".into(), query: Vec::new(), headers, body: Bytes::new(), scope }
    }

    #[test]
    fn the_operation_is_read_only_under_the_services_own_prefix() {
        let req = with_target(Some("DynamoDB_20120810.PutItem"));
        assert_eq!(req.target_operation("DynamoDB_20120810"), Some("PutItem"));
        assert_eq!(req.target_operation("DynamoDB_20111205"), None, "another API version");
        assert_eq!(req.target_operation("DynamoDB"), None, "a prefix of the prefix is not the prefix");
        assert_eq!(req.target(), "DynamoDB_20120810.PutItem");
    }

    #[test]
    fn a_missing_or_dotless_target_names_no_operation() {
        assert_eq!(with_target(None).target_operation("AWSStepFunctions"), None);
        assert_eq!(with_target(None).target(), "");
        assert_eq!(with_target(Some("AWSStepFunctions")).target_operation("AWSStepFunctions"), None);
    }

    #[test]
    fn everything_after_the_first_dot_is_the_operation() {
        let req = with_target(Some("RekognitionService.Detect.Faces"));
        assert_eq!(req.target_operation("RekognitionService"), Some("Detect.Faces"));
    }
}

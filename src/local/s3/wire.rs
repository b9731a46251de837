//! What s3s needs from the local cloud besides storage: the credentials it verifies
//! signatures against, who may do what, which hosts name buckets; and the last touches
//! on its responses (AWS's error messages where s3s leaves them out, a request id).

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use http_body_util::BodyExt;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::host::{S3Host, VirtualHost};
use s3s::{S3Result, s3_error};

use crate::local::protocol::{Response, full_body, request_id, xml_escape};
use crate::local::sigv4::Credentials;

/// The local cloud's one key pair. An unknown access key id is `InvalidAccessKeyId`;
/// a known one with the wrong secret fails in s3s's verifier as `SignatureDoesNotMatch`.
pub struct LocalAuth {
    access_key: String,
    secret_key: SecretKey,
}

impl LocalAuth {
    pub fn new(credentials: &Credentials) -> Self {
        Self { access_key: credentials.access_key.clone(), secret_key: SecretKey::from(credentials.secret_key.clone()) }
    }
}

#[async_trait::async_trait]
impl S3Auth for LocalAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if access_key == self.access_key {
            Ok(self.secret_key.clone())
        } else {
            Err(s3_error!(InvalidAccessKeyId, "The AWS Access Key Id you provided does not exist in our records."))
        }
    }
}

/// Every operation needs a valid signature: there are no public buckets here. (s3s's
/// default check does the same, with a message of its own rather than AWS's.)
pub struct SignedRequestsOnly;

#[async_trait::async_trait]
impl S3Access for SignedRequestsOnly {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        match cx.credentials() {
            Some(_) => Ok(()),
            None => Err(s3_error!(AccessDenied, "Access Denied")),
        }
    }
}

/// Virtual-host-style addressing on `<bucket>.localhost[:port]` (browsers and curl
/// resolve `*.localhost` to the loopback address); every other host — `127.0.0.1`,
/// `localhost`, a LAN name — is path-style, which is what our SDK clients use.
pub struct LocalHosts;

impl S3Host for LocalHosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        };
        match name.strip_suffix(".localhost") {
            Some(bucket) if !bucket.is_empty() => {
                let bucket = bucket.strip_suffix(".s3").unwrap_or(bucket);
                Ok(VirtualHost::new(host).with_bucket(bucket))
            }
            _ => Ok(VirtualHost::new(host)),
        }
    }
}

/// Turns s3s's response into the router's, filling in AWS's message for errors s3s
/// raises without one (SignatureDoesNotMatch, InvalidBucketName from path parsing …).
pub fn finish(response: s3s::HttpResponse) -> Response {
    let (mut parts, body) = response.into_parts();
    if !parts.headers.contains_key("x-amz-request-id")
        && let Ok(id) = HeaderValue::from_str(&request_id())
    {
        parts.headers.insert("x-amz-request-id", id);
    }
    if (parts.status.is_client_error() || parts.status.is_server_error())
        && let Some(bytes) = body.bytes()
        && let Some(filled) = with_default_message(&bytes)
    {
        parts.headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(filled.len()));
        return Response::from_parts(parts, full_body(filled));
    }
    Response::from_parts(parts, body.boxed_unsync())
}

pub fn internal_error(detail: &str) -> Response {
    tracing::error!("S3 request failed: {detail}");
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>{}</Message></Error>",
        xml_escape("We encountered an internal error. Please try again.")
    );
    http::Response::builder()
        .status(StatusCode::INTERNAL_SERVER_ERROR)
        .header(http::header::CONTENT_TYPE, "application/xml")
        .header("x-amz-request-id", request_id())
        .body(full_body(body))
        .unwrap_or_else(|_| http::Response::new(full_body(Bytes::new())))
}

fn with_default_message(body: &[u8]) -> Option<Bytes> {
    let text = std::str::from_utf8(body).ok()?;
    if text.contains("<Message>") {
        return None;
    }
    let start = text.find("<Code>")? + "<Code>".len();
    let end = start + text[start..].find("</Code>")?;
    let message = default_message(&text[start..end])?;
    let insert_at = end + "</Code>".len();
    Some(Bytes::from(format!("{}<Message>{}</Message>{}", &text[..insert_at], xml_escape(message), &text[insert_at..])))
}

/// AWS's wording for the errors s3s may raise on its own.
fn default_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "AccessDenied" => "Access Denied",
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        }
        "InvalidAccessKeyId" => "The AWS Access Key Id you provided does not exist in our records.",
        "InvalidBucketName" => "The specified bucket is not valid.",
        "NoSuchBucket" => "The specified bucket does not exist",
        "NoSuchKey" => "The specified key does not exist.",
        "KeyTooLongError" => "Your key is too long",
        "InvalidURI" => "Couldn't parse the specified URI.",
        "MalformedXML" => "The XML you provided was not well-formed or did not validate against our published schema",
        "MissingRequestBodyError" => "Request Body is empty",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "IncompleteBody" => "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        "RequestTimeTooSkewed" => "The difference between the request time and the current time is too large.",
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "NotImplemented" => "A header you provided implies functionality that is not implemented.",
        "InvalidRange" => "The requested range is not satisfiable",
        "PreconditionFailed" => "At least one of the pre-conditions you specified did not hold",
        "InvalidArgument" => "Invalid Argument",
        "InvalidRequest" => "Invalid Request",
        "InternalError" => "We encountered an internal error. Please try again.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_in_a_missing_message() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code></Error>";
        let filled = with_default_message(body).unwrap();
        let text = std::str::from_utf8(&filled).unwrap();
        assert!(text.contains("<Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated"));
    }

    #[test]
    fn keeps_a_message_that_is_there() {
        let body = b"<Error><Code>NoSuchKey</Code><Message>mine</Message></Error>";
        assert!(with_default_message(body).is_none());
    }

    #[test]
    fn bucket_subdomains_of_localhost_are_virtual_hosts() {
        let hosts = LocalHosts;
        assert_eq!(hosts.parse_host_header("photos.localhost:4566").unwrap().bucket(), Some("photos"));
        assert_eq!(hosts.parse_host_header("photos.s3.localhost").unwrap().bucket(), Some("photos"));
        assert_eq!(hosts.parse_host_header("localhost:4566").unwrap().bucket(), None);
        assert_eq!(hosts.parse_host_header("my-laptop.lan:4566").unwrap().bucket(), None);
    }
}

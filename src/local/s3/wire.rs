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
///
/// Header checks apply to every operation before it runs, so that what the local cloud
/// does not implement is refused rather than ignored: server-side encryption with customer
/// keys (SSE-C: an object "encrypted" with a key must not come back without it), website
/// redirects, and Object Lock (no bucket has it, so a write naming a retention or legal
/// hold is refused as AWS refuses it on such a bucket). An empty Content-MD5, which s3s
/// would treat as absent, is an invalid digest as on AWS.
pub struct SignedRequestsOnly;

#[async_trait::async_trait]
impl S3Access for SignedRequestsOnly {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_none() {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        let headers = cx.headers();
        if headers.keys().any(|name| is_sse_c(name.as_str())) {
            return Err(s3_error!(
                NotImplemented,
                "Server-side encryption with customer-provided keys (SSE-C) is not implemented by the local cloud."
            ));
        }
        if headers.contains_key("x-amz-website-redirect-location") {
            return Err(s3_error!(
                NotImplemented,
                "Website redirects (x-amz-website-redirect-location) are not implemented by the local cloud."
            ));
        }
        if headers.get("x-amz-bucket-object-lock-enabled").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true")) {
            return Err(s3_error!(NotImplemented, "Object Lock is not implemented by the local cloud."));
        }
        if headers.keys().any(|name| name.as_str().starts_with("x-amz-object-lock-")) {
            return Err(s3_error!(InvalidRequest, "Bucket is missing Object Lock Configuration"));
        }
        if headers.get("content-md5").is_some_and(|v| v.as_bytes().trim_ascii().is_empty()) {
            return Err(s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."));
        }
        Ok(())
    }
}

fn is_sse_c(header: &str) -> bool {
    header.starts_with("x-amz-server-side-encryption-customer-")
        || header.starts_with("x-amz-copy-source-server-side-encryption-customer-")
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

/// SigV4 takes the signing time from X-Amz-Date or, without it, from Date (botocore
/// signs with Date when the caller sets one). s3s reads only X-Amz-Date, so a header-signed
/// request with Date alone gets the same time as X-Amz-Date. The signature is unaffected:
/// only the headers named in SignedHeaders enter the canonical request.
pub fn date_as_signing_time(headers: &mut http::HeaderMap) {
    let header_signed = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256"));
    if !header_signed || headers.contains_key("x-amz-date") {
        return;
    }
    let amz_date = headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::local::sigv4::amz_date_of_http_date)
        .and_then(|d| HeaderValue::from_str(&d).ok());
    if let Some(amz_date) = amz_date {
        headers.insert("x-amz-date", amz_date);
    }
}

/// Turns s3s's response into the router's, filling in AWS's message for errors s3s
/// raises without one (SignatureDoesNotMatch, InvalidBucketName from path parsing …).
pub fn finish(response: s3s::HttpResponse) -> Response {
    let (mut parts, body) = response.into_parts();
    let id = match parts.headers.get("x-amz-request-id").and_then(|v| v.to_str().ok()) {
        Some(id) => id.to_string(),
        None => {
            let id = request_id();
            if let Ok(value) = HeaderValue::from_str(&id) {
                parts.headers.insert("x-amz-request-id", value);
            }
            id
        }
    };
    if (parts.status.is_client_error() || parts.status.is_server_error())
        && let Some(bytes) = body.bytes()
        && let Some(filled) = completed_error(&bytes, &id)
    {
        parts.headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(filled.len()));
        return Response::from_parts(parts, full_body(filled));
    }
    Response::from_parts(parts, body.boxed_unsync())
}

/// An error body as AWS writes it: with AWS's message where s3s left it out, and the
/// request's id in `<RequestId>` (the same as the x-amz-request-id header). `None` when
/// the body is not an error document or needs nothing.
fn completed_error(body: &[u8], request_id: &str) -> Option<Bytes> {
    let with_message = with_default_message(body);
    let text = std::str::from_utf8(with_message.as_deref().unwrap_or(body)).ok()?;
    if text.contains("<RequestId>") {
        return with_message;
    }
    let Some(end) = text.rfind("</Error>") else { return with_message };
    Some(Bytes::from(format!("{}<RequestId>{}</RequestId>{}", &text[..end], xml_escape(request_id), &text[end..])))
}

pub fn internal_error(detail: &str) -> Response {
    tracing::error!("S3 request failed: {detail}");
    let id = request_id();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
        xml_escape("We encountered an internal error. Please try again."),
        xml_escape(&id)
    );
    http::Response::builder()
        .status(StatusCode::INTERNAL_SERVER_ERROR)
        .header(http::header::CONTENT_TYPE, "application/xml")
        .header("x-amz-request-id", id)
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
    fn error_bodies_name_the_request_id() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>m</Message></Error>";
        let filled = completed_error(body, "ABC123").unwrap();
        assert!(
            std::str::from_utf8(&filled)
                .unwrap()
                .ends_with("<Message>m</Message><RequestId>ABC123</RequestId></Error>")
        );
        let bare = b"<Error><Code>AccessDenied</Code></Error>";
        let filled = String::from_utf8(completed_error(bare, "X").unwrap().to_vec()).unwrap();
        assert_eq!(
            filled,
            "<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>X</RequestId></Error>"
        );
        assert!(completed_error(b"not xml", "X").is_none());
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

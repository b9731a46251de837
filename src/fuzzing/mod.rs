//! Hostile-input entry points: each takes arbitrary bytes, feeds them to one of the parsers
//! or decoders a user or the network reaches, and checks what must hold whatever the bytes
//! (no panic, a clean error or result, the interpreter's history well formed, a snapshot that
//! reloads). A broken promise panics, so both drivers see it the same way:
//!
//! - `cargo fuzz` targets in `tests/fuzz/` (coverage-guided, long runs), and
//! - [`mutate`], a seeded, bounded mutation run of seed corpora that the test suite runs
//!   (`tests/hostile.rs`) under `catch_unwind`.
//!
//! Built only with the `fuzzing` cargo feature (the tests and `tests/fuzz` turn it on), so
//! the product carries none of it. No logic is written twice: the drivers only pick bytes.
//! Resource use is bounded by the entries themselves (step budgets) and by the limits of
//! the code under test.
//!
//! May touch: the pure parsers of `local` (ASL, DynamoDB expressions, image decode), Lambda
//! code unpacking and the S3 service through its HTTP handler, on throwaway directories.

mod asl;
mod dynamodb;
mod image;
pub mod mutate;
mod s3;
mod zip;

pub use asl::{asl_data, asl_definition};
pub use dynamodb::dynamodb_expression;
pub use image::rekognition_image;
pub use s3::s3_xml;
pub use zip::lambda_zip;

use crate::local::sigv4::Credentials;

/// What an entry made of its bytes: a value the code accepted, or a clean refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Refused,
}

impl<T, E> From<&Result<T, E>> for Outcome {
    fn from(r: &Result<T, E>) -> Self {
        if r.is_ok() { Outcome::Accepted } else { Outcome::Refused }
    }
}

/// Text of the bytes as a service would see it after UTF-8 decoding: invalid sequences are
/// replaced, so every mutation still reaches the parser.
fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Splits `data` at the first NUL byte: the part before, and the part after (if any).
fn split_nul(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    }
}

/// Signs `req` with SigV4 (the SDK's own signer, the payload hash in
/// `x-amz-content-sha256`), so hostile bodies pass authentication and reach the parsers.
/// `req`'s URI is its path and query; its `host` header must be set.
pub fn sign(req: &mut http::Request<bytes::Bytes>, service: &str, region: &str, credentials: &Credentials) {
    use aws_sigv4::http_request::{PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign};
    let identity =
        aws_credential_types::Credentials::new(&credentials.access_key, &credentials.secret_key, None, None, "fuzzing")
            .into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    if service == "s3" {
        // S3 signs the path as sent: encoded once, `..` and `//` left alone.
        settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(std::time::SystemTime::now())
        .settings(settings)
        .build()
        .expect("complete signing parameters")
        .into();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let host = headers.iter().find(|(k, _)| k == "host").map_or("localhost", |(_, v)| v.as_str());
    let url = format!("http://{host}{}", req.uri());
    let signable = SignableRequest::new(
        req.method().as_str(),
        &url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(req.body()),
    )
    .expect("a signable request");
    let (instructions, _) = sign(signable, &params).expect("the request signs").into_parts();
    instructions.apply_to_request_http1x(req);
}

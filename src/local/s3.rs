//! S3 (REST-XML). Placeholder until the S3 service lands: every request is refused.

use http::{Request, StatusCode};
use hyper::body::Incoming;

use super::protocol::{ApiError, Protocol, Response};
use super::sigv4::Credentials;
use super::storage::Store;

pub struct S3 {
    _store: Store,
}

impl S3 {
    pub fn new(store: Store, _credentials: &Credentials) -> Result<Self, String> {
        Ok(Self { _store: store })
    }

    pub async fn handle(&self, _req: Request<Incoming>) -> Response {
        ApiError::new(StatusCode::NOT_IMPLEMENTED, "NotImplemented", "S3 is not available yet.")
            .to_response(Protocol::RestXml)
    }
}

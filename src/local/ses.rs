//! SES v2 (REST-JSON). Placeholder until the SES service lands.

use super::protocol::{ApiError, ApiRequest, Response};
use super::storage::{StorageError, Store};

pub struct Ses {
    _store: Store,
}

impl Ses {
    pub fn new(store: Store) -> Result<Self, StorageError> {
        Ok(Self { _store: store })
    }

    pub async fn handle(&self, req: ApiRequest) -> Result<Response, ApiError> {
        Err(ApiError::bad_request("NotFoundException", format!("{} is not available yet.", req.path)))
    }

    pub async fn outbox_response(&self) -> Result<Response, ApiError> {
        Err(ApiError::bad_request("NotFoundException", "The outbox is not available yet."))
    }
}

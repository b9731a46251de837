//! DynamoDB (awsJson1_0). Placeholder until the DynamoDB service lands.

use super::protocol::{ApiError, ApiRequest, Response};
use super::storage::{StorageError, Store};

pub struct DynamoDb {
    _store: Store,
}

impl DynamoDb {
    pub fn new(store: Store) -> Result<Self, StorageError> {
        Ok(Self { _store: store })
    }

    pub async fn handle(&self, req: ApiRequest) -> Result<Response, ApiError> {
        Err(ApiError::bad_request(
            "UnknownOperationException",
            format!("{:?} is not available yet.", req.target_operation()),
        ))
    }
}

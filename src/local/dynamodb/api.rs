//! DynamoDB's operations: the awsJson1_0 `X-Amz-Target` names the operation, and each
//! goes to its room (`tables`, `items`, `query`).

use http::StatusCode;

use super::{DynamoDb, items, query, tables};
use crate::local::protocol::{ApiError, ApiRequest, Protocol, Response, json_response};

const TARGET_PREFIX: &str = "DynamoDB_20120810";

impl DynamoDb {
    pub async fn handle(&self, req: ApiRequest) -> Result<Response, ApiError> {
        let target = req.target().to_string();
        let op = req.target_operation(TARGET_PREFIX).unwrap_or_default().to_string();
        let region = req.scope.region.clone();
        let out = match op.as_str() {
            "CreateTable" => tables::create_table(self, req.json_body()?, &region).await?,
            "DescribeTable" => tables::describe_table(self, req.json_body()?, &region).await?,
            "ListTables" => tables::list_tables(self, req.json_body()?).await?,
            "DeleteTable" => tables::delete_table(self, req.json_body()?, &region).await?,
            "UpdateTable" => tables::update_table(self, req.json_body()?, &region).await?,
            "PutItem" => items::put_item(self, req.json_body()?).await?,
            "GetItem" => items::get_item(self, req.json_body()?).await?,
            "DeleteItem" => items::delete_item(self, req.json_body()?).await?,
            "UpdateItem" => items::update_item(self, req.json_body()?).await?,
            "BatchWriteItem" => items::batch_write_item(self, req.json_body()?).await?,
            "BatchGetItem" => items::batch_get_item(self, req.json_body()?).await?,
            "Query" => query::query(self, req.json_body()?).await?,
            "Scan" => query::scan(self, req.json_body()?).await?,
            _ => {
                return Err(ApiError::bad_request(
                    "UnknownOperationException",
                    format!("The operation '{target}' is not supported by the local DynamoDB."),
                ));
            }
        };
        Ok(json_response(Protocol::AwsJson10, StatusCode::OK, &out))
    }
}

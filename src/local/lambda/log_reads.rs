//! The local Lambda as the source of CloudWatch Logs' log groups: the lines its function
//! processes wrote (`logs`), read from the store once everything written so far is in it.

use futures::future::BoxFuture;

use super::Lambda;
use super::logs::{self, Event, EventQuery, Group, Stream};
use crate::local::cloudwatch_logs::FunctionLogs;
use crate::local::protocol::ApiError;
use crate::local::storage::StorageError;

impl FunctionLogs for Lambda {
    fn flush(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.flush_logs())
    }

    fn function_names(&self) -> BoxFuture<'_, Result<Vec<String>, ApiError>> {
        Box::pin(async move { Lambda::function_names(self).await.map_err(|e| ApiError::internal(e.to_string())) })
    }

    fn groups(&self) -> BoxFuture<'_, Result<Vec<Group>, StorageError>> {
        Box::pin(self.inner.store.call(|conn| logs::groups(conn)))
    }

    fn streams(&self, function: String) -> BoxFuture<'_, Result<Vec<Stream>, StorageError>> {
        Box::pin(self.inner.store.call(move |conn| logs::streams(conn, &function)))
    }

    fn events(&self, function: String, query: EventQuery) -> BoxFuture<'_, Result<Vec<Event>, StorageError>> {
        Box::pin(self.inner.store.call(move |conn| logs::events(conn, &function, &query)))
    }
}

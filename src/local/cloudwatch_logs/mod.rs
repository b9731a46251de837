//! CloudWatch Logs for the functions' log groups (`/aws/lambda/<function>`), read from the
//! lines the local Lambda stores (`lambda::logs`): DescribeLogGroups, DescribeLogStreams,
//! GetLogEvents and FilterLogEvents, in AWS's JSON protocol (`Logs_20140328.*`), so
//! `aws logs …` and the SDK's CloudWatch Logs client read them as they would on AWS. The
//! groups are Lambda's: every other operation (creating groups, putting events) is refused
//! with NotImplemented.
//!
//! May touch `protocol` and the log lines' types of `lambda::logs`; it reads the lines only
//! through [`FunctionLogs`], which the local Lambda provides.

mod api;

use std::sync::Arc;

use futures::future::BoxFuture;
use http::Request;
use hyper::body::Incoming;

use super::LocalCloudError;
use super::lambda::logs::{Event, EventQuery, Group, Stream};
use super::protocol::{ApiError, Protocol, Response};
use super::service::{Declaration, Gate, MIB, Mark, Service, Wiring};
use super::storage::StorageError;

/// The functions' log lines as the local Lambda stores them, seen only through this trait.
pub trait FunctionLogs: Send + Sync {
    /// Waits until every line written so far is stored.
    fn flush(&self) -> BoxFuture<'_, ()>;
    /// Every function's name, sorted: a function that has not logged still has its group.
    fn function_names(&self) -> BoxFuture<'_, Result<Vec<String>, ApiError>>;
    /// Every function that has logged, by name.
    fn groups(&self) -> BoxFuture<'_, Result<Vec<Group>, StorageError>>;
    /// The streams of `function`, by name.
    fn streams(&self, function: String) -> BoxFuture<'_, Result<Vec<Stream>, StorageError>>;
    /// A function's lines, in the order they were written, filtered and paged.
    fn events(&self, function: String, query: EventQuery) -> BoxFuture<'_, Result<Vec<Event>, StorageError>>;
}

pub struct CloudWatchLogs {
    functions: Arc<dyn FunctionLogs>,
    region: String,
}

/// Starts CloudWatch Logs on the log lines a service before it provides (see `registry.rs`).
pub fn start(wiring: &mut Wiring) -> BoxFuture<'_, Result<Arc<dyn Service>, LocalCloudError>> {
    Box::pin(async move {
        let functions = wiring.need::<Arc<dyn FunctionLogs>>("logs")?;
        Ok(Arc::new(CloudWatchLogs { functions, region: wiring.config.region.clone() }) as Arc<dyn Service>)
    })
}

const DECLARATION: Declaration = Declaration {
    signing_names: &["logs"],
    protocol: Protocol::AwsJson11,
    // Reads only: the requests are small.
    max_body: MIB,
    unsigned: Mark::Target("Logs_"),
    routes: &[],
};

impl Service for CloudWatchLogs {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn serve<'a>(&'a self, req: Request<Incoming>, gate: &'a Gate) -> BoxFuture<'a, Response> {
        gate.verified(self, req, |req| self.handle(req))
    }
}

//! The one list of the local cloud's services. The router finds a request's service here,
//! an unsigned request's service is guessed here, and start-up and shutdown go over this
//! list. Adding a service is its folder (see [`super::service::Service`]) and one line in
//! [`SERVICES`].

use std::sync::Arc;

use futures::future::BoxFuture;

use super::service::{Mark, Service, Wiring};
use super::{LocalCloudError, cloudwatch_logs, dynamodb, lambda, rekognition, s3, ses, stepfunctions};

/// Starts one service; it may use what the services before it provided.
pub type Start = fn(&mut Wiring) -> BoxFuture<'_, Result<Arc<dyn Service>, LocalCloudError>>;

/// Every service, in start order (a service needs only what those above it provide); they
/// stop in the reverse order: Step Functions pauses its executions before Lambda stops the
/// function processes they call, and S3 stops delivering events to Lambda before that.
pub const SERVICES: &[Start] = &[
    lambda::start,
    s3::start,
    cloudwatch_logs::start,
    dynamodb::start,
    ses::start,
    rekognition::start,
    stepfunctions::start,
];

/// The started services, in start order.
pub struct Services(Vec<Arc<dyn Service>>);

impl Services {
    pub async fn start(mut wiring: Wiring) -> Result<Self, LocalCloudError> {
        let mut services = Vec::with_capacity(SERVICES.len());
        for start in SERVICES {
            services.push(start(&mut wiring).await?);
        }
        Ok(Self(services))
    }

    /// In start order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &dyn Service> {
        self.0.iter().map(|s| s.as_ref())
    }

    /// The service signed for as `signing_name`.
    pub fn by_signing_name(&self, signing_name: &str) -> Option<&dyn Service> {
        self.iter().find(|s| s.declaration().signing_names.contains(&signing_name))
    }

    /// The service a request without readable credentials was meant for: the first whose
    /// mark it bears, else the one that takes unclaimed requests.
    pub fn guess(&self, target: &str, path: &str) -> Option<&dyn Service> {
        let unsigned = |s: &&dyn Service| s.declaration().unsigned;
        self.iter()
            .find(|s| unsigned(s).claims(target, path))
            .or_else(|| self.iter().find(|s| matches!(unsigned(s), Mark::Unclaimed)))
    }

    /// The service of type `T`, to use its own API.
    pub fn get<T: Service>(&self) -> Option<&T> {
        self.iter().find_map(|s| s.downcast_ref::<T>())
    }
}

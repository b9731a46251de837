//! The one list of the local cloud's services. The router finds a request's service here,
//! an unsigned request's service is guessed here, and start-up and shutdown go over this
//! list. Adding a service is its folder (see [`super::service::Service`]), its `pub mod`
//! line in `local/mod.rs` and one line in [`SERVICES`] (docs/local-cloud.md shows one).

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::LocalCloudConfig;
    use crate::local::storage::Store;

    async fn started(dir: &std::path::Path) -> Services {
        let config = LocalCloudConfig::new(dir.to_path_buf());
        let store = Store::open(dir).unwrap();
        Services::start(Wiring::new(store, config, "http://127.0.0.1:1".into())).await.unwrap()
    }

    fn own_name(s: &dyn Service) -> &'static str {
        s.declaration().signing_names[0]
    }

    #[tokio::test]
    async fn every_service_starts_and_answers_to_its_own_signing_names_only() {
        let dir = tempfile::tempdir().unwrap();
        let services = started(dir.path()).await;
        assert_eq!(services.iter().count(), SERVICES.len());
        let mut names: Vec<&str> =
            services.iter().flat_map(|s| s.declaration().signing_names.iter().copied()).collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "a signing name is claimed twice: {names:?}");
        for name in ["s3", "dynamodb", "ses", "states", "lambda", "rekognition", "logs"] {
            assert_eq!(services.by_signing_name(name).map(own_name), Some(name));
        }
        assert!(services.by_signing_name("sqs").is_none());
        for s in services.iter().rev() {
            s.before_stop();
        }
        for s in services.iter().rev() {
            s.stop().await;
        }
    }

    #[tokio::test]
    async fn unsigned_requests_go_to_the_service_whose_mark_they_bear_else_to_s3() {
        let dir = tempfile::tempdir().unwrap();
        let services = started(dir.path()).await;
        let guess = |target, path| services.guess(target, path).map(own_name);
        assert_eq!(guess("DynamoDB_20120810.ListTables", "/"), Some("dynamodb"));
        assert_eq!(guess("AWSStepFunctions.ListStateMachines", "/"), Some("states"));
        assert_eq!(guess("RekognitionService.DetectFaces", "/"), Some("rekognition"));
        assert_eq!(guess("Logs_20140328.GetLogEvents", "/"), Some("logs"));
        assert_eq!(guess("", "/2015-03-31/functions"), Some("lambda"));
        assert_eq!(guess("", "/v2/email/identities"), Some("ses"));
        assert_eq!(guess("", "/a-bucket/a-key"), Some("s3"));
        assert_eq!(services.iter().filter(|s| matches!(s.declaration().unsigned, Mark::Unclaimed)).count(), 1);
        for s in services.iter().rev() {
            s.before_stop();
        }
    }

    #[tokio::test]
    async fn a_service_finds_the_services_before_it_by_type() {
        let dir = tempfile::tempdir().unwrap();
        let services = started(dir.path()).await;
        assert!(services.get::<lambda::Lambda>().is_some());
        assert!(services.get::<s3::S3>().is_some());
        for s in services.iter().rev() {
            s.before_stop();
        }
    }

    #[test]
    fn a_service_started_before_what_it_needs_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let config = LocalCloudConfig::new(dir.path().to_path_buf());
        let wiring = Wiring::new(Store::open(dir.path()).unwrap(), config, "http://127.0.0.1:1".into());
        let missing = wiring.need::<Arc<dyn crate::local::stepfunctions::TaskRunner>>("states");
        let Err(LocalCloudError::Wiring { service, needs }) = missing else { panic!("a missing runner is an error") };
        assert_eq!(service, "states");
        assert!(needs.contains("TaskRunner"), "{needs}");
    }
}

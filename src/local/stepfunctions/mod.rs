//! The local Step Functions. `asl` is the pure Amazon States Language interpreter: it knows
//! nothing of HTTP, SQLite, processes or the clock. Around it: `store` (the SQLite tables),
//! `executor` (one durable actor per running execution, tasks through [`TaskRunner`]) and
//! `api` (the awsJson1_0 operations). This file is the service and its wiring.

mod api;
pub mod asl;
pub mod executor;
pub mod store;

use std::sync::Arc;

use futures::future::BoxFuture;
use http::Request;
use hyper::body::Incoming;

use super::LocalCloudError;
use super::protocol::{Protocol, Response};
use super::service::{Declaration, Gate, MIB, Mark, Service, Wiring};
use super::storage::Store;
use api::DefinitionCache;
pub use api::{ACCOUNT_ID, StepFunctionsError};
use executor::Executor;
pub use executor::{TaskFailure, TaskRunner, UnavailableTaskRunner};

/// The local Step Functions service.
pub struct StepFunctions {
    store: Store,
    region: String,
    executor: Executor,
    definitions: DefinitionCache,
}

impl StepFunctions {
    /// Opens the tables, resumes every execution left RUNNING, and serves.
    pub async fn new(store: Store, region: &str, runner: Arc<dyn TaskRunner>) -> Result<Self, StepFunctionsError> {
        store::init(&store)?;
        let executor = Executor::new(store.clone(), runner);
        let resumed = executor.resume_all().await?;
        if resumed > 0 {
            tracing::info!("Step Functions: resumed {resumed} running executions");
        }
        Ok(Self { store, region: region.to_string(), executor, definitions: DefinitionCache::default() })
    }

    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// Stops the executions' actors (they resume from disk on the next start).
    pub async fn shutdown(&self) {
        self.executor.shutdown().await;
    }
}

/// Starts Step Functions with the task runner a service before it provides (the local
/// Lambda, or a stand-in given at start-up), resuming the executions left running.
pub fn start(wiring: &mut Wiring) -> BoxFuture<'_, Result<Arc<dyn Service>, LocalCloudError>> {
    Box::pin(async move {
        let runner = wiring.need::<Arc<dyn TaskRunner>>("states")?;
        let service = StepFunctions::new(wiring.store.clone(), &wiring.config.region, runner)
            .await
            .map_err(|e| LocalCloudError::StepFunctions(e.to_string()))?;
        Ok(Arc::new(service) as Arc<dyn Service>)
    })
}

const DECLARATION: Declaration = Declaration {
    signing_names: &["states"],
    protocol: Protocol::AwsJson10,
    max_body: 2 * MIB,
    unsigned: Mark::Target("AWSStepFunctions"),
    routes: &[],
};

impl Service for StepFunctions {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn serve<'a>(&'a self, req: Request<Incoming>, gate: &'a Gate) -> BoxFuture<'a, Response> {
        gate.verified(self, req, |req| self.handle(req))
    }

    /// Running executions pause once no request is in flight, and resume from disk on the
    /// next start.
    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.shutdown())
    }
}

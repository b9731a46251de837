//! The local cloud: one AWS-compatible HTTP endpoint on 127.0.0.1 that speaks the wire
//! protocols of S3, DynamoDB, SES v2, Step Functions, Lambda, Rekognition and CloudWatch
//! Logs, backed by one data directory (`storage`).
//!
//! Every service is a folder implementing [`service::Service`], listed once in
//! `registry.rs`; the router (`router.rs`) picks a request's service by the signing name in
//! its SigV4 credential scope and verifies the signature (`sigv4.rs`) against the configured
//! local credentials before the service sees it; `protocol.rs` holds the wire shapes the
//! JSON services share. Services reach each other only through traits handed over at
//! start-up ([`service::Wiring`]).
//!
//! This module knows nothing of the dashboard, the deployment or the CLI; it may use
//! `storage` and its services.

pub mod cloudwatch_logs;
pub mod dynamodb;
pub mod lambda;
pub mod leases;
pub mod protocol;
pub mod rekognition;
pub mod s3;
pub mod service;
pub mod ses;
pub mod sigv4;
pub mod stepfunctions;
pub mod storage;

mod registry;
mod router;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use router::Router;
pub use sigv4::Credentials;

/// The access key id and secret the local cloud accepts unless told otherwise.
pub const DEFAULT_ACCESS_KEY: &str = "wildrydes";
pub const DEFAULT_SECRET_KEY: &str = "wildrydes";
pub const DEFAULT_PORT: u16 = 4566;
pub const DEFAULT_REGION: &str = "us-east-1";

#[derive(Debug, thiserror::Error)]
pub enum LocalCloudError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    #[error("cannot start the S3 service: {0}")]
    S3(String),
    #[error("cannot start the Step Functions service: {0}")]
    StepFunctions(String),
    #[error("the {service} service needs {needs}, which no service started before it provides")]
    Wiring { service: &'static str, needs: &'static str },
}

#[derive(Debug, Clone)]
pub struct LocalCloudConfig {
    pub bind: IpAddr,
    /// 0 picks a free port (tests).
    pub port: u16,
    pub data_dir: PathBuf,
    pub credentials: Credentials,
    pub region: String,
}

impl LocalCloudConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_PORT,
            data_dir,
            credentials: Credentials { access_key: DEFAULT_ACCESS_KEY.into(), secret_key: DEFAULT_SECRET_KEY.into() },
            region: DEFAULT_REGION.into(),
        }
    }
}

/// A running local cloud. Dropping it does not stop it; call [`LocalCloud::shutdown`].
pub struct LocalCloud {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    router: Arc<Router>,
}

impl LocalCloud {
    /// Opens the data directory, binds the listener and starts serving. Step Functions'
    /// Task states run on the local Lambda service.
    pub async fn start(config: LocalCloudConfig) -> Result<Self, LocalCloudError> {
        Self::start_inner(config, None).await
    }

    /// As [`LocalCloud::start`], with another runner for Step Functions' Task states (tests).
    pub async fn start_with(
        config: LocalCloudConfig,
        task_runner: Arc<dyn stepfunctions::TaskRunner>,
    ) -> Result<Self, LocalCloudError> {
        Self::start_inner(config, Some(task_runner)).await
    }

    async fn start_inner(
        config: LocalCloudConfig,
        task_runner: Option<Arc<dyn stepfunctions::TaskRunner>>,
    ) -> Result<Self, LocalCloudError> {
        let store = storage::Store::open(&config.data_dir)?;
        let addr = SocketAddr::new(config.bind, config.port);
        let listener = TcpListener::bind(addr).await.map_err(|source| LocalCloudError::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(|source| LocalCloudError::Bind { addr, source })?;
        let mut wiring = service::Wiring::new(store, config, format!("http://{addr}"));
        if let Some(task_runner) = task_runner {
            wiring.provide(task_runner);
        }
        let router = Arc::new(Router::new(wiring).await?);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(router::serve(listener, router.clone(), shutdown_rx));
        Ok(Self { addr, shutdown, task, router })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint URL for SDK clients, e.g. `http://127.0.0.1:4566`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    /// How long no dashboard or command has held a lease on this cloud; `None` while one does.
    pub fn idle_for(&self) -> Option<std::time::Duration> {
        self.router.leases.idle_for()
    }

    /// Stops accepting connections, lets requests in flight finish, and returns.
    pub async fn shutdown(self) {
        // In reverse start order (see `registry.rs`): what holds requests open lets go first,
        // e.g. Lambda's function processes and their long-polling Runtime API requests.
        for service in self.router.services().iter().rev() {
            service.before_stop();
        }
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        // E.g. Step Functions: running executions pause here and resume from disk on the next start.
        for service in self.router.services().iter().rev() {
            service.stop().await;
        }
    }
}

/// The default data directory: `$XDG_DATA_HOME/wildrydes` (or the platform's equivalent).
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("wildrydes")
}

//! The local cloud: one AWS-compatible HTTP endpoint on 127.0.0.1 that speaks the wire
//! protocols of S3, DynamoDB, SES v2, Step Functions, Lambda and Rekognition, backed by one
//! data directory.
//!
//! This module knows nothing of the dashboard; it may use `storage` and its services.
//! Requests are routed by the service named in their SigV4 credential scope and
//! verified against the configured local credentials before any service sees them.

pub mod cloudwatch_logs;
pub mod dynamodb;
pub mod lambda;
pub mod leases;
pub mod protocol;
pub mod rekognition;
pub mod s3;
pub mod ses;
pub mod sigv4;
pub mod stepfunctions;
pub mod storage;

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
        let router = Arc::new(Router::new(store, &config, format!("http://{addr}"), task_runner).await?);
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
        // Undelivered S3 events stay in the outbox for the next start.
        self.router.s3.shutdown();
        // Function processes hold long-polling Runtime API requests: stop them first.
        self.router.lambda.shutdown();
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        // Running executions pause here and resume from disk on the next start.
        self.router.stepfunctions.shutdown().await;
    }
}

/// The default data directory: `$XDG_DATA_HOME/wildrydes` (or the platform's equivalent).
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("wildrydes")
}

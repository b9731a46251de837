//! Shared harness: a local cloud in a temporary data directory and SDK clients for it.
#![allow(dead_code)] // each test module uses a different part of the harness

use wildrydes::cloud::{Clients, Target};
use wildrydes::local::{LocalCloud, LocalCloudConfig};

pub struct TestCloud {
    pub cloud: Option<LocalCloud>,
    pub clients: Clients,
    pub endpoint: String,
    pub dir: tempfile::TempDir,
}

impl TestCloud {
    /// Starts a local cloud on a free port with a fresh data directory.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary data directory");
        Self::start_in(dir).await
    }

    /// Starts a local cloud on an existing data directory (to test restarts).
    pub async fn start_in(dir: tempfile::TempDir) -> Self {
        let mut config = LocalCloudConfig::new(dir.path().to_path_buf());
        config.port = 0;
        let cloud = LocalCloud::start(config).await.expect("local cloud starts");
        let endpoint = cloud.endpoint();
        let clients = Clients::for_target(&Target::local(endpoint.clone())).await;
        Self { cloud: Some(cloud), clients, endpoint, dir }
    }

    /// Stops the server and starts a new one on the same data directory.
    pub async fn restart(mut self) -> Self {
        if let Some(cloud) = self.cloud.take() {
            cloud.shutdown().await;
        }
        Self::start_in(self.dir).await
    }

    /// SDK clients with other credentials, for the authentication tests.
    pub async fn clients_with_credentials(&self, access_key: &str, secret_key: &str, region: &str) -> Clients {
        use aws_config::{BehaviorVersion, Region};
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(self.endpoint.clone())
            .credentials_provider(aws_credential_types::Credentials::new(access_key, secret_key, None, None, "test"))
            .load()
            .await;
        Clients::new(&config, &Target::local(self.endpoint.clone()))
    }
}

/// A raw HTTP request without a signature, as a stranger would send it.
pub async fn unsigned_post(
    endpoint: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, http::HeaderMap, String) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let mut req = http::Request::post(format!("{endpoint}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(http_body_util::Full::new(bytes::Bytes::from(body.to_string()))).unwrap();
    let resp = client.request(req).await.expect("request reaches the local cloud");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    use http_body_util::BodyExt;
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// The real `wildrydes serve` binary, on a free port, in its own process.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub endpoint: String,
}

impl ServerProcess {
    /// Starts `wildrydes serve --port 0 --data-dir DIR` and waits for it to print its endpoint.
    pub fn spawn(data_dir: &std::path::Path) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wildrydes"))
            .args(["serve", "--port", "0", "--data-dir"])
            .arg(data_dir)
            .env_remove("AWS_REGION")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("wildrydes serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let endpoint = loop {
            let line = lines.next().expect("serve prints its endpoint before exiting").expect("readable stdout");
            if let Some(endpoint) = line.strip_prefix("wildrydes local cloud listening on ") {
                break endpoint.trim().to_string();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, endpoint }
    }

    /// SIGKILL: no chance to flush or clean up, like a power cut for the process.
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python venv with the aws CLI, boto3 and moto that `.ci/python-tools` makes, or
/// `None` (and a message saying the test is skipped) when it is not there.
pub fn test_venv(test: &str) -> Option<std::path::PathBuf> {
    let venv = std::env::var_os("WILDRYDES_TEST_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"));
    if venv.join("bin/aws").exists() && venv.join("bin/python").exists() {
        Some(venv)
    } else {
        eprintln!("SKIPPED {test}: no Python venv with the aws CLI at {} (run .ci/python-tools)", venv.display());
        None
    }
}

/// `moto_server` on a free port, killed when dropped.
pub struct Moto {
    child: std::process::Child,
    pub endpoint: String,
}

impl Moto {
    pub fn spawn(bin: &std::path::Path) -> Self {
        Self::spawn_with(bin, &[])
    }

    /// With these environment variables (e.g. moto's `INITIAL_NO_AUTH_ACTION_COUNT`).
    pub fn spawn_with(bin: &std::path::Path, env: &[(&str, &str)]) -> Self {
        use std::time::{Duration, Instant};
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = std::process::Command::new(bin)
            .envs(env.iter().copied())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Self { child, endpoint: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen on {port} within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

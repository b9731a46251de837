//! Lambda (REST-JSON, `/2015-03-31/functions…`): functions stored in SQLite
//! (`lambda_functions`) with their zip as a blob, unpacked per code revision under
//! `<data dir>/lambda/code/`, and run as separate processes that speak the Lambda Runtime
//! API ([`runtime`]) so the binaries `lambda_runtime` builds for AWS run here unchanged.
//!
//! Errors a caller sees, and what the Step Functions engine sees through [`Lambda::invoke`]:
//! - a function's own error: its `errorType`/`errorMessage`, as the runtime reported them;
//! - the function's Timeout: `Sandbox.Timedout`, "RequestId: … Error: Task timed out after
//!   3.00 seconds" — what AWS returns for the OS-only runtimes, and so the error a Task
//!   state's Catch sees on AWS (`States.Timeout` is only the state's own TimeoutSeconds);
//! - a process that exits mid-invocation: `Runtime.ExitError`, "RequestId: … Error: Runtime
//!   exited with error: exit status 1";
//! - `/runtime/init/error`: `Runtime.InitError` with the reported type and message;
//! - no runnable `bootstrap`: `Runtime.InvalidEntrypoint`.
//!
//! S3 bucket notifications run functions through `s3_events` (S3's outbox retries
//! those); Step Functions' Task states through `tasks`; CloudWatch Logs reads the
//! functions' logs through `log_reads`. The API's operations are in `api`.
//!
//! Not implemented: published versions and aliases (only `$LATEST`), code from S3
//! (`Code.ZipFile` only), layers, container images, resource policies (AddPermission),
//! retries of `Event` invocations made through the Invoke API.

mod api;
pub mod code;
mod log_reads;
pub mod logs;
pub mod model;
pub mod runtime;
mod s3_events;
mod tasks;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};

use api::check_payload;
pub use logs::LogLine;
use model::{FunctionRecord, not_found};

use super::LocalCloudError;
use super::cloudwatch_logs::FunctionLogs;
use super::protocol::{ApiError, Protocol, Response, full_body, json_response};
use super::s3::EventTarget;
use super::service::{Declaration, Gate, MIB, Mark, Route, Service, Wiring};
use super::sigv4::Credentials;
use super::stepfunctions::TaskRunner;
use super::storage::{StorageError, Store};

/// The unsigned local endpoints: a function's log, its code, and the Runtime API.
const LOGS_ROUTE: &str = "/_wildrydes/logs/";
const CODE_ROUTE: &str = "/_wildrydes/lambda-code/";
const RUNTIME_ROUTE: &str = "/_lambda/";

/// Lambda's limit on a synchronous invocation's payload.
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;
/// Lambda's limit on an asynchronous (`Event`) invocation's payload.
pub const MAX_ASYNC_PAYLOAD: usize = 256 * 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS lambda_functions (
    name TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
";

#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    /// A refusal with Lambda's error code (`ResourceNotFoundException`, …).
    #[error("{0}")]
    Api(ApiError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("cannot prepare the function code directory: {0}")]
    Code(#[from] code::CodeError),
}

impl LambdaError {
    /// Lambda's error code, e.g. `ResourceNotFoundException` (Step Functions reports
    /// such a failure as `Lambda.<code>`).
    pub fn code(&self) -> &str {
        match self {
            LambdaError::Api(e) => &e.code,
            LambdaError::Storage(_) | LambdaError::Code(_) => "ServiceException",
        }
    }
}

impl From<ApiError> for LambdaError {
    fn from(e: ApiError) -> Self {
        LambdaError::Api(e)
    }
}

impl From<LambdaError> for ApiError {
    fn from(e: LambdaError) -> Self {
        match e {
            LambdaError::Api(e) => e,
            LambdaError::Storage(e) => e.into(),
            LambdaError::Code(e) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", format!("{e}"))
            }
        }
    }
}

/// What an invocation returned, for callers inside the local cloud (Step Functions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeOutcome {
    /// The function's result, as it serialised it.
    Ok(Vec<u8>),
    /// A function error (including timeouts and crashes, see the module docs).
    FunctionError { error_type: String, error_message: String },
}

/// The Lambda service of the local cloud. Cheap to clone.
#[derive(Clone)]
pub struct Lambda {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    region: String,
    endpoint: String,
    code_root: PathBuf,
    runtime: runtime::Runtime,
    logs: logs::LogSink,
}

impl Lambda {
    /// `endpoint` is the local cloud's URL (`http://127.0.0.1:PORT`): function processes
    /// reach the Runtime API and every other service there.
    pub fn new(store: Store, endpoint: &str, credentials: &Credentials, region: &str) -> Result<Self, StorageError> {
        store.call_blocking(|conn| {
            conn.execute_batch(SCHEMA)?;
            conn.execute_batch(logs::SCHEMA)?;
            logs::migrate(conn)?;
            Ok(())
        })?;
        let code_root = store.dir().join("lambda").join("code");
        std::fs::create_dir_all(&code_root).map_err(|source| StorageError::Io { path: code_root.clone(), source })?;
        let referenced: Vec<String> = store.call_blocking(|conn| {
            let mut stmt = conn.prepare("SELECT record FROM lambda_functions")?;
            let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
            let mut blobs = Vec::new();
            for row in rows {
                if let Ok(record) = serde_json::from_str::<FunctionRecord>(&row?) {
                    blobs.push(record.code_blob);
                }
            }
            Ok(blobs)
        })?;
        // Unpacked code no function refers to any more (a crash between steps) goes.
        if let Ok(entries) = std::fs::read_dir(&code_root) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !referenced.contains(&name) {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let logs = logs::LogSink::start(store.clone());
        let api_host = endpoint.trim_start_matches("http://").trim_end_matches('/').to_string();
        let settings = runtime::RuntimeSettings {
            api_host,
            endpoint: endpoint.to_string(),
            region: region.to_string(),
            access_key: credentials.access_key.clone(),
            secret_key: credentials.secret_key.clone(),
        };
        let runtime = runtime::Runtime::new(settings, logs.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                region: region.to_string(),
                endpoint: endpoint.to_string(),
                code_root,
                runtime,
                logs,
            }),
        })
    }

    /// Invokes a function synchronously (for the Step Functions engine).
    pub async fn invoke(&self, function_name_or_arn: &str, payload: Vec<u8>) -> Result<InvokeOutcome, LambdaError> {
        let name = model::resolve_name(&self.inner.region, function_name_or_arn)?;
        let payload = check_payload(Bytes::from(payload), MAX_SYNC_PAYLOAD, "Invoke")?;
        let invoked = self.invoke_function(&name, payload).await?;
        Ok(match invoked.outcome {
            runtime::Outcome::Response(bytes) => InvokeOutcome::Ok(bytes.to_vec()),
            runtime::Outcome::Error(body) => {
                let value: Value = serde_json::from_slice(&body).unwrap_or_default();
                let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
                InvokeOutcome::FunctionError {
                    error_type: text("errorType").unwrap_or_else(|| "Lambda.Unknown".into()),
                    error_message: text("errorMessage").unwrap_or_default(),
                }
            }
        })
    }

    /// The newest `limit` lines of a function's log, oldest first (for the dashboard).
    pub async fn logs(&self, function: &str, limit: usize) -> Result<Vec<LogLine>, LambdaError> {
        let name = model::resolve_name(&self.inner.region, function)?;
        self.inner.logs.sync().await;
        Ok(self.inner.store.call(move |conn| logs::read(conn, &name, limit)).await?)
    }

    /// Waits until every log line written so far is stored (the CloudWatch Logs API reads
    /// the store).
    pub async fn flush_logs(&self) {
        self.inner.logs.sync().await;
    }

    /// The names of every function, sorted.
    pub async fn function_names(&self) -> Result<Vec<String>, LambdaError> {
        Ok(self
            .inner
            .store
            .call(|conn| {
                let mut stmt = conn.prepare("SELECT name FROM lambda_functions ORDER BY name")?;
                let names = stmt.query_map([], |row| row.get(0))?.collect::<Result<Vec<String>, _>>()?;
                Ok(names)
            })
            .await?)
    }

    /// How many processes the function has running (warm or busy).
    pub fn instance_count(&self, function: &str) -> usize {
        self.inner.runtime.instance_count(function)
    }

    /// Stops every function process (the server is shutting down).
    pub fn shutdown(&self) {
        self.inner.runtime.stop_all();
    }

    async fn load(&self, name: &str) -> Result<FunctionRecord, LambdaError> {
        let key = name.to_string();
        let row: Option<String> = self
            .inner
            .store
            .call(move |conn| {
                Ok(conn
                    .query_row("SELECT record FROM lambda_functions WHERE name = ?1", params![key], |row| row.get(0))
                    .optional()?)
            })
            .await?;
        let row = row.ok_or_else(|| not_found(&self.inner.region, name))?;
        serde_json::from_str(&row)
            .map_err(|e| LambdaError::Api(ApiError::internal(format!("stored function {name} is unreadable: {e}"))))
    }

    /// Where a code revision is unpacked; unpacked again from its blob if missing.
    async fn code_dir(&self, record: &FunctionRecord) -> Result<PathBuf, LambdaError> {
        let dir = self.inner.code_root.join(&record.code_blob);
        if dir.is_dir() {
            return Ok(dir);
        }
        let store = self.inner.store.clone();
        let blob = record.code_blob.clone();
        let target = dir.clone();
        tokio::task::spawn_blocking(move || -> Result<(), LambdaError> {
            let zip = store.blobs().read(&blob)?;
            code::unpack(&zip, &target)?;
            Ok(())
        })
        .await
        .map_err(|e| LambdaError::Storage(StorageError::Worker(e.to_string())))??;
        Ok(dir)
    }

    async fn invoke_function(&self, name: &str, payload: Bytes) -> Result<runtime::Invoked, LambdaError> {
        let record = self.load(name).await?;
        let dir = self.code_dir(&record).await?;
        Ok(self.inner.runtime.invoke(&record, &dir, payload).await)
    }

    /// `GET /_wildrydes/logs/<function>[?limit=N]`: the function's log as JSON lines.
    pub async fn logs_response(&self, function: &str, query: Option<&str>) -> Result<Response, ApiError> {
        let limit = query
            .and_then(|q| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "limit"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(1_000);
        let name = model::resolve_name(&self.inner.region, function)?;
        let lines = self.logs(&name, limit).await?;
        Ok(json_response(Protocol::RestJson, StatusCode::OK, &json!({ "function": name, "lines": lines })))
    }

    /// `GET /_wildrydes/lambda-code/<function>`: the zip, where GetFunction's Code.Location points.
    pub async fn code_response(&self, function: &str) -> Result<Response, ApiError> {
        let name = model::resolve_name(&self.inner.region, function)?;
        let record = self.load(&name).await?;
        let store = self.inner.store.clone();
        let zip = self.inner.store.call(move |_| store.blobs().read(&record.code_blob)).await?;
        http::Response::builder()
            .status(StatusCode::OK)
            .header(http::header::CONTENT_TYPE, "application/zip")
            .body(full_body(zip))
            .map_err(|e| ApiError::internal(e.to_string()))
    }

    /// The Runtime API, unsigned, for the function processes:
    /// `/_lambda/<function>/<instance>/2018-06-01/runtime/…`.
    pub async fn runtime_api(&self, req: Request<Incoming>) -> Response {
        let path = req.uri().path().to_string();
        let parts: Vec<&str> = path.trim_start_matches("/_lambda/").splitn(3, '/').collect();
        let [function, instance, rest] = parts.as_slice() else {
            return runtime_status(404, json!({"errorType": "NotFound", "errorMessage": "no such Runtime API path"}));
        };
        let Some(rest) = rest.strip_prefix("2018-06-01/runtime/") else {
            return runtime_status(
                404,
                json!({"errorType": "NotFound", "errorMessage": "unknown Runtime API version"}),
            );
        };
        let method = req.method().clone();
        let rest_parts: Vec<&str> = rest.split('/').collect();
        let call = match (&method, rest_parts.as_slice()) {
            (&Method::GET, ["invocation", "next"]) => runtime::RuntimeCall::Next,
            (&Method::POST, ["invocation", id, "response"]) => runtime::RuntimeCall::Response(id),
            (&Method::POST, ["invocation", id, "error"]) => runtime::RuntimeCall::Error(id),
            (&Method::POST, ["init", "error"]) => runtime::RuntimeCall::InitError,
            _ => {
                return runtime_status(
                    404,
                    json!({"errorType": "NotFound", "errorMessage": format!("no Runtime API endpoint {method} {rest}")}),
                );
            }
        };
        let body = match Limited::new(req.into_body(), runtime::MAX_RESPONSE_BYTES).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(_) => Err(()),
        };
        match self.inner.runtime.runtime_call(function, instance, call, body).await {
            runtime::RuntimeReply::Status(status, body) => runtime_status(status, body),
            runtime::RuntimeReply::Event { request_id, deadline_ms, function_arn, trace_id, payload } => {
                http::Response::builder()
                    .status(StatusCode::OK)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .header("lambda-runtime-aws-request-id", request_id)
                    .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
                    .header("lambda-runtime-invoked-function-arn", function_arn)
                    .header("lambda-runtime-trace-id", trace_id)
                    .body(full_body(payload))
                    .unwrap_or_else(|_| runtime_status(500, json!({"errorType": "ServiceException"})))
            }
        }
    }
}

fn runtime_status(status: u16, body: Value) -> Response {
    http::Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(full_body(body.to_string()))
        .unwrap_or_else(|_| http::Response::new(full_body("")))
}

/// Starts Lambda, and provides it to the services started after it: as S3's event target,
/// Step Functions' task runner (unless a stand-in was given) and CloudWatch Logs' source.
pub fn start(wiring: &mut Wiring) -> BoxFuture<'_, Result<Arc<dyn Service>, LocalCloudError>> {
    Box::pin(async move {
        let config = &wiring.config;
        let lambda = Lambda::new(wiring.store.clone(), &wiring.endpoint, &config.credentials, &config.region)?;
        wiring.provide::<Arc<dyn EventTarget>>(Arc::new(lambda.clone()));
        wiring.provide::<Arc<dyn TaskRunner>>(Arc::new(lambda.clone()));
        wiring.provide::<Arc<dyn FunctionLogs>>(Arc::new(lambda.clone()));
        Ok(Arc::new(lambda) as Arc<dyn Service>)
    })
}

const DECLARATION: Declaration = Declaration {
    signing_names: &["lambda"],
    protocol: Protocol::RestJson,
    // CreateFunction carries a zip of up to 50 MB, base64-encoded.
    max_body: 70 * MIB,
    unsigned: Mark::Path("/2015-03-31/"),
    routes: &[Route::GetUnder(LOGS_ROUTE), Route::GetUnder(CODE_ROUTE), Route::Under(RUNTIME_ROUTE)],
};

impl Service for Lambda {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn serve<'a>(&'a self, req: Request<Incoming>, gate: &'a Gate) -> BoxFuture<'a, Response> {
        gate.verified(self, req, |req| self.handle(req))
    }

    fn internal(&self, req: Request<Incoming>) -> BoxFuture<'_, Result<Response, ApiError>> {
        Box::pin(async move {
            let path = req.uri().path();
            if let Some(function) = path.strip_prefix(LOGS_ROUTE) {
                self.logs_response(function, req.uri().query()).await
            } else if let Some(function) = path.strip_prefix(CODE_ROUTE) {
                self.code_response(function).await
            } else {
                Ok(self.runtime_api(req).await)
            }
        })
    }

    /// Function processes hold long-polling Runtime API requests: they stop before the
    /// listener waits for the requests in flight.
    fn before_stop(&self) {
        self.shutdown();
    }
}

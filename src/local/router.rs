//! The one listener and the router behind it: reads the SigV4 credential scope to pick
//! the service, verifies the signature, enforces the service's body limit, and hands the
//! request to the service. Adding a service is one line in [`Router::dispatch`].

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use percent_encoding::percent_decode_str;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::protocol::{ApiError, ApiRequest, Protocol, Response};
use super::sigv4::{self, AuthError, Credentials, PathEncoding, SignedRequest};
use super::storage::Store;
use super::{LocalCloudConfig, LocalCloudError, dynamodb, lambda, rekognition, s3, ses, stepfunctions};

/// How long a client may take to send a request body.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The services of the local cloud, keyed by their SigV4 signing name.
pub struct Router {
    credentials: Credentials,
    region: String,
    /// Where this cloud keeps its state, as an absolute path: `/_wildrydes/health` says it,
    /// so a command given another `--data-dir` can refuse to show this one's data.
    data_dir: std::path::PathBuf,
    store: Store,
    pub s3: s3::S3,
    pub dynamodb: dynamodb::DynamoDb,
    pub ses: ses::Ses,
    pub stepfunctions: stepfunctions::StepFunctions,
    pub lambda: lambda::Lambda,
    pub rekognition: rekognition::Rekognition,
    pub logs: super::cloudwatch_logs::CloudWatchLogs,
    /// The dashboards and commands using this cloud (`/_wildrydes/clients`).
    pub leases: super::leases::Leases,
}

/// What the router knows of a service before it reads the body.
struct ServiceInfo {
    protocol: Protocol,
    /// The largest request body AWS accepts for the service (or what its largest
    /// operation needs), so an oversized body is refused before it is buffered.
    max_body: usize,
}

fn service_info(service: &str) -> Option<ServiceInfo> {
    const MIB: usize = 1024 * 1024;
    let (protocol, max_body) = match service {
        "dynamodb" => (Protocol::AwsJson10, 16 * MIB),
        "states" => (Protocol::AwsJson10, 2 * MIB),
        // Images up to 5 MB travel base64-encoded; the service reports ImageTooLarge itself.
        "rekognition" => (Protocol::AwsJson11, 16 * MIB),
        // CreateFunction carries a zip of up to 50 MB, base64-encoded.
        "lambda" => (Protocol::RestJson, 70 * MIB),
        // SendEmail takes raw messages of up to 40 MB.
        "ses" => (Protocol::RestJson, 48 * MIB),
        // Reads only: the requests are small.
        "logs" => (Protocol::AwsJson11, MIB),
        _ => return None,
    };
    Some(ServiceInfo { protocol, max_body })
}

/// For a request with no credentials, the service it was meant for, so the error is in
/// that service's protocol.
fn guess_service(req: &Request<Incoming>) -> &'static str {
    let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let path = req.uri().path();
    if target.starts_with("DynamoDB_") {
        "dynamodb"
    } else if target.starts_with("AWSStepFunctions") {
        "states"
    } else if target.starts_with("RekognitionService") {
        "rekognition"
    } else if target.starts_with("Logs_") {
        "logs"
    } else if path.starts_with("/2015-03-31/") {
        "lambda"
    } else if path.starts_with("/v2/email") {
        "ses"
    } else {
        "s3"
    }
}

impl Router {
    pub(super) async fn new(
        store: Store,
        config: &LocalCloudConfig,
        endpoint: String,
        task_runner: Option<std::sync::Arc<dyn stepfunctions::TaskRunner>>,
    ) -> Result<Self, LocalCloudError> {
        let lambda = lambda::Lambda::new(store.clone(), &endpoint, &config.credentials, &config.region)?;
        let task_runner = task_runner.unwrap_or_else(|| std::sync::Arc::new(lambda.clone()));
        // S3 bucket notifications run functions on the local Lambda.
        let s3 = s3::S3::new(store.clone(), &config.credentials, &config.region, Arc::new(lambda.clone()))
            .map_err(|e| LocalCloudError::S3(e.to_string()))?;
        let logs = super::cloudwatch_logs::CloudWatchLogs::new(store.clone(), lambda.clone(), &config.region);
        Ok(Self {
            logs,
            leases: Default::default(),
            lambda,
            credentials: config.credentials.clone(),
            region: config.region.clone(),
            data_dir: std::fs::canonicalize(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone()),
            s3,
            dynamodb: dynamodb::DynamoDb::new(store.clone())?,
            ses: ses::Ses::new(store.clone())?,
            rekognition: rekognition::Rekognition::new(store.clone(), &config.region)?,
            stepfunctions: stepfunctions::StepFunctions::new(store.clone(), &config.region, task_runner)
                .await
                .map_err(|e| LocalCloudError::StepFunctions(e.to_string()))?,
            store,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub async fn handle(&self, req: Request<Incoming>) -> Response {
        if req.uri().path().starts_with("/_wildrydes/") {
            return self.internal(req).await;
        }
        // The Lambda Runtime API: unsigned, as on AWS, for the function processes.
        if req.uri().path().starts_with("/_lambda/") {
            return self.lambda.runtime_api(req).await;
        }
        let raw_query = req.uri().query().unwrap_or("").to_string();
        let service = match sigv4::credential_scope(req.headers(), &raw_query) {
            Ok(Some(scope)) => scope.service,
            Ok(None) => guess_service(&req).to_string(),
            Err(e) => {
                let service = guess_service(&req);
                return auth_error(service, &e);
            }
        };
        if service == "s3" {
            // S3 verifies its own signatures: it alone has streaming (aws-chunked) payloads.
            return self.s3.handle(req).await;
        }
        let Some(info) = service_info(&service) else {
            return ApiError::bad_request(
                "UnrecognizedClientException",
                format!("The local cloud has no service '{service}' (signing name in the credential scope)."),
            )
            .to_response(Protocol::AwsJson10);
        };
        match self.authenticate(req, &info).await {
            Ok(api_request) => self.dispatch(&service, api_request, info.protocol).await,
            Err(response) => response,
        }
    }

    async fn dispatch(&self, service: &str, req: ApiRequest, protocol: Protocol) -> Response {
        let result = match service {
            "dynamodb" => self.dynamodb.handle(req).await,
            "ses" => self.ses.handle(req).await,
            "states" => self.stepfunctions.handle(req).await,
            "lambda" => self.lambda.handle(req).await,
            "rekognition" => self.rekognition.handle(req, &self.s3).await,
            "logs" => self.logs.handle(req).await,
            other => Err(ApiError::bad_request(
                "UnrecognizedClientException",
                format!("The '{other}' service is not available in this local cloud yet."),
            )),
        };
        result.unwrap_or_else(|e| e.to_response(protocol))
    }

    /// Reads the body within the service's limit and verifies the signature over it.
    async fn authenticate(&self, req: Request<Incoming>, info: &ServiceInfo) -> Result<ApiRequest, Response> {
        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLargeException",
                format!("Request must be smaller than {} bytes for this service.", info.max_body),
            )
            .to_response(info.protocol)
        };
        let declared = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|len| len > info.max_body) {
            return Err(too_large());
        }
        let (parts, body) = req.into_parts();
        // A client that declares more bytes than it sends must not hold a task forever.
        let read = tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, info.max_body).collect()).await;
        let Ok(read) = read else {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeoutException",
                format!("The request body was not received within {} seconds.", BODY_READ_TIMEOUT.as_secs()),
            )
            .to_response(info.protocol));
        };
        let body: Bytes = match read {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
            Err(e) => {
                return Err(ApiError::bad_request(
                    "IncompleteSignatureException",
                    format!("Could not read the request body: {e}"),
                )
                .to_response(info.protocol));
            }
        };
        let raw_path = parts.uri.path();
        let raw_query = parts.uri.query().unwrap_or("");
        let signed =
            SignedRequest { method: parts.method.as_str(), raw_path, raw_query, headers: &parts.headers, body: &body };
        let scope = sigv4::verify(&signed, &self.credentials, PathEncoding::Double, time::OffsetDateTime::now_utc())
            .map_err(|e| auth_error_in(info.protocol, &e))?;
        if scope.region != self.region {
            return Err(auth_error_in(info.protocol, &AuthError::WrongRegion(scope.region)));
        }
        Ok(ApiRequest {
            method: parts.method.clone(),
            path: percent_decode_str(raw_path).decode_utf8_lossy().into_owned(),
            query: url::form_urlencoded::parse(raw_query.as_bytes()).into_owned().collect(),
            headers: parts.headers,
            body,
            scope,
        })
    }

    /// The local cloud's own unsigned endpoints under `/_wildrydes/`, for the dashboard
    /// and tests: things AWS shows in its console rather than through an API.
    async fn internal(&self, req: Request<Incoming>) -> Response {
        let path = req.uri().path();
        let result = match (req.method(), path) {
            (&http::Method::GET, "/_wildrydes/health") => Ok(super::protocol::json_response(
                Protocol::RestJson,
                StatusCode::OK,
                &serde_json::json!({"status": "ok", "dataDir": self.data_dir, "region": self.region}),
            )),
            (&http::Method::GET, "/_wildrydes/outbox") => self.ses.outbox_response().await,
            (method, p) if p.starts_with(super::leases::PATH) => {
                self.leases.respond(method, &p[super::leases::PATH.len()..])
            }
            (&http::Method::GET, p) if p.starts_with("/_wildrydes/logs/") => {
                self.lambda.logs_response(&p["/_wildrydes/logs/".len()..], req.uri().query()).await
            }
            (&http::Method::GET, p) if p.starts_with("/_wildrydes/lambda-code/") => {
                self.lambda.code_response(&p["/_wildrydes/lambda-code/".len()..]).await
            }
            _ => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("No local endpoint {} {path}", req.method()),
            )),
        };
        result.unwrap_or_else(|e| e.to_response(Protocol::RestJson))
    }
}

fn auth_error(service: &str, error: &AuthError) -> Response {
    let protocol = service_info(service).map(|i| i.protocol).unwrap_or(Protocol::RestXml);
    auth_error_in(protocol, error)
}

/// AWS's error for a refused signature in each protocol. The JSON-1.0/1.1 services answer
/// 400 and the REST-JSON ones 403, as AWS does (S3's errors come from its own verifier).
fn auth_error_in(protocol: Protocol, error: &AuthError) -> Response {
    let code = match error {
        AuthError::Missing => "MissingAuthenticationTokenException",
        AuthError::Malformed(_) => "IncompleteSignatureException",
        AuthError::UnknownAccessKey(_) => "UnrecognizedClientException",
        AuthError::SignatureMismatch | AuthError::WrongRegion(_) | AuthError::Skewed { .. } => {
            "InvalidSignatureException"
        }
        AuthError::Expired => "InvalidSignatureException",
    };
    let status = match protocol {
        Protocol::AwsJson10 | Protocol::AwsJson11 => StatusCode::BAD_REQUEST,
        Protocol::RestJson | Protocol::RestXml => StatusCode::FORBIDDEN,
    };
    let error = ApiError::new(status, code, error.to_string());
    if protocol == Protocol::RestXml {
        // An S3-bound request whose credentials could not even be parsed.
        return ApiError::new(StatusCode::FORBIDDEN, "AccessDenied", error.message).to_response(protocol);
    }
    error.to_response(protocol)
}

/// Accepts connections until `shutdown` turns true, then waits for requests in flight.
pub(super) async fn serve(listener: TcpListener, router: Arc<Router>, mut shutdown: watch::Receiver<bool>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        continue;
                    }
                };
                let router = router.clone();
                let service = hyper::service::service_fn(move |req| {
                    let router = router.clone();
                    async move { Ok::<_, Infallible>(router.handle(req).await) }
                });
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("connection ended with an error: {e}");
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    // Requests in flight get a moment to finish; a stuck client cannot hold shutdown hostage.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), graceful.shutdown()).await;
}

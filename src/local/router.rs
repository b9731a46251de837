//! The one listener and the router behind it: reads the SigV4 credential scope to pick
//! the service from the registry (`registry.rs`), and hands it the request with the
//! [`Gate`] that reads the body within the service's limit and verifies the signature.
//! The router knows no service by name: adding a service is one line in the registry.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use percent_encoding::percent_decode_str;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::LocalCloudError;
use super::protocol::{ApiError, ApiRequest, Protocol, Response};
use super::registry::Services;
use super::service::{Declaration, Service, Wiring, no_local_endpoint};
use super::sigv4::{self, AuthError, Credentials, PathEncoding, SignedRequest};
use super::storage::Store;

/// How long a client may take to send a request body.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The services of the local cloud, found by their SigV4 signing name.
pub struct Router {
    gate: Gate,
    /// Where this cloud keeps its state, as an absolute path: `/_wildrydes/health` says it,
    /// so a command given another `--data-dir` can refuse to show this one's data.
    data_dir: std::path::PathBuf,
    store: Store,
    services: Services,
    /// The dashboards and commands using this cloud (`/_wildrydes/clients`).
    pub leases: super::leases::Leases,
}

/// Reads a request's body and verifies its signature against the local credentials and
/// region, for the services that leave that to the router.
pub struct Gate {
    credentials: Credentials,
    region: String,
}

impl Router {
    pub(super) async fn new(wiring: Wiring) -> Result<Self, LocalCloudError> {
        let config = &wiring.config;
        let gate = Gate { credentials: config.credentials.clone(), region: config.region.clone() };
        let data_dir = std::fs::canonicalize(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone());
        let store = wiring.store.clone();
        let services = Services::start(wiring).await?;
        Ok(Self { gate, data_dir, store, services, leases: Default::default() })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// The service of type `T` (e.g. `router.service::<Lambda>()`), to use its own API.
    pub fn service<T: Service>(&self) -> &T {
        self.services.get::<T>().expect("every service type is in the registry")
    }

    pub async fn handle(&self, req: Request<Incoming>) -> Response {
        let (method, path) = (req.method(), req.uri().path());
        if let Some(service) =
            self.services.iter().find(|s| s.declaration().routes.iter().any(|r| r.matches(method, path)))
        {
            let protocol = Protocol::RestJson;
            return service.internal(req).await.unwrap_or_else(|e| e.to_response(protocol));
        }
        if path.starts_with("/_wildrydes/") {
            return self.internal(req);
        }
        let raw_query = req.uri().query().unwrap_or("").to_string();
        let service = match sigv4::credential_scope(req.headers(), &raw_query) {
            Ok(Some(scope)) => self.services.by_signing_name(&scope.service).ok_or(scope.service),
            Ok(None) => Ok(self.guess(&req)),
            Err(e) => {
                return auth_error_in(self.guess(&req).declaration().protocol, &e);
            }
        };
        match service {
            Ok(service) => service.serve(req, &self.gate).await,
            Err(name) => ApiError::bad_request(
                "UnrecognizedClientException",
                format!("The local cloud has no service '{name}' (signing name in the credential scope)."),
            )
            .to_response(Protocol::AwsJson10),
        }
    }

    /// For a request with no credentials, the service it was meant for, so the error is in
    /// that service's protocol.
    fn guess(&self, req: &Request<Incoming>) -> &dyn Service {
        let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
        self.services.guess(target, req.uri().path()).expect("the registry has a service for unclaimed requests")
    }

    /// The local cloud's own unsigned endpoints, `/_wildrydes/health` and the clients'
    /// leases (`/_wildrydes/clients`); the other paths under `/_wildrydes/` belong to the
    /// services that declare them.
    fn internal(&self, req: Request<Incoming>) -> Response {
        let path = req.uri().path();
        let result = match (req.method(), path) {
            (&http::Method::GET, "/_wildrydes/health") => Ok(super::protocol::json_response(
                Protocol::RestJson,
                StatusCode::OK,
                &serde_json::json!({"status": "ok", "dataDir": self.data_dir, "region": self.gate.region}),
            )),
            (method, p) if p.starts_with(super::leases::PATH) => {
                self.leases.respond(method, &p[super::leases::PATH.len()..])
            }
            _ => Err(no_local_endpoint(req.method(), path)),
        };
        result.unwrap_or_else(|e| e.to_response(Protocol::RestJson))
    }
}

impl Gate {
    /// Reads the body within `service`'s limit, verifies the signature over it, and hands
    /// the request to `api`; its error, or the refusal, is answered in the service's protocol.
    pub fn verified<'a, F, Fut>(
        &'a self,
        service: &'a dyn Service,
        req: Request<Incoming>,
        api: F,
    ) -> BoxFuture<'a, Response>
    where
        F: FnOnce(ApiRequest) -> Fut + Send + 'a,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'a,
    {
        Box::pin(async move {
            let Declaration { protocol, max_body, .. } = *service.declaration();
            match self.authenticate(req, protocol, max_body).await {
                Ok(api_request) => api(api_request).await.unwrap_or_else(|e| e.to_response(protocol)),
                Err(response) => response,
            }
        })
    }

    /// Reads the body within the service's limit and verifies the signature over it.
    async fn authenticate(
        &self,
        req: Request<Incoming>,
        protocol: Protocol,
        max_body: usize,
    ) -> Result<ApiRequest, Response> {
        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLargeException",
                format!("Request must be smaller than {} bytes for this service.", max_body),
            )
            .to_response(protocol)
        };
        let declared = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|len| len > max_body) {
            return Err(too_large());
        }
        let (parts, body) = req.into_parts();
        // A client that declares more bytes than it sends must not hold a task forever.
        let read = tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, max_body).collect()).await;
        let Ok(read) = read else {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeoutException",
                format!("The request body was not received within {} seconds.", BODY_READ_TIMEOUT.as_secs()),
            )
            .to_response(protocol));
        };
        let body: Bytes = match read {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
            Err(e) => {
                return Err(ApiError::bad_request(
                    "IncompleteSignatureException",
                    format!("Could not read the request body: {e}"),
                )
                .to_response(protocol));
            }
        };
        let raw_path = parts.uri.path();
        let raw_query = parts.uri.query().unwrap_or("");
        let signed =
            SignedRequest { method: parts.method.as_str(), raw_path, raw_query, headers: &parts.headers, body: &body };
        let scope = sigv4::verify(&signed, &self.credentials, PathEncoding::Double, time::OffsetDateTime::now_utc())
            .map_err(|e| auth_error_in(protocol, &e))?;
        if scope.region != self.region {
            return Err(auth_error_in(protocol, &AuthError::WrongRegion(scope.region)));
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

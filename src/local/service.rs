//! What a service of the local cloud declares to the rest of it: the [`Service`] trait the
//! router, the guessing of unsigned requests, the start-up and the shutdown all go through,
//! and the [`Wiring`] in which services find each other at start-up, through traits only.
//!
//! May touch: `protocol` (the wire types), `storage` (the store handed to services), and
//! the router's [`Gate`] that reads and verifies requests.

use std::any::{Any, TypeId};
use std::collections::HashMap;

use futures::future::BoxFuture;
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;

use super::LocalCloudConfig;
use super::protocol::{ApiError, Protocol, Response};
pub use super::router::Gate;
use super::storage::Store;

pub const MIB: usize = 1024 * 1024;

/// One AWS service of the local cloud. A service lives in its own folder: `mod.rs` holds
/// the service and this trait's impl, `api.rs` its operations, then rooms of its own.
pub trait Service: Any + Send + Sync {
    /// What the router needs to know before it reads a request.
    fn declaration(&self) -> &'static Declaration;

    /// Serves one request addressed to the service. JSON services hand it to
    /// [`Gate::verified`], which reads the body within [`Declaration::max_body`] and
    /// verifies the signature; a service that must see the request as it arrived (S3: only
    /// `s3s` reads aws-chunked streaming signatures) verifies it itself.
    fn serve<'a>(&'a self, req: Request<Incoming>, gate: &'a Gate) -> BoxFuture<'a, Response>;

    /// Serves a request on one of [`Declaration::routes`].
    fn internal(&self, req: Request<Incoming>) -> BoxFuture<'_, Result<Response, ApiError>> {
        Box::pin(async move { Err(no_local_endpoint(req.method(), req.uri().path())) })
    }

    /// Called, in reverse start order, before the listener stops: let go of what holds
    /// requests open or sends work to other services (long polls, outboxes).
    fn before_stop(&self) {}

    /// Called, in reverse start order, once no request is in flight.
    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// What a service declares to the router.
#[derive(Debug)]
pub struct Declaration {
    /// The names the service is signed for (the credential scope's service); the first is
    /// its own.
    pub signing_names: &'static [&'static str],
    /// How the service frames its requests and errors.
    pub protocol: Protocol,
    /// The largest request body AWS accepts for the service (or what its largest operation
    /// needs), so an oversized body is refused before it is buffered.
    pub max_body: usize,
    /// How a request whose credentials are missing or unreadable shows it was meant for
    /// this service, so the error is in its protocol.
    pub unsigned: Mark,
    /// The unsigned local endpoints the service owns: its `/_wildrydes/…` views for the
    /// dashboard and tests, or an API AWS also serves unsigned (Lambda's Runtime API).
    pub routes: &'static [Route],
}

/// What marks a request as meant for a service when its credentials do not say.
#[derive(Debug, Clone, Copy)]
pub enum Mark {
    /// Its `X-Amz-Target` starts with this.
    Target(&'static str),
    /// Its path starts with this.
    Path(&'static str),
    /// Nothing: the service gets the requests no other service claims (S3, whose requests
    /// carry no operation header and whose paths are the bucket's and key's).
    Unclaimed,
}

impl Mark {
    pub fn claims(&self, target: &str, path: &str) -> bool {
        match *self {
            Mark::Target(prefix) => target.starts_with(prefix),
            Mark::Path(prefix) => path.starts_with(prefix),
            Mark::Unclaimed => false,
        }
    }
}

impl dyn Service {
    /// The service as its own type (tests and the dashboard read a service's own API).
    pub fn downcast_ref<T: Service>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref()
    }
}

/// An unsigned local endpoint a service owns.
#[derive(Debug, Clone, Copy)]
pub enum Route {
    /// `GET` on exactly this path.
    Get(&'static str),
    /// `GET` on any path under this prefix.
    GetUnder(&'static str),
    /// Any method on any path under this prefix.
    Under(&'static str),
}

impl Route {
    pub fn matches(&self, method: &Method, path: &str) -> bool {
        match *self {
            Route::Get(p) => method == Method::GET && path == p,
            Route::GetUnder(p) => method == Method::GET && path.starts_with(p),
            Route::Under(p) => path.starts_with(p),
        }
    }
}

pub fn no_local_endpoint(method: &Method, path: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NotFound", format!("No local endpoint {method} {path}"))
}

/// What a service is started with: the store, the configuration, and what the services
/// started before it provide, looked up by type. A service provides its abilities as trait
/// objects (`Arc<dyn EventTarget>`, `Arc<dyn TaskRunner>`…), so the service that needs one
/// names only the trait, never the service behind it.
pub struct Wiring {
    pub store: Store,
    pub config: LocalCloudConfig,
    /// The local cloud's URL, e.g. `http://127.0.0.1:4566`.
    pub endpoint: String,
    provided: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl Wiring {
    pub(super) fn new(store: Store, config: LocalCloudConfig, endpoint: String) -> Self {
        Self { store, config, endpoint, provided: HashMap::new() }
    }

    /// Offers `value` to the services started after this one. What was provided first
    /// stays: a stand-in given before start-up (a test's task runner) wins over a service's.
    pub fn provide<T: Any + Send + Sync>(&mut self, value: T) {
        self.provided.entry(TypeId::of::<T>()).or_insert_with(|| Box::new(value));
    }

    /// What a service started earlier provides, or an error naming who needs it.
    pub fn need<T: Any + Clone>(&self, needed_by: &'static str) -> Result<T, super::LocalCloudError> {
        self.provided
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>())
            .cloned()
            .ok_or_else(|| super::LocalCloudError::Wiring { service: needed_by, needs: std::any::type_name::<T>() })
    }
}

//! Who uses this local cloud. Each dashboard or command that starts or joins it on its port
//! takes a lease (`POST /_wildrydes/clients`), renews it while it runs (`PUT
//! /_wildrydes/clients/<id>`) and gives it back when it ends (`DELETE …/<id>`). A lease not
//! renewed within [`LEASE_TTL`] expires, so a client killed with -9 does not hold the cloud
//! forever. A cloud started for its clients (`wildrydes serve --until-idle`) stops itself
//! once it has had none for [`IDLE_GRACE`]; `wildrydes serve` alone runs until stopped.
//!
//! In memory only: after a restart a client's renewal of a lease this cloud never gave
//! answers 404 NotFound, and the client takes a new one.
//!
//! Knows nothing of the services; the router hands it the requests under its path.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::json;

use super::protocol::{ApiError, Protocol, Response, json_response};

/// How long a lease lasts without a renewal; clients renew every third of it.
pub const LEASE_TTL: Duration = Duration::from_secs(15);
/// How long a cloud started for its clients waits, with none left, before it stops: long
/// enough for a dashboard to be restarted, or a command to follow another.
pub const IDLE_GRACE: Duration = Duration::from_secs(10);

/// The path the router hands to [`Leases::respond`].
pub const PATH: &str = "/_wildrydes/clients";

pub struct Leases {
    state: Mutex<State>,
}

struct State {
    next: u64,
    /// Lease id → when it expires.
    live: HashMap<u64, Instant>,
    /// Since when no lease has been live (the start, at first).
    idle_since: Instant,
}

impl Default for Leases {
    fn default() -> Self {
        Self { state: Mutex::new(State { next: 1, live: HashMap::new(), idle_since: Instant::now() }) }
    }
}

impl State {
    fn sweep(&mut self, now: Instant) {
        let before = self.live.len();
        self.live.retain(|_, expires| *expires > now);
        if before > 0 && self.live.is_empty() {
            self.idle_since = now;
        }
    }
}

impl Leases {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a map of instants: still whole after a panic elsewhere.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new lease; returns its id.
    pub fn take(&self) -> u64 {
        let now = Instant::now();
        let mut state = self.lock();
        state.sweep(now);
        let id = state.next;
        state.next += 1;
        state.live.insert(id, now + LEASE_TTL);
        id
    }

    /// Extends a live lease; `false` when there is none by that id (expired or never given).
    pub fn renew(&self, id: u64) -> bool {
        let now = Instant::now();
        let mut state = self.lock();
        state.sweep(now);
        match state.live.get_mut(&id) {
            Some(expires) => {
                *expires = now + LEASE_TTL;
                true
            }
            None => false,
        }
    }

    /// Ends a lease; `false` when there was none by that id.
    pub fn give_back(&self, id: u64) -> bool {
        let now = Instant::now();
        let mut state = self.lock();
        let was = state.live.remove(&id).is_some();
        if was && state.live.is_empty() {
            state.idle_since = now;
        }
        state.sweep(now);
        was
    }

    /// How long the cloud has had no live lease; `None` while it has one.
    pub fn idle_for(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut state = self.lock();
        state.sweep(now);
        state.live.is_empty().then(|| now.duration_since(state.idle_since))
    }

    /// `POST /_wildrydes/clients`, `PUT` or `DELETE /_wildrydes/clients/<id>`: `rest` is the
    /// path after [`PATH`].
    pub fn respond(&self, method: &Method, rest: &str) -> Result<Response, ApiError> {
        let ttl = LEASE_TTL.as_secs();
        let missing =
            |what: &str| ApiError::new(StatusCode::NOT_FOUND, "NotFound", format!("There is no lease {what}."));
        let gone = |id: u64| missing(&id.to_string());
        let id = match rest {
            "" => None,
            _ => {
                let id = rest.strip_prefix('/').ok_or_else(|| missing(rest))?;
                Some(id.parse::<u64>().map_err(|_| missing(id)))
            }
        };
        match (method, id) {
            (&Method::POST, None) => {
                let id = self.take();
                Ok(json_response(
                    Protocol::RestJson,
                    StatusCode::CREATED,
                    &json!({"id": id.to_string(), "ttlSeconds": ttl}),
                ))
            }
            (&Method::PUT, Some(id)) => {
                let id = id?;
                if !self.renew(id) {
                    return Err(gone(id));
                }
                Ok(json_response(Protocol::RestJson, StatusCode::OK, &json!({"id": id.to_string(), "ttlSeconds": ttl})))
            }
            (&Method::DELETE, Some(id)) => {
                let id = id?;
                if !self.give_back(id) {
                    return Err(gone(id));
                }
                Ok(json_response(Protocol::RestJson, StatusCode::OK, &json!({})))
            }
            _ => Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!("{method} {PATH}{rest} is not a lease call: POST {PATH}, PUT or DELETE {PATH}/<id>."),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cloud_is_idle_only_once_every_lease_is_given_back() {
        let leases = Leases::default();
        assert!(leases.idle_for().is_some(), "no client yet");
        let a = leases.take();
        let b = leases.take();
        assert_ne!(a, b);
        assert_eq!(leases.idle_for(), None);
        assert!(leases.give_back(a));
        assert!(!leases.give_back(a), "twice");
        assert_eq!(leases.idle_for(), None, "b still holds it");
        assert!(leases.renew(b));
        assert!(leases.give_back(b));
        assert!(leases.idle_for().is_some_and(|d| d < IDLE_GRACE));
        assert!(!leases.renew(b), "a lease given back is not renewed: the client takes a new one");
    }

    #[test]
    fn an_expired_lease_no_longer_holds_the_cloud() {
        let leases = Leases::default();
        let id = leases.take();
        // As if its client had been killed LEASE_TTL ago.
        leases.lock().live.insert(id, Instant::now() - Duration::from_millis(1));
        assert!(leases.idle_for().is_some());
        assert!(!leases.renew(id));
    }

    #[test]
    fn lease_calls_answer_with_their_status() {
        let leases = Leases::default();
        assert_eq!(leases.respond(&Method::POST, "").map(|r| r.status()).ok(), Some(StatusCode::CREATED));
        assert_eq!(leases.respond(&Method::PUT, "/1").map(|r| r.status()).ok(), Some(StatusCode::OK));
        assert!(leases.respond(&Method::PUT, "/9").is_err());
        assert!(leases.respond(&Method::PUT, "/x").is_err());
        assert!(leases.respond(&Method::GET, "").is_err());
        assert_eq!(leases.respond(&Method::DELETE, "/1").map(|r| r.status()).ok(), Some(StatusCode::OK));
    }
}

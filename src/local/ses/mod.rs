//! SES v2 (REST-JSON, signing name `ses`): email identities and SendEmail, with every sent
//! message kept in a durable outbox instead of being delivered.
//!
//! Operations: CreateEmailIdentity, GetEmailIdentity, ListEmailIdentities (both the
//! current `POST /v2/email/list-identities` and the older `GET /v2/email/identities`),
//! DeleteEmailIdentity, SendEmail (Content.Simple and Content.Raw). The outbox is the
//! SQLite table `ses_outbox`; `GET /_wildrydes/outbox` shows it, newest first.
//!
//! Locally an identity is verified the moment it is created: there is no mailbox or DNS
//! to prove ownership against. The account behaves as one with production access, so
//! only the sender is checked, never the recipients (AWS's sandbox checks both).

mod api;

use std::sync::Arc;

use futures::future::BoxFuture;
use http::Request;
use hyper::body::Incoming;

use super::LocalCloudError;
use super::protocol::{ApiError, Protocol, Response};
use super::service::{Declaration, Gate, MIB, Mark, Route, Service, Wiring};
use super::storage::{StorageError, Store};

pub struct Ses {
    store: Store,
}

impl Ses {
    pub fn new(store: Store) -> Result<Self, StorageError> {
        store.call_blocking(|conn| {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS ses_identities (
                     key TEXT PRIMARY KEY,
                     name TEXT NOT NULL,
                     identity_type TEXT NOT NULL,
                     configuration_set TEXT,
                     tags TEXT NOT NULL,
                     created_at INTEGER NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS ses_outbox (
                     seq INTEGER PRIMARY KEY AUTOINCREMENT,
                     id TEXT NOT NULL UNIQUE,
                     timestamp TEXT NOT NULL,
                     kind TEXT NOT NULL,
                     from_address TEXT NOT NULL,
                     to_addresses TEXT NOT NULL,
                     cc_addresses TEXT NOT NULL,
                     bcc_addresses TEXT NOT NULL,
                     reply_to_addresses TEXT NOT NULL,
                     subject TEXT,
                     text_body TEXT,
                     html_body TEXT,
                     raw BLOB
                 );",
            )?;
            Ok(())
        })?;
        Ok(Self { store })
    }
}

/// Starts SES: its identities and outbox tables (see `registry.rs`).
pub fn start(wiring: &mut Wiring) -> BoxFuture<'_, Result<Arc<dyn Service>, LocalCloudError>> {
    Box::pin(async move { Ok(Arc::new(Ses::new(wiring.store.clone())?) as Arc<dyn Service>) })
}

const DECLARATION: Declaration = Declaration {
    signing_names: &["ses"],
    protocol: Protocol::RestJson,
    // SendEmail takes raw messages of up to 40 MB.
    max_body: 48 * MIB,
    unsigned: Mark::Path("/v2/email"),
    routes: &[Route::Get("/_wildrydes/outbox")],
};

impl Service for Ses {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn serve<'a>(&'a self, req: Request<Incoming>, gate: &'a Gate) -> BoxFuture<'a, Response> {
        gate.verified(self, req, |req| self.handle(req))
    }

    fn internal(&self, _req: Request<Incoming>) -> BoxFuture<'_, Result<Response, ApiError>> {
        Box::pin(self.outbox_response())
    }
}

//! The operations layer: every question the operator's commands, the dashboard and the Lab
//! ask of the target, and every action they take, as domain types and typed errors through
//! the SDK clients. No UI here: the CLI (`cli`) formats these results and the dashboard
//! (`tui::load`, `tui::actions`) maps them into its messages, so both give the same answer.
//!
//! May use `cloud`, `run` and `workshop`; never `tui` or `cli`.

pub mod executions;
pub mod faces;
pub mod failure;
pub mod history;
pub mod records;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::cloud::Clients;
use crate::workshop::WorkshopNames;

pub use executions::{ExecutionDetail, ExecutionFilter, ExecutionRow};
pub use faces::{FaceRow, Group};
pub use failure::{Failure, Handled, Verdict};
pub use history::HistoryRow;
pub use records::{FunctionLogs, MailRow, ObjectRow, RiderRow};

/// An operations layer error: one sentence a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The target refused or could not be reached: what was asked, and the SDK error as a sentence.
    #[error("{}: {message}", upper_first(.what))]
    Call { what: String, message: String },
    #[error("There is no execution named {0}. `wildrydes executions list` shows their names.")]
    NoSuchExecution(String),
    #[error("{count} executions are named {name} (on {machines}); give the execution ARN instead.")]
    AmbiguousExecution { name: String, count: usize, machines: String },
    #[error(
        "{0} is not an execution status; use one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE."
    )]
    BadStatus(String),
    #[error("There is no state machine named {0}. Deploy the workshop first (`wildrydes deploy`).")]
    NoSuchStateMachine(String),
    #[error("The similarity threshold is a percentage from 0 to 100, not {0}.")]
    BadThreshold(f32),
    #[error("There is no face {0} in the collection.")]
    NoSuchFace(String),
    #[error("No face in the collection belongs to {0}.")]
    NoFacesOfUser(String),
    #[error("Name the faces to delete: FACE_ID… or --user USER.")]
    NothingNamed,
    /// Something only the local cloud has (the outbox, its logs endpoint).
    #[error("{0}")]
    LocalOnly(&'static str),
    #[error("{0}")]
    Other(String),
}

impl OpsError {
    /// An SDK error while doing `what`.
    pub fn call<E>(
        what: impl Into<String>,
        e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> Self
    where
        E: std::error::Error + aws_smithy_types::error::metadata::ProvideErrorMetadata + 'static,
    {
        OpsError::Call { what: what.into(), message: crate::cloud::error_message(e) }
    }
}

/// A sentence starts with a capital letter.
fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub type Result<T, E = OpsError> = std::result::Result<T, E>;

/// The operations on one target: its clients, the workshop's resource names there, and the
/// caches of what never changes (a finished execution's facts). Cheap to clone; clones share
/// the caches.
#[derive(Clone)]
pub struct Ops {
    pub clients: Clients,
    pub names: WorkshopNames,
    /// The local cloud's endpoint, for what only it has (the outbox, function logs); `None` on AWS.
    pub local_endpoint: Option<String>,
    /// What to run when the local cloud this process started or joined has stopped after all
    /// (killed, say); `None` where the target is not one this process can tell how to start.
    pub restart_hint: Option<String>,
    finished: Arc<Mutex<HashMap<String, Arc<executions::Facts>>>>,
}

impl Ops {
    pub fn new(clients: Clients, names: WorkshopNames, local_endpoint: Option<String>) -> Self {
        Self { clients, names, local_endpoint, restart_hint: None, finished: Default::default() }
    }
}

//! The Amazon States Language, pure: parsing and validation of definitions ([`definition`]),
//! JSONPath data flow ([`path`]), intrinsic functions ([`intrinsic`]), Choice rules
//! ([`choice`]) and a deterministic interpreter ([`execution`]) whose whole state is
//! serialisable, so a durable executor can persist it beside the history it emits.
//!
//! Nothing here does I/O or reads the clock: time comes in as a parameter, tasks go out as
//! [`execution::Command`]s and come back as [`execution::Event`]s.

pub mod choice;
pub mod definition;
pub mod execution;
pub mod history;
pub mod inspect;
pub mod intrinsic;
pub mod path;

pub use definition::{Definition, Diagnostic};
pub use execution::{Command, Event, Execution, ExecutionContext, ExecutionStatus};
pub use history::{EventType, HistoryEvent};

/// An error raised while a state runs: an ASL error name (`States.Runtime`, a task's own
/// error type, ...) and an optional cause, exactly as they appear in the history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("{error}: {}", cause.as_deref().unwrap_or(""))]
pub struct Failure {
    pub error: String,
    pub cause: Option<String>,
}

impl Failure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self { error: error.into(), cause: Some(cause.into()) }
    }

    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new("States.Runtime", cause)
    }

    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Self::new("States.IntrinsicFailure", cause)
    }
}

/// Errors of this module that are not a running state's failure.
#[derive(Debug, thiserror::Error)]
pub enum AslError {
    #[error("invalid state machine definition: {}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("; "))]
    InvalidDefinition(Vec<Diagnostic>),
    #[error("invalid execution state: {0}")]
    InvalidState(String),
}

/// AWS's payload quota: 256 KiB of UTF-8 per input, output and result.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// The largest definition AWS accepts.
pub const MAX_DEFINITION_BYTES: usize = 1024 * 1024;
/// How deep a definition or payload may nest (serde_json refuses beyond 128 anyway).
pub const MAX_JSON_DEPTH: usize = 100;

/// Depth of a JSON value, computed iteratively so a hostile value cannot overflow the stack.
pub fn json_depth(value: &serde_json::Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        match v {
            serde_json::Value::Array(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            serde_json::Value::Object(o) => stack.extend(o.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    max
}

/// AWS serialises payloads in history and outputs as compact JSON text.
pub fn to_json_text(value: &serde_json::Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

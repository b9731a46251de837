//! The local Step Functions. `asl` is the pure Amazon States Language interpreter: it knows
//! nothing of HTTP, SQLite, processes or the clock. Around it: `store` (the SQLite tables),
//! `executor` (one durable actor per running execution, tasks through [`TaskRunner`]) and
//! `service` (the awsJson1_0 API).

pub mod asl;
pub mod executor;
pub mod service;
pub mod store;

pub use executor::{TaskFailure, TaskRunner, UnavailableTaskRunner};
pub use service::StepFunctions;

//! wildrydes: the Wild Rydes rider-selfie workflow as real software — a terminal
//! dashboard, a CLI, and a local AWS-compatible cloud, over one SDK code path.

pub mod cli;
pub mod cloud;
pub mod context;
pub mod deploy;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod local;
pub mod ops;
pub mod run;
pub mod tui;
pub mod workshop;

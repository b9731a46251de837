//! wildrydes: the Wild Rydes rider-selfie workflow as real software — a terminal
//! dashboard, a CLI, and a local AWS-compatible cloud, over one SDK code path.

pub mod cloud;
pub mod deploy;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod local;
pub mod operator;
pub mod run;
pub mod tui;
pub mod workshop;

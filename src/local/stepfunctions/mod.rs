//! The local Step Functions. `asl` is the pure Amazon States Language interpreter: it knows
//! nothing of HTTP, SQLite, processes or the clock.

pub mod asl;

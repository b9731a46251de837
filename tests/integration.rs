//! Integration tests: the local cloud started in-process on an ephemeral port, driven by
//! the real AWS SDK clients over real HTTP. One test binary, one module per concern.

mod common;

mod asl_conformance;
mod auth;
mod aws;
mod aws_deploy;
mod compat;
mod crash;
mod dynamodb;
mod hostile;
mod lambda;
mod limits;
mod logs;
mod operator;
mod photos;
mod rekognition;
mod s3;
mod ses;
mod stepfunctions;
mod trigger;
mod tui;
mod tui_tmux;
mod tui_views;
mod workflow;

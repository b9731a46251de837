//! What the interpreter's tests share: a context, starting a definition, the snapshot
//! round trip a durable executor makes, and readers of the events and commands.

use std::sync::Arc;

use serde_json::Value;

use super::super::definition::Definition;
use super::super::history::HistoryEvent;
use super::{Command, Event, Execution, ExecutionContext};

pub(super) const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

fn ctx() -> ExecutionContext {
    ExecutionContext {
        execution_arn: "arn:aws:states:us-east-1:123456789012:execution:sm:e1".into(),
        name: "e1".into(),
        role_arn: "arn:aws:iam::123456789012:role/r".into(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:sm".into(),
        state_machine_name: "sm".into(),
        redrive_count: 0,
    }
}

pub(super) fn start(def: Value, input: Value) -> (Execution, Vec<HistoryEvent>, Vec<Command>) {
    let d = Definition::from_value(&def).unwrap_or_else(|e| panic!("invalid test definition: {e:?}"));
    Execution::start(Arc::new(d), input, ctx(), 1_000)
}

/// What a durable executor does across a restart: the snapshot, reloaded with the
/// definition the execution's row keeps.
pub(super) fn reload(ex: &Execution) -> Execution {
    let saved = serde_json::to_string(ex).unwrap_or_else(|e| panic!("no snapshot: {e}"));
    assert!(!saved.contains("\"StartAt\""), "the snapshot leaves the definition to the row");
    Execution::restore(&saved, ex.definition.clone()).unwrap_or_else(|e| panic!("state does not round-trip: {e}"))
}

pub(super) fn types(events: &[HistoryEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

pub(super) fn invokes(cmds: &[Command]) -> Vec<(String, Value)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::InvokeTask { id, parameters, .. } => Some((id.clone(), parameters.clone())),
            _ => None,
        })
        .collect()
}

pub(super) fn timers(cmds: &[Command]) -> Vec<(String, i64)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::StartTimer { id, fire_at_ms } => Some((id.clone(), *fire_at_ms)),
            _ => None,
        })
        .collect()
}

pub(super) fn fail_task(ex: &mut Execution, id: &str, at: i64) -> Vec<HistoryEvent> {
    ex.on(Event::TaskFailed { id: id.into(), error: "Boom".into(), cause: Some("c".into()) }, at).0
}

//! The Amazon States Language: definitions (parse, validate, then run on the interpreter
//! with tasks that succeed, fail and time out), and data flow (paths, ResultPath,
//! Parameters templates, intrinsic functions, Choice rules) on arbitrary input.

use std::cell::Cell;
use std::collections::VecDeque;

use serde_json::{Map, Value, json};

use super::{Outcome, split_nul, text};
use crate::local::stepfunctions::asl::{
    Command, Definition, Event, Execution, ExecutionContext, ExecutionStatus, HistoryEvent, choice, intrinsic, path,
};

/// External events fed to one execution at most: the interpreter must be done or still
/// consistent by then; a Stop then has to close it.
const MAX_STEPS: usize = 400;

/// The input used when the bytes carry none.
fn default_input() -> Value {
    json!({"userId": "user_a", "s3Bucket": "photos", "s3Key": "1_happy_face.jpg", "items": [1, "two", {"n": 3}, [4]], "n": 5})
}

/// Bytes: a definition, optionally followed by NUL and the execution's input JSON.
/// A definition that parses runs to completion on the interpreter.
pub fn asl_definition(data: &[u8]) -> Outcome {
    let (definition, input) = split_nul(data);
    let definition = match Definition::parse(&text(definition)) {
        Ok(d) => d,
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty(), "a refused definition says why");
            return Outcome::Refused;
        }
    };
    let input = match input.map(serde_json::from_slice::<Value>) {
        None => default_input(),
        Some(Ok(v))
            if crate::local::stepfunctions::asl::json_depth(&v) <= crate::local::stepfunctions::asl::MAX_JSON_DEPTH =>
        {
            v
        }
        // StartExecution refuses such input before an execution exists.
        Some(_) => return Outcome::Refused,
    };
    run(definition, input, data.len() as u64);
    Outcome::Accepted
}

/// Drives one execution the way the executor does, with task outcomes chosen from `salt`:
/// success (echoing the parameters), a custom error, a timeout; timers fire in order.
fn run(definition: Definition, input: Value, salt: u64) {
    let context = ExecutionContext {
        execution_arn: "arn:aws:states:us-east-1:123456789012:execution:fuzz:run".into(),
        name: "run".into(),
        role_arn: "arn:aws:iam::123456789012:role/fuzz".into(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:fuzz".into(),
        state_machine_name: "fuzz".into(),
        redrive_count: 0,
    };
    let mut now = 1_700_000_000_000i64;
    let definition = std::sync::Arc::new(definition);
    let (mut exec, events, commands) = Execution::start(definition.clone(), input, context, now);
    let mut history = events;
    let mut pending: VecDeque<Command> = commands.into();
    let mut step = 0usize;
    while exec.is_running() && step < MAX_STEPS {
        step += 1;
        let Some(command) = pending.pop_front() else {
            panic!("a running execution waits on nothing: it would hang forever");
        };
        let choice = (salt.wrapping_add(step as u64)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60;
        let event = match command {
            Command::InvokeTask { id, parameters, .. } => match choice {
                0..=8 => Event::TaskSucceeded { id, output: parameters },
                9..=11 => Event::TaskFailed { id, error: "Custom.Error".into(), cause: Some("fuzz".into()) },
                12 => Event::TaskFailed { id, error: "States.Timeout".into(), cause: None },
                13 => Event::TaskFailed { id, error: "Lambda.Unknown".into(), cause: None },
                14 => {
                    // A heartbeat keeps the task outstanding: ask again later.
                    let heartbeat = Event::TaskHeartbeat { id: id.clone() };
                    pending.push_back(Command::InvokeTask {
                        id,
                        resource: String::new(),
                        parameters: Value::Null,
                        timeout_seconds: None,
                        heartbeat_seconds: None,
                    });
                    heartbeat
                }
                _ => Event::TaskSucceeded { id, output: json!({"ok": true, "n": step}) },
            },
            Command::StartTimer { id, fire_at_ms } => {
                now = now.max(fire_at_ms);
                Event::TimerFired { id }
            }
            // Cancelled work sends nothing back.
            Command::CancelTask { .. } | Command::CancelTimer { .. } => continue,
        };
        let (events, commands) = exec.on(event, now);
        history.extend(events);
        pending.extend(commands);
        if step.is_multiple_of(64) {
            assert_snapshot_reloads(&exec, &definition);
        }
    }
    if exec.is_running() {
        let (events, _) = exec.on(Event::Stop { error: Some("Fuzz.Budget".into()), cause: None }, now);
        history.extend(events);
        assert!(matches!(exec.status(), ExecutionStatus::Aborted { .. }), "a stopped execution is aborted");
    }
    assert_snapshot_reloads(&exec, &definition);
    assert_history_well_formed(&history);
}

/// The executor persists the execution as JSON and reloads it after a restart: whatever
/// the execution holds must come back, or a restart would lose it.
fn assert_snapshot_reloads(exec: &Execution, definition: &std::sync::Arc<Definition>) {
    let snapshot = serde_json::to_string(exec).expect("an execution serialises");
    let back = Execution::restore(&snapshot, definition.clone())
        .unwrap_or_else(|e| panic!("the snapshot of an execution does not reload ({e}): a restart would lose it"));
    assert!(back.event_count() == exec.event_count(), "a reloaded snapshot is the same execution");
}

/// Event ids run 1..n without gaps and every event points back to an earlier one.
pub fn assert_history_well_formed(history: &[HistoryEvent]) {
    for (i, e) in history.iter().enumerate() {
        assert_eq!(e.id, i as u64 + 1, "history event ids run 1..n without gaps or duplicates");
        assert!(e.previous_event_id < e.id, "event {} points back to a later event {}", e.id, e.previous_event_id);
    }
    if let Some(first) = history.first() {
        assert_eq!(first.event_type, "ExecutionStarted", "a history starts with ExecutionStarted");
    }
}

/// Bytes: an expression (a path, an intrinsic call, a Parameters template or a Choice rule
/// as JSON), optionally followed by NUL and the input JSON it is applied to.
pub fn asl_data(data: &[u8]) -> Outcome {
    let (expr, input) = split_nul(data);
    let expr = text(expr);
    let input = match input.map(serde_json::from_slice::<Value>) {
        None => default_input(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return Outcome::Refused,
    };
    let context = json!({"Execution": {"Id": "arn:fuzz", "Input": input.clone()}, "State": {"Name": "S"}});
    let mut variables = Map::new();
    variables.insert("var".into(), json!({"a": [1, 2], "b": "x"}));
    let seed = Cell::new(7);
    let scope = path::Scope { input: &input, context: &context, variables: &variables, seed: &seed };
    let expr = expr.trim();
    if expr.starts_with("States.") {
        Outcome::from(&intrinsic::evaluate(expr, &scope))
    } else if path::is_path(expr) {
        let read = path::query_scope(&scope, expr);
        // A reference path that reads may also be written by ResultPath.
        let written = path::apply_result_path(&input, Some(expr), json!({"result": 1}));
        let _ = path::eval_expression(expr, "InputPath", &scope);
        if read.is_ok() || written.is_ok() { Outcome::Accepted } else { Outcome::Refused }
    } else if let Ok(template) = serde_json::from_str::<Value>(expr) {
        let evaluated = path::eval_template(&template, &scope);
        let mut diagnostics = Vec::new();
        let rule = choice::parse_rule(&template, "/States/Fuzz", true, &mut diagnostics);
        if let Some(rule) = &rule {
            let _ = choice::evaluate(rule, &scope);
        } else {
            assert!(!diagnostics.is_empty(), "a refused Choice rule says why");
        }
        if evaluated.is_ok() || rule.is_some() { Outcome::Accepted } else { Outcome::Refused }
    } else {
        Outcome::Refused
    }
}

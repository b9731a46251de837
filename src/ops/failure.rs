//! Where an execution failed and what became of it: the one rule every view and command
//! uses. [`failures`] finds each failing event with its state's input, error, cause and
//! what took it over (a Retry, a Catch, or nothing); [`Verdict::of`] sums an execution up
//! as succeeded, refused (a failure a Catch turned into the workshop's refusal path) or
//! failed, with the state and reason.

use serde_json::Value;

use super::history::HistoryRow;

/// What became of a failure inside an execution.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "state")]
pub enum Handled {
    /// The state's Retry ran it again.
    Retried,
    /// A Catch sent the execution on to this state.
    CaughtBy(String),
    /// Nothing caught it: the execution (or its Parallel branch) ended here.
    Uncaught,
}

/// One failing event of an execution, with what an operator needs next to it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub event_id: i64,
    pub event_type: String,
    pub state: String,
    /// The input the failing state was entered with.
    pub state_input: Value,
    pub error: String,
    /// The cause as JSON when it is JSON (a Lambda error's errorType/errorMessage).
    pub cause: Value,
    #[serde(rename = "outcome")]
    pub handled: Handled,
    /// The Lambda function that failed, for its logs.
    pub function: Option<String>,
}

impl Failure {
    /// The cause as a person reads it: a Lambda error's errorMessage, or the text itself.
    pub fn reason(&self) -> String {
        cause_sentence(&self.cause)
    }
}

/// The cause as a sentence (a Lambda error's errorMessage), whether it came as JSON or text.
pub fn cause_sentence(cause: &Value) -> String {
    match cause {
        Value::String(s) => crate::run::cause_sentence(s),
        Value::Null => "(none given)".into(),
        Value::Object(o) => match o.get("errorMessage").and_then(Value::as_str) {
            Some(message) => message.to_string(),
            None => serde_json::to_string(cause).unwrap_or_default(),
        },
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Every failure in a history: task and Lambda failures and timeouts, and Fail states, each
/// with the failing state's input and whether a Retry or a Catch took it over.
pub fn failures(events: &[HistoryRow]) -> Vec<Failure> {
    let mut found = Vec::new();
    for (i, e) in events.iter().enumerate() {
        // Execution-level events repeat the failure they end with; Parallel/Map "Failed"
        // events repeat their branch's: the failure is where it started.
        let own_failure = e.is_failure()
            && !e.kind.starts_with("Execution")
            && !e.kind.starts_with("Parallel")
            && !e.kind.starts_with("Map");
        if !own_failure {
            continue;
        }
        found.push(Failure {
            event_id: e.id,
            event_type: e.kind.clone(),
            state: e.state.clone(),
            state_input: state_input(&events[..i], &e.state),
            error: e.json["error"].as_str().unwrap_or_default().to_string(),
            cause: e.json["cause"].clone(),
            handled: handled_after(events, i),
            function: e.function.clone(),
        });
    }
    // A Fail state fails the execution itself: its error is only on ExecutionFailed.
    if found.is_empty()
        && let Some(end) = events.iter().rev().find(|e| e.kind == "ExecutionFailed" || e.kind == "ExecutionTimedOut")
    {
        let state = end.state.clone();
        let before = events.iter().position(|e| e.id == end.id).unwrap_or(events.len());
        found.push(Failure {
            event_id: end.id,
            event_type: end.kind.clone(),
            state_input: state_input(&events[..before], &state),
            state,
            error: end.json["error"].as_str().unwrap_or_default().to_string(),
            cause: end.json["cause"].clone(),
            handled: Handled::Uncaught,
            function: None,
        });
    }
    found
}

/// The input `state` was last entered with before these events.
fn state_input(before: &[HistoryRow], state: &str) -> Value {
    before
        .iter()
        .rev()
        .find(|p| p.kind.ends_with("StateEntered") && p.json["name"] == state)
        .map(|p| p.json["input"].clone())
        .unwrap_or(Value::Null)
}

/// AWS records a caught failure as the failing event, the state's `…StateExited`, then the
/// Catch's next state entered; a retry as the task scheduled again in the same state. With
/// the events' links the follower of each event is exact even where branches interleave;
/// without them, the events of the same state in order.
fn handled_after(events: &[HistoryRow], at: usize) -> Handled {
    let failed = &events[at];
    let linked = failed.previous > 0;
    let mut current = failed.id;
    let mut exited = false;
    for e in &events[at + 1..] {
        let follows = if linked { e.previous == current } else { e.state == failed.state || exited };
        if !follows {
            continue;
        }
        let kind = e.kind.as_str();
        if !exited && matches!(kind, "LambdaFunctionScheduled" | "TaskScheduled") {
            return Handled::Retried;
        }
        if kind.ends_with("StateExited") && e.json["name"] == failed.state.as_str() {
            exited = true;
        } else if exited && kind.ends_with("StateEntered") {
            return Handled::CaughtBy(e.json["name"].as_str().unwrap_or_default().to_string());
        } else if kind.starts_with("Execution") || kind.ends_with("StateFailed") || kind.starts_with("MapIteration") {
            return Handled::Uncaught;
        }
        current = e.id;
    }
    Handled::Uncaught
}

/// How an execution came out, decided once for every view and command.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum Verdict {
    /// Still running (or waiting to be redriven).
    Running,
    /// Succeeded without a failure being caught: in the workshop, the rider was registered.
    Succeeded,
    /// Succeeded through a Catch: the workshop's refusal path (the photo was refused).
    Refused { state: String, error: String, reason: String },
    /// FAILED, TIMED_OUT or ABORTED, in this state with this error.
    Failed { status: String, state: String, error: String, reason: String },
}

impl Verdict {
    /// The verdict of an execution with this status and history.
    pub fn of(status: &str, events: &[HistoryRow]) -> Verdict {
        let found = failures(events);
        match status {
            "RUNNING" | "PENDING_REDRIVE" => Verdict::Running,
            "SUCCEEDED" => match found.iter().rev().find(|f| matches!(f.handled, Handled::CaughtBy(_))) {
                Some(f) => Verdict::Refused { state: f.state.clone(), error: f.error.clone(), reason: f.reason() },
                None => Verdict::Succeeded,
            },
            _ => {
                // The failure that ended it: the last uncaught one, else what the end says.
                let end = events.iter().rev().find(|e| e.kind.starts_with("Execution") && e.is_failure());
                let last = found.iter().rev().find(|f| f.handled == Handled::Uncaught).or(found.last());
                let error = end
                    .and_then(|e| e.json["error"].as_str())
                    .filter(|e| !e.is_empty())
                    .map(str::to_string)
                    .or_else(|| last.map(|f| f.error.clone()))
                    .unwrap_or_default();
                let reason = match (last, end) {
                    (Some(f), _) => f.reason(),
                    (None, Some(e)) => cause_sentence(&e.json["cause"]),
                    (None, None) => String::new(),
                };
                let state = last.map(|f| f.state.clone()).or_else(|| end.map(|e| e.state.clone())).unwrap_or_default();
                Verdict::Failed { status: status.to_string(), state, error, reason }
            }
        }
    }

    /// The exit status of `run`, `rerun` and `redrive`: 0 registered, 2 refused, 1 failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            Verdict::Succeeded => 0,
            Verdict::Refused { .. } => 2,
            Verdict::Failed { .. } | Verdict::Running => 1,
        }
    }

    /// The outcome in a few words, for a column: "succeeded", "refused at FaceDetection:
    /// Face is wearing sunglasses", "failed at Check: States.TaskFailed".
    pub fn summary(&self) -> String {
        match self {
            Verdict::Running => "running".into(),
            Verdict::Succeeded => "succeeded".into(),
            Verdict::Refused { state, reason, error } => {
                let why = if reason.is_empty() || reason == "(none given)" { error } else { reason };
                format!("refused at {state}: {why}")
            }
            Verdict::Failed { status, state, error, .. } => {
                let verb = match status.as_str() {
                    "TIMED_OUT" => "timed out",
                    "ABORTED" => "aborted",
                    _ => "failed",
                };
                match (state.is_empty(), error.is_empty()) {
                    (false, false) => format!("{verb} at {state}: {error}"),
                    (false, true) => format!("{verb} at {state}"),
                    (true, false) => format!("{verb}: {error}"),
                    (true, true) => verb.to_string(),
                }
            }
        }
    }

    /// The state and error of a failure or refusal ("State: Error"), empty otherwise.
    pub fn state_and_error(&self) -> String {
        match self {
            Verdict::Refused { state, error, .. } | Verdict::Failed { state, error, .. } => {
                if error.is_empty() {
                    state.clone()
                } else {
                    format!("{state}: {error}")
                }
            }
            _ => String::new(),
        }
    }
}

/// The event a failed or refused execution opens on: its state's own failing event, else the
/// execution's failure.
pub fn failing_event(events: &[HistoryRow]) -> Option<usize> {
    let found = failures(events);
    let own = found.iter().rev().find(|f| f.handled != Handled::Retried).or(found.last()).map(|f| f.event_id);
    own.and_then(|id| events.iter().position(|e| e.id == id))
        .or_else(|| events.iter().rposition(HistoryRow::is_failure))
}

/// A verdict as a view test needs one: FAILED fails FaceDetection with a refusal's error.
#[cfg(test)]
pub(crate) fn sample(status: &str) -> Verdict {
    match status {
        "FAILED" => Verdict::Failed {
            status: status.into(),
            state: "FaceDetection".into(),
            error: "PhotoDoesNotMeetRequirementError".into(),
            reason: "Face is wearing sunglasses".into(),
        },
        "SUCCEEDED" => Verdict::Succeeded,
        _ => Verdict::Running,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(id: i64, previous: i64, kind: &str, state: &str, json: Value) -> HistoryRow {
        HistoryRow {
            id,
            previous,
            kind: kind.into(),
            state: state.into(),
            time: "2026-12-01 04:00:00".into(),
            elapsed_ms: 10,
            json,
            function: None,
        }
    }

    pub(crate) fn caught_sunglasses() -> Vec<HistoryRow> {
        vec![
            row(1, 0, "ExecutionStarted", "", json!({"input": {"userId": "user_b"}})),
            row(
                2,
                1,
                "TaskStateEntered",
                "FaceDetection",
                json!({"name": "FaceDetection", "input": {"userId": "user_b"}}),
            ),
            row(3, 2, "LambdaFunctionScheduled", "FaceDetection", json!({})),
            row(
                4,
                3,
                "LambdaFunctionFailed",
                "FaceDetection",
                json!({"error": "PhotoDoesNotMeetRequirementError", "cause": {"errorType": "PhotoDoesNotMeetRequirementError", "errorMessage": "Face is wearing sunglasses"}}),
            ),
            row(5, 4, "TaskStateExited", "FaceDetection", json!({"name": "FaceDetection"})),
            row(
                6,
                5,
                "TaskStateEntered",
                "PhotoDoesNotMeetRequirement",
                json!({"name": "PhotoDoesNotMeetRequirement", "input": {}}),
            ),
            row(7, 6, "TaskStateExited", "PhotoDoesNotMeetRequirement", json!({"name": "PhotoDoesNotMeetRequirement"})),
            row(8, 7, "ExecutionSucceeded", "PhotoDoesNotMeetRequirement", json!({"output": {}})),
        ]
    }

    #[test]
    fn a_caught_lambda_failure_names_its_state_input_error_cause_and_catcher() {
        let found = failures(&caught_sunglasses());
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(f.state, "FaceDetection");
        assert_eq!(f.state_input, json!({"userId": "user_b"}));
        assert_eq!(f.error, "PhotoDoesNotMeetRequirementError");
        assert_eq!(f.reason(), "Face is wearing sunglasses");
        assert_eq!(f.handled, Handled::CaughtBy("PhotoDoesNotMeetRequirement".into()));
        let verdict = Verdict::of("SUCCEEDED", &caught_sunglasses());
        assert_eq!(verdict.summary(), "refused at FaceDetection: Face is wearing sunglasses");
        assert_eq!(verdict.exit_code(), 2);
    }

    #[test]
    fn a_retried_failure_is_reported_as_retried_and_an_uncaught_one_as_ending_the_execution() {
        let events = vec![
            row(1, 0, "ExecutionStarted", "", json!({"input": {}})),
            row(2, 1, "TaskStateEntered", "Work", json!({"name": "Work", "input": {"n": 1}})),
            row(3, 2, "LambdaFunctionScheduled", "Work", json!({})),
            row(4, 3, "LambdaFunctionTimedOut", "Work", json!({"error": "States.Timeout", "cause": null})),
            row(5, 4, "LambdaFunctionScheduled", "Work", json!({})),
            row(6, 5, "LambdaFunctionFailed", "Work", json!({"error": "Boom", "cause": "it broke"})),
            row(7, 6, "ExecutionFailed", "Work", json!({"error": "Boom", "cause": "it broke"})),
        ];
        let found = failures(&events);
        assert_eq!(
            found.iter().map(|f| f.handled.clone()).collect::<Vec<_>>(),
            vec![Handled::Retried, Handled::Uncaught]
        );
        assert_eq!(found[1].state_input, json!({"n": 1}));
        assert_eq!(found[0].reason(), "(none given)");
        let verdict = Verdict::of("FAILED", &events);
        assert_eq!(verdict.summary(), "failed at Work: Boom");
        assert_eq!(verdict.exit_code(), 1);
    }

    #[test]
    fn a_fail_state_is_found_on_the_execution_failed_event() {
        let events = vec![
            row(1, 0, "ExecutionStarted", "", json!({"input": {"ok": false}})),
            row(2, 1, "FailStateEntered", "Boom", json!({"name": "Boom", "input": {"ok": false}})),
            row(3, 2, "ExecutionFailed", "Boom", json!({"error": "Nope", "cause": "Face is wearing sunglasses"})),
        ];
        let found = failures(&events);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].state.as_str(), found[0].error.as_str()), ("Boom", "Nope"));
        assert_eq!(found[0].state_input, json!({"ok": false}));
        assert_eq!(Verdict::of("FAILED", &events).state_and_error(), "Boom: Nope");
    }

    #[test]
    fn a_failure_in_one_branch_is_not_taken_for_a_catch_by_the_other_branchs_next_state() {
        // Branch A fails uncaught while branch B moves on to its next state.
        let events = vec![
            row(1, 0, "ExecutionStarted", "", json!({"input": {}})),
            row(2, 1, "ParallelStateEntered", "P", json!({"name": "P", "input": {}})),
            row(3, 2, "ParallelStateStarted", "P", json!(null)),
            row(4, 3, "TaskStateEntered", "A", json!({"name": "A", "input": {}})),
            row(5, 3, "PassStateEntered", "B1", json!({"name": "B1", "input": {}})),
            row(6, 4, "TaskScheduled", "A", json!({})),
            row(7, 6, "TaskFailed", "A", json!({"error": "Boom", "cause": "x"})),
            row(8, 5, "PassStateExited", "B1", json!({"name": "B1"})),
            row(9, 8, "PassStateEntered", "B2", json!({"name": "B2", "input": {}})),
            row(10, 7, "ParallelStateFailed", "P", json!({"error": "Boom", "cause": "x"})),
            row(11, 10, "ExecutionFailed", "P", json!({"error": "Boom", "cause": "x"})),
        ];
        let found = failures(&events);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].handled, Handled::Uncaught);
        assert_eq!(Verdict::of("FAILED", &events).summary(), "failed at A: Boom");
    }
}

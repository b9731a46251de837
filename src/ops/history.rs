//! An execution's history as rows a person reads: each event with the state it belongs to,
//! the Lambda function a Task ran, and its details as AWS's JSON shows them.
//!
//! Which state an event belongs to is read from AWS's own links, not from the order of the
//! events: every event names the event before it in its thread (`previousEventId`), so the
//! events of a Parallel's branches and a Map's iterations, which interleave in the history,
//! each lead back to the state that was entered in their own thread. Histories without the
//! links (an id of 0) fall back to the state entered last.

use std::collections::HashMap;

use aws_sdk_sfn::types::HistoryEvent;
use serde_json::{Value, json};

/// One event of an execution's history, ready to show.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub id: i64,
    /// The event before this one in its thread (0: none, or not recorded).
    pub previous: i64,
    pub kind: String,
    /// The state the event belongs to: for a Parallel's or a Map's own events the Parallel
    /// or Map; for the events inside a branch or an iteration, the state of that branch.
    pub state: String,
    pub time: String,
    /// Milliseconds since the previous event of the history.
    pub elapsed_ms: i64,
    /// The event's details as AWS's JSON shows them (input/output parsed when JSON).
    pub json: Value,
    /// The Lambda function a Task event ran, for the link to its logs.
    pub function: Option<String>,
}

impl HistoryRow {
    pub fn is_failure(&self) -> bool {
        self.kind.ends_with("Failed") || self.kind.ends_with("TimedOut") || self.kind == "ExecutionAborted"
    }

    /// A state's own entering or leaving, which names the state.
    pub fn names_state(&self) -> bool {
        self.kind.ends_with("StateEntered") || self.kind.ends_with("StateExited")
    }

    /// An event of a Parallel or Map state as a whole (started, succeeded, failed, aborted),
    /// or of one Map iteration: it belongs to the Parallel or Map, not to a branch.
    fn is_container_event(&self) -> bool {
        (self.kind.starts_with("Parallel") || self.kind.starts_with("Map")) && !self.names_state()
    }

    /// Entering a Parallel or a Map, or a Map iteration event: these name the container.
    fn names_container(&self) -> bool {
        matches!(self.kind.as_str(), "ParallelStateEntered" | "MapStateEntered")
            || self.kind.starts_with("MapIteration")
    }

    fn is_task_event(&self) -> bool {
        (self.kind.starts_with("LambdaFunction") || self.kind.starts_with("Task")) && !self.names_state()
    }
}

pub(crate) fn format_time(t: Option<&aws_smithy_types::DateTime>) -> String {
    t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t.secs()).ok())
        .and_then(|t| t.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]")).ok())
        .unwrap_or_default()
}

/// An input or output string as JSON when it is JSON, else as a string.
pub(crate) fn parsed(text: Option<&str>) -> Value {
    match text {
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_string())),
        None => Value::Null,
    }
}

fn error_json(error: Option<&str>, cause: Option<&str>) -> Value {
    // A Lambda error's cause is itself JSON (errorType, errorMessage…): show it as such.
    json!({ "error": error, "cause": parsed(cause) })
}

/// The function name in a Lambda ARN (or the name itself).
pub(crate) fn function_name(resource: &str) -> String {
    let parts: Vec<&str> = resource.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) => parts.get(i + 1).copied().unwrap_or(resource).to_string(),
        None => resource.to_string(),
    }
}

/// The event's details as JSON, and the function a scheduling event names.
fn details(e: &HistoryEvent) -> (Value, Option<String>) {
    if let Some(d) = e.state_entered_event_details() {
        (json!({ "name": d.name(), "input": parsed(d.input()) }), None)
    } else if let Some(d) = e.state_exited_event_details() {
        (json!({ "name": d.name(), "output": parsed(d.output()) }), None)
    } else if let Some(d) = e.execution_started_event_details() {
        (json!({ "input": parsed(d.input()), "roleArn": d.role_arn() }), None)
    } else if let Some(d) = e.execution_succeeded_event_details() {
        (json!({ "output": parsed(d.output()) }), None)
    } else if let Some(d) = e.execution_failed_event_details() {
        (error_json(d.error(), d.cause()), None)
    } else if let Some(d) = e.execution_aborted_event_details() {
        (error_json(d.error(), d.cause()), None)
    } else if let Some(d) = e.execution_timed_out_event_details() {
        (error_json(d.error(), d.cause()), None)
    } else if let Some(d) = e.lambda_function_scheduled_event_details() {
        let json =
            json!({ "resource": d.resource(), "input": parsed(d.input()), "timeoutInSeconds": d.timeout_in_seconds() });
        (json, Some(function_name(d.resource())))
    } else if let Some(d) = e.lambda_function_succeeded_event_details() {
        (json!({ "output": parsed(d.output()) }), None)
    } else if let Some(d) = e.lambda_function_failed_event_details() {
        (error_json(d.error(), d.cause()), None)
    } else if let Some(d) = e.lambda_function_timed_out_event_details() {
        (error_json(d.error(), d.cause()), None)
    } else if let Some(d) = e.lambda_function_start_failed_event_details() {
        (error_json(d.error(), d.cause()), None)
    } else if let Some(d) = e.lambda_function_schedule_failed_event_details() {
        (error_json(d.error(), d.cause()), None)
    } else if let Some(d) = e.task_scheduled_event_details() {
        let function = (d.resource_type() == "lambda")
            .then(|| serde_json::from_str::<Value>(d.parameters()).ok())
            .flatten()
            .and_then(|p| p["FunctionName"].as_str().map(function_name));
        let json = json!({ "resourceType": d.resource_type(), "resource": d.resource(), "parameters": parsed(Some(d.parameters())) });
        (json, function)
    } else if let Some(d) = e.task_succeeded_event_details() {
        (json!({ "resourceType": d.resource_type(), "resource": d.resource(), "output": parsed(d.output()) }), None)
    } else if let Some(d) = e.task_failed_event_details() {
        (error_json(d.error(), d.cause()), None)
    } else if let Some(d) = e.task_timed_out_event_details() {
        (error_json(d.error(), d.cause()), None)
    } else if let Some(d) = e.map_iteration_started_event_details() {
        (json!({ "name": d.name(), "index": d.index() }), None)
    } else if let Some(d) = e.map_iteration_succeeded_event_details() {
        (json!({ "name": d.name(), "index": d.index() }), None)
    } else if let Some(d) = e.map_iteration_failed_event_details() {
        (json!({ "name": d.name(), "index": d.index() }), None)
    } else if let Some(d) = e.map_iteration_aborted_event_details() {
        (json!({ "name": d.name(), "index": d.index() }), None)
    } else if let Some(d) = e.map_state_started_event_details() {
        (json!({ "length": d.length() }), None)
    } else if let Some(d) = e.execution_redriven_event_details() {
        (json!({ "redriveCount": d.redrive_count() }), None)
    } else {
        (Value::Null, None)
    }
}

/// The SDK's history events as rows, each with its state and function.
pub fn history_rows(events: &[HistoryEvent]) -> Vec<HistoryRow> {
    let mut rows: Vec<HistoryRow> = Vec::with_capacity(events.len());
    let mut previous_ms: Option<i64> = None;
    for e in events {
        let (json, function) = details(e);
        let ms = e.timestamp().to_millis().unwrap_or_default();
        rows.push(HistoryRow {
            id: e.id(),
            previous: e.previous_event_id(),
            kind: e.r#type().as_str().to_string(),
            state: String::new(),
            time: format_time(Some(e.timestamp())),
            elapsed_ms: previous_ms.map_or(0, |p| ms - p),
            json,
            function,
        });
        previous_ms = Some(ms);
    }
    attribute_states(&mut rows);
    rows
}

/// Fills in each row's state and function from the `previous` links (see the module doc).
pub fn attribute_states(rows: &mut [HistoryRow]) {
    let by_id: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    let mut last_entered = String::new();
    for i in 0..rows.len() {
        let previous =
            (rows[i].previous > 0).then(|| by_id.get(&rows[i].previous).copied()).flatten().filter(|&p| p < i);
        let own_name = rows[i].json["name"].as_str().map(str::to_string);
        // A state's own events and a Map iteration's name their state; the rest follow links.
        let named = rows[i].names_state() || (rows[i].kind.starts_with("MapIteration") && own_name.is_some());
        let state = if named {
            own_name.unwrap_or_default()
        } else if rows[i].is_container_event() {
            container_of(rows, &by_id, previous).unwrap_or_else(|| last_entered.clone())
        } else {
            match previous {
                Some(p) => rows[p].state.clone(),
                None => last_entered.clone(),
            }
        };
        if rows[i].kind.ends_with("StateEntered") {
            last_entered = state.clone();
        }
        // A Task's later events carry the function its scheduling named, across retries too.
        if rows[i].function.is_none()
            && rows[i].is_task_event()
            && let Some(p) = previous
            && rows[p].is_task_event()
        {
            rows[i].function = rows[p].function.clone();
        }
        rows[i].state = state;
    }
}

/// The Parallel or Map that a container event belongs to: the nearest event back along the
/// links that names one.
fn container_of(rows: &[HistoryRow], by_id: &HashMap<i64, usize>, mut at: Option<usize>) -> Option<String> {
    while let Some(i) = at {
        if rows[i].names_container() {
            return rows[i].json["name"].as_str().map(str::to_string);
        }
        at = (rows[i].previous > 0).then(|| by_id.get(&rows[i].previous).copied()).flatten().filter(|&p| p < i);
    }
    None
}

/// What a state was doing at one moment of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateRun {
    NotReached,
    /// Entered, its work not yet started.
    Entered,
    /// Its task (or its branches) started, or started again after a retry.
    Running,
    Succeeded,
    Failed,
    /// Failed, and a Catch carried the execution on to another state.
    Caught,
}

/// Every state the execution reached, as it was just after the event at index `at` of
/// `rows` (the history in order, with its states attributed; `at` past the end means the
/// whole history): the replay's frame at that event, and with the whole history the
/// execution's final picture. States not in the map were not reached by then.
pub fn states_at(rows: &[HistoryRow], at: usize) -> HashMap<String, StateRun> {
    let mut runs: HashMap<String, StateRun> = HashMap::new();
    for row in rows.iter().take(at.saturating_add(1)) {
        let kind = row.kind.as_str();
        let state = row.state.as_str();
        if kind.starts_with("Execution") {
            if kind != "ExecutionStarted" && kind != "ExecutionRedriven" {
                // The execution ended: whatever was still at work stopped there.
                let ended = if kind == "ExecutionSucceeded" { StateRun::Succeeded } else { StateRun::Failed };
                for run in runs.values_mut().filter(|r| matches!(r, StateRun::Entered | StateRun::Running)) {
                    *run = ended;
                }
            }
        } else if kind.ends_with("StateEntered") {
            // Entering another state after a failure that did not end the execution: a Catch.
            for (_, run) in runs.iter_mut().filter(|(name, r)| **r == StateRun::Failed && name.as_str() != state) {
                *run = StateRun::Caught;
            }
            runs.insert(state.to_string(), StateRun::Entered);
        } else if kind.ends_with("StateExited") {
            // A failed state leaves only through a Catch: an uncaught failure ends the
            // execution (or its branch) without an exit.
            let run = runs.entry(state.to_string()).or_insert(StateRun::Succeeded);
            *run = match *run {
                StateRun::Failed => StateRun::Caught,
                StateRun::Entered | StateRun::Running => StateRun::Succeeded,
                other => other,
            };
        } else if row.is_failure() {
            if !state.is_empty() {
                runs.insert(state.to_string(), StateRun::Failed);
            }
        } else if (kind.ends_with("Scheduled") || kind.ends_with("Started") || kind.ends_with("Submitted"))
            && let Some(run) = runs.get_mut(state)
            && matches!(run, StateRun::Entered | StateRun::Failed)
        {
            // Its work starts, or starts again after a Retry.
            *run = StateRun::Running;
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn row(id: i64, previous: i64, kind: &str, json: Value) -> HistoryRow {
        HistoryRow {
            id,
            previous,
            kind: kind.into(),
            state: String::new(),
            time: String::new(),
            elapsed_ms: 0,
            json,
            function: None,
        }
    }

    fn states(mut rows: Vec<HistoryRow>) -> Vec<(String, String)> {
        attribute_states(&mut rows);
        rows.into_iter().map(|r| (r.kind, r.state)).collect()
    }

    #[test]
    fn interleaved_branch_events_belong_to_their_own_branch_and_the_parallels_events_to_the_parallel() {
        let rows = vec![
            row(1, 0, "ExecutionStarted", json!({})),
            row(2, 1, "ParallelStateEntered", json!({"name": "ParallelProcessing"})),
            row(3, 2, "ParallelStateStarted", json!(null)),
            row(4, 3, "TaskStateEntered", json!({"name": "AddFaceToIndex"})),
            row(5, 3, "TaskStateEntered", json!({"name": "Thumbnail"})),
            row(6, 4, "LambdaFunctionScheduled", json!({})),
            row(7, 5, "LambdaFunctionScheduled", json!({})),
            row(8, 6, "LambdaFunctionSucceeded", json!({})),
            row(9, 8, "TaskStateExited", json!({"name": "AddFaceToIndex"})),
            row(10, 7, "LambdaFunctionSucceeded", json!({})),
            row(11, 10, "TaskStateExited", json!({"name": "Thumbnail"})),
            row(12, 3, "ParallelStateSucceeded", json!(null)),
            row(13, 12, "ParallelStateExited", json!({"name": "ParallelProcessing"})),
        ];
        let got = states(rows);
        let of = |id: usize| got[id - 1].1.as_str();
        assert_eq!(of(3), "ParallelProcessing");
        assert_eq!((of(6), of(8)), ("AddFaceToIndex", "AddFaceToIndex"));
        assert_eq!((of(7), of(10)), ("Thumbnail", "Thumbnail"));
        assert_eq!((of(12), of(13)), ("ParallelProcessing", "ParallelProcessing"));
    }

    #[test]
    fn without_links_an_event_belongs_to_the_state_entered_last() {
        let got =
            states(vec![row(1, 0, "TaskStateEntered", json!({"name": "A"})), row(2, 0, "TaskScheduled", json!({}))]);
        assert_eq!(got[1].1, "A");
    }

    /// The workshop's sunglasses photo on RiderPhotoProcessing-4, as AWS records it.
    fn caught_refusal() -> Vec<HistoryRow> {
        let mut rows = vec![
            row(1, 0, "ExecutionStarted", json!({"input": {"userId": "user_b"}})),
            row(2, 1, "TaskStateEntered", json!({"name": "FaceDetection", "input": {"userId": "user_b"}})),
            row(3, 2, "LambdaFunctionScheduled", json!({})),
            row(4, 3, "LambdaFunctionStarted", json!({})),
            row(5, 4, "LambdaFunctionFailed", json!({"error": "PhotoDoesNotMeetRequirementError"})),
            row(6, 5, "TaskStateExited", json!({"name": "FaceDetection"})),
            row(7, 6, "TaskStateEntered", json!({"name": "PhotoDoesNotMeetRequirement"})),
            row(8, 7, "LambdaFunctionScheduled", json!({})),
            row(9, 8, "LambdaFunctionStarted", json!({})),
            row(10, 9, "LambdaFunctionSucceeded", json!({})),
            row(11, 10, "TaskStateExited", json!({"name": "PhotoDoesNotMeetRequirement"})),
            row(12, 11, "ExecutionSucceeded", json!({})),
        ];
        attribute_states(&mut rows);
        rows
    }

    #[test]
    fn replay_shows_each_state_as_it_was_at_each_event_of_a_caught_refusal() {
        use StateRun::*;
        let rows = caught_refusal();
        let at = |k: usize, state: &str| states_at(&rows, k).get(state).copied().unwrap_or(NotReached);
        let detection: Vec<StateRun> = (0..rows.len()).map(|k| at(k, "FaceDetection")).collect();
        assert_eq!(
            detection,
            vec![NotReached, Entered, Running, Running, Failed, Caught, Caught, Caught, Caught, Caught, Caught, Caught]
        );
        let notify: Vec<StateRun> = (0..rows.len()).map(|k| at(k, "PhotoDoesNotMeetRequirement")).collect();
        assert_eq!(
            notify,
            vec![
                NotReached, NotReached, NotReached, NotReached, NotReached, NotReached, Entered, Running, Running,
                Running, Succeeded, Succeeded
            ]
        );
        assert!(!states_at(&rows, usize::MAX).contains_key("CheckFaceDuplicate"), "never reached");
        assert_eq!(states_at(&rows, usize::MAX), states_at(&rows, rows.len() - 1), "past the end: the whole history");
    }

    #[test]
    fn replay_tells_a_retry_an_uncaught_failure_and_parallel_branches_apart() {
        use StateRun::*;
        let mut retried = vec![
            row(1, 0, "TaskStateEntered", json!({"name": "A"})),
            row(2, 1, "LambdaFunctionScheduled", json!({})),
            row(3, 2, "LambdaFunctionFailed", json!({})),
            row(4, 3, "LambdaFunctionScheduled", json!({})),
            row(5, 4, "LambdaFunctionSucceeded", json!({})),
            row(6, 5, "TaskStateExited", json!({"name": "A"})),
        ];
        attribute_states(&mut retried);
        let a: Vec<StateRun> = (0..6).map(|k| states_at(&retried, k)["A"]).collect();
        assert_eq!(a, vec![Entered, Running, Failed, Running, Running, Succeeded]);

        let mut failed = vec![
            row(1, 0, "TaskStateEntered", json!({"name": "A"})),
            row(2, 1, "LambdaFunctionFailed", json!({})),
            row(3, 2, "ExecutionFailed", json!({})),
        ];
        attribute_states(&mut failed);
        assert_eq!(states_at(&failed, 2)["A"], Failed, "nothing caught it");
        // A Catch without the exit event in the history: entering the next state tells it.
        let mut no_exit = vec![
            row(1, 0, "TaskStateEntered", json!({"name": "A"})),
            row(2, 1, "LambdaFunctionFailed", json!({})),
            row(3, 2, "PassStateEntered", json!({"name": "B"})),
        ];
        attribute_states(&mut no_exit);
        assert_eq!(states_at(&no_exit, 2)["A"], Caught);

        // Two branches at work at once: one finished, the other still running.
        let mut parallel = vec![
            row(1, 0, "ParallelStateEntered", json!({"name": "P"})),
            row(2, 1, "ParallelStateStarted", json!(null)),
            row(3, 2, "TaskStateEntered", json!({"name": "L"})),
            row(4, 2, "TaskStateEntered", json!({"name": "R"})),
            row(5, 3, "LambdaFunctionScheduled", json!({})),
            row(6, 4, "LambdaFunctionScheduled", json!({})),
            row(7, 5, "LambdaFunctionSucceeded", json!({})),
            row(8, 7, "TaskStateExited", json!({"name": "L"})),
        ];
        attribute_states(&mut parallel);
        let frame = states_at(&parallel, 7);
        assert_eq!((frame["P"], frame["L"], frame["R"]), (Running, Succeeded, Running));
        assert_eq!(states_at(&parallel, 3)["R"], Entered);
    }
}

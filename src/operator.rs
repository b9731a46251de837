//! The operator's commands on the command line: `wildrydes executions …` (list, show why one
//! failed, rerun, redrive, stop) and `wildrydes faces …` (list, find duplicates, delete).
//! They read and act through the dashboard's own loads and actions (`tui::load`,
//! `tui::actions`), so the CLI and the dashboard never disagree about what failed where;
//! this module only selects, explains and prints.

use serde_json::{Value, json};

use crate::tui::app::{ExecutionDetail, ExecutionRow, FaceRow, HistoryRow, Loaded};
use crate::tui::load::{self, Source};
use crate::tui::{actions, dupes};

/// Which executions `executions list` shows.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE (any case).
    pub status: Option<String>,
    /// A state machine name, e.g. RiderPhotoProcessing-4.
    pub machine: Option<String>,
    /// Newest first; at most this many.
    pub limit: usize,
}

const STATUSES: [&str; 6] = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"];

/// Every execution of every state machine, newest first, filtered.
pub async fn list_executions(source: &Source, filter: &ExecutionFilter) -> Result<Vec<ExecutionRow>, String> {
    let status = match &filter.status {
        Some(s) => {
            let upper = s.to_ascii_uppercase();
            if !STATUSES.contains(&upper.as_str()) {
                return Err(format!("{s} is not an execution status; use one of {}.", STATUSES.join(", ")));
            }
            Some(upper)
        }
        None => None,
    };
    let rows = load::executions(source).await?;
    let mut rows: Vec<ExecutionRow> = rows
        .into_iter()
        .filter(|r| status.as_ref().is_none_or(|s| &r.status == s))
        .filter(|r| filter.machine.as_ref().is_none_or(|m| &r.state_machine == m))
        .take(if filter.limit == 0 { usize::MAX } else { filter.limit })
        .collect();
    // The workshop's refusals end SUCCEEDED through a Catch: the operator still wants to see
    // which state refused the photo and why, so the listed successes are read for caught failures.
    for row in rows.iter_mut().filter(|r| r.status == "SUCCEEDED") {
        let history = load::history(source, &row.arn).await?;
        if let Some(f) = failures(&history).into_iter().find(|f| matches!(f.outcome, Outcome::CaughtBy(_))) {
            row.failure = format!("{}: {} (caught)", f.state, f.error);
        }
    }
    Ok(rows)
}

/// The execution list as aligned columns, with the failing state and error of failures.
pub fn executions_table(rows: &[ExecutionRow]) -> String {
    if rows.is_empty() {
        return "No executions. Start one with `wildrydes run PHOTO --user ID`.\n".into();
    }
    let width = |f: &dyn Fn(&ExecutionRow) -> &str, title: &str| {
        rows.iter().map(|r| f(r).chars().count()).max().unwrap_or(0).max(title.len())
    };
    let (wn, wm, ws) = (width(&|r| &r.name, "NAME"), width(&|r| &r.state_machine, "STATE MACHINE"), 15);
    let mut out = format!(
        "{:wn$}  {:wm$}  {:ws$}  {:19}  {:>8}  FAILED IN\n",
        "NAME", "STATE MACHINE", "STATUS", "STARTED", "TOOK"
    );
    for r in rows {
        out.push_str(&format!(
            "{:wn$}  {:wm$}  {:ws$}  {:19}  {:>8}  {}\n",
            r.name, r.state_machine, r.status, r.started, r.duration, r.failure
        ));
    }
    out
}

/// An execution's ARN from its ARN or its name (names are unique per state machine; a name
/// found under several machines must be given as an ARN).
pub async fn find_execution(source: &Source, name_or_arn: &str) -> Result<String, String> {
    if name_or_arn.starts_with("arn:") {
        return Ok(name_or_arn.to_string());
    }
    let rows = load::executions(source).await?;
    let found: Vec<&ExecutionRow> = rows.iter().filter(|r| r.name == name_or_arn).collect();
    match found.as_slice() {
        [one] => Ok(one.arn.clone()),
        [] => Err(format!("There is no execution named {name_or_arn}. `wildrydes executions list` shows their names.")),
        many => Err(format!(
            "{} executions are named {name_or_arn} (on {}); give the execution ARN instead.",
            many.len(),
            many.iter().map(|r| r.state_machine.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// What became of a failure inside an execution.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "state")]
pub enum Outcome {
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
    pub outcome: Outcome,
    /// The Lambda function that failed, for its logs.
    pub function: Option<String>,
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
        let state_input = events[..i]
            .iter()
            .rev()
            .find(|p| p.kind.ends_with("StateEntered") && p.json["name"] == e.state.as_str())
            .map(|p| p.json["input"].clone())
            .unwrap_or(Value::Null);
        found.push(Failure {
            event_id: e.id,
            event_type: e.kind.clone(),
            state: e.state.clone(),
            state_input,
            error: e.json["error"].as_str().unwrap_or_default().to_string(),
            cause: e.json["cause"].clone(),
            outcome: outcome_after(&events[i + 1..], &e.state),
            function: e.function.clone(),
        });
    }
    // A Fail state fails the execution itself: its error is only on ExecutionFailed.
    if found.is_empty()
        && let Some(end) = events.iter().rev().find(|e| e.kind == "ExecutionFailed")
    {
        let entered = events.iter().rev().find(|e| e.kind.ends_with("StateEntered"));
        found.push(Failure {
            event_id: end.id,
            event_type: end.kind.clone(),
            state: entered.map(|e| e.state.clone()).unwrap_or_default(),
            state_input: entered.map(|e| e.json["input"].clone()).unwrap_or(Value::Null),
            error: end.json["error"].as_str().unwrap_or_default().to_string(),
            cause: end.json["cause"].clone(),
            outcome: Outcome::Uncaught,
            function: None,
        });
    }
    found
}

/// AWS records a caught failure as the failing event, the state's `…StateExited`, then the
/// Catch's next state entered; a retry as the task scheduled again in the same state.
fn outcome_after(rest: &[HistoryRow], state: &str) -> Outcome {
    let mut exited = false;
    for e in rest {
        let kind = e.kind.as_str();
        let name = e.json["name"].as_str().unwrap_or_default();
        if !exited && matches!(kind, "LambdaFunctionScheduled" | "TaskScheduled") && e.state == state {
            return Outcome::Retried;
        }
        if kind.ends_with("StateExited") && name == state {
            exited = true;
        } else if exited && kind.ends_with("StateEntered") {
            return Outcome::CaughtBy(name.to_string());
        } else if kind.starts_with("Execution") || kind.ends_with("StateFailed") || kind == "MapIterationFailed" {
            return Outcome::Uncaught;
        }
    }
    Outcome::Uncaught
}

/// `executions show`: the execution, its input, and each failure with its state's input,
/// error and cause, then the history narrated one line an event.
pub fn report(detail: &ExecutionDetail, with_history: bool) -> String {
    let mut out = String::new();
    let events = &detail.events;
    let took: i64 = events.iter().map(|e| e.elapsed_ms).sum();
    out.push_str(&format!("Execution  {} on {}\n", detail.name, detail.state_machine));
    out.push_str(&format!("Status     {}", detail.status));
    if let Some(first) = events.first() {
        out.push_str(&format!(", started {}, {:.1} s of history", first.time, took as f64 / 1000.0));
    }
    out.push('\n');
    if let Some(input) = events.first().map(|e| &e.json["input"]) {
        out.push_str(&format!("Input      {}\n", compact(input)));
    }
    if let Some(output) = events.iter().rev().find(|e| e.kind == "ExecutionSucceeded").map(|e| &e.json["output"]) {
        out.push_str(&format!("Output     {}\n", compact(output)));
    }
    let failures = failures(events);
    if failures.is_empty() {
        out.push_str("No state failed.\n");
    }
    for f in &failures {
        out.push_str(&format!("\n✗ {} failed ({}, event {})\n", f.state, f.event_type, f.event_id));
        out.push_str(&format!("  state input  {}\n", compact(&f.state_input)));
        out.push_str(&format!("  error        {}\n", f.error));
        out.push_str(&format!("  cause        {}\n", cause_sentence(&f.cause)));
        if let Some(function) = &f.function {
            out.push_str(&format!("  function     {function} (its logs: the dashboard's Logs tab)\n"));
        }
        out.push_str(&format!(
            "  then         {}\n",
            match &f.outcome {
                Outcome::Retried => "retried by the state's Retry".to_string(),
                Outcome::CaughtBy(next) => format!("caught: the execution went on to {next}"),
                Outcome::Uncaught => "not caught: it ended the execution (or its branch)".to_string(),
            }
        ));
    }
    if with_history {
        out.push_str(&format!("\nHistory ({} events)\n", events.len()));
        for e in events {
            out.push_str(&format!("{:>5}  {:>7}  {:32}  {}\n", e.id, format!("+{}ms", e.elapsed_ms), e.kind, e.state));
        }
    }
    out
}

/// The cause as a sentence (a Lambda error's errorMessage), whether it came as JSON or text.
fn cause_sentence(cause: &Value) -> String {
    match cause {
        Value::String(s) => crate::run::cause_sentence(s),
        Value::Null => "(none given)".into(),
        other => crate::run::cause_sentence(&compact(other)),
    }
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// `executions show --json`: the same facts as [`report`], as one object.
pub fn report_json(detail: &ExecutionDetail) -> Value {
    json!({
        "executionArn": detail.arn,
        "name": detail.name,
        "stateMachine": detail.state_machine,
        "status": detail.status,
        "input": detail.events.first().map(|e| e.json["input"].clone()),
        "failures": failures(&detail.events),
    })
}

pub async fn execution_detail(source: &Source, arn: &str) -> Result<ExecutionDetail, String> {
    load::execution_detail(source, arn).await
}

/// A dashboard action's outcome as a Result.
fn done(loaded: Loaded) -> Result<String, String> {
    match loaded {
        Loaded::Done(result) => result,
        _ => Err("the action answered with something unexpected".into()),
    }
}

pub async fn stop(source: &Source, arn: &str) -> Result<String, String> {
    done(actions::stop(source, arn).await)
}

pub async fn redrive(source: &Source, arn: &str) -> Result<String, String> {
    done(actions::redrive(source, arn).await)
}

/// The collection's faces, in the collection's order.
pub async fn faces(source: &Source) -> Result<Vec<FaceRow>, String> {
    load::faces(source).await
}

pub fn faces_table(faces: &[FaceRow]) -> String {
    if faces.is_empty() {
        return "The collection has no faces. A successful `wildrydes run` indexes one.\n".into();
    }
    let mut out = format!("{:36}  {:>10}  {:19}  USER\n", "FACE ID", "CONFIDENCE", "INDEXED");
    for f in faces {
        let indexed = if f.indexed.is_empty() { "—" } else { &f.indexed };
        out.push_str(&format!("{:36}  {:>10.2}  {:19}  {}\n", f.face_id, f.confidence, indexed, f.user));
    }
    out
}

/// Faces of different users that are one person (SearchFaces above `threshold`).
pub async fn duplicates(source: &Source, threshold: f32) -> Result<Vec<dupes::Group>, String> {
    if !(0.0..=100.0).contains(&threshold) {
        return Err(format!("The similarity threshold is a percentage from 0 to 100, not {threshold}."));
    }
    let faces = faces(source).await?;
    let pairs = match actions::find_duplicates(source, threshold).await {
        Loaded::Duplicates(result) => result?,
        _ => return Err("finding duplicates answered with something unexpected".into()),
    };
    Ok(dupes::group(&faces, &pairs))
}

pub fn duplicates_report(groups: &[dupes::Group], threshold: f32) -> String {
    if groups.is_empty() {
        return format!("No one is registered under two user ids (similarity threshold {threshold:.0}).\n");
    }
    let mut out = String::new();
    for g in groups {
        let extra: Vec<&str> = g.extra.iter().map(|f| f.user.as_str()).collect();
        out.push_str(&format!(
            "{} is also registered as {} (similarity ≥ {:.1})\n",
            g.keep,
            extra.join(", "),
            g.similarity
        ));
        for f in &g.faces {
            let mark = if g.extra.contains(f) { "delete" } else { "keep" };
            out.push_str(&format!("  {mark:6}  {}  {}\n", f.face_id, f.user));
        }
    }
    out
}

/// Which faces `faces delete` removes: the named FaceIds and every face of the named users.
/// An id or user that matches nothing is an error, so a typo deletes nothing.
pub fn select_faces(faces: &[FaceRow], ids: &[String], users: &[String]) -> Result<Vec<(String, String)>, String> {
    if ids.is_empty() && users.is_empty() {
        return Err("Name the faces to delete: FACE_ID… or --user USER.".into());
    }
    let mut chosen = Vec::new();
    for id in ids {
        let face = faces
            .iter()
            .find(|f| &f.face_id == id)
            .ok_or_else(|| format!("There is no face {id} in the collection."))?;
        chosen.push((face.face_id.clone(), face.user.clone()));
    }
    for user in users {
        let before = chosen.len();
        chosen.extend(faces.iter().filter(|f| &f.user == user).map(|f| (f.face_id.clone(), f.user.clone())));
        if chosen.len() == before {
            return Err(format!("No face in the collection belongs to {user}."));
        }
    }
    chosen.sort();
    chosen.dedup();
    Ok(chosen)
}

pub async fn delete_faces(source: &Source, faces: &[(String, String)]) -> Result<String, String> {
    done(actions::delete_faces(source, faces).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, kind: &str, state: &str, json: Value) -> HistoryRow {
        HistoryRow {
            id,
            kind: kind.into(),
            state: state.into(),
            time: "2026-12-01 04:00:00".into(),
            elapsed_ms: 10,
            json,
            function: None,
        }
    }

    fn caught_sunglasses() -> Vec<HistoryRow> {
        vec![
            row(1, "ExecutionStarted", "", json!({"input": {"userId": "user_b"}})),
            row(
                2,
                "TaskStateEntered",
                "FaceDetection",
                json!({"name": "FaceDetection", "input": {"userId": "user_b"}}),
            ),
            row(3, "LambdaFunctionScheduled", "FaceDetection", json!({})),
            row(
                4,
                "LambdaFunctionFailed",
                "FaceDetection",
                json!({"error": "PhotoDoesNotMeetRequirementError", "cause": {"errorType": "PhotoDoesNotMeetRequirementError", "errorMessage": "Face is wearing sunglasses"}}),
            ),
            row(5, "TaskStateExited", "FaceDetection", json!({"name": "FaceDetection"})),
            row(
                6,
                "TaskStateEntered",
                "PhotoDoesNotMeetRequirement",
                json!({"name": "PhotoDoesNotMeetRequirement", "input": {}}),
            ),
            row(7, "TaskStateExited", "PhotoDoesNotMeetRequirement", json!({"name": "PhotoDoesNotMeetRequirement"})),
            row(8, "ExecutionSucceeded", "PhotoDoesNotMeetRequirement", json!({"output": {}})),
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
        assert_eq!(cause_sentence(&f.cause), "Face is wearing sunglasses");
        assert_eq!(f.outcome, Outcome::CaughtBy("PhotoDoesNotMeetRequirement".into()));
    }

    #[test]
    fn a_retried_failure_is_reported_as_retried_and_an_uncaught_one_as_ending_the_execution() {
        let events = vec![
            row(1, "ExecutionStarted", "", json!({"input": {}})),
            row(2, "TaskStateEntered", "Work", json!({"name": "Work", "input": {"n": 1}})),
            row(3, "LambdaFunctionScheduled", "Work", json!({})),
            row(4, "LambdaFunctionTimedOut", "Work", json!({"error": "States.Timeout", "cause": null})),
            row(5, "LambdaFunctionScheduled", "Work", json!({})),
            row(6, "LambdaFunctionFailed", "Work", json!({"error": "Boom", "cause": "it broke"})),
            row(7, "ExecutionFailed", "Work", json!({"error": "Boom", "cause": "it broke"})),
        ];
        let found = failures(&events);
        assert_eq!(
            found.iter().map(|f| f.outcome.clone()).collect::<Vec<_>>(),
            vec![Outcome::Retried, Outcome::Uncaught]
        );
        assert_eq!(found[1].state_input, json!({"n": 1}));
        assert_eq!(cause_sentence(&found[0].cause), "(none given)");
    }

    #[test]
    fn a_fail_state_is_found_on_the_execution_failed_event() {
        let events = vec![
            row(1, "ExecutionStarted", "", json!({"input": {"ok": false}})),
            row(2, "FailStateEntered", "Boom", json!({"name": "Boom", "input": {"ok": false}})),
            row(3, "ExecutionFailed", "Boom", json!({"error": "Nope", "cause": "Face is wearing sunglasses"})),
        ];
        let found = failures(&events);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].state.as_str(), found[0].error.as_str()), ("Boom", "Nope"));
        assert_eq!(found[0].state_input, json!({"ok": false}));
    }

    #[test]
    fn the_report_shows_the_failure_before_the_history() {
        let detail = ExecutionDetail {
            arn: "arn:aws:states:us-east-1:000000000000:execution:RiderPhotoProcessing-4:x".into(),
            name: "x".into(),
            status: "SUCCEEDED".into(),
            state_machine: "RiderPhotoProcessing-4".into(),
            events: caught_sunglasses(),
            definition: None,
        };
        let text = report(&detail, true);
        let failure = text.find("✗ FaceDetection failed").expect("the failure is shown");
        assert!(text.find("History (8 events)").expect("history") > failure);
        assert!(text.contains("cause        Face is wearing sunglasses"), "{text}");
        assert!(text.contains("caught: the execution went on to PhotoDoesNotMeetRequirement"), "{text}");
        assert_eq!(
            report_json(&detail)["failures"][0]["outcome"],
            json!({"kind": "caughtBy", "state": "PhotoDoesNotMeetRequirement"})
        );
    }

    fn face(id: &str, user: &str) -> FaceRow {
        FaceRow { face_id: id.into(), user: user.into(), confidence: 99.0, indexed: String::new(), bounding_box: None }
    }

    #[test]
    fn deleting_selects_by_id_and_by_user_and_refuses_what_matches_nothing() {
        let faces = [face("f1", "user_a"), face("f2", "user_b"), face("f3", "user_b")];
        let by_user = select_faces(&faces, &[], &["user_b".into()]).unwrap();
        assert_eq!(by_user, vec![("f2".into(), "user_b".into()), ("f3".into(), "user_b".into())]);
        let both = select_faces(&faces, &["f1".into(), "f2".into()], &["user_b".into()]).unwrap();
        assert_eq!(both.len(), 3, "a face named twice is deleted once");
        assert!(select_faces(&faces, &["f9".into()], &[]).unwrap_err().contains("no face f9"));
        assert!(select_faces(&faces, &[], &["user_z".into()]).unwrap_err().contains("user_z"));
        assert!(select_faces(&faces, &[], &[]).is_err(), "nothing named deletes nothing");
    }

    #[test]
    fn the_table_aligns_columns_and_an_empty_list_says_what_to_do() {
        assert!(executions_table(&[]).contains("wildrydes run"));
        let rows = [ExecutionRow {
            name: "abc".into(),
            state_machine: "RiderPhotoProcessing-4".into(),
            status: "FAILED".into(),
            started: "2026-12-01 04:00:00".into(),
            duration: "1.2 s".into(),
            arn: "arn".into(),
            failure: "FaceDetection: PhotoDoesNotMeetRequirementError".into(),
        }];
        let table = executions_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0].find("STATUS"), lines[1].find("FAILED"));
        assert!(lines[1].ends_with("FaceDetection: PhotoDoesNotMeetRequirementError"));
    }
}

//! The operator commands' output: the operations layer's answers as aligned text or JSON.
//! Formatting only; what failed where is decided in `ops::failure`.

use serde_json::{Value, json};

use crate::ops::faces::{Deleted, Deletion};
use crate::ops::{ExecutionDetail, ExecutionRow, FaceRow, Group, Handled, failure};
use crate::tui::app::LabStep;
use crate::workshop::WorkshopNames;

/// The execution list as aligned columns, with each execution's user, photo and outcome.
pub fn executions_table(rows: &[ExecutionRow]) -> String {
    if rows.is_empty() {
        return "No executions. Start one with `wildrydes run PHOTO --user ID`.\n".into();
    }
    let width = |f: &dyn Fn(&ExecutionRow) -> String, title: &str| {
        rows.iter().map(|r| f(r).chars().count()).max().unwrap_or(0).max(title.len())
    };
    let wn = width(&|r| r.name.clone(), "NAME");
    let wm = width(&|r| r.state_machine.clone(), "STATE MACHINE");
    let ws = width(&|r| r.status.clone(), "STATUS");
    let wu = width(&|r| r.user.clone(), "USER");
    let wp = width(&|r| r.photo.clone(), "PHOTO");
    let mut out = format!(
        "{:wn$}  {:wm$}  {:ws$}  {:19}  {:>8}  {:wu$}  {:wp$}  OUTCOME\n",
        "NAME", "STATE MACHINE", "STATUS", "STARTED", "TOOK", "USER", "PHOTO"
    );
    for r in rows {
        out.push_str(&format!(
            "{:wn$}  {:wm$}  {:ws$}  {:19}  {:>8}  {:wu$}  {:wp$}  {}\n",
            r.name,
            r.state_machine,
            r.status,
            r.started,
            r.duration,
            r.user,
            r.photo,
            r.outcome()
        ));
    }
    out
}

pub fn executions_json(rows: &[ExecutionRow]) -> Value {
    rows.iter()
        .map(|r| {
            json!({"name": r.name, "executionArn": r.arn, "stateMachine": r.state_machine, "status": r.status,
                "started": r.started, "user": r.user, "photo": r.photo, "outcome": r.outcome(), "verdict": r.verdict})
        })
        .collect()
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// `executions show`: the execution, its input, its outcome, and each failure with its
/// state's input, error and cause, then (with `with_history`) the history one line an event.
pub fn execution_report(detail: &ExecutionDetail, with_history: bool) -> String {
    let mut out = String::new();
    let events = &detail.events;
    let took: i64 = events.iter().map(|e| e.elapsed_ms).sum();
    out.push_str(&format!("Execution  {} on {}\n", detail.name, detail.state_machine));
    out.push_str(&format!("Status     {}", detail.status));
    if let Some(first) = events.first() {
        out.push_str(&format!(", started {}, {:.1} s of history", first.time, took as f64 / 1000.0));
    }
    out.push('\n');
    out.push_str(&format!("Outcome    {}\n", detail.verdict().summary()));
    if let Some(input) = detail.input() {
        out.push_str(&format!("Input      {}\n", compact(input)));
    }
    if let Some(output) = events.iter().rev().find(|e| e.kind == "ExecutionSucceeded").map(|e| &e.json["output"]) {
        out.push_str(&format!("Output     {}\n", compact(output)));
    }
    let failures = failure::failures(events);
    if failures.is_empty() {
        out.push_str("No state failed.\n");
    }
    for f in &failures {
        out.push_str(&format!("\n✗ {} failed ({}, event {})\n", f.state, f.event_type, f.event_id));
        out.push_str(&format!("  state input  {}\n", compact(&f.state_input)));
        out.push_str(&format!("  error        {}\n", f.error));
        out.push_str(&format!("  cause        {}\n", f.reason()));
        if let Some(function) = &f.function {
            out.push_str(&format!("  function     {function} (its logs: the dashboard's Logs tab)\n"));
        }
        out.push_str(&format!(
            "  then         {}\n",
            match &f.handled {
                Handled::Retried => "retried by the state's Retry".to_string(),
                Handled::CaughtBy(next) => format!("caught: the execution went on to {next}"),
                Handled::Uncaught => "not caught: it ended the execution (or its branch)".to_string(),
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

/// `executions show --json`: the same facts as [`execution_report`], as one object.
pub fn execution_json(detail: &ExecutionDetail, with_history: bool) -> Value {
    let mut out = json!({
        "executionArn": detail.arn,
        "name": detail.name,
        "stateMachine": detail.state_machine,
        "status": detail.status,
        "outcome": detail.verdict().summary(),
        "verdict": detail.verdict(),
        "input": detail.input(),
        "failures": failure::failures(&detail.events),
    });
    if with_history {
        out["history"] = detail
            .events
            .iter()
            .map(|e| json!({"id": e.id, "previousEventId": e.previous, "type": e.kind, "state": e.state, "details": e.json}))
            .collect();
    }
    out
}

pub fn faces_table(faces: &[FaceRow]) -> String {
    if faces.is_empty() {
        return "The collection has no faces. A successful `wildrydes run` indexes one.\n".into();
    }
    let mut out = format!("{:36}  {:>10}  {:19}  USER\n", "FACE ID", "CONFIDENCE", "INDEXED");
    for f in faces {
        let indexed = if f.indexed.is_empty() { "unknown" } else { &f.indexed };
        out.push_str(&format!("{:36}  {:>10.2}  {:19}  {}\n", f.face_id, f.confidence, indexed, f.user));
    }
    out
}

pub fn faces_json(faces: &[FaceRow]) -> Value {
    faces
        .iter()
        .map(|f| json!({"faceId": f.face_id, "userId": f.user, "confidence": f.confidence, "indexed": f.indexed}))
        .collect()
}

pub fn duplicates_report(groups: &[Group], threshold: f32) -> String {
    if groups.is_empty() {
        return format!("No one is registered under two user ids (similarity threshold {threshold:.0}).\n");
    }
    let mut out = String::new();
    for g in groups {
        let mut extra: Vec<&str> = g.extra.iter().map(|f| f.user.as_str()).collect();
        extra.dedup();
        out.push_str(&format!(
            "{} is also indexed as {} (similarity ≥ {:.1})\n  keeps {}: {}\n",
            g.keep,
            extra.join(", "),
            g.similarity,
            g.keep,
            g.why
        ));
        for f in &g.faces {
            let mark = if g.extra.contains(f) { "delete" } else { "keep" };
            out.push_str(&format!("  {mark:6}  {}  {}\n", f.face_id, f.user));
        }
        for rider in &g.rider_rows {
            out.push_str(&format!("  delete  the riders table row of {rider} (it points at a face deleted above)\n"));
        }
    }
    out
}

/// What a deletion will do, before it is confirmed.
pub fn deletion_plan(deletions: &[Deletion]) -> String {
    let mut out = String::new();
    for d in deletions {
        out.push_str(&format!("  face {}  {}", d.face_id, d.user));
        if let Some(rider) = &d.rider {
            out.push_str(&format!("  and the riders table row of {rider}, which points at it"));
        }
        out.push('\n');
    }
    out
}

pub fn deleted(done: &Deleted) -> String {
    done.to_string()
}

fn step_status(status: crate::tui::app::StepStatus) -> &'static str {
    use crate::tui::app::StepStatus;
    match status {
        StepStatus::Done => "done",
        StepStatus::Todo => "to do",
        StepStatus::Running => "running",
        StepStatus::Unavailable => "unknown",
        StepStatus::Unexpected => "other",
    }
}

/// `status`: the target, the names, and each Lab step as the target shows it.
pub fn status(target: &crate::cloud::Target, names: &WorkshopNames, steps: &[LabStep]) -> String {
    let mut out = format!(
        "Target            {}
Collection        {}
Photo bucket      {}
Thumbnail bucket  {}
Riders table      {}

",
        target.describe(),
        names.collection,
        names.photo_bucket,
        names.thumbnail_bucket,
        names.riders_table
    );
    let width = steps.iter().map(|s| s.title.chars().count()).max().unwrap_or(0);
    for s in steps {
        out.push_str(&format!(
            "  {:3} {:7}  {:width$}  {}\n",
            s.step.number(),
            step_status(s.status),
            s.title,
            s.detail
        ));
    }
    out
}

pub fn status_json(target: &crate::cloud::Target, names: &WorkshopNames, steps: &[LabStep]) -> Value {
    json!({
        "target": target.describe(),
        "names": {"collection": names.collection, "photoBucket": names.photo_bucket,
                  "thumbnailBucket": names.thumbnail_bucket, "ridersTable": names.riders_table},
        "steps": steps.iter().map(|s| json!({"section": s.step.section(), "step": s.title, "status": step_status(s.status), "detail": s.detail})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Verdict;

    #[test]
    fn the_table_aligns_columns_and_an_empty_list_says_what_to_do() {
        assert!(executions_table(&[]).contains("wildrydes run"));
        let rows = [ExecutionRow {
            name: "abc".into(),
            state_machine: "RiderPhotoProcessing-4".into(),
            status: "SUCCEEDED".into(),
            started: "2026-12-01 04:00:00".into(),
            duration: "1.2 s".into(),
            arn: "arn".into(),
            user: "user_b".into(),
            photo: "2_sunglass_face.jpg".into(),
            verdict: Some(Verdict::Refused {
                state: "FaceDetection".into(),
                error: "PhotoDoesNotMeetRequirementError".into(),
                reason: "Face is wearing sunglasses".into(),
            }),
        }];
        let table = executions_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0].find("STATUS"), lines[1].find("SUCCEEDED"));
        assert_eq!(lines[0].find("USER"), lines[1].find("user_b"));
        assert!(lines[1].ends_with("refused at FaceDetection: Face is wearing sunglasses"), "{}", lines[1]);
    }
}

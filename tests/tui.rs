//! The dashboard's loads and actions against a real local cloud through the SDK clients:
//! what the Executions, Graph and Logs views get, and what start/stop/rerun/redrive do.

use std::time::Duration;

use serde_json::json;
use wildrydes::tui::app::{Loaded, Tab};
use wildrydes::tui::load::{self, Source};
use wildrydes::tui::{actions, graph};
use wildrydes::workshop::WorkshopNames;

use crate::common::TestCloud;

const ROLE: &str = "arn:aws:iam::000000000000:role/StepFunctionsRole";

pub(crate) async fn machine(cloud: &TestCloud, name: &str, definition: serde_json::Value) -> String {
    cloud
        .clients
        .sfn
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .expect("state machine is created")
        .state_machine_arn
}

pub(crate) async fn run(cloud: &TestCloud, machine: &str, input: serde_json::Value) -> String {
    let arn = cloud
        .clients
        .sfn
        .start_execution()
        .state_machine_arn(machine)
        .input(input.to_string())
        .send()
        .await
        .expect("execution starts")
        .execution_arn;
    finish(cloud, &arn).await;
    arn
}

/// Polls until the execution is no longer RUNNING (a generous bound, not a timing assertion).
async fn finish(cloud: &TestCloud, arn: &str) -> String {
    for _ in 0..1200 {
        let d = cloud.clients.sfn.describe_execution().execution_arn(arn).send().await.expect("describe");
        if d.status.as_str() != "RUNNING" {
            return d.status.as_str().to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("execution {arn} did not finish");
}

pub(crate) fn source(cloud: &TestCloud) -> Source {
    Source {
        ops: wildrydes::ops::Ops::new(cloud.clients.clone(), WorkshopNames::local(), Some(cloud.endpoint.clone())),
        deploy: None,
    }
}

fn flow() -> serde_json::Value {
    json!({
        "StartAt": "Check",
        "States": {
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": true, "Next": "Done"}], "Default": "Boom"},
            "Done": {"Type": "Succeed"},
            "Boom": {"Type": "Fail", "Error": "PhotoDoesNotMeetRequirementError", "Cause": "Face is wearing sunglasses"}
        }
    })
}

#[tokio::test]
async fn executions_list_their_failing_state_and_open_on_the_whole_history_and_graph() {
    let cloud = TestCloud::start().await;
    let sm = machine(&cloud, "TuiFlow", flow()).await;
    run(&cloud, &sm, json!({"ok": true})).await;
    let bad = run(&cloud, &sm, json!({"ok": false})).await;
    let source = source(&cloud);

    let Loaded::Executions(Ok(rows)) = load::load(&source, Tab::Executions).await else { panic!("executions load") };
    assert_eq!(rows.len(), 2);
    let failed = rows.iter().find(|r| r.arn == bad).expect("the failed execution is listed");
    assert_eq!(failed.status, "FAILED");
    assert_eq!(failed.outcome(), "failed at Boom: PhotoDoesNotMeetRequirementError");
    assert!(rows.iter().any(|r| r.status == "SUCCEEDED" && r.outcome() == "succeeded"));

    let detail = load::execution_detail(&source, &bad).await.expect("detail loads");
    assert_eq!(detail.status, "FAILED");
    assert_eq!(detail.events.first().map(|e| e.kind.as_str()), Some("ExecutionStarted"));
    assert_eq!(detail.events[0].json["input"], json!({"ok": false}), "input is parsed JSON");
    let last = detail.events.last().expect("events");
    assert_eq!(last.kind, "ExecutionFailed");
    assert_eq!(last.json["error"], "PhotoDoesNotMeetRequirementError");
    assert!(detail.events.windows(2).all(|w| w[0].id < w[1].id));

    let data = load::graph(&source, Some(&bad)).await.expect("graph loads");
    let layout = graph::layout(&data.definition).expect("the definition lays out");
    assert_eq!(layout.nodes.len(), 3);
    let events: Vec<graph::RunEvent> = data
        .execution
        .iter()
        .flat_map(|d| d.events.iter())
        .map(|e| graph::RunEvent { kind: e.kind.clone(), state: e.json["name"].as_str().map(str::to_string) })
        .collect();
    let runs = graph::state_runs(&events);
    assert_eq!(runs.get("Check"), Some(&graph::StateRun::Succeeded));
    assert_eq!(runs.get("Boom"), Some(&graph::StateRun::Failed));
    assert_eq!(runs.get("Done"), None, "not reached");

    let Loaded::Graph(Ok(newest)) = load::load(&source, Tab::Graph).await else { panic!("graph without execution") };
    assert!(newest.execution.is_none());
}

#[tokio::test]
async fn rerun_stop_and_redrive_act_through_step_functions_and_report_in_sentences() {
    let cloud = TestCloud::start().await;
    let sm = machine(&cloud, "TuiFlow", flow()).await;
    let bad = run(&cloud, &sm, json!({"ok": false})).await;
    let source = source(&cloud);

    let Loaded::Done(Ok(message)) = actions::rerun(&source, &bad).await else { panic!("rerun") };
    assert!(message.contains("same input"), "{message}");
    let list = cloud.clients.sfn.list_executions().state_machine_arn(&sm).send().await.expect("list");
    assert_eq!(list.executions().len(), 2);
    for e in list.executions() {
        let d = cloud.clients.sfn.describe_execution().execution_arn(e.execution_arn()).send().await.expect("d");
        assert_eq!(
            d.input().map(|i| serde_json::from_str::<serde_json::Value>(i).ok()),
            Some(Some(json!({"ok": false})))
        );
    }

    let waiter = machine(
        &cloud,
        "Waiter",
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}),
    )
    .await;
    let long =
        cloud.clients.sfn.start_execution().state_machine_arn(&waiter).send().await.expect("start").execution_arn;
    let Loaded::Done(Ok(message)) = actions::stop(&source, &long).await else { panic!("stop") };
    assert!(message.starts_with("Stopped"), "{message}");
    assert_eq!(finish(&cloud, &long).await, "ABORTED");
    let gone = format!("{}-gone", long);
    let Loaded::Done(Err(message)) = actions::stop(&source, &gone).await else { panic!("no such execution") };
    assert!(message.starts_with("Stopping") && message.contains("ExecutionDoesNotExist"), "{message}");

    // Redrive: done by Step Functions, or refused with AWS's reason as a sentence.
    match actions::redrive(&source, &bad).await {
        Loaded::Done(Ok(message)) => assert!(message.starts_with("Redriving"), "{message}"),
        Loaded::Done(Err(message)) => assert!(message.starts_with("Redriving") && message.len() > 30, "{message}"),
        other => panic!("redrive answered {other:?}"),
    }
}

#[tokio::test]
async fn start_uploads_a_photo_from_disk_and_sends_the_seeds_input() {
    let cloud = TestCloud::start().await;
    let sm = machine(&cloud, "Echo", json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})).await;
    let names = WorkshopNames::local();
    cloud.clients.s3.create_bucket().bucket(&names.photo_bucket).send().await.expect("bucket");
    let source = source(&cloud);
    let dir = tempfile::tempdir().expect("dir");
    let photo = dir.path().join("my_selfie.jpg");
    std::fs::write(&photo, b"not really a jpeg").expect("write");

    let done = actions::start(&source, "Echo", &photo.to_string_lossy(), "user_z").await;
    let Loaded::Done(Ok(message)) = done else { panic!("start: {done:?}") };
    assert!(message.contains("user_z"), "{message}");
    let object = cloud.clients.s3.get_object().bucket(&names.photo_bucket).key("my_selfie.jpg").send().await;
    assert!(object.is_ok(), "the photo was uploaded");
    let list = cloud.clients.sfn.list_executions().state_machine_arn(&sm).send().await.expect("list");
    let arn = list.executions()[0].execution_arn();
    let d = cloud.clients.sfn.describe_execution().execution_arn(arn).send().await.expect("describe");
    let input: serde_json::Value = serde_json::from_str(d.input().unwrap_or("{}")).expect("json input");
    assert_eq!(input, json!({"userId": "user_z", "s3Bucket": names.photo_bucket, "s3Key": "my_selfie.jpg"}));

    // A key that is not in the bucket, and a machine that does not exist: sentences.
    let Loaded::Done(Err(message)) = actions::start(&source, "Echo", "nope.jpg", "u").await else { panic!() };
    assert!(message.contains("neither a file"), "{message}");
    let Loaded::Done(Err(message)) = actions::start(&source, "Nope", "my_selfie.jpg", "u").await else { panic!() };
    assert!(message.starts_with("There is no state machine named Nope; deploy the workshop first"), "{message}");
}

#[tokio::test]
async fn logs_photos_and_duplicates_load_or_explain_why_not() {
    let cloud = TestCloud::start().await;
    let source = source(&cloud);
    let Loaded::Logs(Ok(logs)) = load::load(&source, Tab::Logs).await else { panic!("logs") };
    assert!(logs.is_empty(), "no functions yet");
    let Loaded::Photos(Err(message)) = load::load(&source, Tab::Photos).await else { panic!("no buckets") };
    assert!(message.starts_with("Neither"), "{message}");
    let names = WorkshopNames::local();
    cloud.clients.s3.create_bucket().bucket(&names.photo_bucket).send().await.expect("bucket");
    let Loaded::Photos(Ok(rows)) = load::load(&source, Tab::Photos).await else { panic!("one bucket is enough") };
    assert!(rows.is_empty());
    // No collection yet: the reason, not a crash.
    let Loaded::Duplicates(Err(message)) = actions::find_duplicates(&source, 80.0).await else { panic!("dupes") };
    assert!(!message.is_empty());
}

#[tokio::test]
async fn the_lab_reads_each_steps_status_from_the_target_and_explains_what_it_cannot_run() {
    use wildrydes::tui::app::{Action, StepStatus};
    use wildrydes::tui::lab::{self, Step};
    let cloud = TestCloud::start().await;
    let source = source(&cloud);

    // A fresh cloud: nothing done, and clean-up has nothing left to delete.
    let steps = lab::status(&source).await;
    assert_eq!(steps.iter().map(|s| s.step).collect::<Vec<_>>(), Step::ALL.to_vec());
    let status = |steps: &[wildrydes::tui::app::LabStep], step: Step| {
        steps.iter().find(|s| s.step == step).map(|s| (s.status, s.detail.clone())).expect("every step is listed")
    };
    assert_eq!(status(&steps, Step::Collection).0, StepStatus::Todo);
    assert_eq!(status(&steps, Step::StateMachine(4)), (StepStatus::Todo, "not created yet".into()));
    assert_eq!(status(&steps, Step::Cleanup).0, StepStatus::Done);

    // The collection step runs the deploy's own code; the status then says so.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Action>();
    let Loaded::LabDone(Step::Collection, Ok(outcome)) = lab::run(&source, Step::Collection, &tx).await else {
        panic!("the collection step")
    };
    assert!(outcome.message.contains("rider-photos: created"), "{}", outcome.message);
    let steps = lab::status(&source).await;
    assert_eq!(status(&steps, Step::Collection), (StepStatus::Done, "rider-photos: 0 faces".into()));
    let (cleanup, left) = status(&steps, Step::Cleanup);
    assert_eq!(cleanup, StepStatus::Todo);
    assert!(left.contains("collection rider-photos"), "{left}");

    // Without deploy options (on AWS) deploying is a sentence, not a crash; a photo step
    // before the workshop is deployed names the photo it cannot find.
    let Loaded::LabDone(_, Err(message)) = lab::run(&source, Step::Resources, &tx).await else { panic!("resources") };
    assert!(message.starts_with("The dashboard does not deploy to this target"), "{message}");
    let Loaded::LabDone(_, Err(message)) = lab::run(&source, Step::Photo(0), &tx).await else { panic!("photo") };
    assert!(message.contains("1_happy_face.jpg"), "{message}");
    drop(tx);
    while rx.recv().await.is_some() {}
}

#[tokio::test]
async fn upload_puts_a_file_in_the_photo_bucket_and_names_a_missing_one() {
    let cloud = TestCloud::start().await;
    let names = WorkshopNames::local();
    cloud.clients.s3.create_bucket().bucket(&names.photo_bucket).send().await.expect("bucket");
    let source = source(&cloud);
    let dir = tempfile::tempdir().expect("dir");
    let photo = dir.path().join("rider.png");
    std::fs::write(&photo, b"png bytes").expect("write");

    let Loaded::Done(Ok(message)) = actions::upload(&source, &photo.to_string_lossy()).await else { panic!("upload") };
    assert!(message.ends_with("wildrydes-riderphotos/rider.png."), "{message}");
    let head = cloud.clients.s3.head_object().bucket(&names.photo_bucket).key("rider.png").send().await.expect("head");
    assert_eq!(head.content_type(), Some("image/png"));

    let missing = dir.path().join("nope.jpg");
    let Loaded::Done(Err(message)) = actions::upload(&source, &missing.to_string_lossy()).await else { panic!() };
    assert_eq!(message, format!("There is no file {}.", missing.display()));
    let Loaded::Done(Err(message)) = actions::upload(&source, &dir.path().to_string_lossy()).await else { panic!() };
    assert!(message.ends_with("is a directory, not a photo."), "{message}");
}

//! The operator's questions, answered by the operations layer (`wildrydes::ops`) in-process,
//! and by the `wildrydes` binary itself against a real `wildrydes serve`: which executions
//! failed or were refused where, with which input, error and cause; rerun and redrive that
//! tell the truth; duplicates that keep the registered rider; exit statuses; and a command
//! that refuses to show another data directory's cloud.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};
use wildrydes::ops::{ExecutionFilter, Handled, Ops, Verdict, failure};
use wildrydes::workshop::WorkshopNames;

use crate::common::{ServerProcess, TestCloud};
use crate::tui::{machine, run};

fn ops(cloud: &TestCloud) -> Ops {
    Ops::new(cloud.clients.clone(), WorkshopNames::local(), Some(cloud.endpoint.clone()))
}

/// A state machine made and run to its end (as the dashboard tests make theirs).
async fn start(cloud: &TestCloud, name: &str, definition: Value, input: Value) -> String {
    let machine = machine(cloud, name, definition).await;
    run(cloud, &machine, input).await
}

#[tokio::test]
async fn executions_show_where_a_caught_and_an_uncaught_failure_happened_with_input_error_and_cause() {
    let cloud = TestCloud::start().await;
    let ops = ops(&cloud);
    // A Task on a function that does not exist fails; its Catch sends the execution on.
    let caught = start(
        &cloud,
        "OperatorCaught",
        json!({"StartAt": "Detect", "States": {
            "Detect": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:not-deployed",
                       "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.errorInfo", "Next": "Refused"}], "End": true},
            "Refused": {"Type": "Pass", "End": true}}}),
        json!({"userId": "user_b", "s3Key": "2_sunglass_face.jpg"}),
    )
    .await;
    let uncaught = start(
        &cloud,
        "OperatorFailed",
        json!({"StartAt": "Check", "States": {"Check": {"Type": "Fail", "Error": "PhotoDoesNotMeetRequirementError", "Cause": "Detected 2 faces in the photo."}}}),
        json!({"userId": "user_c"}),
    )
    .await;

    let all = ops.executions(&ExecutionFilter::default()).await.expect("list");
    assert_eq!(all.len(), 2);
    let caught_row = all.iter().find(|r| r.arn == caught).expect("listed");
    assert_eq!(caught_row.status, "SUCCEEDED");
    assert_eq!((caught_row.user.as_str(), caught_row.photo.as_str()), ("user_b", "2_sunglass_face.jpg"));
    assert!(caught_row.outcome().starts_with("refused at Detect: "), "{}", caught_row.outcome());
    let failed_only = ops
        .executions(&ExecutionFilter { status: Some("failed".into()), ..Default::default() })
        .await
        .expect("filtered list");
    assert_eq!(failed_only.iter().map(|r| r.arn.as_str()).collect::<Vec<_>>(), vec![uncaught.as_str()]);
    assert_eq!(failed_only[0].outcome(), "failed at Check: PhotoDoesNotMeetRequirementError");
    let bad_status =
        ops.executions(&ExecutionFilter { status: Some("DONE".into()), ..Default::default() }).await.unwrap_err();
    assert!(bad_status.to_string().contains("DONE is not an execution status"), "{bad_status}");

    let name = caught.rsplit(':').next().unwrap();
    assert_eq!(ops.find_execution(name).await.unwrap(), caught);
    assert_eq!(ops.find_execution(&caught).await.unwrap(), caught, "an ARN is found as itself");
    let missing = ops.find_execution("no-such-execution").await.unwrap_err().to_string();
    assert!(missing.contains("no execution named no-such-execution"), "{missing}");
    let gone = caught.replace(name, "gone");
    assert!(ops.find_execution(&gone).await.unwrap_err().to_string().contains("no execution named"));

    let detail = ops.execution_detail(&caught).await.expect("detail");
    let failures = failure::failures(&detail.events);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].state, "Detect");
    assert_eq!(failures[0].state_input, json!({"userId": "user_b", "s3Key": "2_sunglass_face.jpg"}));
    assert!(failures[0].error.starts_with("Lambda."), "{}", failures[0].error);
    assert_eq!(failures[0].handled, Handled::CaughtBy("Refused".into()));
    let text = wildrydes::cli::report::execution_report(&detail, true);
    assert!(text.contains("caught: the execution went on to Refused"), "{text}");

    let detail = ops.execution_detail(&uncaught).await.expect("detail");
    let text = wildrydes::cli::report::execution_report(&detail, false);
    assert!(text.contains("✗ Check failed"), "{text}");
    assert!(text.contains("cause        Detected 2 faces in the photo."), "{text}");
    assert!(text.contains("state input  {\"userId\":\"user_c\"}"), "{text}");
}

#[tokio::test]
async fn history_rows_name_the_state_of_every_event_in_map_iterations_and_retries() {
    let cloud = TestCloud::start().await;
    let ops = ops(&cloud);
    let arn = start(
        &cloud,
        "OperatorShapes",
        json!({"StartAt": "Each", "States": {
            "Each": {"Type": "Map", "ItemsPath": "$.items", "Next": "Flaky",
                     "Iterator": {"StartAt": "Double", "States": {"Double": {"Type": "Pass", "End": true}}}},
            "Flaky": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:not-deployed",
                      "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1, "IntervalSeconds": 1}],
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}], "End": true},
            "Done": {"Type": "Succeed"}}}),
        json!({"items": [1, 2, 3]}),
    )
    .await;
    let detail = ops.execution_detail(&arn).await.expect("detail");
    let of = |kind: &str| -> Vec<&str> {
        detail.events.iter().filter(|e| e.kind == kind).map(|e| e.state.as_str()).collect()
    };
    assert_eq!(of("MapIterationStarted"), vec!["Each"; 3]);
    assert_eq!(of("MapIterationSucceeded"), vec!["Each"; 3]);
    assert_eq!(of("PassStateEntered"), vec!["Double"; 3]);
    assert_eq!(of("MapStateSucceeded"), vec!["Each"]);
    assert_eq!(of("MapStateExited"), vec!["Each"]);
    let scheduled = of("LambdaFunctionScheduled");
    assert_eq!(scheduled, vec!["Flaky", "Flaky"], "the retry runs in the same state");
    let handled: Vec<Handled> = failure::failures(&detail.events).into_iter().map(|f| f.handled).collect();
    assert_eq!(handled, vec![Handled::Retried, Handled::CaughtBy("Done".into())]);
    assert!(matches!(detail.verdict(), Verdict::Refused { ref state, .. } if state == "Flaky"));
}

// --- The binary against `wildrydes serve` -------------------------------------------------

fn wildrydes(endpoint: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wildrydes"))
        .arg("--endpoint-url")
        .arg(endpoint)
        .args(args)
        .env_remove("AWS_REGION")
        .env_remove("WILDRYDES_DATA_DIR")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("wildrydes runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// The new execution's name in "Rerunning X on M as NEW".
fn rerun_name(out: &Output) -> String {
    let said = text(out);
    let line = said.lines().find(|l| l.starts_with("Rerunning ")).unwrap_or_else(|| panic!("{said}"));
    line.rsplit(" as ").next().unwrap_or_default().trim().to_string()
}

fn selfie(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/selfies").join(name).display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_commands_tell_the_truth_against_wildrydes_serve() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServerProcess::spawn(dir.path());
    let e = server.endpoint.as_str();
    let bins = crate::workflow::binaries_dir();
    let deployed = wildrydes(e, &["deploy", "--json", "--lambda-dir", bins.to_str().unwrap()]);
    assert_eq!(code(&deployed), 0, "{}", text(&deployed));
    let clients = wildrydes::cloud::Clients::for_target(&wildrydes::cloud::Target::local(e)).await;

    // Exit statuses: 0 registered, 2 refused, 1 failed.
    let registered = wildrydes(e, &["run", &selfie("1_happy_face.jpg"), "--user", "user_m"]);
    assert_eq!(code(&registered), 0, "{}", text(&registered));
    let refused = wildrydes(e, &["run", "2_sunglass_face.jpg", "--user", "user_b"]);
    assert_eq!(code(&refused), 2, "{}", text(&refused));
    assert!(text(&refused).contains("refused at FaceDetection"), "{}", text(&refused));

    // The history of a registration names each Parallel branch's state on its own events.
    let list = wildrydes(e, &["executions", "list", "--json"]);
    let rows: Value = serde_json::from_slice(&list.stdout).expect("JSON list");
    let of_user = |user: &str| rows.as_array().unwrap().iter().find(|r| r["user"] == user).cloned().expect("listed");
    let m = of_user("user_m");
    assert_eq!(m["outcome"], "succeeded");
    assert_eq!(of_user("user_b")["outcome"], "refused at FaceDetection: Face is wearing sunglasses");
    let shown = wildrydes(e, &["executions", "show", m["name"].as_str().unwrap(), "--history", "--json"]);
    let shown: Value = serde_json::from_slice(&shown.stdout).expect("JSON detail");
    let history = shown["history"].as_array().expect("history");
    let state_of = |pred: &dyn Fn(&Value) -> bool| -> Vec<String> {
        history.iter().filter(|h| pred(h)).map(|h| h["state"].as_str().unwrap_or_default().to_string()).collect()
    };
    let scheduled_for = |function: &str| {
        state_of(&|h: &Value| {
            h["type"] == "LambdaFunctionScheduled"
                && h["details"]["resource"].as_str().is_some_and(|r| r.ends_with(function))
        })
    };
    assert_eq!(scheduled_for("wildrydes-index-face"), vec!["AddFaceToIndex"]);
    assert_eq!(scheduled_for("wildrydes-thumbnail"), vec!["Thumbnail"]);
    for kind in ["ParallelStateEntered", "ParallelStateStarted", "ParallelStateExited"] {
        assert_eq!(state_of(&|h: &Value| h["type"] == kind), vec!["ParallelProcessing"], "{kind}");
    }
    let succeeded = state_of(&|h: &Value| h["type"] == "LambdaFunctionSucceeded");
    assert!(succeeded.contains(&"AddFaceToIndex".to_string()) && succeeded.contains(&"Thumbnail".to_string()));

    // Rerun by name and by ARN: the same machine and input, the new name printed.
    let b = of_user("user_b");
    let by_name = wildrydes(e, &["executions", "rerun", b["name"].as_str().unwrap()]);
    assert_eq!(code(&by_name), 2, "a refusal again: {}", text(&by_name));
    let by_arn = wildrydes(e, &["executions", "rerun", b["executionArn"].as_str().unwrap()]);
    assert_eq!(code(&by_arn), 2, "{}", text(&by_arn));
    for out in [&by_name, &by_arn] {
        let new = rerun_name(out);
        let again = wildrydes(e, &["executions", "show", &new, "--json"]);
        let again: Value = serde_json::from_slice(&again.stdout).unwrap_or_else(|_| panic!("{}", text(&again)));
        assert_eq!(again["stateMachine"], "RiderPhotoProcessing-4");
        assert_eq!(
            again["input"],
            json!({"userId": "user_b", "s3Bucket": "wildrydes-riderphotos", "s3Key": "2_sunglass_face.jpg"})
        );
    }

    // A failed execution: 1. Then redrive it, after fixing what it lacked.
    let machine = clients
        .sfn
        .create_state_machine()
        .name("DetectOnly")
        .role_arn("arn:aws:iam::000000000000:role/StepFunctionsRole")
        .definition(
            json!({"StartAt": "FaceDetection", "States": {"FaceDetection": {"Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:000000000000:function:wildrydes-face-detection", "End": true}}})
            .to_string(),
        )
        .send()
        .await
        .expect("machine");
    // FaceDetection on a photo that is not in the bucket fails the execution.
    let input = json!({"userId": "user_l", "s3Bucket": "wildrydes-riderphotos", "s3Key": "gone.jpg"}).to_string();
    let started = clients
        .sfn
        .start_execution()
        .state_machine_arn(machine.state_machine_arn())
        .input(input)
        .send()
        .await
        .expect("start");
    let arn = started.execution_arn().to_string();
    for _ in 0..600 {
        let d = clients.sfn.describe_execution().execution_arn(&arn).send().await.expect("describe");
        if d.status().as_str() != "RUNNING" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shown = wildrydes(e, &["executions", "show", &arn]);
    assert!(text(&shown).contains("Status     FAILED"), "{}", text(&shown));
    let failed_again = wildrydes(e, &["executions", "rerun", &arn]);
    assert_eq!(code(&failed_again), 1, "a failed execution: {}", text(&failed_again));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let photo = std::fs::read(selfie("5_same_person_1.jpg")).unwrap();
    clients.s3.put_object().bucket("wildrydes-riderphotos").key("gone.jpg").body(photo.into()).send().await.unwrap();
    let redriven = wildrydes(e, &["executions", "redrive", &arn]);
    let said = text(&redriven);
    assert_eq!(code(&redriven), 0, "{said}");
    assert!(!said.contains('✗'), "the failed attempt is not narrated again: {said}");
    assert_eq!(said.matches("→ FaceDetection").count(), 1, "{said}");
    let d = clients.sfn.describe_execution().execution_arn(&arn).send().await.expect("describe");
    let secs = |t: &aws_smithy_types::DateTime| t.as_secs_f64();
    let own = secs(d.stop_date().unwrap()) - secs(d.redrive_date().expect("redriven"));
    let whole = secs(d.stop_date().unwrap()) - secs(d.start_date());
    let reported: f64 = said
        .lines()
        .find_map(|l| l.strip_prefix("SUCCEEDED in ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    assert!((reported - own).abs() < 0.02, "the redrive's own duration {own:.2} s is reported, not {reported}: {said}");
    assert!(whole - reported > 1.5, "not the whole execution's {whole:.2} s");

    // Duplicates: the registered rider's face stays, although the other was indexed later by hand.
    let image = aws_sdk_rekognition::types::Image::builder()
        .bytes(aws_smithy_types::Blob::new(std::fs::read(selfie("1_happy_face.jpg")).unwrap()))
        .build();
    clients
        .rekognition
        .index_faces()
        .collection_id("rider-photos")
        .external_image_id("user_dup")
        .image(image)
        .send()
        .await
        .expect("hand-indexed");
    let report = wildrydes(e, &["faces", "duplicates"]);
    let said = text(&report);
    assert!(said.contains("keeps user_m: the registered rider"), "{said}");
    assert!(said.lines().any(|l| l.contains("delete") && l.contains("user_dup")), "{said}");
    let unasked = wildrydes(e, &["faces", "duplicates", "--delete"]);
    assert_eq!(code(&unasked), 1, "no terminal to ask on: {}", text(&unasked));
    assert!(text(&unasked).contains("--yes"), "{}", text(&unasked));
    let deleted = wildrydes(e, &["faces", "duplicates", "--delete", "--yes"]);
    assert_eq!(code(&deleted), 0, "{}", text(&deleted));
    let faces: Value = serde_json::from_slice(&wildrydes(e, &["faces", "list", "--json"]).stdout).unwrap();
    let users: Vec<&str> = faces.as_array().unwrap().iter().filter_map(|f| f["userId"].as_str()).collect();
    assert!(users.contains(&"user_m") && !users.contains(&"user_dup"), "{users:?}");

    // Deleting a registered rider's face deletes the row that points at it: the table never
    // names a missing face.
    let gone = wildrydes(e, &["faces", "delete", "--user", "user_m", "--yes"]);
    assert!(text(&gone).contains("riders table row of user_m"), "{}", text(&gone));
    let scan = clients.dynamodb.scan().table_name("wildrydes-riders").send().await.expect("scan");
    let listed = clients.rekognition.list_faces().collection_id("rider-photos").send().await.expect("faces");
    let ids: Vec<&str> = listed.faces().iter().filter_map(|f| f.face_id()).collect();
    for item in scan.items() {
        let face = item.get("faceId").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        assert!(ids.contains(&face.as_str()), "a rider row points at a deleted face: {item:?}");
    }

    // The data-dir guard: another directory's command refuses to show this cloud.
    let port = e.rsplit(':').next().unwrap();
    let other = tempfile::tempdir().unwrap();
    let guarded = Command::new(env!("CARGO_BIN_EXE_wildrydes"))
        .args(["--port", port, "--data-dir"])
        .arg(other.path())
        .args(["executions"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let said = text(&guarded);
    assert_eq!(code(&guarded), 1, "{said}");
    assert!(said.contains(&dir.path().canonicalize().unwrap().display().to_string()), "{said}");
    assert!(said.contains(&other.path().display().to_string()), "{said}");
    let busy = Command::new(env!("CARGO_BIN_EXE_wildrydes"))
        .args(["serve", "--port", port, "--data-dir"])
        .arg(other.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let said = text(&busy);
    assert_eq!(code(&busy), 1);
    assert!(said.contains(&format!("port {port} is in use (by wildrydes serving")), "{said}");
    assert_eq!(said.matches("in use").count(), 1, "said once: {said}");
    drop(server);
}

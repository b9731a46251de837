//! The operator's CLI commands (`wildrydes executions …`, `wildrydes faces …`) against a real
//! local cloud through the SDK clients: which executions failed where, with which input,
//! error and cause, and what became of the failure.

use crate::common::TestCloud;
use crate::tui::{machine, run, source};
use serde_json::json;
use wildrydes::operator::{self, ExecutionFilter, Outcome};

/// A state machine made and run to its end (as the dashboard tests make theirs).
async fn start(cloud: &TestCloud, name: &str, definition: serde_json::Value, input: serde_json::Value) -> String {
    let machine = machine(cloud, name, definition).await;
    run(cloud, &machine, input).await
}

#[tokio::test]
async fn executions_show_where_a_caught_and_an_uncaught_failure_happened_with_input_error_and_cause() {
    let cloud = TestCloud::start().await;
    let source = source(&cloud);
    // A Task on a function that does not exist fails; its Catch sends the execution on.
    let caught = start(
        &cloud,
        "OperatorCaught",
        json!({"StartAt": "Detect", "States": {
            "Detect": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:not-deployed",
                       "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.errorInfo", "Next": "Refused"}], "End": true},
            "Refused": {"Type": "Pass", "End": true}}}),
        json!({"userId": "user_b"}),
    )
    .await;
    let uncaught = start(
        &cloud,
        "OperatorFailed",
        json!({"StartAt": "Check", "States": {"Check": {"Type": "Fail", "Error": "PhotoDoesNotMeetRequirementError", "Cause": "Detected 2 faces in the photo."}}}),
        json!({"userId": "user_c"}),
    )
    .await;

    let all = operator::list_executions(&source, &ExecutionFilter::default()).await.expect("list");
    assert_eq!(all.len(), 2);
    let caught_row = all.iter().find(|r| r.arn == caught).expect("listed");
    assert_eq!(caught_row.status, "SUCCEEDED");
    assert!(
        caught_row.failure.starts_with("Detect: ") && caught_row.failure.ends_with("(caught)"),
        "{}",
        caught_row.failure
    );
    let failed_only =
        operator::list_executions(&source, &ExecutionFilter { status: Some("failed".into()), ..Default::default() })
            .await
            .expect("filtered list");
    assert_eq!(failed_only.iter().map(|r| r.arn.as_str()).collect::<Vec<_>>(), vec![uncaught.as_str()]);
    assert_eq!(failed_only[0].failure, "Check: PhotoDoesNotMeetRequirementError");
    let bad_filter = ExecutionFilter { status: Some("DONE".into()), ..Default::default() };
    let bad_status = operator::list_executions(&source, &bad_filter).await.unwrap_err();
    assert!(bad_status.contains("DONE is not an execution status"), "{bad_status}");

    let name = caught.rsplit(':').next().unwrap();
    assert_eq!(operator::find_execution(&source, name).await.unwrap(), caught);
    let missing = operator::find_execution(&source, "no-such-execution").await.unwrap_err();
    assert!(missing.contains("no execution named no-such-execution"), "{missing}");

    let detail = operator::execution_detail(&source, &caught).await.expect("detail");
    let failures = operator::failures(&detail.events);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].state, "Detect");
    assert_eq!(failures[0].state_input, json!({"userId": "user_b"}));
    assert!(failures[0].error.starts_with("Lambda."), "{}", failures[0].error);
    assert_eq!(failures[0].outcome, Outcome::CaughtBy("Refused".into()));
    let text = operator::report(&detail, true);
    assert!(text.contains("caught: the execution went on to Refused"), "{text}");

    let detail = operator::execution_detail(&source, &uncaught).await.expect("detail");
    let text = operator::report(&detail, false);
    assert!(text.contains("✗ Check failed"), "{text}");
    assert!(text.contains("cause        Detected 2 faces in the photo."), "{text}");
    assert!(text.contains("state input  {\"userId\":\"user_c\"}"), "{text}");
}

#[tokio::test]
async fn faces_commands_say_what_is_missing_and_delete_only_what_was_named() {
    let cloud = TestCloud::start().await;
    let source = source(&cloud);
    // No collection yet: a sentence, not a crash.
    let missing = operator::faces(&source).await.unwrap_err();
    assert!(missing.contains("rider-photos"), "{missing}");

    let rek = &cloud.clients.rekognition;
    rek.create_collection().collection_id("rider-photos").send().await.expect("collection");
    let photo = aws_sdk_rekognition::types::Image::builder()
        .bytes(aws_smithy_types::Blob::new(include_bytes!("../assets/selfies/5_same_person_1.jpg").to_vec()))
        .build();
    for user in ["user_b", "user_c"] {
        rek.index_faces()
            .collection_id("rider-photos")
            .external_image_id(user)
            .image(photo.clone())
            .send()
            .await
            .expect("indexed");
    }
    let faces = operator::faces(&source).await.expect("faces");
    assert_eq!(faces.len(), 2);
    let groups = operator::duplicates(&source, 80.0).await.expect("duplicates");
    assert_eq!(groups.len(), 1, "one person under two user ids");
    assert_eq!(groups[0].keep, faces[0].user);
    assert!(operator::duplicates(&source, 180.0).await.unwrap_err().contains("0 to 100"));

    let chosen = operator::select_faces(&faces, &[], &["user_c".into()]).expect("user_c has a face");
    let said = operator::delete_faces(&source, &chosen).await.expect("deleted");
    assert_eq!(said, "Deleted 1 face(s) of user_c.");
    let left = operator::faces(&source).await.expect("faces");
    assert_eq!(left.iter().map(|f| f.user.as_str()).collect::<Vec<_>>(), vec!["user_b"]);
}

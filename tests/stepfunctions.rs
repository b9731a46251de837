//! The local Step Functions through the real aws-sdk-sfn client: state machines run to
//! completion with AWS's outputs and histories, executions survive restarts (in-process and
//! kill -9), tasks go through an injected runner, and bad requests get AWS's errors and
//! change nothing.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, StateMachineType};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use wildrydes::cloud::{Clients, Target};
use wildrydes::local::stepfunctions::{TaskFailure, TaskRunner};
use wildrydes::local::{LocalCloud, LocalCloudConfig};

use crate::common::ServerProcess;

const ROLE: &str = "arn:aws:iam::000000000000:role/StepFunctionsRole";

/// Test functions, picked by the last part of the resource or FunctionName: `echo` returns
/// its input, `fail` fails with a custom error, `hang` never answers, `gate` never answers
/// unless the runner was built open (so a restart can prove the task is invoked again).
struct TestRunner {
    open: bool,
}

impl TaskRunner for TestRunner {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        input: Value,
        _timeout: Option<Duration>,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        let function = resource.rsplit(':').next().unwrap_or(resource).to_string();
        Box::pin(async move {
            match function.as_str() {
                "echo" => Ok(input),
                "fail" => Err(TaskFailure::new("CustomError", "the function failed on purpose")),
                "gate" if self.open => Ok(json!({"gate": "open", "input": input})),
                "gate" | "hang" => std::future::pending().await,
                other => Err(TaskFailure::new("Lambda.ResourceNotFoundException", format!("no function {other}"))),
            }
        })
    }
}

struct Sfn {
    cloud: Option<LocalCloud>,
    client: aws_sdk_sfn::Client,
    dir: tempfile::TempDir,
}

impl Sfn {
    async fn start() -> Self {
        Self::start_in(tempfile::tempdir().expect("temporary data directory"), false).await
    }

    async fn start_in(dir: tempfile::TempDir, gate_open: bool) -> Self {
        let mut config = LocalCloudConfig::new(dir.path().to_path_buf());
        config.port = 0;
        let cloud =
            LocalCloud::start_with(config, Arc::new(TestRunner { open: gate_open })).await.expect("local cloud starts");
        let client = sfn_client(&cloud.endpoint()).await;
        Self { cloud: Some(cloud), client, dir }
    }

    /// Stops the server and starts a new one on the same data directory.
    async fn restart(mut self, gate_open: bool) -> Self {
        if let Some(cloud) = self.cloud.take() {
            cloud.shutdown().await;
        }
        Self::start_in(self.dir, gate_open).await
    }

    async fn create(&self, name: &str, definition: &Value) -> String {
        self.create_typed(name, definition, StateMachineType::Standard).await
    }

    async fn create_typed(&self, name: &str, definition: &Value, kind: StateMachineType) -> String {
        self.client
            .create_state_machine()
            .name(name)
            .definition(definition.to_string())
            .role_arn(ROLE)
            .r#type(kind)
            .send()
            .await
            .expect("state machine is created")
            .state_machine_arn
    }

    async fn start_execution(&self, sm: &str, input: &Value) -> String {
        self.client
            .start_execution()
            .state_machine_arn(sm)
            .input(input.to_string())
            .send()
            .await
            .expect("execution starts")
            .execution_arn
    }

    /// Polls until the execution is no longer RUNNING (a generous bound, not a timing assertion).
    async fn finish(&self, arn: &str) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
        for _ in 0..1200 {
            let d = self.client.describe_execution().execution_arn(arn).send().await.expect("describe");
            if d.status != ExecutionStatus::Running {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("execution {arn} did not finish");
    }

    async fn history(&self, arn: &str) -> Vec<HistoryEvent> {
        let mut events = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .get_execution_history()
                .execution_arn(arn)
                .set_next_token(token)
                .max_results(1000)
                .send()
                .await
                .expect("history");
            events.extend(page.events);
            token = page.next_token;
            if token.is_none() {
                return events;
            }
        }
    }
}

/// The app's own Step Functions client (`cloud.rs`), which also reaches StartSyncExecution
/// and TestState on the local endpoint despite the SDK's `sync-` host prefix.
async fn sfn_client(endpoint: &str) -> aws_sdk_sfn::Client {
    Clients::for_target(&Target::local(endpoint.to_string())).await.sfn
}

fn types(events: &[HistoryEvent]) -> Vec<String> {
    events.iter().map(|e| e.r#type.as_str().to_string()).collect()
}

/// Ids run 1..=n without gaps or duplicates and every previousEventId points backwards.
fn assert_history_is_whole(events: &[HistoryEvent]) {
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.id, i as i64 + 1, "event ids must be contiguous: {:?}", types(events));
        assert!(e.previous_event_id < e.id, "previousEventId of event {} points forward", e.id);
    }
}

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<no code>").to_string()
}

#[tokio::test]
async fn pass_chain_succeeds_with_aws_output_history_and_description() {
    let sfn = Sfn::start().await;
    let sm = sfn
        .create(
            "PassChain",
            &json!({
                "StartAt": "First",
                "States": {
                    "First": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.first", "Next": "Done"},
                    "Done": {"Type": "Succeed"}
                }
            }),
        )
        .await;
    let arn = sfn.start_execution(&sm, &json!({"userId": "user_a"})).await;
    assert_eq!(
        arn,
        "arn:aws:states:us-east-1:000000000000:execution:PassChain:".to_string() + arn.rsplit(':').next().unwrap()
    );
    let d = sfn.finish(&arn).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(d.output.as_deref().unwrap()).unwrap();
    assert_eq!(output, json!({"userId": "user_a", "first": {"x": 1}}));
    assert_eq!(d.input.as_deref(), Some(r#"{"userId":"user_a"}"#));
    assert_eq!(d.state_machine_arn, sm);
    assert!(d.stop_date.is_some());
    assert_eq!(d.redrive_count, Some(0));
    let events = sfn.history(&arn).await;
    assert_eq!(
        types(&events),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_history_is_whole(&events);
    let started = events[0].execution_started_event_details.as_ref().unwrap();
    assert_eq!(started.role_arn.as_deref(), Some(ROLE));
    let exited = events[2].state_exited_event_details.as_ref().unwrap();
    assert_eq!(exited.name, "First");
    assert_eq!(
        serde_json::from_str::<Value>(exited.output.as_deref().unwrap()).unwrap(),
        json!({"userId": "user_a", "first": {"x": 1}})
    );
}

#[tokio::test]
async fn choice_wait_parallel_and_map_run_to_completion() {
    let sfn = Sfn::start().await;
    let sm = sfn
        .create(
            "Everything",
            &json!({
                "StartAt": "Route",
                "States": {
                    "Route": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Pause"}],
                        "Default": "Never"
                    },
                    "Never": {"Type": "Fail", "Error": "Wrong", "Cause": "the choice went the wrong way"},
                    "Pause": {"Type": "Wait", "Seconds": 0, "Next": "Both"},
                    "Both": {
                        "Type": "Parallel",
                        "ResultPath": "$.both",
                        "Branches": [
                            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": true}}},
                            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "b", "End": true}}}
                        ],
                        "Next": "Each"
                    },
                    "Each": {
                        "Type": "Map",
                        "ItemsPath": "$.items",
                        "ResultPath": "$.doubled",
                        "Iterator": {
                            "StartAt": "Double",
                            "States": {"Double": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($, $)"}, "End": true}}
                        },
                        "End": true
                    }
                }
            }),
        )
        .await;
    let arn = sfn.start_execution(&sm, &json!({"n": 3, "items": [1, 2, 3]})).await;
    let d = sfn.finish(&arn).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "error {:?} cause {:?}", d.error, d.cause);
    let output: Value = serde_json::from_str(d.output.as_deref().unwrap()).unwrap();
    assert_eq!(output["both"], json!(["a", "b"]));
    assert_eq!(output["doubled"], json!([{"v": 2}, {"v": 4}, {"v": 6}]));
    let events = sfn.history(&arn).await;
    assert_history_is_whole(&events);
    let t = types(&events);
    for expected in [
        "ChoiceStateEntered",
        "WaitStateEntered",
        "ParallelStateEntered",
        "ParallelStateStarted",
        "ParallelStateExited",
        "MapStateEntered",
        "MapStateStarted",
        "MapIterationStarted",
        "MapIterationSucceeded",
        "MapStateSucceeded",
        "ExecutionSucceeded",
    ] {
        assert!(t.iter().any(|x| x == expected), "{expected} missing from {t:?}");
    }
    assert_eq!(t.iter().filter(|x| *x == "MapIterationSucceeded").count(), 3);
}

#[tokio::test]
async fn fail_state_reports_error_and_cause() {
    let sfn = Sfn::start().await;
    let sm = sfn
        .create(
            "Failing",
            &json!({"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "PhotoDoesNotMeetRequirementError", "Cause": "Detected 2 faces in the photo."}}}),
        )
        .await;
    let arn = sfn.start_execution(&sm, &json!({})).await;
    let d = sfn.finish(&arn).await;
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!(d.error.as_deref(), Some("PhotoDoesNotMeetRequirementError"));
    assert_eq!(d.cause.as_deref(), Some("Detected 2 faces in the photo."));
    assert!(d.output.is_none());
    let events = sfn.history(&arn).await;
    assert_eq!(types(&events), ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]);
    let failed = events[2].execution_failed_event_details.as_ref().unwrap();
    assert_eq!(failed.error.as_deref(), Some("PhotoDoesNotMeetRequirementError"));
}

#[tokio::test]
async fn lambda_tasks_run_through_the_injected_runner() {
    let sfn = Sfn::start().await;
    let sm = sfn
        .create(
            "Tasks",
            &json!({
                "StartAt": "Direct",
                "States": {
                    "Direct": {
                        "Type": "Task",
                        "Resource": "arn:aws:lambda:us-east-1:000000000000:function:echo",
                        "ResultPath": "$.direct",
                        "Next": "Integration"
                    },
                    "Integration": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": "echo", "Payload": {"who.$": "$.userId"}},
                        "ResultSelector": {"payload.$": "$.Payload", "status.$": "$.StatusCode"},
                        "ResultPath": "$.integration",
                        "End": true
                    }
                }
            }),
        )
        .await;
    let arn = sfn.start_execution(&sm, &json!({"userId": "user_a"})).await;
    let d = sfn.finish(&arn).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "error {:?} cause {:?}", d.error, d.cause);
    let output: Value = serde_json::from_str(d.output.as_deref().unwrap()).unwrap();
    assert_eq!(output["direct"], json!({"userId": "user_a"}));
    assert_eq!(output["integration"], json!({"payload": {"who": "user_a"}, "status": 200}));
    let t = types(&sfn.history(&arn).await);
    assert!(t.contains(&"LambdaFunctionScheduled".to_string()), "{t:?}");
    assert!(t.contains(&"LambdaFunctionSucceeded".to_string()), "{t:?}");
    assert!(t.contains(&"TaskScheduled".to_string()), "{t:?}");
    assert!(t.contains(&"TaskSucceeded".to_string()), "{t:?}");
}

#[tokio::test]
async fn failing_task_is_caught_and_its_error_reaches_the_catcher() {
    let sfn = Sfn::start().await;
    let sm = sfn
        .create(
            "Caught",
            &json!({
                "StartAt": "Try",
                "States": {
                    "Try": {
                        "Type": "Task",
                        "Resource": "arn:aws:lambda:us-east-1:000000000000:function:fail",
                        "Catch": [{"ErrorEquals": ["CustomError"], "ResultPath": "$.errorInfo", "Next": "Handled"}],
                        "End": true
                    },
                    "Handled": {"Type": "Pass", "End": true}
                }
            }),
        )
        .await;
    let arn = sfn.start_execution(&sm, &json!({"k": "v"})).await;
    let d = sfn.finish(&arn).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(d.output.as_deref().unwrap()).unwrap();
    assert_eq!(
        output,
        json!({"k": "v", "errorInfo": {"Error": "CustomError", "Cause": "the function failed on purpose"}})
    );
    let t = types(&sfn.history(&arn).await);
    assert!(t.contains(&"LambdaFunctionFailed".to_string()), "{t:?}");
}

#[tokio::test]
async fn a_task_that_never_answers_is_ended_by_its_timeout() {
    let sfn = Sfn::start().await;
    let sm = sfn
        .create(
            "Hangs",
            &json!({"StartAt": "Hang", "States": {"Hang": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:hang", "TimeoutSeconds": 1, "End": true}}}),
        )
        .await;
    let arn = sfn.start_execution(&sm, &json!({})).await;
    let d = sfn.finish(&arn).await;
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!(d.error.as_deref(), Some("States.Timeout"));
    let t = types(&sfn.history(&arn).await);
    assert!(t.contains(&"LambdaFunctionTimedOut".to_string()), "{t:?}");
}

#[tokio::test]
async fn a_wait_survives_a_restart_and_completes_after_it() {
    let sfn = Sfn::start().await;
    let sm = sfn
        .create(
            "Waits",
            &json!({"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 2, "Next": "After"}, "After": {"Type": "Pass", "Result": "done", "End": true}}}),
        )
        .await;
    let arn = sfn.start_execution(&sm, &json!({})).await;
    let before = sfn.client.describe_execution().execution_arn(&arn).send().await.unwrap();
    assert_eq!(before.status, ExecutionStatus::Running);
    let sfn = sfn.restart(false).await;
    let d = sfn.finish(&arn).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(d.output.as_deref(), Some(r#""done""#));
    let events = sfn.history(&arn).await;
    assert_history_is_whole(&events);
    assert_eq!(
        types(&events),
        [
            "ExecutionStarted",
            "WaitStateEntered",
            "WaitStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[tokio::test]
async fn a_task_in_flight_at_shutdown_is_invoked_again_after_restart() {
    let sfn = Sfn::start().await;
    let sm = sfn
        .create(
            "Gated",
            &json!({"StartAt": "Gate", "States": {"Gate": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:gate", "End": true}}}),
        )
        .await;
    let arn = sfn.start_execution(&sm, &json!({"n": 1})).await;
    let sfn = sfn.restart(true).await;
    let d = sfn.finish(&arn).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(d.output.as_deref().unwrap()).unwrap();
    assert_eq!(output, json!({"gate": "open", "input": {"n": 1}}));
    let events = sfn.history(&arn).await;
    assert_history_is_whole(&events);
    let t = types(&events);
    assert_eq!(t.iter().filter(|x| *x == "LambdaFunctionScheduled").count(), 1, "{t:?}");
}

#[tokio::test]
async fn executions_mid_wait_resume_after_kill_dash_nine() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(dir.path());
    let client = sfn_client(&server.endpoint).await;
    let definition = json!({
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "W1", "States": {"W1": {"Type": "Wait", "Seconds": 2, "End": true}}},
                    {"StartAt": "W2", "States": {"W2": {"Type": "Wait", "Seconds": 1, "Next": "P"}, "P": {"Type": "Pass", "End": true}}}
                ],
                "Next": "Last"
            },
            "Last": {"Type": "Wait", "Seconds": 1, "End": true}
        }
    });
    let sm = client
        .create_state_machine()
        .name("Crashy")
        .definition(definition.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let mut arns = Vec::new();
    for i in 0..3 {
        let out =
            client.start_execution().state_machine_arn(&sm).input(json!({"i": i}).to_string()).send().await.unwrap();
        arns.push(out.execution_arn);
    }
    server.kill_hard();
    let server = ServerProcess::spawn(dir.path());
    let client = sfn_client(&server.endpoint).await;
    let sfn = Sfn { cloud: None, client, dir: tempfile::tempdir().unwrap() };
    for arn in &arns {
        let d = sfn.finish(arn).await;
        assert_eq!(d.status, ExecutionStatus::Succeeded, "{arn}: {:?} {:?}", d.error, d.cause);
        let events = sfn.history(arn).await;
        assert_history_is_whole(&events);
        let t = types(&events);
        assert_eq!(t.first().map(String::as_str), Some("ExecutionStarted"));
        assert_eq!(t.last().map(String::as_str), Some("ExecutionSucceeded"));
        assert_eq!(t.iter().filter(|x| *x == "WaitStateEntered").count(), 3, "{t:?}");
        assert_eq!(t.iter().filter(|x| *x == "WaitStateExited").count(), 3, "{t:?}");
    }
    drop(server);
}

#[tokio::test]
async fn invalid_definitions_are_refused_and_nothing_is_created() {
    let sfn = Sfn::start().await;
    let cases = [
        ("not json", "{"),
        ("missing StartAt", r#"{"States": {"A": {"Type": "Pass", "End": true}}}"#),
        ("Next to a missing state", r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}"#),
        ("unknown field", r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Bogus": 1}}}"#),
        (
            "Choice without Choices",
            r#"{"StartAt": "A", "States": {"A": {"Type": "Choice", "Default": "B"}, "B": {"Type": "Succeed"}}}"#,
        ),
        ("JSONata", r#"{"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#),
    ];
    for (what, definition) in cases {
        let e = sfn
            .client
            .create_state_machine()
            .name("Bad")
            .definition(definition)
            .role_arn(ROLE)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(code(&e), "InvalidDefinition", "{what}");
        assert!(
            e.message().unwrap_or("").starts_with("Invalid State Machine Definition: '"),
            "{what}: {:?}",
            e.message()
        );
    }
    let list = sfn.client.list_state_machines().send().await.unwrap();
    assert!(list.state_machines.is_empty());
}

#[tokio::test]
async fn validate_definition_reports_aws_diagnostics() {
    let sfn = Sfn::start().await;
    let ok = sfn
        .client
        .validate_state_machine_definition()
        .definition(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.result.as_str(), "OK");
    assert!(ok.diagnostics.is_empty());
    let bad = sfn
        .client
        .validate_state_machine_definition()
        .definition(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.result.as_str(), "FAIL");
    let d = &bad.diagnostics[0];
    assert_eq!(d.severity.as_str(), "ERROR");
    assert_eq!(d.code, "MISSING_TRANSITION_TARGET");
    assert!(d.location.as_deref().unwrap_or("").contains("/States/A"), "{:?}", d.location);
}

#[tokio::test]
async fn bad_names_and_roles_are_refused() {
    let sfn = Sfn::start().await;
    let definition = r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#;
    for name in ["has space", "semi;colon", "", &"x".repeat(81)] {
        let e = sfn
            .client
            .create_state_machine()
            .name(name)
            .definition(definition)
            .role_arn(ROLE)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(code(&e), "InvalidName", "{name:?}");
        assert_eq!(e.message(), Some(format!("Invalid Name: '{name}'").as_str()));
    }
    let e = sfn.client.create_state_machine().name("NoRole").definition(definition).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "ValidationException");
    let e = sfn
        .client
        .create_state_machine()
        .name("BadRole")
        .definition(definition)
        .role_arn("not-a-role")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidArn");
    let sm = sfn.create("Good", &serde_json::from_str(definition).unwrap()).await;
    let e = sfn.client.start_execution().state_machine_arn(&sm).name("bad name").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidName");
    assert!(sfn.client.list_state_machines().send().await.unwrap().state_machines.len() == 1);
    let executions = sfn.client.list_executions().state_machine_arn(&sm).send().await.unwrap();
    assert!(executions.executions.is_empty());
}

#[tokio::test]
async fn unknown_and_malformed_arns_get_aws_errors() {
    let sfn = Sfn::start().await;
    let missing_sm = "arn:aws:states:us-east-1:000000000000:stateMachine:Nope";
    let e = sfn.client.describe_state_machine().state_machine_arn(missing_sm).send().await.unwrap_err();
    let e = e.into_service_error();
    assert_eq!(code(&e), "StateMachineDoesNotExist");
    assert_eq!(e.message(), Some(format!("State Machine Does Not Exist: '{missing_sm}'").as_str()));
    let e = sfn.client.start_execution().state_machine_arn(missing_sm).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "StateMachineDoesNotExist");
    let missing_ex = "arn:aws:states:us-east-1:000000000000:execution:Nope:nope";
    let e = sfn.client.describe_execution().execution_arn(missing_ex).send().await.unwrap_err();
    let e = e.into_service_error();
    assert_eq!(code(&e), "ExecutionDoesNotExist");
    assert_eq!(e.message(), Some(format!("Execution Does Not Exist: '{missing_ex}'").as_str()));
    let e = sfn.client.get_execution_history().execution_arn(missing_ex).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "ExecutionDoesNotExist");
    let e = sfn.client.stop_execution().execution_arn(missing_ex).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "ExecutionDoesNotExist");
    let e = sfn.client.describe_state_machine().state_machine_arn("garbage").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidArn");
    let e = sfn.client.describe_execution().execution_arn(missing_sm).send().await.unwrap_err();
    let e = e.into_service_error();
    assert_eq!(code(&e), "InvalidArn");
    assert_eq!(e.message(), Some("Invalid Arn: 'Resource type not valid in this context: statemachine'"));
}

#[tokio::test]
async fn non_json_and_oversized_input_are_refused_and_start_nothing() {
    let sfn = Sfn::start().await;
    let sm = sfn.create("Inputs", &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}})).await;
    let e = sfn.client.start_execution().state_machine_arn(&sm).input("{not json").send().await.unwrap_err();
    let e = e.into_service_error();
    assert_eq!(code(&e), "InvalidExecutionInput");
    assert!(e.message().unwrap_or("").starts_with("Invalid State Machine Execution Input: '"), "{:?}", e.message());
    let big = format!("\"{}\"", "x".repeat(256 * 1024));
    let e = sfn.client.start_execution().state_machine_arn(&sm).input(big).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "ValidationException");
    let executions = sfn.client.list_executions().state_machine_arn(&sm).send().await.unwrap();
    assert!(executions.executions.is_empty());
}

#[tokio::test]
async fn execution_names_are_idempotent_while_running_and_unique_after() {
    let sfn = Sfn::start().await;
    let sm = sfn
        .create("Named", &json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}}))
        .await;
    let start =
        |input: &'static str| sfn.client.start_execution().state_machine_arn(&sm).name("run-1").input(input).send();
    let first = start(r#"{"a":1}"#).await.unwrap();
    let again = start(r#"{"a":1}"#).await.unwrap();
    assert_eq!(first.execution_arn, again.execution_arn);
    assert_eq!(first.start_date, again.start_date);
    let e = start(r#"{"a":2}"#).await.unwrap_err().into_service_error();
    assert_eq!(code(&e), "ExecutionAlreadyExists");
    assert_eq!(e.message(), Some(format!("Execution Already Exists: '{}'", first.execution_arn).as_str()));
    sfn.client.stop_execution().execution_arn(&first.execution_arn).send().await.unwrap();
    let e = start(r#"{"a":1}"#).await.unwrap_err().into_service_error();
    assert_eq!(code(&e), "ExecutionAlreadyExists");
    let executions = sfn.client.list_executions().state_machine_arn(&sm).send().await.unwrap();
    assert_eq!(executions.executions.len(), 1);
}

#[tokio::test]
async fn create_is_idempotent_for_the_same_definition_only() {
    let sfn = Sfn::start().await;
    let d1 = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}});
    let d2 = json!({"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}});
    let a = sfn.create("Same", &d1).await;
    let b = sfn.create("Same", &d1).await;
    assert_eq!(a, b);
    let e = sfn
        .client
        .create_state_machine()
        .name("Same")
        .definition(d2.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&e), "StateMachineAlreadyExists");
    assert_eq!(e.message(), Some(format!("State Machine Already Exists: '{a}'").as_str()));
    let described = sfn.client.describe_state_machine().state_machine_arn(&a).send().await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&described.definition).unwrap(), d1);
    assert_eq!(described.role_arn, ROLE);
    assert_eq!(described.r#type, StateMachineType::Standard);
}

#[tokio::test]
async fn update_changes_new_executions_and_old_ones_keep_their_definition() {
    let sfn = Sfn::start().await;
    let d1 = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": true}}});
    let d2 = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 2, "End": true}}});
    let sm = sfn.create("Evolving", &d1).await;
    let first = sfn.start_execution(&sm, &json!({})).await;
    sfn.finish(&first).await;
    let e = sfn.client.update_state_machine().state_machine_arn(&sm).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "MissingRequiredParameter");
    let e = sfn.client.update_state_machine().state_machine_arn(&sm).definition("{").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidDefinition");
    let updated =
        sfn.client.update_state_machine().state_machine_arn(&sm).definition(d2.to_string()).send().await.unwrap();
    assert!(updated.revision_id.is_some());
    let second = sfn.start_execution(&sm, &json!({})).await;
    assert_eq!(sfn.finish(&second).await.output.as_deref(), Some("2"));
    let for_first = sfn.client.describe_state_machine_for_execution().execution_arn(&first).send().await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&for_first.definition).unwrap(), d1);
    assert_eq!(for_first.state_machine_arn, sm);
    assert_eq!(for_first.name, "Evolving");
}

#[tokio::test]
async fn list_executions_pages_newest_first_and_filters_by_status() {
    let sfn = Sfn::start().await;
    let quick = sfn.create("Quick", &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}})).await;
    let mut started = Vec::new();
    for i in 0..5 {
        let arn = sfn.start_execution(&quick, &json!({"i": i})).await;
        sfn.finish(&arn).await;
        started.push(arn);
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = sfn
            .client
            .list_executions()
            .state_machine_arn(&quick)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.executions.len() <= 2);
        seen.extend(page.executions.into_iter().map(|e| e.execution_arn));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    started.reverse();
    assert_eq!(seen, started);
    let running = sfn
        .client
        .list_executions()
        .state_machine_arn(&quick)
        .status_filter(ExecutionStatus::Running)
        .send()
        .await
        .unwrap();
    assert!(running.executions.is_empty());
    let succeeded = sfn
        .client
        .list_executions()
        .state_machine_arn(&quick)
        .status_filter(ExecutionStatus::Succeeded)
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded.executions.len(), 5);
    let e = sfn.client.list_executions().state_machine_arn(&quick).next_token("bogus").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidToken");
}

#[tokio::test]
async fn list_state_machines_pages_by_name() {
    let sfn = Sfn::start().await;
    let d = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}});
    for name in ["c", "a", "b"] {
        sfn.create(name, &d).await;
    }
    let first = sfn.client.list_state_machines().max_results(2).send().await.unwrap();
    let names: Vec<_> = first.state_machines.iter().map(|s| s.name.clone()).collect();
    assert_eq!(names, ["a", "b"]);
    let rest = sfn.client.list_state_machines().set_next_token(first.next_token).send().await.unwrap();
    assert_eq!(rest.state_machines.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["c"]);
    assert!(rest.next_token.is_none());
    sfn.client
        .delete_state_machine()
        .state_machine_arn("arn:aws:states:us-east-1:000000000000:stateMachine:b")
        .send()
        .await
        .unwrap();
    let all = sfn.client.list_state_machines().send().await.unwrap();
    assert_eq!(all.state_machines.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["a", "c"]);
}

#[tokio::test]
async fn history_pages_in_reverse_and_leaves_data_out_on_request() {
    let sfn = Sfn::start().await;
    let sm = sfn
        .create(
            "Chain",
            &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "C"}, "C": {"Type": "Pass", "End": true}}}),
        )
        .await;
    let arn = sfn.start_execution(&sm, &json!({"secret": 42})).await;
    sfn.finish(&arn).await;
    let forward = sfn.history(&arn).await;
    assert_eq!(forward.len(), 8);
    let mut reversed = Vec::new();
    let mut token = None;
    loop {
        let page = sfn
            .client
            .get_execution_history()
            .execution_arn(&arn)
            .reverse_order(true)
            .max_results(3)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.events.len() <= 3);
        reversed.extend(page.events.into_iter().map(|e| e.id));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(reversed, (1..=8).rev().collect::<Vec<i64>>());
    let bare =
        sfn.client.get_execution_history().execution_arn(&arn).include_execution_data(false).send().await.unwrap();
    let started = bare.events[0].execution_started_event_details.as_ref().unwrap();
    assert!(started.input.is_none());
    assert!(bare.events.iter().all(|e| e.state_exited_event_details.as_ref().is_none_or(|d| d.output.is_none())));
}

#[tokio::test]
async fn stop_execution_aborts_a_waiting_execution() {
    let sfn = Sfn::start().await;
    let sm = sfn
        .create("Stoppable", &json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}))
        .await;
    let arn = sfn.start_execution(&sm, &json!({})).await;
    let stopped = sfn
        .client
        .stop_execution()
        .execution_arn(&arn)
        .error("Operator")
        .cause("stopped by a test")
        .send()
        .await
        .unwrap();
    let d = sfn.client.describe_execution().execution_arn(&arn).send().await.unwrap();
    assert_eq!(d.status, ExecutionStatus::Aborted);
    assert_eq!(d.error.as_deref(), Some("Operator"));
    assert_eq!(d.cause.as_deref(), Some("stopped by a test"));
    assert_eq!(d.stop_date, Some(stopped.stop_date));
    let events = sfn.history(&arn).await;
    assert_history_is_whole(&events);
    assert_eq!(types(&events).last().map(String::as_str), Some("ExecutionAborted"));
    // Stopping again changes nothing.
    sfn.client.stop_execution().execution_arn(&arn).send().await.unwrap();
    assert_eq!(sfn.history(&arn).await.len(), events.len());
    // An aborted execution is one an operator may redrive.
    let d = sfn.client.describe_execution().execution_arn(&arn).send().await.unwrap();
    assert_eq!(d.redrive_status, Some(aws_sdk_sfn::types::ExecutionRedriveStatus::Redrivable));
}

#[tokio::test]
async fn start_sync_execution_runs_express_machines_only() {
    let sfn = Sfn::start().await;
    let d = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hi {}', $.who)"}, "End": true}}});
    let express = sfn.create_typed("Fast", &d, StateMachineType::Express).await;
    let out =
        sfn.client.start_sync_execution().state_machine_arn(&express).input(r#"{"who":"ann"}"#).send().await.unwrap();
    assert_eq!(out.status.as_str(), "SUCCEEDED");
    assert_eq!(serde_json::from_str::<Value>(out.output.as_deref().unwrap()).unwrap(), json!({"greeting": "hi ann"}));
    assert!(out.execution_arn.contains(":express:Fast:"));
    let e = sfn.client.describe_execution().execution_arn(&out.execution_arn).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidArn");
    let standard = sfn.create("Slow", &d).await;
    let e = sfn.client.start_sync_execution().state_machine_arn(&standard).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "StateMachineTypeNotSupported");
    let e = sfn.client.list_executions().state_machine_arn(&express).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "StateMachineTypeNotSupported");
}

#[tokio::test]
async fn test_state_runs_one_state_and_names_the_next() {
    let sfn = Sfn::start().await;
    let pass = sfn
        .client
        .test_state()
        .definition(
            json!({"Type": "Pass", "Parameters": {"id.$": "$.userId"}, "ResultPath": "$.p", "Next": "After"})
                .to_string(),
        )
        .input(r#"{"userId":"u1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(pass.status.as_ref().map(|s| s.as_str()), Some("SUCCEEDED"));
    assert_eq!(pass.next_state.as_deref(), Some("After"));
    assert_eq!(
        serde_json::from_str::<Value>(pass.output.as_deref().unwrap()).unwrap(),
        json!({"userId": "u1", "p": {"id": "u1"}})
    );
    let choice = sfn
        .client
        .test_state()
        .definition(
            json!({"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 0, "Next": "Negative"}], "Default": "Other"})
                .to_string(),
        )
        .input(r#"{"n":-1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(choice.next_state.as_deref(), Some("Negative"));
    let caught = sfn
        .client
        .test_state()
        .definition(
            json!({
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:000000000000:function:fail",
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Handle"}],
                "End": true
            })
            .to_string(),
        )
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    assert_eq!(caught.status.as_ref().map(|s| s.as_str()), Some("CAUGHT_ERROR"));
    assert_eq!(caught.next_state.as_deref(), Some("Handle"));
    assert_eq!(caught.error.as_deref(), Some("CustomError"));
    let retriable = sfn
        .client
        .test_state()
        .definition(
            json!({
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:000000000000:function:fail",
                "Retry": [{"ErrorEquals": ["CustomError"], "MaxAttempts": 2}],
                "End": true
            })
            .to_string(),
        )
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    assert_eq!(retriable.status.as_ref().map(|s| s.as_str()), Some("RETRIABLE"));
    // DEBUG: the Task runs the function through the task runner; every stage is reported.
    let debug = sfn
        .client
        .test_state()
        .definition(
            json!({
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:000000000000:function:echo",
                "InputPath": "$.in",
                "Parameters": {"v.$": "$.v"},
                "ResultSelector": {"got.$": "$.v"},
                "ResultPath": "$.r",
                "End": true
            })
            .to_string(),
        )
        .input(r#"{"in":{"v":7}}"#)
        .inspection_level(aws_sdk_sfn::types::InspectionLevel::Debug)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    assert_eq!(debug.status.as_ref().map(|s| s.as_str()), Some("SUCCEEDED"));
    let data = debug.inspection_data.expect("inspection data at DEBUG");
    let parse = |s: &Option<String>| s.as_deref().map(|t| serde_json::from_str::<Value>(t).unwrap());
    assert_eq!(parse(&data.input), Some(json!({"in": {"v": 7}})));
    assert_eq!(parse(&data.after_input_path), Some(json!({"v": 7})));
    assert_eq!(parse(&data.after_parameters), Some(json!({"v": 7})));
    assert_eq!(parse(&data.result), Some(json!({"v": 7})));
    assert_eq!(parse(&data.after_result_selector), Some(json!({"got": 7})));
    assert_eq!(parse(&data.after_result_path), Some(json!({"in": {"v": 7}, "r": {"got": 7}})));
    let e =
        sfn.client.test_state().definition(r#"{"Type": "Pass", "Bogus": 1, "End": true}"#).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidDefinition");
}

const GATE: &str = "arn:aws:lambda:us-east-1:000000000000:function:gate";
const ECHO: &str = "arn:aws:lambda:us-east-1:000000000000:function:echo";

#[tokio::test]
async fn redrive_resumes_only_the_failed_branch_and_is_reported_by_describe_and_list() {
    let sfn = Sfn::start().await;
    let sm = sfn
        .create(
            "Redrivable",
            &json!({"StartAt": "Prep", "States": {
                "Prep": {"Type": "Pass", "Result": "p", "ResultPath": "$.prep", "Next": "Fan"},
                "Fan": {"Type": "Parallel", "End": true, "Branches": [
                    {"StartAt": "Echo", "States": {"Echo": {"Type": "Task", "Resource": ECHO, "End": true}}},
                    {"StartAt": "Gate", "States": {"Gate": {"Type": "Task", "Resource": GATE, "TimeoutSeconds": 1, "End": true}}}
                ]}}}),
        )
        .await;
    let arn = sfn.start_execution(&sm, &json!({"n": 1})).await;
    let d = sfn.finish(&arn).await;
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!(d.error.as_deref(), Some("States.Timeout"));
    assert_eq!(d.redrive_count, Some(0));
    assert_eq!(d.redrive_status, Some(aws_sdk_sfn::types::ExecutionRedriveStatus::Redrivable));
    assert!(d.redrive_status_reason.is_none());

    // The operator fixes the function (the gate opens) and redrives, after a restart.
    let sfn = sfn.restart(true).await;
    let redrive = || sfn.client.redrive_execution().execution_arn(&arn).client_token("operator-retry-1").send();
    let out = redrive().await.expect("redrive");
    // The same request again (a retry after a lost reply) gets the same answer, no second redrive.
    let again = redrive().await.expect("the same client token is answered idempotently");
    assert_eq!(again.redrive_date, out.redrive_date);
    let d = sfn.finish(&arn).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{:?} {:?}", d.error, d.cause);
    let output: Value = serde_json::from_str(d.output.as_deref().unwrap()).unwrap();
    let input = json!({"n": 1, "prep": "p"});
    assert_eq!(output, json!([input, {"gate": "open", "input": input}]));
    assert_eq!(d.redrive_count, Some(1));
    assert_eq!(d.redrive_date, Some(out.redrive_date));
    assert!(d.error.is_none());
    let other = sfn.client.redrive_execution().execution_arn(&arn).client_token("another").send().await;
    assert_eq!(
        other.map_err(|e| e.into_service_error().meta().code().map(str::to_string)).err(),
        Some(Some("ExecutionNotRedrivable".to_string())),
        "a new token for a succeeded execution is refused"
    );
    assert_eq!(d.redrive_status, Some(aws_sdk_sfn::types::ExecutionRedriveStatus::NotRedrivable));
    assert_eq!(d.redrive_status_reason.as_deref(), Some("Execution is SUCCEEDED and cannot be redriven"));

    let events = sfn.history(&arn).await;
    assert_history_is_whole(&events);
    let t = types(&events);
    assert_eq!(t.iter().filter(|x| *x == "ExecutionRedriven").count(), 1, "{t:?}");
    let redriven = events.iter().find(|e| e.r#type.as_str() == "ExecutionRedriven").unwrap();
    assert_eq!(redriven.execution_redriven_event_details.as_ref().map(|d| d.redrive_count), Some(Some(1)));
    // Prep and the Echo branch succeeded the first time and are not run again.
    assert_eq!(t.iter().filter(|x| *x == "PassStateEntered").count(), 1, "{t:?}");
    assert_eq!(t.iter().filter(|x| *x == "LambdaFunctionScheduled").count(), 3, "{t:?}");
    assert_eq!(t.last().map(String::as_str), Some("ExecutionSucceeded"));

    let other = sfn.start_execution(&sm, &json!({"n": 2})).await;
    let redriven = sfn
        .client
        .list_executions()
        .state_machine_arn(&sm)
        .redrive_filter(aws_sdk_sfn::types::ExecutionRedriveFilter::Redriven)
        .send()
        .await
        .unwrap()
        .executions;
    assert_eq!(redriven.iter().map(|e| e.execution_arn.as_str()).collect::<Vec<_>>(), [arn.as_str()]);
    assert_eq!(redriven[0].redrive_count, Some(1));
    assert!(redriven[0].redrive_date.is_some());
    let never = sfn
        .client
        .list_executions()
        .state_machine_arn(&sm)
        .redrive_filter(aws_sdk_sfn::types::ExecutionRedriveFilter::NotRedriven)
        .send()
        .await
        .unwrap()
        .executions;
    assert_eq!(never.iter().map(|e| e.execution_arn.as_str()).collect::<Vec<_>>(), [other.as_str()]);

    let e = sfn.client.redrive_execution().execution_arn(&arn).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "ExecutionNotRedrivable");
    let missing = format!("{}:nope", sm.replace(":stateMachine:", ":execution:"));
    let e = sfn.client.redrive_execution().execution_arn(&missing).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "ExecutionDoesNotExist");
}

#[tokio::test]
async fn a_redriven_execution_survives_a_restart() {
    let sfn = Sfn::start().await;
    let sm = sfn
        .create(
            "Stopped",
            &json!({"StartAt": "Gate", "States": {"Gate": {"Type": "Task", "Resource": GATE, "End": true}}}),
        )
        .await;
    let arn = sfn.start_execution(&sm, &json!({"k": "v"})).await;
    // A running execution cannot be redriven.
    let e = sfn.client.redrive_execution().execution_arn(&arn).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "ExecutionNotRedrivable");
    sfn.client.stop_execution().execution_arn(&arn).send().await.expect("stop");
    assert_eq!(sfn.finish(&arn).await.status, ExecutionStatus::Aborted);
    sfn.client.redrive_execution().execution_arn(&arn).send().await.expect("redrive");
    let d = sfn.client.describe_execution().execution_arn(&arn).send().await.unwrap();
    assert_eq!(d.status, ExecutionStatus::Running);
    assert!(d.stop_date.is_none());
    assert_eq!(d.redrive_status_reason.as_deref(), Some("Execution is RUNNING and cannot be redriven"));
    // The redriven task is in flight when the local cloud goes down; it runs after restart.
    let sfn = sfn.restart(true).await;
    let d = sfn.finish(&arn).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{:?} {:?}", d.error, d.cause);
    let events = sfn.history(&arn).await;
    assert_history_is_whole(&events);
    let t = types(&events);
    let tail: Vec<&str> = t.iter().map(String::as_str).skip_while(|x| *x != "ExecutionAborted").collect();
    assert_eq!(
        tail,
        [
            "ExecutionAborted",
            "ExecutionRedriven",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[tokio::test]
async fn a_target_under_another_services_prefix_is_an_unknown_operation() {
    let sfn = Sfn::start().await;
    // Signed for `states`, but named as DynamoDB's ListTables: Step Functions reads only its
    // own `AWSStepFunctions.` targets.
    let e = sfn
        .client
        .list_state_machines()
        .customize()
        .mutate_request(|req| {
            req.headers_mut().insert("x-amz-target", "DynamoDB_20120810.ListStateMachines");
        })
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&e), "UnknownOperationException");
    assert_eq!(
        e.message(),
        Some("The local Step Functions does not support the operation 'DynamoDB_20120810.ListStateMachines'.")
    );
    let listed = sfn.client.list_state_machines().send().await.expect("its own target is served");
    assert!(listed.state_machines().is_empty());
}

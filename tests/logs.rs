//! CloudWatch Logs for the functions' log groups: the aws CLI's `logs` commands against a
//! real `wildrydes serve`, and `wildrydes logs` reading them through the SDK's CloudWatch
//! Logs client, after a function ran — START/END/REPORT and its own output, one stream per
//! instance, and what is not implemented refused as such.

use std::process::Command;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};
use serde_json::{Value, json};

use crate::common::{ServerProcess, test_venv};

fn aws(venv: &std::path::Path, endpoint: &str, args: &[&str]) -> std::process::Output {
    Command::new(venv.join("bin/aws"))
        .args(["--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "wildrydes")
        .env("AWS_SECRET_ACCESS_KEY", "wildrydes")
        .output()
        .expect("aws CLI runs")
}

fn json_of(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_logs_commands_and_wildrydes_logs_read_a_functions_log_group() {
    let Some(venv) = test_venv("aws_logs_commands_and_wildrydes_logs_read_a_functions_log_group") else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(dir.path());
    let e = server.endpoint.as_str();
    let clients = wildrydes::cloud::Clients::for_target(&wildrydes::cloud::Target::local(e)).await;
    clients
        .lambda
        .create_function()
        .function_name("chatty")
        .runtime(Runtime::Providedal2023)
        .role("arn:aws:iam::000000000000:role/lambda-role")
        .handler("bootstrap")
        .code(FunctionCode::builder().zip_file(Blob::new(crate::lambda::probe_zip())).build())
        .send()
        .await
        .expect("CreateFunction");
    for said in ["first \u{1b}[31mred\u{1b}[0m words", "second words"] {
        clients
            .lambda
            .invoke()
            .function_name("chatty")
            .payload(Blob::new(json!({"action": "print", "stdout": said, "stderr": "to stderr"}).to_string()))
            .send()
            .await
            .expect("Invoke");
    }

    let groups = json_of(&aws(&venv, e, &["logs", "describe-log-groups", "--log-group-name-prefix", "/aws/lambda/ch"]));
    let names: Vec<&str> =
        groups["logGroups"].as_array().unwrap().iter().filter_map(|g| g["logGroupName"].as_str()).collect();
    assert_eq!(names, vec!["/aws/lambda/chatty"]);
    let streams = json_of(&aws(&venv, e, &["logs", "describe-log-streams", "--log-group-name", "/aws/lambda/chatty"]));
    let stream = streams["logStreams"][0]["logStreamName"].as_str().expect("a stream").to_string();
    assert!(stream.contains("/[$LATEST]") && stream.len() == "2026/12/06/[$LATEST]".len() + 32, "{stream}");
    let events = json_of(&aws(
        &venv,
        e,
        &[
            "logs",
            "get-log-events",
            "--log-group-name",
            "/aws/lambda/chatty",
            "--log-stream-name",
            &stream,
            "--start-from-head",
        ],
    ));
    let messages: Vec<&str> =
        events["events"].as_array().unwrap().iter().filter_map(|m| m["message"].as_str()).collect();
    assert!(messages[0].starts_with("START RequestId: "), "{messages:?}");
    assert!(messages.contains(&"second words") && messages.contains(&"to stderr"), "{messages:?}");
    assert!(messages.iter().any(|m| m.starts_with("END RequestId: ")), "{messages:?}");
    assert!(
        messages.iter().any(|m| m.starts_with("REPORT RequestId: ") && m.contains("Billed Duration")),
        "{messages:?}"
    );
    assert!(messages.contains(&"first \u{1b}[31mred\u{1b}[0m words"), "kept as the function wrote it");

    let filtered = json_of(&aws(
        &venv,
        e,
        &["logs", "filter-log-events", "--log-group-name", "/aws/lambda/chatty", "--filter-pattern", "words -first"],
    ));
    let found: Vec<&str> =
        filtered["events"].as_array().unwrap().iter().filter_map(|m| m["message"].as_str()).collect();
    assert_eq!(found, vec!["second words"]);
    assert_eq!(filtered["events"][0]["logStreamName"], stream.as_str());

    let refused = aws(&venv, e, &["logs", "create-log-group", "--log-group-name", "/mine"]);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("NotImplemented"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let missing = aws(&venv, e, &["logs", "describe-log-streams", "--log-group-name", "/aws/lambda/nope"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("ResourceNotFoundException"));
    // Signed for `logs` but named under another service's prefix: not a Logs operation.
    let foreign = clients
        .logs
        .describe_log_groups()
        .customize()
        .mutate_request(|req| {
            req.headers_mut().insert("x-amz-target", "DynamoDB_20120810.DescribeLogGroups");
        })
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(foreign.meta().code(), Some("UnknownOperationException"));
    assert_eq!(
        foreign.meta().message(),
        Some("The operation 'DynamoDB_20120810.DescribeLogGroups' is not a CloudWatch Logs operation.")
    );

    // The CLI reads the same group through the SDK's CloudWatch Logs client, escapes gone.
    let out = Command::new(env!("CARGO_BIN_EXE_wildrydes"))
        .args(["--endpoint-url", e, "logs", "chatty", "--lines", "50"])
        .output()
        .expect("wildrydes runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.lines().any(|l| l.ends_with(" first red words")), "{text}");
    assert!(!text.contains('\u{1b}'), "no raw escapes: {text}");
    assert!(text.lines().any(|l| l.contains("REPORT RequestId: ")), "{text}");
    drop(server);
}

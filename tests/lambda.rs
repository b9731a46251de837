//! The local Lambda through the real aws-sdk-lambda client, running a real `lambda_runtime`
//! binary (`lambdas/probe`) as each function's `bootstrap`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, InvocationType, LogType, Runtime};
use base64::Engine;
use serde_json::{Value, json};
use wildrydes::local::lambda::{InvokeOutcome, Lambda, code::zip_bootstrap};

use crate::common::TestCloud;

const ROLE: &str = "arn:aws:iam::000000000000:role/lambda-role";

/// The probe binary, built next to the wildrydes binary by `cargo build --workspace --bins`.
pub(crate) fn probe_binary() -> PathBuf {
    let wildrydes = PathBuf::from(env!("CARGO_BIN_EXE_wildrydes"));
    let probe = wildrydes.with_file_name("probe");
    assert!(
        probe.is_file(),
        "the test function binary {} is missing: build it first with `cargo build --workspace --bins` \
         (or `cargo build -p wildrydes-probe`)",
        probe.display()
    );
    probe
}

pub(crate) fn probe_zip() -> Vec<u8> {
    let binary = std::fs::read(probe_binary()).expect("the probe binary is readable");
    zip_bootstrap(&binary).expect("zip the probe")
}

pub(crate) async fn create_probe(cloud: &TestCloud, name: &str) {
    create_probe_with(cloud, name, |b| b).await;
}

async fn create_probe_with(
    cloud: &TestCloud,
    name: &str,
    configure: impl FnOnce(
        aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder,
    ) -> aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder,
) {
    let request = cloud
        .clients
        .lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Providedal2023)
        .role(ROLE)
        .handler("bootstrap")
        .code(FunctionCode::builder().zip_file(Blob::new(probe_zip())).build());
    configure(request).send().await.expect("CreateFunction succeeds");
}

/// Invokes synchronously: (payload as JSON, X-Amz-Function-Error).
async fn invoke(cloud: &TestCloud, name: &str, payload: Value) -> (Value, Option<String>) {
    let out = cloud
        .clients
        .lambda
        .invoke()
        .function_name(name)
        .payload(Blob::new(payload.to_string()))
        .send()
        .await
        .expect("Invoke answers");
    assert_eq!(out.status_code(), 200);
    let body = out.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default();
    let value = serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
    (value, out.function_error().map(str::to_string))
}

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<no code>").to_string()
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[tokio::test]
async fn create_get_list_update_delete_round_trip() {
    let cloud = TestCloud::start().await;
    let lambda = &cloud.clients.lambda;
    let created = lambda
        .create_function()
        .function_name("round-trip")
        .runtime(Runtime::Providedal2023)
        .role(ROLE)
        .handler("bootstrap")
        .timeout(10)
        .memory_size(256)
        .environment(Environment::builder().variables("TABLE", "riders").build())
        .code(FunctionCode::builder().zip_file(Blob::new(probe_zip())).build())
        .send()
        .await
        .expect("created");
    assert_eq!(created.function_arn(), Some("arn:aws:lambda:us-east-1:000000000000:function:round-trip"));
    assert_eq!(created.timeout(), Some(10));
    assert_eq!(created.memory_size(), Some(256));
    assert_eq!(created.state().map(|s| s.as_str()), Some("Active"));
    assert!(created.code_sha256().is_some_and(|s| !s.is_empty()));

    let got = lambda.get_function().function_name("round-trip").send().await.expect("get");
    let config = got.configuration().expect("configuration");
    assert_eq!(config.runtime(), Some(&Runtime::Providedal2023));
    assert_eq!(
        config.environment().and_then(|e| e.variables()).and_then(|v| v.get("TABLE")).map(String::as_str),
        Some("riders")
    );
    assert_eq!(config.code_sha256(), created.code_sha256());

    let listed = lambda.list_functions().send().await.expect("list");
    let names: Vec<_> = listed.functions().iter().filter_map(|f| f.function_name()).collect();
    assert_eq!(names, ["round-trip"]);

    let updated = lambda
        .update_function_configuration()
        .function_name("round-trip")
        .timeout(30)
        .memory_size(512)
        .environment(Environment::builder().variables("TABLE", "other").build())
        .send()
        .await
        .expect("update configuration");
    assert_eq!(updated.timeout(), Some(30));
    assert_eq!(updated.memory_size(), Some(512));
    assert_ne!(updated.revision_id(), created.revision_id());

    let (env, _) = invoke(&cloud, "round-trip", json!({"action": "env"})).await;
    assert_eq!(env["TABLE"], "other", "the new configuration is what runs");

    let new_code = lambda
        .update_function_code()
        .function_name("arn:aws:lambda:us-east-1:000000000000:function:round-trip")
        .zip_file(Blob::new(probe_zip()))
        .send()
        .await
        .expect("update code");
    assert_eq!(new_code.code_sha256(), created.code_sha256(), "same bytes, same hash");
    let (echo, error) = invoke(&cloud, "round-trip", json!({"hello": 1})).await;
    assert_eq!((echo, error), (json!({"hello": 1}), None));

    lambda.delete_function().function_name("round-trip").send().await.expect("delete");
    let err = lambda.get_function().function_name("round-trip").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "ResourceNotFoundException");
    assert!(lambda.list_functions().send().await.unwrap().functions().is_empty());
}

#[tokio::test]
async fn list_functions_pages_with_marker_and_max_items() {
    let cloud = TestCloud::start().await;
    for name in ["fn-c", "fn-a", "fn-b"] {
        create_probe(&cloud, name).await;
    }
    let mut seen = Vec::new();
    let mut marker = None;
    let mut pages = 0;
    loop {
        let page = cloud.clients.lambda.list_functions().max_items(2).set_marker(marker).send().await.unwrap();
        pages += 1;
        seen.extend(page.functions().iter().filter_map(|f| f.function_name().map(str::to_string)));
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["fn-a", "fn-b", "fn-c"]);
    assert_eq!(pages, 2);
}

#[tokio::test]
async fn invoke_echoes_the_payload_on_a_reused_warm_instance() {
    let cloud = TestCloud::start().await;
    create_probe(&cloud, "echo").await;
    let (first, error) = invoke(&cloud, "echo", json!({"userId": "user_a", "n": [1, 2, 3]})).await;
    assert_eq!(first, json!({"userId": "user_a", "n": [1, 2, 3]}));
    assert_eq!(error, None);
    let (a, _) = invoke(&cloud, "echo", json!({"action": "env"})).await;
    let (b, _) = invoke(&cloud, "echo", json!({"action": "env"})).await;
    assert_eq!(a["AWS_LAMBDA_RUNTIME_API"], b["AWS_LAMBDA_RUNTIME_API"], "the same (warm) instance answered");
    let router = cloud.cloud.as_ref().unwrap().router();
    assert_eq!(router.service::<Lambda>().instance_count("echo"), 1);
}

#[tokio::test]
async fn function_error_is_unhandled_with_its_type_and_message() {
    let cloud = TestCloud::start().await;
    create_probe(&cloud, "failing").await;
    let input = json!({"action": "error", "errorType": "PhotoDoesNotMeetRequirementError", "errorMessage": "Detected 2 faces in the photo."});
    let (body, error) = invoke(&cloud, "failing", input).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorType"], "PhotoDoesNotMeetRequirementError");
    assert_eq!(body["errorMessage"], "Detected 2 faces in the photo.");
    // A function error leaves the instance usable.
    let (echo, error) = invoke(&cloud, "failing", json!({"ok": true})).await;
    assert_eq!((echo, error), (json!({"ok": true}), None));
}

#[tokio::test]
async fn a_panicking_handler_is_a_function_error() {
    let cloud = TestCloud::start().await;
    create_probe(&cloud, "panics").await;
    let (body, error) = invoke(&cloud, "panics", json!({"action": "panic", "message": "handler blew up"})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert!(body["errorMessage"].as_str().unwrap_or("").contains("handler blew up"), "{body}");
}

#[tokio::test]
async fn timeout_kills_the_instance_and_the_next_invoke_works() {
    let cloud = TestCloud::start().await;
    create_probe_with(&cloud, "slow", |b| b.timeout(1)).await;
    let (body, error) = invoke(&cloud, "slow", json!({"action": "sleep", "ms": 600_000})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorType"], "Sandbox.Timedout");
    let message = body["errorMessage"].as_str().unwrap_or("");
    assert!(
        message.starts_with("RequestId: ") && message.ends_with("Error: Task timed out after 1.00 seconds"),
        "{message}"
    );
    let (echo, error) = invoke(&cloud, "slow", json!({"after": "timeout"})).await;
    assert_eq!((echo, error), (json!({"after": "timeout"}), None));
}

#[tokio::test]
async fn a_process_that_exits_mid_invocation_is_a_runtime_exit_error() {
    let cloud = TestCloud::start().await;
    create_probe(&cloud, "crashes").await;
    let (body, error) = invoke(&cloud, "crashes", json!({"action": "exit", "code": 1})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorType"], "Runtime.ExitError");
    let message = body["errorMessage"].as_str().unwrap_or("");
    assert!(message.ends_with("Error: Runtime exited with error: exit status 1"), "{message}");
    let (echo, error) = invoke(&cloud, "crashes", json!({"after": "crash"})).await;
    assert_eq!((echo, error), (json!({"after": "crash"}), None));
}

#[tokio::test]
async fn an_init_error_report_is_a_runtime_init_error() {
    let cloud = TestCloud::start().await;
    create_probe_with(&cloud, "bad-init", |b| {
        b.environment(Environment::builder().variables("PROBE_INIT_ERROR", "no config table").build())
    })
    .await;
    let (body, error) = invoke(&cloud, "bad-init", json!({})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorType"], "Runtime.InitError");
    assert!(body["errorMessage"].as_str().unwrap_or("").contains("no config table"), "{body}");
}

#[tokio::test]
async fn concurrent_invocations_start_more_instances_up_to_the_limit() {
    let cloud = TestCloud::start().await;
    create_probe_with(&cloud, "busy", |b| b.timeout(60)).await;
    let calls = (0..6).map(|_| invoke(&cloud, "busy", json!({"action": "sleep", "ms": 1500})));
    let results = futures::future::join_all(calls).await;
    let mut instances = BTreeSet::new();
    for (body, error) in results {
        assert_eq!(error, None, "{body}");
        assert_eq!(body["slept"], 1500);
        instances.insert(body["instance"].as_str().unwrap_or("").to_string());
    }
    assert!(instances.len() >= 2, "concurrent invocations ran on more than one instance: {instances:?}");
    assert!(instances.len() <= 4, "never more than 4 instances of one function: {instances:?}");
    let router = cloud.cloud.as_ref().unwrap().router();
    assert!(router.service::<Lambda>().instance_count("busy") <= 4);
}

#[tokio::test]
async fn a_function_sees_only_lambdas_environment_and_its_own_variables() {
    let cloud = TestCloud::start().await;
    create_probe_with(&cloud, "env", |b| {
        b.memory_size(256).environment(Environment::builder().variables("RIDER_PHOTOS_DDB_TABLE", "riders").build())
    })
    .await;
    let (env, _) = invoke(&cloud, "env", json!({"action": "env"})).await;
    let env = env.as_object().expect("an object of variables");
    let keys: BTreeSet<&str> = env.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ENDPOINT_URL",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "LD_LIBRARY_PATH",
        "PATH",
        "LANG",
        "TZ",
        "_HANDLER",
        "RIDER_PHOTOS_DDB_TABLE",
        // Set by `lambda_runtime` itself from each invocation's trace header, as on AWS.
        "_X_AMZN_TRACE_ID",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, expected, "nothing of the server's own environment leaks in");
    // The test process has variables (cargo sets these); none reached the function.
    assert!(std::env::var("CARGO_MANIFEST_DIR").is_ok());
    assert!(!env.contains_key("CARGO_MANIFEST_DIR") && !env.contains_key("HOME"));
    assert_eq!(env["AWS_ENDPOINT_URL"], cloud.endpoint);
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "env");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert_eq!(env["RIDER_PHOTOS_DDB_TABLE"], "riders");
    assert_eq!(env["_HANDLER"], "bootstrap");
}

#[tokio::test]
async fn output_is_logged_between_start_end_and_report() {
    let cloud = TestCloud::start().await;
    create_probe(&cloud, "chatty").await;
    let out = cloud
        .clients
        .lambda
        .invoke()
        .function_name("chatty")
        .log_type(LogType::Tail)
        .payload(Blob::new(json!({"action": "print", "stdout": "to stdout", "stderr": "to stderr"}).to_string()))
        .send()
        .await
        .unwrap();
    let tail = base64::engine::general_purpose::STANDARD.decode(out.log_result().expect("a log tail")).unwrap();
    let tail = String::from_utf8(tail).unwrap();
    let lines: Vec<&str> = tail.lines().collect();
    assert!(lines[0].starts_with("START RequestId: "), "{tail}");
    assert!(lines.contains(&"to stdout") && lines.contains(&"to stderr"), "{tail}");
    let end = lines.iter().position(|l| l.starts_with("END RequestId: ")).expect("END line");
    assert!(lines[end + 1].starts_with("REPORT RequestId: "), "{tail}");
    for field in ["Duration: ", "Billed Duration: ", "Memory Size: 128 MB", "Max Memory Used: ", "Init Duration: "] {
        assert!(lines[end + 1].contains(field), "{field} in {}", lines[end + 1]);
    }

    // The same lines are kept per function, for the dashboard and over HTTP.
    let router = cloud.cloud.as_ref().unwrap().router();
    let logged = router.service::<Lambda>().logs("chatty", 100).await.unwrap();
    let messages: Vec<&str> = logged.iter().map(|l| l.message.as_str()).collect();
    assert!(messages.contains(&"to stdout") && messages.iter().any(|m| m.starts_with("REPORT")), "{messages:?}");
    let request_id = lines[0].trim_start_matches("START RequestId: ").split(' ').next().unwrap();
    assert!(logged.iter().filter(|l| l.message == "to stdout").all(|l| l.request_id.as_deref() == Some(request_id)));
    let response = reqwest_get(&format!("{}/_wildrydes/logs/chatty", cloud.endpoint)).await;
    let value: Value = serde_json::from_str(&response).unwrap();
    assert!(value["lines"].as_array().unwrap().iter().any(|l| l["message"] == "to stderr"), "{value}");
}

async fn reqwest_get(url: &str) -> String {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let req = http::Request::get(url).body(http_body_util::Full::new(bytes::Bytes::new())).unwrap();
    let resp = client.request(req).await.expect("request reaches the local cloud");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

#[tokio::test]
async fn event_invocations_are_accepted_and_run_in_the_background() {
    let cloud = TestCloud::start().await;
    create_probe(&cloud, "events").await;
    let marker = format!("event-{}", uuid::Uuid::new_v4());
    let out = cloud
        .clients
        .lambda
        .invoke()
        .function_name("events")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(json!({"action": "print", "stdout": marker}).to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code(), 202);
    let router = cloud.cloud.as_ref().unwrap().router();
    // Bounded wait for the background run to log its REPORT line.
    for _ in 0..600 {
        let logged = router.service::<Lambda>().logs("events", 100).await.unwrap();
        if logged.iter().any(|l| l.message == marker) && logged.iter().any(|l| l.message.starts_with("REPORT")) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the Event invocation never ran");
}

#[tokio::test]
async fn memory_size_bounds_what_a_function_can_allocate() {
    let cloud = TestCloud::start().await;
    create_probe_with(&cloud, "hungry", |b| b.memory_size(128)).await;
    let (small, error) = invoke(&cloud, "hungry", json!({"action": "allocate", "mb": 32})).await;
    assert_eq!((small, error), (json!({"allocated": 32}), None));
    let (body, error) = invoke(&cloud, "hungry", json!({"action": "allocate", "mb": 512})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"), "{body}");
    assert_eq!(body["errorType"], "Runtime.ExitError", "{body}");
}

#[tokio::test]
async fn zips_with_escaping_paths_or_symlinks_are_refused() {
    let cloud = TestCloud::start().await;
    let binary = std::fs::read(probe_binary()).unwrap();
    let mut symlink = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    symlink.add_symlink("bootstrap", "/bin/sh", zip::write::SimpleFileOptions::default()).unwrap();
    let symlink = symlink.finish().unwrap().into_inner();
    for (label, zip) in [
        ("parent path", zip_of(&[("bootstrap", &binary), ("../evil", b"x")])),
        ("absolute path", zip_of(&[("/tmp/evil", b"x")])),
        ("symlink", symlink),
        ("not a zip", b"plain bytes".to_vec()),
    ] {
        let err = cloud
            .clients
            .lambda
            .create_function()
            .function_name("evil")
            .runtime(Runtime::Providedal2023)
            .role(ROLE)
            .handler("bootstrap")
            .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(code(&err), "InvalidParameterValueException", "{label}");
        assert!(err.message().unwrap_or("").contains("Could not unzip uploaded file"), "{label}");
    }
    assert!(!cloud.dir.path().join("lambda/evil").exists() && !cloud.dir.path().join("lambda/code/evil").exists());
    assert!(cloud.clients.lambda.list_functions().send().await.unwrap().functions().is_empty());
}

#[tokio::test]
async fn unknown_function_is_resource_not_found() {
    let cloud = TestCloud::start().await;
    let lambda = &cloud.clients.lambda;
    let expected = "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope";
    let err = lambda.invoke().function_name("nope").send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    let err = err.into_service_error();
    assert_eq!((code(&err), err.message()), ("ResourceNotFoundException".to_string(), Some(expected)));
    let err = lambda.get_function().function_name("nope").send().await.unwrap_err().into_service_error();
    assert_eq!(err.message(), Some(expected));
    let err = lambda.delete_function().function_name("nope").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "ResourceNotFoundException");
    let err = lambda.update_function_code().function_name("nope").zip_file(Blob::new(probe_zip())).send().await;
    assert_eq!(code(&err.unwrap_err().into_service_error()), "ResourceNotFoundException");
    let router = cloud.cloud.as_ref().unwrap().router();
    let err =
        router.service::<Lambda>().invoke("arn:aws:lambda:us-east-1:000000000000:function:nope", b"{}".to_vec()).await;
    assert_eq!(err.unwrap_err().code(), "ResourceNotFoundException");
}

#[tokio::test]
async fn bad_parameters_get_lambdas_errors() {
    let cloud = TestCloud::start().await;
    create_probe(&cloud, "exists").await;
    let lambda = &cloud.clients.lambda;
    let base = || {
        lambda
            .create_function()
            .function_name("new-fn")
            .runtime(Runtime::Providedal2023)
            .role(ROLE)
            .handler("bootstrap")
            .code(FunctionCode::builder().zip_file(Blob::new(probe_zip())).build())
    };
    let cases = [
        ("duplicate", base().function_name("exists"), "ResourceConflictException"),
        ("timeout above 900", base().timeout(901), "InvalidParameterValueException"),
        ("timeout 0", base().timeout(0), "ValidationException"),
        ("memory below 128", base().memory_size(64), "ValidationException"),
        ("memory above 10240", base().memory_size(10_241), "ValidationException"),
        ("runtime we cannot run", base().runtime(Runtime::Python312), "InvalidParameterValueException"),
        ("bad role", base().role("not-a-role"), "ValidationException"),
        ("bad name", base().function_name("has space"), "ValidationException"),
        (
            "reserved variable",
            base().environment(Environment::builder().variables("AWS_REGION", "eu-west-1").build()),
            "InvalidParameterValueException",
        ),
    ];
    for (label, request, expected) in cases {
        let err = request.send().await.unwrap_err().into_service_error();
        assert_eq!(code(&err), expected, "{label}: {:?}", err.message());
    }
    let err = lambda.update_function_configuration().function_name("exists").timeout(1000).send().await;
    assert_eq!(code(&err.unwrap_err().into_service_error()), "InvalidParameterValueException");

    let too_large = vec![b' '; 6 * 1024 * 1024 + 1];
    let err = lambda.invoke().function_name("exists").payload(Blob::new(too_large)).send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(413));
    assert_eq!(code(&err.into_service_error()), "RequestTooLargeException");
    let err = lambda.invoke().function_name("exists").payload(Blob::new("{not json")).send().await;
    assert_eq!(code(&err.unwrap_err().into_service_error()), "InvalidRequestContentException");
    let listed = lambda.list_functions().send().await.unwrap();
    assert_eq!(listed.functions().len(), 1, "no refused function was created");
}

#[tokio::test]
async fn the_engine_api_returns_results_and_function_errors() {
    let cloud = TestCloud::start().await;
    create_probe(&cloud, "engine").await;
    let lambda = cloud.cloud.as_ref().unwrap().router().service::<Lambda>();
    let arn = "arn:aws:lambda:us-east-1:000000000000:function:engine";
    let outcome = lambda.invoke(arn, br#"{"s3Key":"1_happy_face.jpg"}"#.to_vec()).await.unwrap();
    let InvokeOutcome::Ok(bytes) = outcome else { panic!("expected a result, got {outcome:?}") };
    assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), json!({"s3Key": "1_happy_face.jpg"}));
    let payload = json!({"action": "error", "errorType": "FaceAlreadyExistsError", "errorMessage": "Face in the picture is already in the system."});
    let outcome = lambda.invoke(arn, payload.to_string().into_bytes()).await.unwrap();
    assert_eq!(
        outcome,
        InvokeOutcome::FunctionError {
            error_type: "FaceAlreadyExistsError".into(),
            error_message: "Face in the picture is already in the system.".into()
        }
    );
}

#[tokio::test]
async fn functions_survive_a_restart_of_the_local_cloud() {
    let cloud = TestCloud::start().await;
    create_probe(&cloud, "durable").await;
    let (before, _) = invoke(&cloud, "durable", json!({"n": 1})).await;
    let cloud = cloud.restart().await;
    let (after, error) = invoke(&cloud, "durable", json!({"n": 1})).await;
    assert_eq!((after, error), (before, None));
}

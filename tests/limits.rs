//! Limits wherever input can grow, each answered with AWS's error and the server still
//! serving afterwards: JSON nested 100,000 deep to every JSON service, definition size and
//! depth, execution input depth, history length, DynamoDB nesting, image pixels
//! (a decompression bomb), zip expansion, S3 bucket names that try to leave the data dir.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use http_body_util::BodyExt;
use serde_json::Value;

use crate::common::TestCloud;

const ROLE: &str = "arn:aws:iam::123456789012:role/StepFunctionsRole";

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<no code>").to_string()
}

/// A correctly signed raw request (the body is whatever the test says, no SDK in the way):
/// (status, AWS error code from the body or the x-amzn-errortype header, body).
async fn signed(
    cloud: &TestCloud,
    service: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, String, String) {
    let host = cloud.endpoint.trim_start_matches("http://").to_string();
    let mut builder = http::Request::builder().method(method).uri(path).header("host", &host);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let mut req = builder.body(bytes::Bytes::from(body)).expect("a request");
    let credentials = wildrydes::local::Credentials {
        access_key: wildrydes::local::DEFAULT_ACCESS_KEY.into(),
        secret_key: wildrydes::local::DEFAULT_SECRET_KEY.into(),
    };
    wildrydes::fuzzing::sign(&mut req, service, wildrydes::local::DEFAULT_REGION, &credentials);
    let (parts, body) = req.into_parts();
    let mut req = http::Request::from_parts(parts, http_body_util::Full::new(body));
    *req.uri_mut() = format!("{}{path}", cloud.endpoint).parse().expect("a URI");
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let resp = client.request(req).await.expect("the local cloud answers");
    let status = resp.status().as_u16();
    let header_code = resp.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = String::from_utf8_lossy(&resp.into_body().collect().await.expect("a body").to_bytes()).into_owned();
    let body_code = serde_json::from_str::<Value>(&body).ok().and_then(|v| {
        v.get("__type")
            .or_else(|| v.get("code"))
            .and_then(Value::as_str)
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
    });
    let code = body_code.or(header_code).unwrap_or_default();
    (status, code.split(':').next().unwrap_or_default().to_string(), body)
}

fn deep_array(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn deep_object(depth: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

#[tokio::test]
async fn json_nested_100k_deep_is_a_client_error_from_every_json_service_and_nothing_breaks() {
    let cloud = TestCloud::start().await;
    let json10 = "application/x-amz-json-1.0";
    let json11 = "application/x-amz-json-1.1";
    let cases: [(&str, &str, &str, Option<&str>, &str); 6] = [
        ("dynamodb", "POST", "/", Some("DynamoDB_20120810.PutItem"), json10),
        ("states", "POST", "/", Some("AWSStepFunctions.StartExecution"), json10),
        ("rekognition", "POST", "/", Some("RekognitionService.DetectFaces"), json11),
        ("ses", "POST", "/v2/email/outbound-emails", None, "application/json"),
        ("lambda", "POST", "/2015-03-31/functions", None, "application/json"),
        ("lambda", "POST", "/2015-03-31/functions/nope/invocations", None, "application/json"),
    ];
    let mut tried = 0;
    for body in [deep_array(100_000), deep_object(100_000)] {
        for (service, method, path, target, content_type) in cases {
            let mut headers = vec![("content-type", content_type)];
            if let Some(t) = target {
                headers.push(("x-amz-target", t));
            }
            let (status, code, text) = signed(&cloud, service, method, path, &headers, body.clone().into_bytes()).await;
            assert!((400..500).contains(&status), "{service} {path}: {status} {code} {text:.300}");
            assert!(!code.is_empty(), "{service} {path}: an AWS error code, got {text:.300}");
            tried += 1;
        }
    }
    println!("deep JSON bodies tried: {tried}, all refused with a 4xx and an error code");
    // Every service still answers.
    cloud.clients.dynamodb.list_tables().send().await.expect("DynamoDB serves");
    cloud.clients.sfn.list_state_machines().send().await.expect("Step Functions serves");
    cloud.clients.lambda.list_functions().send().await.expect("Lambda serves");
    cloud.clients.rekognition.list_collections().send().await.expect("Rekognition serves");
    cloud.clients.sesv2.list_email_identities().send().await.expect("SES serves");
}

async fn pass_machine(cloud: &TestCloud, name: &str, definition: &str) -> String {
    cloud
        .clients
        .sfn
        .create_state_machine()
        .name(name)
        .role_arn(ROLE)
        .definition(definition)
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn
}

#[tokio::test]
async fn definitions_over_1_mib_or_nested_too_deep_are_refused_with_aws_errors() {
    let cloud = TestCloud::start().await;
    let sfn = &cloud.clients.sfn;
    // 1 MiB + 1 characters: the request's own validation, as on AWS.
    let padding = "x".repeat(1024 * 1024);
    let big = format!(r#"{{"Comment":"{padding}","StartAt":"P","States":{{"P":{{"Type":"Pass","End":true}}}}}}"#);
    let e = sfn.create_state_machine().name("big").role_arn(ROLE).definition(&big).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "ValidationException");
    let e = sfn.validate_state_machine_definition().definition(&big).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "ValidationException");
    // Deep nesting inside Parameters: a clear InvalidDefinition, for 200 levels and 100,000.
    for depth in [200, 100_000] {
        let params = deep_array(depth);
        let deep =
            format!(r#"{{"StartAt":"P","States":{{"P":{{"Type":"Pass","Parameters":{{"a":{params}}},"End":true}}}}}}"#);
        let e = sfn.create_state_machine().name("deep").role_arn(ROLE).definition(&deep).send().await.unwrap_err();
        assert_eq!(code(&e.into_service_error()), "InvalidDefinition", "depth {depth}");
    }
    assert!(sfn.list_state_machines().send().await.unwrap().state_machines().is_empty(), "nothing was created");
}

#[tokio::test]
async fn execution_input_nested_too_deep_is_invalid_execution_input_and_starts_nothing() {
    let cloud = TestCloud::start().await;
    let arn = pass_machine(&cloud, "pass", r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#).await;
    let sfn = &cloud.clients.sfn;
    for depth in [101, 127, 100_000] {
        let e = sfn.start_execution().state_machine_arn(&arn).input(deep_array(depth)).send().await.unwrap_err();
        assert_eq!(code(&e.into_service_error()), "InvalidExecutionInput", "depth {depth}");
    }
    let listed = sfn.list_executions().state_machine_arn(&arn).send().await.unwrap();
    assert!(listed.executions().is_empty(), "no execution was started");
}

#[tokio::test]
async fn values_grown_deep_inside_an_execution_fail_it_cleanly_and_it_survives_a_restart() {
    // Input at the depth limit, then Parameters nesting it deeper on every loop: the
    // execution must end (not vanish), and its record must still load after a restart.
    let cloud = TestCloud::start().await;
    let definition = r#"{"StartAt":"Deeper","States":{
        "Deeper":{"Type":"Pass","Parameters":{"a":{"b":{"c":{"d.$":"$"}}}},"Next":"Again"},
        "Again":{"Type":"Choice","Choices":[{"Variable":"$.stop","IsPresent":true,"Next":"End"}],"Default":"Deeper"},
        "End":{"Type":"Succeed"}}}"#;
    let arn = pass_machine(&cloud, "deeper", definition).await;
    let sfn = &cloud.clients.sfn;
    let started = sfn.start_execution().state_machine_arn(&arn).input(deep_array(100)).send().await.unwrap();
    let execution = started.execution_arn;
    let cloud = cloud.restart().await;
    let sfn = &cloud.clients.sfn;
    let mut status = String::new();
    for _ in 0..200 {
        let d = sfn.describe_execution().execution_arn(&execution).send().await.expect("the execution is still there");
        status = d.status.as_str().to_string();
        if status != "RUNNING" {
            assert_eq!(status, "FAILED");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, "FAILED", "a payload that nests too deep fails the execution");
}

#[tokio::test]
async fn a_loop_stops_at_the_25000_event_history_limit_with_a_gap_free_history() {
    let cloud = TestCloud::start().await;
    let definition = r#"{"StartAt":"Loop","States":{"Loop":{"Type":"Pass","Next":"Again"},
        "Again":{"Type":"Choice","Choices":[{"Variable":"$.stop","IsPresent":true,"Next":"End"}],"Default":"Loop"},
        "End":{"Type":"Succeed"}}}"#;
    let arn = pass_machine(&cloud, "loop", definition).await;
    let sfn = &cloud.clients.sfn;
    let execution = sfn.start_execution().state_machine_arn(&arn).send().await.unwrap().execution_arn;
    let mut status = String::new();
    for _ in 0..600 {
        status = sfn.describe_execution().execution_arn(&execution).send().await.unwrap().status.as_str().to_string();
        if status != "RUNNING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "FAILED");
    let mut ids = Vec::new();
    let mut pages = sfn.get_execution_history().execution_arn(&execution).max_results(1000).into_paginator().send();
    let mut last = None;
    while let Some(page) = pages.next().await {
        for e in page.expect("a history page").events() {
            ids.push(e.id);
            assert!(e.previous_event_id < e.id);
            last = Some(e.clone());
        }
    }
    assert!(ids.len() <= 25_000, "{} events", ids.len());
    assert!(ids.len() > 24_000, "the loop ran up to the limit: {} events", ids.len());
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>(), "ids run 1..n");
    let last = last.expect("events");
    assert_eq!(last.r#type.as_str(), "ExecutionFailed");
    let details = last.execution_failed_event_details();
    println!(
        "history limit: {} events, closed by {:?}: {:?}",
        ids.len(),
        details.and_then(|d| d.error()),
        details.and_then(|d| d.cause())
    );
}

#[tokio::test]
async fn dynamodb_items_nested_past_32_levels_are_refused_and_not_stored() {
    let cloud = TestCloud::start().await;
    let ddb = &cloud.clients.dynamodb;
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    ddb.create_table()
        .table_name("deep-items")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("k").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("k").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .unwrap();
    let mut value = AttributeValue::S("leaf".into());
    for _ in 0..40 {
        value = AttributeValue::L(vec![value]);
    }
    let e = ddb
        .put_item()
        .table_name("deep-items")
        .item("k", AttributeValue::S("a".into()))
        .item("deep", value)
        .send()
        .await
        .unwrap_err();
    let e = e.into_service_error();
    assert_eq!(code(&e), "ValidationException");
    assert!(e.message().unwrap_or("").contains("Nesting Levels"), "{e:?}");
    let got = ddb.get_item().table_name("deep-items").key("k", AttributeValue::S("a".into())).send().await.unwrap();
    assert!(got.item().is_none(), "nothing was stored");
}

#[tokio::test]
async fn a_png_decompression_bomb_is_image_too_large_before_decoding() {
    let cloud = TestCloud::start().await;
    // 8000×6000 = 48 megapixels of one grey: a few hundred KB on the wire.
    let bomb = image::GrayImage::from_pixel(8000, 6000, image::Luma([128]));
    let mut png = Vec::new();
    bomb.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    drop(bomb);
    assert!(png.len() < 5 * 1024 * 1024, "the bomb is small: {} bytes", png.len());
    let image = aws_sdk_rekognition::types::Image::builder().bytes(aws_smithy_types::Blob::new(png)).build();
    let e = cloud.clients.rekognition.detect_faces().image(image).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "ImageTooLargeException");
}

#[tokio::test]
async fn a_zip_bomb_is_refused_by_create_function_and_nothing_is_unpacked() {
    use std::io::Write;
    let cloud = TestCloud::start().await;
    // 64 MiB of zeros deflates to ~64 KB: a ratio of ~1000 beyond the harmless size.
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    writer.start_file("bootstrap", options).unwrap();
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..64 {
        writer.write_all(&zeros).unwrap();
    }
    let zip = writer.finish().unwrap().into_inner();
    let e = cloud
        .clients
        .lambda
        .create_function()
        .function_name("bomb")
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .role("arn:aws:iam::123456789012:role/lambda")
        .handler("bootstrap")
        .code(aws_sdk_lambda::types::FunctionCode::builder().zip_file(aws_smithy_types::Blob::new(zip)).build())
        .send()
        .await
        .unwrap_err();
    let e = e.into_service_error();
    assert_eq!(code(&e), "InvalidParameterValueException", "{e:?}");
    assert!(cloud.clients.lambda.list_functions().send().await.unwrap().functions().is_empty());
}

#[tokio::test]
async fn bucket_names_that_try_to_leave_the_data_directory_are_refused() {
    let cloud = TestCloud::start().await;
    let s3 = &cloud.clients.s3;
    let long = "a".repeat(300);
    let mut refused = 0;
    for name in ["..", "../escape", "a/b", "nul\0name", "日本語", "%2e%2e", ".hidden", long.as_str()] {
        let result = s3.create_bucket().bucket(name).send().await;
        assert!(result.is_err(), "{name:?} was accepted");
        refused += 1;
    }
    // The same names on the wire, where no SDK can tidy them first.
    for path in ["/..%2Fescape", "/a%2Fb", "/nul%00name", "/%E6%97%A5%E6%9C%AC", "/%2e%2e"] {
        let (status, code, body) = signed(&cloud, "s3", "PUT", path, &[], Vec::new()).await;
        assert!((400..500).contains(&status), "{path}: {status} {code} {body:.200}");
        assert!(!body.contains("SignatureDoesNotMatch"), "{path}: the request reached S3's name checks: {body:.200}");
        refused += 1;
    }
    println!("bucket names refused: {refused}");
    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty());
    for entry in std::fs::read_dir(cloud.dir.path()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(name == "blobs" || name == "lambda" || name.starts_with("wildrydes.sqlite"), "unexpected entry {name}");
    }
    let parent = cloud.dir.path().parent().expect("a parent");
    assert!(!parent.join("escape").exists());
}

#[tokio::test]
async fn keys_at_the_byte_limit_count_utf8_bytes_and_unicode_forms_stay_distinct() {
    let cloud = TestCloud::start().await;
    let s3 = &cloud.clients.s3;
    s3.create_bucket().bucket("photos").send().await.unwrap();
    let put = |key: String| {
        s3.put_object().bucket("photos").key(key).body(aws_sdk_s3::primitives::ByteStream::from_static(b"x")).send()
    };
    // 341 × 3 bytes + 1 = 1024 bytes: at the limit. 342 × 3 = 1026: over it.
    put(format!("{}a", "日".repeat(341))).await.expect("a 1024-byte key");
    let e = put("日".repeat(342)).await.unwrap_err();
    assert_eq!(e.into_service_error().code(), Some("KeyTooLongError"));
    // NFC and NFD spellings of "é", an emoji, and encoded traversal are separate keys.
    for key in ["caf\u{e9}", "cafe\u{301}", "rider-\u{1F600}.jpg", "%2e%2e%2fpasswd", "..%2f..%2f"] {
        put(key.to_string()).await.expect(key);
    }
    let listed = s3.list_objects_v2().bucket("photos").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(6));
}

//! Every request's SigV4 signature is verified; a refused one gets AWS's error for its
//! protocol and reaches no service.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;

use crate::common::{TestCloud, unsigned_post};

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<no code>").to_string()
}

#[tokio::test]
async fn correctly_signed_request_is_served() {
    let cloud = TestCloud::start().await;
    cloud.clients.dynamodb.list_tables().send().await.expect("signed with the local credentials");
}

#[tokio::test]
async fn wrong_secret_is_an_invalid_signature() {
    let cloud = TestCloud::start().await;
    let clients = cloud.clients_with_credentials("wildrydes", "not-the-secret", "us-east-1").await;
    let err = clients.dynamodb.list_tables().send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "InvalidSignatureException");
    assert!(err.message().unwrap_or("").contains("signature we calculated does not match"));
}

#[tokio::test]
async fn unknown_access_key_is_an_unrecognized_client() {
    let cloud = TestCloud::start().await;
    let clients = cloud.clients_with_credentials("AKIAEXAMPLE", "wildrydes", "us-east-1").await;
    let err = clients.dynamodb.list_tables().send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "UnrecognizedClientException");
}

#[tokio::test]
async fn request_signed_for_another_region_is_refused() {
    let cloud = TestCloud::start().await;
    let clients = cloud.clients_with_credentials("wildrydes", "wildrydes", "eu-west-1").await;
    let err = clients.dynamodb.list_tables().send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "InvalidSignatureException");
    assert!(err.message().unwrap_or("").contains("eu-west-1"));
}

#[tokio::test]
async fn rest_json_service_refuses_a_wrong_secret_with_403() {
    let cloud = TestCloud::start().await;
    let clients = cloud.clients_with_credentials("wildrydes", "not-the-secret", "us-east-1").await;
    let err = clients.sesv2.list_email_identities().send().await.unwrap_err();
    let raw = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(raw, Some(403));
    assert_eq!(code(&err.into_service_error()), "InvalidSignatureException");
}

#[tokio::test]
async fn unsigned_json_request_is_missing_its_token() {
    let cloud = TestCloud::start().await;
    let (status, _, body) = unsigned_post(
        &cloud.endpoint,
        "/",
        &[("x-amz-target", "DynamoDB_20120810.ListTables"), ("content-type", "application/x-amz-json-1.0")],
        "{}",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("MissingAuthenticationTokenException"), "{body}");
}

#[tokio::test]
async fn tampered_body_is_an_invalid_signature() {
    // Sign one body, send another: the payload hash no longer matches.
    let cloud = TestCloud::start().await;
    let (status, _, body) = unsigned_post(
        &cloud.endpoint,
        "/",
        &[
            ("x-amz-target", "DynamoDB_20120810.ListTables"),
            ("x-amz-date", &time::OffsetDateTime::now_utc().format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z")).unwrap()),
            ("authorization", "AWS4-HMAC-SHA256 Credential=wildrydes/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000"),
        ],
        "{}",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("InvalidSignatureException"), "{body}");
}

#[tokio::test]
async fn oversized_body_is_refused_before_it_is_read() {
    let cloud = TestCloud::start().await;
    let big = "x".repeat(17 * 1024 * 1024);
    let (status, _, body) = unsigned_post(
        &cloud.endpoint,
        "/",
        &[
            ("x-amz-target", "DynamoDB_20120810.PutItem"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=wildrydes/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00"),
            ("x-amz-date", "20260101T000000Z"),
        ],
        &big,
    )
    .await;
    assert_eq!(status, 413);
    assert!(body.contains("RequestEntityTooLargeException"), "{body}");
}

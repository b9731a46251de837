//! Real clients no one here wrote — the aws CLI and boto3 from PyPI — against the real
//! `wildrydes serve` binary, unchanged but for the endpoint.

use std::path::Path;
use std::process::Command;

use crate::common::{ServerProcess, test_venv};

mod differential;

/// Runs `aws ARGS…` against `endpoint` with the local credentials; returns stdout, and
/// fails the test with stderr when the command fails.
fn aws(venv: &Path, endpoint: &str, args: &[&str]) -> String {
    let output = aws_command(venv, endpoint, args).output().expect("aws CLI runs");
    assert!(output.status.success(), "aws {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `aws ARGS…` expecting failure; returns stderr.
fn aws_fails(venv: &Path, endpoint: &str, args: &[&str]) -> String {
    let output = aws_command(venv, endpoint, args).output().expect("aws CLI runs");
    assert!(!output.status.success(), "aws {} should have failed", args.join(" "));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn aws_command(venv: &Path, endpoint: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(venv.join("bin/aws"));
    cmd.arg("--endpoint-url")
        .arg(endpoint)
        .args(["--output", "json"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "wildrydes")
        .env("AWS_SECRET_ACCESS_KEY", "wildrydes")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_PAGER", "")
        .env_remove("AWS_PROFILE");
    cmd
}

/// What every boto3 script here starts with: `kw` for clients of the endpoint (the first
/// argument) with the local credentials, and `s3`, a path-style S3 client.
const BOTO3_PREAMBLE: &str = r#"
import json, sys, boto3
from botocore.config import Config
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1",
          aws_access_key_id="wildrydes", aws_secret_access_key="wildrydes")
s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}), **kw)
"#;

/// Runs a boto3 script (after [`BOTO3_PREAMBLE`]) against `endpoint`; returns the JSON it
/// prints.
fn boto3_script(venv: &Path, script: &str, endpoint: &str) -> serde_json::Value {
    let script = format!("{BOTO3_PREAMBLE}{script}");
    let output = Command::new(venv.join("bin/python")).args(["-c", &script, endpoint]).output().expect("python runs");
    assert!(output.status.success(), "boto3 script failed: {}", String::from_utf8_lossy(&output.stderr));
    json(String::from_utf8_lossy(&output.stdout).trim())
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn aws_cli_s3_commands_work_against_serve() {
    let Some(venv) = test_venv("aws_cli_s3_commands_work_against_serve") else { return };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(data.path());
    let e = &server.endpoint;
    let work = tempfile::tempdir().unwrap();
    let photo = work.path().join("1_happy_face.jpg");
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&photo, &bytes).unwrap();

    aws(&venv, e, &["s3", "mb", "s3://wildrydes-riderphotos"]);
    aws(&venv, e, &["s3", "cp", photo.to_str().unwrap(), "s3://wildrydes-riderphotos/1_happy_face.jpg"]);
    let listing = aws(&venv, e, &["s3", "ls", "s3://wildrydes-riderphotos"]);
    assert!(listing.contains("1_happy_face.jpg") && listing.contains("200000"), "{listing}");

    let head = json(&aws(
        &venv,
        e,
        &["s3api", "head-object", "--bucket", "wildrydes-riderphotos", "--key", "1_happy_face.jpg"],
    ));
    assert_eq!(head["ContentLength"], 200000);
    let md5 = format!("\"{}\"", hex::encode(<md5::Md5 as md5::Digest>::digest(&bytes)));
    assert_eq!(head["ETag"], md5.as_str());

    let back = work.path().join("back.jpg");
    aws(&venv, e, &["s3", "cp", "s3://wildrydes-riderphotos/1_happy_face.jpg", back.to_str().unwrap()]);
    assert_eq!(std::fs::read(&back).unwrap(), bytes);

    let err = aws_fails(&venv, e, &["s3", "rb", "s3://wildrydes-riderphotos"]);
    assert!(err.contains("BucketNotEmpty"), "{err}");
    aws(&venv, e, &["s3", "rm", "s3://wildrydes-riderphotos/1_happy_face.jpg"]);
    let listing = aws(&venv, e, &["s3", "ls", "s3://wildrydes-riderphotos"]);
    assert!(!listing.contains("1_happy_face.jpg"), "{listing}");
    aws(&venv, e, &["s3", "rb", "s3://wildrydes-riderphotos"]);
    let err = aws_fails(&venv, e, &["s3", "ls", "s3://wildrydes-riderphotos"]);
    assert!(err.contains("NoSuchBucket"), "{err}");
}

#[test]
fn aws_cli_s3_cp_of_a_50_mb_file_goes_multipart_up_and_down() {
    let Some(venv) = test_venv("aws_cli_s3_cp_of_a_50_mb_file_goes_multipart_up_and_down") else { return };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(data.path());
    let e = &server.endpoint;
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("ride.mp4");
    // 50 MB: over the CLI's 8 MiB multipart threshold, so it goes up in 8 MiB parts.
    let bytes: Vec<u8> = (0..50_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();

    aws(&venv, e, &["s3", "mb", "s3://rides"]);
    aws(&venv, e, &["s3", "cp", file.to_str().unwrap(), "s3://rides/videos/ride.mp4"]);
    let head = json(&aws(&venv, e, &["s3api", "head-object", "--bucket", "rides", "--key", "videos/ride.mp4"]));
    assert_eq!(head["ContentLength"], 50_000_000);
    let etag = head["ETag"].as_str().unwrap_or_default();
    let parts = etag.trim_matches('"').rsplit_once('-').and_then(|(_, n)| n.parse::<u32>().ok());
    assert_eq!(parts, Some(6), "a multipart ETag ends with its part count: {etag}");
    let back = work.path().join("back.mp4");
    aws(&venv, e, &["s3", "cp", "s3://rides/videos/ride.mp4", back.to_str().unwrap()]);
    assert!(std::fs::read(&back).unwrap() == bytes, "the bytes come back as sent");
    let uploads = json(&aws(&venv, e, &["s3api", "list-multipart-uploads", "--bucket", "rides"]));
    assert!(uploads.get("Uploads").is_none(), "a completed upload is no longer listed: {uploads}");
}

#[test]
fn aws_cli_lists_and_aborts_multipart_uploads() {
    let Some(venv) = test_venv("aws_cli_lists_and_aborts_multipart_uploads") else { return };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(data.path());
    let e = &server.endpoint;
    let work = tempfile::tempdir().unwrap();
    let part = work.path().join("part");
    std::fs::write(&part, b"first part of an upload that is abandoned").unwrap();

    aws(&venv, e, &["s3", "mb", "s3://rides"]);
    let created = json(&aws(&venv, e, &["s3api", "create-multipart-upload", "--bucket", "rides", "--key", "big.mp4"]));
    let id = created["UploadId"].as_str().expect("an upload id").to_string();
    let common = ["--bucket", "rides", "--key", "big.mp4", "--upload-id", id.as_str()];
    let uploaded = json(&aws(
        &venv,
        e,
        &[&["s3api", "upload-part"][..], &common, &["--part-number", "1", "--body", part.to_str().unwrap()]].concat(),
    ));
    assert!(uploaded["ETag"].is_string(), "{uploaded}");

    let listed = json(&aws(&venv, e, &["s3api", "list-multipart-uploads", "--bucket", "rides"]));
    let uploads = listed["Uploads"].as_array().expect("one upload listed");
    assert_eq!(uploads.len(), 1, "{listed}");
    assert_eq!(uploads[0]["Key"], "big.mp4");
    assert_eq!(uploads[0]["UploadId"], id.as_str());
    let parts = json(&aws(&venv, e, &[&["s3api", "list-parts"][..], &common].concat()));
    assert_eq!(parts["Parts"][0]["Size"], 41, "{parts}");

    aws(&venv, e, &[&["s3api", "abort-multipart-upload"][..], &common].concat());
    let listed = json(&aws(&venv, e, &["s3api", "list-multipart-uploads", "--bucket", "rides"]));
    assert!(listed.get("Uploads").is_none(), "{listed}");
    let err = aws_fails(&venv, e, &[&["s3api", "abort-multipart-upload"][..], &common].concat());
    assert!(err.contains("NoSuchUpload"), "{err}");
    // Nothing of the upload is left: the bucket is empty and can be removed.
    aws(&venv, e, &["s3", "rb", "s3://rides"]);
}

#[test]
fn aws_cli_dynamodb_commands_work_against_serve() {
    let Some(venv) = test_venv("aws_cli_dynamodb_commands_work_against_serve") else { return };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(data.path());
    let e = &server.endpoint;

    let created = json(&aws(
        &venv,
        e,
        &[
            "dynamodb",
            "create-table",
            "--table-name",
            "wildrydes-riders",
            "--attribute-definitions",
            "AttributeName=Username,AttributeType=S",
            "--key-schema",
            "AttributeName=Username,KeyType=HASH",
            "--billing-mode",
            "PAY_PER_REQUEST",
        ],
    ));
    assert_eq!(created["TableDescription"]["TableName"], "wildrydes-riders");
    aws(
        &venv,
        e,
        &[
            "dynamodb",
            "put-item",
            "--table-name",
            "wildrydes-riders",
            "--item",
            r#"{"Username": {"S": "user_a"}, "faceId": {"S": "f-1"}, "visits": {"N": "3"}}"#,
            "--condition-expression",
            "attribute_not_exists(Username)",
        ],
    );
    let err = aws_fails(
        &venv,
        e,
        &[
            "dynamodb",
            "put-item",
            "--table-name",
            "wildrydes-riders",
            "--item",
            r#"{"Username": {"S": "user_a"}, "faceId": {"S": "f-2"}}"#,
            "--condition-expression",
            "attribute_not_exists(Username)",
        ],
    );
    assert!(err.contains("ConditionalCheckFailedException"), "{err}");

    let item = json(&aws(
        &venv,
        e,
        &["dynamodb", "get-item", "--table-name", "wildrydes-riders", "--key", r#"{"Username": {"S": "user_a"}}"#],
    ));
    assert_eq!(item["Item"]["faceId"]["S"], "f-1", "the failed conditional put changed nothing");
    assert_eq!(item["Item"]["visits"]["N"], "3");

    let query = json(&aws(
        &venv,
        e,
        &[
            "dynamodb",
            "query",
            "--table-name",
            "wildrydes-riders",
            "--key-condition-expression",
            "Username = :u",
            "--expression-attribute-values",
            r#"{":u": {"S": "user_a"}}"#,
        ],
    ));
    assert_eq!(query["Count"], 1);
    let scan = json(&aws(&venv, e, &["dynamodb", "scan", "--table-name", "wildrydes-riders"]));
    assert_eq!(scan["Count"], 1);
    assert_eq!(scan["Items"][0]["Username"]["S"], "user_a");

    aws(&venv, e, &["dynamodb", "delete-table", "--table-name", "wildrydes-riders"]);
    let err = aws_fails(&venv, e, &["dynamodb", "scan", "--table-name", "wildrydes-riders"]);
    assert!(err.contains("ResourceNotFoundException"), "{err}");
}

/// `aws dynamodb query --index-name INDEX` on the `rides` table.
fn index_query(venv: &Path, endpoint: &str, index: &str, condition: &str, values: &str) -> serde_json::Value {
    json(&aws(
        venv,
        endpoint,
        &[
            "dynamodb",
            "query",
            "--table-name",
            "rides",
            "--index-name",
            index,
            "--key-condition-expression",
            condition,
            "--expression-attribute-values",
            values,
        ],
    ))
}

#[test]
fn aws_cli_dynamodb_secondary_indexes_work_against_serve() {
    let Some(venv) = test_venv("aws_cli_dynamodb_secondary_indexes_work_against_serve") else { return };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(data.path());
    let e = &server.endpoint;

    let created = json(&aws(
        &venv,
        e,
        &[
            "dynamodb",
            "create-table",
            "--table-name",
            "rides",
            "--attribute-definitions",
            "AttributeName=rider,AttributeType=S",
            "AttributeName=ride,AttributeType=N",
            "AttributeName=city,AttributeType=S",
            "AttributeName=fare,AttributeType=N",
            "--key-schema",
            "AttributeName=rider,KeyType=HASH",
            "AttributeName=ride,KeyType=RANGE",
            "--global-secondary-indexes",
            r#"[{"IndexName": "by_city", "KeySchema": [{"AttributeName": "city", "KeyType": "HASH"}],
                 "Projection": {"ProjectionType": "KEYS_ONLY"}}]"#,
            "--local-secondary-indexes",
            r#"[{"IndexName": "by_fare", "KeySchema": [{"AttributeName": "rider", "KeyType": "HASH"},
                 {"AttributeName": "fare", "KeyType": "RANGE"}], "Projection": {"ProjectionType": "ALL"}}]"#,
            "--billing-mode",
            "PAY_PER_REQUEST",
        ],
    ));
    let desc = &created["TableDescription"];
    assert_eq!(desc["GlobalSecondaryIndexes"][0]["IndexName"], "by_city");
    assert_eq!(desc["GlobalSecondaryIndexes"][0]["IndexStatus"], "ACTIVE");
    assert_eq!(desc["LocalSecondaryIndexes"][0]["IndexName"], "by_fare");
    for (rider, ride, city, fare, kind) in
        [("ann", 1, "Paris", 30, "taxi"), ("ann", 2, "Oslo", 10, "bike"), ("bob", 1, "Paris", 20, "bike")]
    {
        let item = format!(
            r#"{{"rider": {{"S": "{rider}"}}, "ride": {{"N": "{ride}"}}, "city": {{"S": "{city}"}}, "fare": {{"N": "{fare}"}}, "kind": {{"S": "{kind}"}}}}"#
        );
        aws(&venv, e, &["dynamodb", "put-item", "--table-name", "rides", "--item", &item]);
    }

    let by_city = index_query(&venv, e, "by_city", "city = :c", r#"{":c": {"S": "Paris"}}"#);
    assert_eq!(by_city["Count"], 2);
    assert!(by_city["Items"][0].get("kind").is_none(), "KEYS_ONLY: {by_city}");
    let by_fare =
        index_query(&venv, e, "by_fare", "rider = :r AND fare > :f", r#"{":r": {"S": "ann"}, ":f": {"N": "5"}}"#);
    assert_eq!(by_fare["Items"][0]["fare"]["N"], "10");
    assert_eq!(by_fare["Items"][1]["fare"]["N"], "30");

    // A global index added to the table with its items is back-filled before the answer.
    let updated = json(&aws(
        &venv,
        e,
        &[
            "dynamodb",
            "update-table",
            "--table-name",
            "rides",
            "--attribute-definitions",
            "AttributeName=kind,AttributeType=S",
            "--global-secondary-index-updates",
            r#"[{"Create": {"IndexName": "by_kind", "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"},
                 {"AttributeName": "fare", "KeyType": "RANGE"}], "Projection": {"ProjectionType": "ALL"}}}]"#,
        ],
    ));
    let indexes = updated["TableDescription"]["GlobalSecondaryIndexes"].as_array().unwrap();
    let by_kind = indexes.iter().find(|i| i["IndexName"] == "by_kind").expect("by_kind is described");
    assert_eq!(by_kind["ItemCount"], 3);
    let bikes = index_query(&venv, e, "by_kind", "kind = :k", r#"{":k": {"S": "bike"}}"#);
    assert_eq!(bikes["Count"], 2);
    assert_eq!(bikes["Items"][0]["rider"]["S"], "ann");
    assert_eq!(bikes["Items"][1]["rider"]["S"], "bob");
    let err = aws_fails(
        &venv,
        e,
        &[
            "dynamodb",
            "query",
            "--table-name",
            "rides",
            "--index-name",
            "by_kind",
            "--consistent-read",
            "--key-condition-expression",
            "kind = :k",
            "--expression-attribute-values",
            r#"{":k": {"S": "bike"}}"#,
        ],
    );
    assert!(err.contains("Consistent reads are not supported on global secondary indexes"), "{err}");
}

#[test]
fn aws_cli_sesv2_send_email_lands_in_the_outbox() {
    let Some(venv) = test_venv("aws_cli_sesv2_send_email_lands_in_the_outbox") else { return };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(data.path());
    let e = &server.endpoint;

    aws(&venv, e, &["sesv2", "create-email-identity", "--email-identity", "noreply@wildrydes.example"]);
    let sent = json(&aws(
        &venv,
        e,
        &[
            "sesv2",
            "send-email",
            "--from-email-address",
            "noreply@wildrydes.example",
            "--destination",
            "ToAddresses=operator@wildrydes.example",
            "--content",
            r#"{"Simple": {"Subject": {"Data": "Photo rejected"}, "Body": {"Text": {"Data": "Detected 2 faces in the photo."}}}}"#,
        ],
    ));
    let message_id = sent["MessageId"].as_str().expect("a MessageId").to_string();

    let err = aws_fails(
        &venv,
        e,
        &[
            "sesv2",
            "send-email",
            "--from-email-address",
            "stranger@elsewhere.example",
            "--destination",
            "ToAddresses=operator@wildrydes.example",
            "--content",
            r#"{"Simple": {"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "x"}}}}"#,
        ],
    );
    assert!(err.contains("MessageRejected"), "{err}");

    let outbox = outbox(e);
    let messages = outbox["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1, "only the verified sender's mail is in the outbox: {outbox}");
    assert_eq!(messages[0]["messageId"], message_id.as_str());
    assert_eq!(messages[0]["subject"], "Photo rejected");
}

#[test]
fn boto3_script_works_against_serve() {
    let Some(venv) = test_venv("boto3_script_works_against_serve") else { return };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(data.path());
    let script = r#"
s3.create_bucket(Bucket="thumbnails")
s3.put_object(Bucket="thumbnails", Key="user_a/thumb.jpg", Body=b"abc", ContentType="image/jpeg",
              Metadata={"rider": "user_a"})
got = s3.get_object(Bucket="thumbnails", Key="user_a/thumb.jpg")
listing = s3.list_objects_v2(Bucket="thumbnails", Prefix="user_a/")
ddb = boto3.client("dynamodb", **kw)
ddb.create_table(TableName="riders", KeySchema=[{"AttributeName": "Username", "KeyType": "HASH"}],
                 AttributeDefinitions=[{"AttributeName": "Username", "AttributeType": "S"}],
                 BillingMode="PAY_PER_REQUEST")
ddb.put_item(TableName="riders", Item={"Username": {"S": "user_a"}, "n": {"N": "1.50"}})
item = ddb.get_item(TableName="riders", Key={"Username": {"S": "user_a"}})["Item"]
try:
    ddb.get_item(TableName="nope", Key={"Username": {"S": "x"}})
    missing = None
except ddb.exceptions.ResourceNotFoundException as e:
    missing = e.response["Error"]["Code"]
print(json.dumps({
    "body": got["Body"].read().decode(), "type": got["ContentType"], "meta": got["Metadata"],
    "keys": [o["Key"] for o in listing.get("Contents", [])],
    "n": item["n"]["N"], "missing": missing,
}))
"#;
    let result = boto3_script(&venv, script, &server.endpoint);
    assert_eq!(result["body"], "abc");
    assert_eq!(result["type"], "image/jpeg");
    assert_eq!(result["meta"]["rider"], "user_a");
    assert_eq!(result["keys"], serde_json::json!(["user_a/thumb.jpg"]));
    assert_eq!(result["n"], "1.5", "DynamoDB normalises numbers");
    assert_eq!(result["missing"], "ResourceNotFoundException");
}

#[test]
fn boto3_requests_signed_with_a_date_header_are_accepted() {
    let Some(venv) = test_venv("boto3_requests_signed_with_a_date_header_are_accepted") else { return };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(data.path());
    // botocore signs with the Date header, and sends no X-Amz-Date, when the caller sets
    // Date (here on every request, before signing).
    let script = r#"
import email.utils
seen = []
def set_date(request, **_):
    request.headers["Date"] = email.utils.formatdate(usegmt=True)
def check_headers(request, **_):
    seen.append(("X-Amz-Date" in request.headers, "Date" in request.headers))
s3.meta.events.register("before-sign.s3", set_date)
s3.meta.events.register("before-send.s3", check_headers)
s3.create_bucket(Bucket="dated")
s3.put_object(Bucket="dated", Key="k", Body=b"signed with Date")
body = s3.get_object(Bucket="dated", Key="k")["Body"].read().decode()
# The services the router verifies itself take the same form.
sfn = boto3.client("stepfunctions", **kw)
sfn.meta.events.register("before-sign", set_date)
machines = sfn.list_state_machines()["stateMachines"]
print(json.dumps({"body": body, "seen": seen, "machines": machines}))
"#;
    let result = boto3_script(&venv, script, &server.endpoint);
    assert_eq!(result["body"], "signed with Date");
    assert_eq!(result["seen"], serde_json::json!([[false, true], [false, true], [false, true]]));
    assert_eq!(result["machines"], serde_json::json!([]));
}

/// The outbox as the dashboard reads it.
fn outbox(endpoint: &str) -> serde_json::Value {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http::<http_body_util::Empty<bytes::Bytes>>();
        let uri: http::Uri = format!("{endpoint}/_wildrydes/outbox").parse().unwrap();
        let resp = client.get(uri).await.expect("outbox reachable");
        use http_body_util::BodyExt;
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&body).expect("outbox is JSON")
    })
}

#[test]
fn aws_cli_rekognition_seed_commands_work_against_serve() {
    let Some(venv) = test_venv("aws_cli_rekognition_seed_commands_work_against_serve") else { return };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(data.path());
    let e = &server.endpoint;
    let selfies = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/selfies");
    let photo = |name: &str| selfies.join(name).to_str().unwrap().to_string();

    // The workshop's own command, then the photos the workflow reads from S3.
    let created = json(&aws(&venv, e, &["rekognition", "create-collection", "--collection-id", "rider-photos"]));
    assert_eq!(created["StatusCode"], 200);
    aws(&venv, e, &["s3", "mb", "s3://wildrydes-riderphotos"]);
    for name in ["5_same_person_1.jpg", "2_sunglass_face.jpg"] {
        aws(&venv, e, &["s3", "cp", &photo(name), &format!("s3://wildrydes-riderphotos/{name}")]);
    }

    let indexed = json(&aws(
        &venv,
        e,
        &[
            "rekognition",
            "index-faces",
            "--collection-id",
            "rider-photos",
            "--image",
            r#"{"S3Object": {"Bucket": "wildrydes-riderphotos", "Name": "5_same_person_1.jpg"}}"#,
            "--external-image-id",
            "user_a",
        ],
    ));
    let records = indexed["FaceRecords"].as_array().expect("FaceRecords");
    assert_eq!(records.len(), 1, "{indexed}");
    let face_id = records[0]["Face"]["FaceId"].as_str().expect("FaceId").to_string();
    assert_eq!(records[0]["Face"]["ExternalImageId"], "user_a");

    let detected = json(&aws(
        &venv,
        e,
        &[
            "rekognition",
            "detect-faces",
            "--image",
            r#"{"S3Object": {"Bucket": "wildrydes-riderphotos", "Name": "2_sunglass_face.jpg"}}"#,
            "--attributes",
            "ALL",
        ],
    ));
    let details = detected["FaceDetails"].as_array().expect("FaceDetails");
    assert_eq!(details.len(), 1, "{detected}");
    assert_eq!(details[0]["Sunglasses"]["Value"], true);

    // The CLI reads fileb:// as raw bytes and sends them base64-encoded.
    let found = json(&aws(
        &venv,
        e,
        &[
            "rekognition",
            "search-faces-by-image",
            "--collection-id",
            "rider-photos",
            "--image-bytes",
            &format!("fileb://{}", photo("6_same_person_2.jpg")),
        ],
    ));
    assert_eq!(found["FaceMatches"][0]["Face"]["FaceId"], face_id.as_str(), "{found}");
    assert!(found["FaceMatches"][0]["Similarity"].as_f64().unwrap_or(0.0) >= 80.0);

    let listed = json(&aws(&venv, e, &["rekognition", "list-faces", "--collection-id", "rider-photos"]));
    assert_eq!(listed["Faces"][0]["FaceId"], face_id.as_str(), "{listed}");

    let deleted = json(&aws(
        &venv,
        e,
        &["rekognition", "delete-faces", "--collection-id", "rider-photos", "--face-ids", &face_id],
    ));
    assert_eq!(deleted["DeletedFaces"][0], face_id.as_str());
    let listed = json(&aws(&venv, e, &["rekognition", "list-faces", "--collection-id", "rider-photos"]));
    assert_eq!(listed["Faces"].as_array().map(Vec::len), Some(0), "{listed}");

    aws(&venv, e, &["rekognition", "delete-collection", "--collection-id", "rider-photos"]);
    let err = aws_fails(&venv, e, &["rekognition", "describe-collection", "--collection-id", "rider-photos"]);
    assert!(err.contains("ResourceNotFoundException"), "{err}");
}

/// The workshop's way of wiring the upload event by hand: `s3api
/// put-bucket-notification-configuration` with a Lambda destination, read back with
/// `get-bucket-notification-configuration`; a function that does not exist is refused.
#[test]
fn aws_cli_bucket_notification_configuration_round_trips_against_serve() {
    let Some(venv) = test_venv("aws_cli_bucket_notification_configuration_round_trips_against_serve") else { return };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(data.path());
    let e = &server.endpoint;
    let work = tempfile::tempdir().unwrap();
    let zip = work.path().join("sink.zip");
    std::fs::write(&zip, crate::lambda::probe_zip()).unwrap();
    aws(&venv, e, &["s3", "mb", "s3://wildrydes-riderphotos"]);
    let created = json(&aws(
        &venv,
        e,
        &[
            "lambda",
            "create-function",
            "--function-name",
            "sink",
            "--runtime",
            "provided.al2023",
            "--handler",
            "bootstrap",
            "--role",
            "arn:aws:iam::000000000000:role/lambda-role",
            "--zip-file",
            &format!("fileb://{}", zip.display()),
        ],
    ));
    let arn = created["FunctionArn"].as_str().expect("a function ARN").to_string();
    let config = serde_json::json!({"LambdaFunctionConfigurations": [{
        "Id": "uploads",
        "LambdaFunctionArn": arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
    }]});
    let bucket = ["--bucket", "wildrydes-riderphotos"];
    let put = ["s3api", "put-bucket-notification-configuration", bucket[0], bucket[1], "--notification-configuration"];
    aws(&venv, e, &[&put[..], &[config.to_string().as_str()]].concat());
    let got = json(&aws(&venv, e, &["s3api", "get-bucket-notification-configuration", bucket[0], bucket[1]]));
    let lambda = &got["LambdaFunctionConfigurations"][0];
    assert_eq!(lambda["Id"], "uploads", "{got}");
    assert_eq!(lambda["LambdaFunctionArn"], arn.as_str());
    assert_eq!(lambda["Events"], serde_json::json!(["s3:ObjectCreated:*"]));
    let rule = &lambda["Filter"]["Key"]["FilterRules"][0];
    assert_eq!(rule["Name"].as_str().map(str::to_ascii_lowercase).as_deref(), Some("prefix"), "{got}");
    assert_eq!(rule["Value"], "uploads/");

    let missing = config.to_string().replace(":function:sink", ":function:nobody");
    let err = aws_fails(&venv, e, &[&put[..], &[missing.as_str()]].concat());
    assert!(err.contains("InvalidArgument") && err.contains("Unable to validate"), "{err}");
}

/// The SAM template that deploys the same functions and state machine on AWS is valid
/// CloudFormation (cfn-lint applies the SAM transform and checks every reference).
#[test]
fn the_sam_template_passes_cfn_lint() {
    let Some(venv) = test_venv("the_sam_template_passes_cfn_lint") else { return };
    let cfn_lint = venv.join("bin/cfn-lint");
    if !cfn_lint.exists() {
        eprintln!("SKIPPED the_sam_template_passes_cfn_lint: no cfn-lint in {} (run .ci/python-tools)", venv.display());
        return;
    }
    let template = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("statemachine/template.yaml");
    let out = std::process::Command::new(cfn_lint).arg(&template).output().expect("cfn-lint runs");
    assert!(
        out.status.success(),
        "cfn-lint found problems in {}:\n{}{}",
        template.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Step Functions commands of the issue's walkthrough, on a pure-state machine: create,
/// start, describe until closed, the history, and the errors for unknown ARNs and bad input.
#[test]
fn aws_cli_stepfunctions_commands_work_against_serve() {
    let Some(venv) = test_venv("aws_cli_stepfunctions_commands_work_against_serve") else { return };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(data.path());
    let e = &server.endpoint;
    let definition = serde_json::json!({
        "StartAt": "Greet",
        "States": {
            "Greet": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hello {}', $.userId)"},
                      "ResultPath": "$.greeted", "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.userId", "StringEquals": "user_a", "Next": "Done"}],
                      "Default": "Refuse"},
            "Refuse": {"Type": "Fail", "Error": "UnknownRider", "Cause": "only user_a rides"},
            "Done": {"Type": "Succeed"}
        }
    })
    .to_string();
    // As the workshop does it: the definition from a file.
    let work = tempfile::tempdir().unwrap();
    let definition_file = work.path().join("machine.asl.json");
    std::fs::write(&definition_file, definition).unwrap();
    let file_arg = format!("file://{}", definition_file.display());
    let created = json(&aws(
        &venv,
        e,
        &[
            "stepfunctions",
            "create-state-machine",
            "--name",
            "RiderPhotoProcessing-pure",
            "--definition",
            &file_arg,
            "--role-arn",
            "arn:aws:iam::000000000000:role/StepFunctionsRole",
        ],
    ));
    let sm = created["stateMachineArn"].as_str().expect("a stateMachineArn").to_string();
    assert!(sm.ends_with(":stateMachine:RiderPhotoProcessing-pure"), "{created}");

    let describe_until_closed = |arn: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let d = json(&aws(&venv, e, &["stepfunctions", "describe-execution", "--execution-arn", arn]));
            if d["status"] != "RUNNING" || std::time::Instant::now() > deadline {
                return d;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    let started = json(&aws(
        &venv,
        e,
        &["stepfunctions", "start-execution", "--state-machine-arn", &sm, "--input", r#"{"userId": "user_a"}"#],
    ));
    let exec = started["executionArn"].as_str().expect("an executionArn").to_string();
    let done = describe_until_closed(&exec);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output = json(done["output"].as_str().expect("an output"));
    assert_eq!(output["greeted"]["greeting"], "hello user_a");

    let history = json(&aws(&venv, e, &["stepfunctions", "get-execution-history", "--execution-arn", &exec]));
    let types: Vec<&str> =
        history["events"].as_array().expect("events").iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ],
        "{history}"
    );

    let refused = json(&aws(
        &venv,
        e,
        &[
            "stepfunctions",
            "start-execution",
            "--state-machine-arn",
            &sm,
            "--name",
            "stranger",
            "--input",
            r#"{"userId": "user_z"}"#,
        ],
    ));
    let failed = describe_until_closed(refused["executionArn"].as_str().expect("an executionArn"));
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["error"], "UnknownRider");
    assert_eq!(failed["cause"], "only user_a rides");

    let err =
        aws_fails(&venv, e, &["stepfunctions", "start-execution", "--state-machine-arn", &sm, "--input", "{oops"]);
    assert!(err.contains("InvalidExecutionInput"), "{err}");
    let missing = exec.replace(&format!(":{}", exec.rsplit(':').next().unwrap_or_default()), ":never-started");
    let err = aws_fails(&venv, e, &["stepfunctions", "describe-execution", "--execution-arn", &missing]);
    assert!(err.contains("ExecutionDoesNotExist"), "{err}");
    let err = aws_fails(
        &venv,
        e,
        &[
            "stepfunctions",
            "create-state-machine",
            "--name",
            "broken",
            "--definition",
            r#"{"StartAt": "Nowhere", "States": {"A": {"Type": "Pass", "End": true}}}"#,
            "--role-arn",
            "arn:aws:iam::000000000000:role/StepFunctionsRole",
        ],
    );
    assert!(err.contains("InvalidDefinition"), "{err}");
}

/// `aws s3 rb --force` empties the bucket (every object, also under prefixes) and removes it.
#[test]
fn aws_cli_s3_rb_force_empties_and_removes_the_bucket() {
    let Some(venv) = test_venv("aws_cli_s3_rb_force_empties_and_removes_the_bucket") else { return };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(data.path());
    let e = &server.endpoint;
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("thumb.jpg");
    std::fs::write(&file, b"not really a jpeg").unwrap();
    aws(&venv, e, &["s3", "mb", "s3://wildrydes-thumbnails"]);
    for key in ["user_a/thumb.jpg", "user_b/thumb.jpg", "top.jpg"] {
        aws(&venv, e, &["s3", "cp", file.to_str().unwrap(), &format!("s3://wildrydes-thumbnails/{key}")]);
    }
    let err = aws_fails(&venv, e, &["s3", "rb", "s3://wildrydes-thumbnails"]);
    assert!(err.contains("BucketNotEmpty"), "{err}");
    let out = aws(&venv, e, &["s3", "rb", "s3://wildrydes-thumbnails", "--force"]);
    assert!(out.contains("remove_bucket: wildrydes-thumbnails"), "{out}");
    let err = aws_fails(&venv, e, &["s3", "ls", "s3://wildrydes-thumbnails"]);
    assert!(err.contains("NoSuchBucket"), "{err}");
    let err = aws_fails(&venv, e, &["s3", "rb", "s3://wildrydes-thumbnails", "--force"]);
    assert!(err.contains("NoSuchBucket"), "{err}");
}

/// `aws lambda list-functions` and `aws lambda invoke` on the probe function (a real
/// `lambda_runtime` binary), including a function error and an unknown function.
#[test]
fn aws_cli_lambda_list_functions_and_invoke_work_against_serve() {
    let Some(venv) = test_venv("aws_cli_lambda_list_functions_and_invoke_work_against_serve") else { return };
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(data.path());
    let e = &server.endpoint;
    let work = tempfile::tempdir().unwrap();
    let zip = work.path().join("probe.zip");
    std::fs::write(&zip, crate::lambda::probe_zip()).unwrap();
    let zip_arg = format!("fileb://{}", zip.display());
    aws(
        &venv,
        e,
        &[
            "lambda",
            "create-function",
            "--function-name",
            "wildrydes-probe",
            "--runtime",
            "provided.al2023",
            "--role",
            "arn:aws:iam::000000000000:role/lambda-role",
            "--handler",
            "bootstrap",
            "--zip-file",
            &zip_arg,
        ],
    );
    let listed = json(&aws(&venv, e, &["lambda", "list-functions"]));
    let names: Vec<&str> =
        listed["Functions"].as_array().expect("Functions").iter().filter_map(|f| f["FunctionName"].as_str()).collect();
    assert_eq!(names, ["wildrydes-probe"], "{listed}");

    let out = work.path().join("out.json");
    let out_arg = out.to_str().unwrap();
    let invoke = |payload: &str| {
        json(&aws(
            &venv,
            e,
            &[
                "lambda",
                "invoke",
                "--function-name",
                "wildrydes-probe",
                // aws CLI v1 (the one on PyPI) sends --payload as it is written.
                "--payload",
                payload,
                out_arg,
            ],
        ))
    };
    let answer = invoke(r#"{"userId": "user_a", "s3Key": "1_happy_face.jpg"}"#);
    assert_eq!(answer["StatusCode"], 200, "{answer}");
    assert_eq!(answer.get("FunctionError"), None, "{answer}");
    let echoed = json(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(echoed, serde_json::json!({"userId": "user_a", "s3Key": "1_happy_face.jpg"}));

    let answer = invoke(
        r#"{"action": "error", "errorType": "PhotoDoesNotMeetRequirementError", "errorMessage": "Face is wearing sunglasses"}"#,
    );
    assert_eq!(answer["FunctionError"], "Unhandled", "{answer}");
    let error = json(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(error["errorType"], "PhotoDoesNotMeetRequirementError");
    assert_eq!(error["errorMessage"], "Face is wearing sunglasses");

    let err = aws_fails(&venv, e, &["lambda", "invoke", "--function-name", "nobody", out_arg]);
    assert!(err.contains("ResourceNotFoundException"), "{err}");
}

//! The workshop's test matrix, end to end: `deploy` to a fresh local cloud (the six real
//! function binaries as Lambda processes, the real face models), then RiderPhotoProcessing-4
//! on each test selfie, checking what the workshop says each photo must lead to.

use std::path::PathBuf;

use serde_json::Value;
use wildrydes::deploy::{self, DeployOptions, Outcome, Progress};
use wildrydes::run;

use crate::common::TestCloud;

/// The workspace's binaries, built next to `wildrydes` by `cargo build --workspace --bins`.
pub(crate) fn binaries_dir() -> PathBuf {
    let wildrydes = PathBuf::from(env!("CARGO_BIN_EXE_wildrydes"));
    let dir = wildrydes.parent().expect("the binary has a directory").to_path_buf();
    assert!(
        dir.join("face-detection").is_file(),
        "the function binaries are missing from {}: build them first with `cargo build --workspace --bins`",
        dir.display()
    );
    dir
}

/// How a run ended, and the narrated lines of its states.
struct Run {
    ending: run::Ending,
    lines: Vec<String>,
}

async fn run_photo(cloud: &TestCloud, key: &str, user: &str) -> Run {
    let names = wildrydes::workshop::WorkshopNames::local();
    let input = run::workflow_input(user, &names.photo_bucket, key);
    let arn = run::start(&cloud.clients, "RiderPhotoProcessing-4", &input).await.expect("execution starts");
    let mut states = Vec::new();
    let mut narrator = run::Narrator::default();
    let ending = run::follow(&cloud.clients, &arn, &mut |event| {
        if let Some(line) = narrator.line(event) {
            states.push(line);
        }
    })
    .await
    .expect("execution is followed to its end");
    println!("{key} as {user}: {} in {:.2} s\n{}", ending.status, ending.duration_seconds, states.join("\n"));
    Run { ending, lines: states }
}

async fn put_photo(cloud: &TestCloud, key: &str, bytes: Vec<u8>) {
    let bucket = wildrydes::workshop::WorkshopNames::local().photo_bucket;
    cloud.clients.s3.put_object().bucket(bucket).key(key).body(bytes.into()).send().await.expect("upload");
}

/// The error that sent the run down the notification path, and the whole story as text
/// (the failure's cause and the notification's message both name the reason).
fn refusal(run: &Run) -> (String, String) {
    assert!(run.ending.succeeded(), "the refusal path ends in the notification, SUCCEEDED: {:?}", run.ending);
    let failed =
        run.lines.iter().find(|l| l.contains('✗')).unwrap_or_else(|| panic!("no failed state: {:?}", run.lines));
    let error = failed.split(": ").nth(1).unwrap_or_default().split(' ').next().unwrap_or_default().to_string();
    let text =
        format!("{}\n{}", run.lines.join("\n"), run.ending.output.as_ref().map(Value::to_string).unwrap_or_default());
    assert!(run.lines.iter().any(|l| l.contains("✓ PhotoDoesNotMeetRequirement")), "{:?}", run.lines);
    (error, text)
}

async fn face_users(cloud: &TestCloud) -> Vec<String> {
    let faces = cloud.clients.rekognition.list_faces().collection_id("rider-photos").send().await.expect("list faces");
    let mut users: Vec<String> =
        faces.faces().iter().filter_map(|f| f.external_image_id().map(str::to_string)).collect();
    users.sort();
    users
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_test_matrix_runs_end_to_end_after_deploy() {
    let cloud = TestCloud::start().await;
    let options = DeployOptions::local(binaries_dir());
    let mut created = Vec::new();
    let outputs = deploy::deploy(&cloud.clients, &options, &mut |p| {
        if let Progress::Done { resource, outcome } = p {
            created.push((resource, outcome));
        }
    })
    .await
    .expect("deploy succeeds on a fresh local cloud");
    assert_eq!(outputs.function_arns.len(), 6, "{outputs:?}");
    assert_eq!(outputs.state_machine_arns.len(), 4);
    assert!(created.iter().all(|(_, o)| *o == Outcome::Created), "{created:?}");

    let mut second = Vec::new();
    let again = deploy::deploy(&cloud.clients, &options, &mut |p| {
        if let Progress::Done { resource, outcome } = p {
            second.push((resource, outcome));
        }
    })
    .await
    .expect("a second deploy succeeds");
    assert_eq!(again, outputs, "deploy is idempotent");
    assert!(second.iter().all(|(_, o)| *o == Outcome::Unchanged), "nothing changes the second time: {second:?}");

    // A happy face: indexed under the user, a thumbnail, the rider stored.
    let happy = run_photo(&cloud, "1_happy_face.jpg", "user_a").await.ending;
    assert!(happy.succeeded(), "{happy:?}");
    let output = happy.output.clone().unwrap();
    assert!(output.get("errorInfo").is_none(), "{output}");
    assert_eq!(face_users(&cloud).await, ["user_a"]);
    let thumbnail = &output["parallelResult"][1]["thumbnail"];
    let thumb = cloud
        .clients
        .s3
        .get_object()
        .bucket(thumbnail["s3bucket"].as_str().unwrap())
        .key(thumbnail["s3key"].as_str().unwrap())
        .send()
        .await
        .expect("the thumbnail is in its bucket");
    let bytes = thumb.body.collect().await.unwrap().into_bytes();
    let image = image::load_from_memory(&bytes).expect("the thumbnail is an image");
    assert!(image.width() <= 300 && image.height() <= 300, "{}x{}", image.width(), image.height());
    let item = cloud
        .clients
        .dynamodb
        .get_item()
        .table_name(&outputs.riders_table)
        .key("Username", aws_sdk_dynamodb::types::AttributeValue::S("user_a".into()))
        .send()
        .await
        .unwrap();
    let item = item.item().expect("the rider is in the table");
    assert_eq!(item["s3key"].as_s().unwrap(), "1_happy_face.jpg");

    // Photos the workflow must refuse, each with its reason, nothing indexed or stored.
    for (key, reason) in
        [("2_sunglass_face.jpg", "sunglasses"), ("3_multiple_faces.jpg", "faces"), ("4_no_face.jpg", "0 faces")]
    {
        let ending = run_photo(&cloud, key, "user_refused").await;
        let (error, text) = refusal(&ending);
        assert_eq!(error, "PhotoDoesNotMeetRequirementError", "{key}: {text}");
        assert!(text.contains(reason), "{key}: the reason names {reason}: {text}");
    }
    // A corrupt file: a selfie whose upload was cut short halfway through its JPEG data.
    let selfie = include_bytes!("../assets/selfies/1_happy_face.jpg");
    put_photo(&cloud, "corrupt.jpg", selfie[..selfie.len() / 2].to_vec()).await;
    put_photo(&cloud, "notes.jpg", b"this is a text file renamed .jpg\n".to_vec()).await;
    for key in ["corrupt.jpg", "notes.jpg"] {
        let ending = run_photo(&cloud, key, "user_refused").await;
        let (error, text) = refusal(&ending);
        assert_eq!(error, "PhotoDoesNotMeetRequirementError", "{key}: {text}");
        assert!(text.to_lowercase().contains("format"), "{key}: the reason names the format: {text}");
    }

    // The same person under another user id: the duplicate path.
    let first = run_photo(&cloud, "5_same_person_1.jpg", "user_b").await.ending;
    assert!(first.succeeded() && first.output.as_ref().unwrap().get("errorInfo").is_none(), "{first:?}");
    let duplicate = run_photo(&cloud, "6_same_person_2.jpg", "user_c").await;
    let (error, _) = refusal(&duplicate);
    assert_eq!(error, "FaceAlreadyExistsError");
    assert_eq!(face_users(&cloud).await, ["user_a", "user_b"], "no refused photo was indexed");
    let riders = cloud.clients.dynamodb.scan().table_name(&outputs.riders_table).send().await.unwrap();
    assert_eq!(riders.count(), 2, "only the accepted riders are stored");

    // Every refusal was mailed to the operator (locally: the outbox).
    let outbox: Value = reqwest_outbox(&cloud.endpoint).await;
    let mails = outbox["messages"].as_array().expect("the outbox lists messages");
    assert_eq!(mails.len(), 6, "one mail per refused photo: {outbox}");

    // Clean-up deletes everything; a second run finds it all gone.
    let mut deleted = Vec::new();
    deploy::cleanup::cleanup(&cloud.clients, &options, &mut |p| {
        if let Progress::Done { outcome, .. } = p {
            deleted.push(outcome);
        }
    })
    .await
    .expect("cleanup");
    assert!(deleted.iter().all(|o| *o == Outcome::Deleted), "{deleted:?}");
    let mut again = Vec::new();
    deploy::cleanup::cleanup(&cloud.clients, &options, &mut |p| {
        if let Progress::Done { outcome, .. } = p {
            again.push(outcome);
        }
    })
    .await
    .expect("a second cleanup");
    assert!(again.iter().all(|o| *o == Outcome::AlreadyGone), "{again:?}");
}

/// The local outbox (unsigned, local only) as JSON.
async fn reqwest_outbox(endpoint: &str) -> Value {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let response = client.get(format!("{endpoint}/_wildrydes/outbox").parse().unwrap()).await.expect("outbox");
    use http_body_util::BodyExt;
    let body = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).expect("the outbox is JSON")
}

//! The AWS code path (`--aws`) against moto's server standing in for an account: the
//! account asked of STS, the resource names from a CloudFormation stack's outputs or from
//! the account and region, the operator's commands reading Step Functions there, the Lab's
//! checks saying "unknown" where the stand-in cannot answer, and one sentence (never SDK
//! Debug output) for missing credentials, an unknown profile and access denied.

use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::common::{Moto, test_venv};

/// `wildrydes --aws --endpoint-url MOTO --region us-east-1 ARGS` with moto's credentials.
pub(crate) fn on_moto(moto: &Moto, args: &[&str]) -> Output {
    on_moto_command(moto, args).output().expect("wildrydes runs")
}

/// The command [`on_moto`] runs, for changing its environment first.
pub(crate) fn on_moto_command(moto: &Moto, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wildrydes"));
    command
        .args(["--aws", "--endpoint-url", &moto.endpoint, "--region", "us-east-1"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null());
    command
}

/// `wildrydes --aws ARGS` with no credentials anywhere: no environment keys, an empty home.
fn without_credentials(home: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wildrydes"))
        .arg("--aws")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("wildrydes runs")
}

pub(crate) fn said(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// SDK clients for moto, for setting the stand-in account up.
pub(crate) async fn clients(moto: &Moto) -> wildrydes::cloud::Clients {
    let target = wildrydes::cloud::Target::Aws {
        region: Some("us-east-1".into()),
        profile: None,
        endpoint: Some(moto.endpoint.clone()),
    };
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(aws_credential_types::Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await;
    wildrydes::cloud::Clients::new(&config, &target)
}

/// RiderPhotoProcessing-4 (one Succeed state) and an execution of it named `name` in moto,
/// with the workshop's input; the started execution's ARN.
async fn execution_in_moto(c: &wildrydes::cloud::Clients, name: &str) -> String {
    let machine = c
        .sfn
        .create_state_machine()
        .name("RiderPhotoProcessing-4")
        .role_arn("arn:aws:iam::123456789012:role/StepFunctionsRole")
        .definition(json!({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}).to_string())
        .send()
        .await
        .expect("machine in moto");
    c.sfn
        .start_execution()
        .state_machine_arn(machine.state_machine_arn())
        .name(name)
        .input(json!({"userId": "user_a", "s3Key": "1_happy_face.jpg"}).to_string())
        .send()
        .await
        .expect("execution in moto")
        .execution_arn
}

const STACK_TEMPLATE: &str = r#"{
  "Resources": {
    "RiderPhotoS3Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "stack-riderphotos"}},
    "ThumbnailS3Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "stack-thumbnails"}},
    "RiderPhotoDDBTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
      "TableName": "stack-riders", "BillingMode": "PAY_PER_REQUEST",
      "AttributeDefinitions": [{"AttributeName": "Username", "AttributeType": "S"}],
      "KeySchema": [{"AttributeName": "Username", "KeyType": "HASH"}]}}
  },
  "Outputs": {
    "RiderPhotoS3Bucket": {"Value": {"Ref": "RiderPhotoS3Bucket"}},
    "ThumbnailS3Bucket": {"Value": {"Ref": "ThumbnailS3Bucket"}},
    "RiderPhotoDDBTable": {"Value": {"Ref": "RiderPhotoDDBTable"}}
  }
}"#;

#[tokio::test]
async fn the_aws_target_finds_its_account_and_names_and_reads_executions_from_a_stand_in() {
    let Some(venv) = test_venv("the_aws_target_finds_its_account_and_names_and_reads_executions_from_a_stand_in")
    else {
        return;
    };
    let moto = Moto::spawn(&venv.join("bin/moto_server"));
    let c = clients(&moto).await;

    // No stack: the names deploy gives, with the account STS answers and the region.
    let status = on_moto(&moto, &["status", "--json"]);
    assert!(status.status.success(), "{}", said(&status));
    let status: Value = serde_json::from_slice(&status.stdout).expect("JSON status");
    assert_eq!(status["names"]["photoBucket"], "wildrydes-riderphotos-123456789012-us-east-1");
    assert_eq!(status["names"]["thumbnailBucket"], "wildrydes-thumbnails-123456789012-us-east-1");
    // moto has no DescribeCollection: the Lab says it cannot tell, and so does the clean-up
    // step, rather than "nothing of the workshop is left".
    let step = |status: &Value, title: &str| {
        status["steps"].as_array().unwrap().iter().find(|s| s["step"].as_str().unwrap().starts_with(title)).cloned()
    };
    assert_eq!(step(&status, "Create the collection").unwrap()["status"], "unknown");
    let cleanup = step(&status, "Clean up").unwrap();
    assert_eq!(cleanup["status"], "unknown");
    assert!(cleanup["detail"].as_str().unwrap().starts_with("cannot tell what is left"), "{cleanup}");

    // The workshop's stack: the names are its outputs.
    c.cloudformation
        .create_stack()
        .stack_name("wildrydes-step-module-resources")
        .template_body(STACK_TEMPLATE)
        .send()
        .await
        .expect("the stack is created in moto");
    let status = on_moto(&moto, &["--stack", "wildrydes-step-module-resources", "status", "--json"]);
    assert!(status.status.success(), "{}", said(&status));
    let status: Value = serde_json::from_slice(&status.stdout).expect("JSON status");
    assert_eq!(
        status["names"],
        json!({"collection": "rider-photos", "photoBucket": "stack-riderphotos",
               "thumbnailBucket": "stack-thumbnails", "ridersTable": "stack-riders"})
    );
    let resources = step(&status, "Deploy buckets").unwrap();
    let detail = resources["detail"].as_str().unwrap();
    assert!(
        !detail.contains("bucket") && detail.contains("6 of the 6 functions"),
        "the stack's buckets and table are found: {detail}"
    );
    let flagged =
        on_moto(&moto, &["--stack", "wildrydes-step-module-resources", "--table", "mine", "status", "--json"]);
    let flagged: Value = serde_json::from_slice(&flagged.stdout).expect("JSON status");
    assert_eq!(flagged["names"]["ridersTable"], "mine", "a flag wins over the stack");
    let missing = on_moto(&moto, &["--stack", "no-such-stack", "status"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(said(&missing).contains("there is no CloudFormation stack no-such-stack"), "{}", said(&missing));

    // The operator's commands read the account's Step Functions.
    let started = execution_in_moto(&c, "from-moto").await;
    let listed = on_moto(&moto, &["executions", "list", "--json"]);
    assert!(listed.status.success(), "{}", said(&listed));
    let rows: Value = serde_json::from_slice(&listed.stdout).expect("JSON list");
    let row = rows.as_array().unwrap().iter().find(|r| r["name"] == "from-moto").cloned().expect("listed");
    assert_eq!(row["stateMachine"], "RiderPhotoProcessing-4");
    assert_eq!(row["executionArn"], started.as_str());
    let shown = on_moto(&moto, &["executions", "show", "from-moto"]);
    assert!(shown.status.success(), "{}", said(&shown));
    assert!(said(&shown).contains("Execution  from-moto on RiderPhotoProcessing-4"), "{}", said(&shown));

    // Rekognition's ListFaces is not in moto: one sentence saying so, no Debug output.
    let faces = on_moto(&moto, &["faces"]);
    assert_eq!(faces.status.code(), Some(1));
    let text = said(&faces);
    assert!(text.contains("it may not implement this call") && !text.contains("ServiceError {"), "{text}");
}

#[tokio::test]
async fn missing_credentials_an_unknown_profile_and_access_denied_each_say_what_to_do() {
    let Some(venv) = test_venv("missing_credentials_an_unknown_profile_and_access_denied_each_say_what_to_do") else {
        return;
    };
    let home = tempfile::tempdir().expect("an empty home");
    let none = without_credentials(home.path(), &["--region", "us-east-1", "executions"]);
    assert_eq!(none.status.code(), Some(1));
    assert_eq!(
        said(&none).trim(),
        "wildrydes: no AWS credentials were found: run `aws configure` (or `aws sso login --profile P` and give \
         --profile P), or set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    );
    let profile = without_credentials(home.path(), &["--region", "us-east-1", "--profile", "nope", "executions"]);
    assert_eq!(profile.status.code(), Some(1));
    let text = said(&profile);
    assert!(
        text.contains("no AWS credentials for the profile nope") && text.contains("aws sso login --profile nope"),
        "{text}"
    );
    let no_region = Command::new(env!("CARGO_BIN_EXE_wildrydes"))
        .args(["--aws", "--endpoint-url", "http://127.0.0.1:9", "executions"])
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("wildrydes runs");
    assert_eq!(
        said(&no_region).trim(),
        "wildrydes: no AWS region is set: give --region R, set AWS_REGION, or set a region in your profile"
    );

    // moto checking every request against IAM: moto's default keys belong to nobody.
    let strict = Moto::spawn_with(&venv.join("bin/moto_server"), &[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let denied = on_moto(&strict, &["executions"]);
    assert_eq!(denied.status.code(), Some(1));
    let text = said(&denied);
    assert!(text.contains("access denied") && text.contains("--profile"), "{text}");
    assert_eq!(text.lines().count(), 1, "one sentence: {text}");
}

/// The dashboard's screen, drawn on a TestBackend.
fn screen(app: &mut wildrydes::tui::app::App, width: u16, height: u16) -> String {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height)).expect("terminal");
    terminal.draw(|frame| wildrydes::tui::view::view(app, frame)).expect("drawn");
    let buffer = terminal.backend().buffer().clone();
    (0..height)
        .map(|y| (0..width).map(|x| buffer[(x, y)].symbol().to_string()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_dashboard_reads_a_stand_in_account_and_says_what_it_cannot_tell() {
    use wildrydes::tui::app::{Action, App, Loaded, Tab, update};
    use wildrydes::tui::load::{self, Source};
    let Some(venv) = test_venv("the_dashboard_reads_a_stand_in_account_and_says_what_it_cannot_tell") else {
        return;
    };
    let moto = Moto::spawn(&venv.join("bin/moto_server"));
    let c = clients(&moto).await;
    execution_in_moto(&c, "seen-in-the-dashboard").await;
    let names = wildrydes::workshop::WorkshopNames::for_account("123456789012", "us-east-1");
    let source = Source { ops: wildrydes::ops::Ops::new(c, names, None), deploy: None };
    let mut app = App::new("AWS (us-east-1)");

    // Executions: the account's execution (moto keeps it RUNNING and answers its history with
    // canned events, so its user is not known there).
    update(&mut app, Action::Key(crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char('2'))));
    update(&mut app, Action::Loaded(load::load(&source, Tab::Executions).await));
    let shown = screen(&mut app, 160, 48);
    assert!(shown.contains("seen-in-the-dashboard") && shown.contains("RiderPhotoProcessing-4"), "{shown}");

    // The Lab: what moto cannot answer (Rekognition) is unknown, not "not yet" or "done".
    update(&mut app, Action::Key(crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char('1'))));
    let Loaded::Lab(Ok(steps)) = load::load(&source, Tab::Lab).await else { panic!("the Lab loads") };
    update(&mut app, Action::Loaded(Loaded::Lab(Ok(steps))));
    let shown = screen(&mut app, 160, 48);
    assert!(shown.contains("? unknown"), "{shown}");
    assert!(!shown.contains("nothing of the workshop is left"), "{shown}");

    // Logs: none of the functions exist there, and the view says so rather than failing.
    let Loaded::Logs(logs) = load::load(&source, Tab::Logs).await else { panic!("logs load") };
    assert_eq!(logs.expect("read through CloudWatch Logs' client"), vec![]);
}

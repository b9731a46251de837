//! The S3 upload trigger: bucket notification configurations through the SDK (and what S3
//! refuses), then the deployed workshop, where a photo put under `uploads/<userId>/` starts
//! RiderPhotoProcessing-4 through the real `upload-trigger` function, once per upload,
//! with undelivered events delivered after a restart.

use std::time::Duration;

use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::{Value, json};
use wildrydes::deploy::{self, DeployOptions};
use wildrydes::local::lambda::Lambda;
use wildrydes::local::s3::S3;
use wildrydes::local::s3::notifications::{self, CreatedBy, CreatedObject};
use wildrydes::run;
use wildrydes::workshop::{TRIGGERED_STATE_MACHINE, UPLOAD_NOTIFICATION_ID, WorkshopNames};

use crate::common::TestCloud;
use crate::lambda::create_probe;
use crate::workflow::binaries_dir;

const SINK_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:sink";

fn lambda_config(
    id: Option<&str>,
    arn: &str,
    events: &[&str],
    prefix: Option<&str>,
    suffix: Option<&str>,
) -> LambdaFunctionConfiguration {
    let mut rules = Vec::new();
    if let Some(p) = prefix {
        rules.push(FilterRule::builder().name(FilterRuleName::Prefix).value(p).build());
    }
    if let Some(s) = suffix {
        rules.push(FilterRule::builder().name(FilterRuleName::Suffix).value(s).build());
    }
    let mut builder = LambdaFunctionConfiguration::builder().set_id(id.map(str::to_string)).lambda_function_arn(arn);
    for event in events {
        builder = builder.events(Event::from(*event));
    }
    if !rules.is_empty() {
        builder = builder.filter(
            NotificationConfigurationFilter::builder()
                .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
                .build(),
        );
    }
    builder.build().expect("a complete configuration")
}

async fn put_config(
    cloud: &TestCloud,
    bucket: &str,
    config: NotificationConfiguration,
) -> Result<(), (String, String)> {
    cloud
        .clients
        .s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(config)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            let service = e.as_service_error();
            (
                service.and_then(|s| s.code()).unwrap_or("no code").to_string(),
                service.and_then(|s| s.message()).unwrap_or_default().to_string(),
            )
        })
}

fn lambdas(configs: Vec<LambdaFunctionConfiguration>) -> NotificationConfiguration {
    NotificationConfiguration::builder().set_lambda_function_configurations(Some(configs)).build()
}

async fn get_lambdas(cloud: &TestCloud, bucket: &str) -> Vec<LambdaFunctionConfiguration> {
    let got = cloud.clients.s3.get_bucket_notification_configuration().bucket(bucket).send().await.expect("get");
    got.lambda_function_configurations().to_vec()
}

fn rules_of(config: &LambdaFunctionConfiguration) -> Vec<(String, String)> {
    let rules = config.filter().and_then(|f| f.key()).map(|k| k.filter_rules()).unwrap_or_default();
    rules
        .iter()
        .map(|r| {
            (r.name().map(|n| n.as_str().to_ascii_lowercase()).unwrap_or_default(), r.value().unwrap_or("").to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_notification_configurations_round_trip_and_bad_ones_get_s3s_errors() {
    let cloud = TestCloud::start().await;
    cloud.clients.s3.create_bucket().bucket("photos").send().await.expect("bucket");
    create_probe(&cloud, "sink").await;
    assert!(get_lambdas(&cloud, "photos").await.is_empty(), "a new bucket sends no notifications");

    let config = lambda_config(
        Some("uploads"),
        SINK_ARN,
        &["s3:ObjectCreated:Put", "s3:ObjectCreated:Copy"],
        Some("uploads/"),
        Some(".jpg"),
    );
    put_config(&cloud, "photos", lambdas(vec![config])).await.expect("a valid configuration is accepted");
    let got = get_lambdas(&cloud, "photos").await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].id(), Some("uploads"));
    assert_eq!(got[0].lambda_function_arn(), SINK_ARN);
    let events: Vec<&str> = got[0].events().iter().map(|e| e.as_str()).collect();
    assert_eq!(events, ["s3:ObjectCreated:Put", "s3:ObjectCreated:Copy"]);
    assert_eq!(rules_of(&got[0]), [("prefix".into(), "uploads/".into()), ("suffix".into(), ".jpg".into())]);

    // Without an Id, S3 makes one up.
    put_config(&cloud, "photos", lambdas(vec![lambda_config(None, SINK_ARN, &["s3:ObjectCreated:*"], None, None)]))
        .await
        .expect("no Id is fine");
    let got = get_lambdas(&cloud, "photos").await;
    assert!(got[0].id().is_some_and(|id| !id.is_empty()), "{got:?}");

    let refusals: Vec<(&str, NotificationConfiguration, &str)> = vec![
        (
            "an unknown event",
            lambdas(vec![lambda_config(None, SINK_ARN, &["s3:ObjectCreated:Everything"], None, None)]),
            "The event is not supported for notifications",
        ),
        (
            "a function that does not exist",
            lambdas(vec![lambda_config(
                None,
                "arn:aws:lambda:us-east-1:000000000000:function:nobody",
                &["s3:ObjectCreated:*"],
                None,
                None,
            )]),
            "Unable to validate the following destination configurations",
        ),
        (
            "overlapping prefixes for one event type",
            lambdas(vec![
                lambda_config(Some("a"), SINK_ARN, &["s3:ObjectCreated:*"], Some("uploads/"), None),
                lambda_config(Some("b"), SINK_ARN, &["s3:ObjectCreated:Put"], Some("uploads/user_a/"), None),
            ]),
            "Configurations overlap",
        ),
        (
            "an event the local cloud does not send",
            lambdas(vec![lambda_config(None, SINK_ARN, &["s3:ObjectRemoved:*"], None, None)]),
            "not supported by the local cloud",
        ),
        (
            "a queue destination",
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .queue_arn("arn:aws:sqs:us-east-1:000000000000:q")
                        .events(Event::from("s3:ObjectCreated:*"))
                        .build()
                        .unwrap(),
                )
                .build(),
            "not supported by the local cloud",
        ),
    ];
    for (what, config, message) in refusals {
        let (code, text) = put_config(&cloud, "photos", config).await.expect_err(what);
        assert_eq!(code, "InvalidArgument", "{what}: {text}");
        assert!(text.contains(message), "{what}: {text}");
    }
    assert_eq!(get_lambdas(&cloud, "photos").await.len(), 1, "a refused configuration changes nothing");

    // Configurations that share no event type, or whose prefixes do not overlap, coexist.
    put_config(
        &cloud,
        "photos",
        lambdas(vec![
            lambda_config(Some("a"), SINK_ARN, &["s3:ObjectCreated:Put"], Some("uploads/"), None),
            lambda_config(Some("b"), SINK_ARN, &["s3:ObjectCreated:Copy"], Some("uploads/"), None),
            lambda_config(Some("c"), SINK_ARN, &["s3:ObjectCreated:*"], Some("photos/"), None),
        ]),
    )
    .await
    .expect("disjoint configurations are accepted");
    assert_eq!(get_lambdas(&cloud, "photos").await.len(), 3);

    let (code, _) = put_config(&cloud, "no-such-bucket", lambdas(vec![])).await.expect_err("no bucket");
    assert_eq!(code, "NoSuchBucket");
    let err = cloud.clients.s3.get_bucket_notification_configuration().bucket("no-such-bucket").send().await;
    assert_eq!(err.expect_err("no bucket").as_service_error().and_then(|e| e.code()), Some("NoSuchBucket"));

    // An empty configuration turns notifications off; it survives a restart either way.
    let cloud = cloud.restart().await;
    assert_eq!(get_lambdas(&cloud, "photos").await.len(), 3, "the configuration is stored with the bucket");
    put_config(&cloud, "photos", NotificationConfiguration::builder().build()).await.expect("empty");
    assert!(get_lambdas(&cloud, "photos").await.is_empty());
}

/// The executions of `machine`, each with its input.
async fn executions(cloud: &TestCloud, machine: &str) -> Vec<(String, Value)> {
    let listed = cloud.clients.sfn.list_executions().state_machine_arn(machine).send().await.expect("list");
    let mut found = Vec::new();
    for execution in listed.executions() {
        let described = cloud
            .clients
            .sfn
            .describe_execution()
            .execution_arn(execution.execution_arn())
            .send()
            .await
            .expect("describe");
        let input = serde_json::from_str(described.input().unwrap_or("null")).expect("the input is JSON");
        found.push((execution.execution_arn().to_string(), input));
    }
    found
}

/// Waits for the execution an upload of `key` started (a bounded wait, so a missing
/// trigger fails the test instead of hanging it).
async fn execution_for(cloud: &TestCloud, machine: &str, key: &str) -> (String, Value) {
    for _ in 0..1200 {
        if let Some(found) = executions(cloud, machine).await.into_iter().find(|(_, input)| input["s3Key"] == key) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no execution of {machine} started for {key}: {:?}", executions(cloud, machine).await);
}

/// Waits until every recorded S3 event has been handled by its function.
async fn outbox_drained(cloud: &TestCloud) {
    let s3 = cloud.cloud.as_ref().expect("running").router().service::<S3>();
    for _ in 0..1200 {
        if s3.pending_events().await.expect("outbox").is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("S3 events still pending: {:?}", s3.pending_events().await);
}

async fn put(cloud: &TestCloud, bucket: &str, key: &str, bytes: &[u8]) {
    cloud.clients.s3.put_object().bucket(bucket).key(key).body(bytes.to_vec().into()).send().await.expect("upload");
}

/// Follows the execution to its end (SUCCEEDED either way) and says whether the photo was
/// accepted rather than refused through the notification state.
async fn accepted(cloud: &TestCloud, arn: &str) -> bool {
    let mut narrator = run::Narrator::default();
    let mut lines = Vec::new();
    let ending = run::follow(&cloud.clients, arn, &mut |event| lines.extend(narrator.line(event)))
        .await
        .expect("followed to its end");
    assert!(ending.succeeded(), "{ending:?}: {lines:?}");
    !lines.iter().any(|l| l.contains("PhotoDoesNotMeetRequirement"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_put_under_uploads_user_start_the_newest_state_machine_once_each_even_across_a_restart() {
    let mut cloud = TestCloud::start().await;
    let options = DeployOptions::local(binaries_dir());
    let outputs = deploy::deploy(&cloud.clients, &options, &mut |_| {}).await.expect("deploy");
    let trigger = outputs.upload_trigger_arn.clone().expect("the trigger is deployed locally by default");
    let machine = outputs.state_machine_arns[TRIGGERED_STATE_MACHINE].clone();
    let bucket = WorkshopNames::local().photo_bucket;
    let ours = get_lambdas(&cloud, &bucket).await;
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours[0].id(), Some(UPLOAD_NOTIFICATION_ID));
    assert_eq!(ours[0].lambda_function_arn(), trigger);
    assert_eq!(rules_of(&ours[0]), [("prefix".into(), "uploads/".into())]);
    assert!(executions(&cloud, &machine).await.is_empty(), "deploy's own selfies start nothing");

    // The happy face: the workflow runs to the end, the rider stored.
    let happy = include_bytes!("../assets/selfies/1_happy_face.jpg");
    put(&cloud, &bucket, "uploads/user_t/selfie.jpg", happy).await;
    let (arn, input) = execution_for(&cloud, &machine, "uploads/user_t/selfie.jpg").await;
    assert_eq!(input, json!({"userId": "user_t", "s3Bucket": bucket, "s3Key": "uploads/user_t/selfie.jpg"}));
    assert!(accepted(&cloud, &arn).await, "the happy face is accepted");

    // A space and unicode in the file name: the key reaches the workflow as stored.
    let key = "uploads/user_u/my selfie é.jpg";
    put(&cloud, &bucket, key, include_bytes!("../assets/selfies/5_same_person_1.jpg")).await;
    let (arn, input) = execution_for(&cloud, &machine, key).await;
    assert_eq!(input["userId"], "user_u");
    assert!(accepted(&cloud, &arn).await, "another person is accepted too");
    let rider = cloud
        .clients
        .dynamodb
        .get_item()
        .table_name(&outputs.riders_table)
        .key("Username", aws_sdk_dynamodb::types::AttributeValue::S("user_u".into()))
        .send()
        .await
        .expect("get rider");
    assert_eq!(rider.item().expect("user_u is stored")["s3key"].as_s().unwrap(), key);

    // A copy into uploads/ is an upload as well (ObjectCreated:Copy).
    cloud
        .clients
        .s3
        .copy_object()
        .bucket(&bucket)
        .key("uploads/user_c/copied.jpg")
        .copy_source(format!("{bucket}/4_no_face.jpg"))
        .send()
        .await
        .expect("copy");
    let (arn, input) = execution_for(&cloud, &machine, "uploads/user_c/copied.jpg").await;
    assert_eq!(input["userId"], "user_c");
    assert!(!accepted(&cloud, &arn).await, "no face: refused, through the notification");

    // Keys outside uploads/, or without a user folder, start nothing.
    put(&cloud, &bucket, "photos/user_x/selfie.jpg", happy).await;
    put(&cloud, &bucket, "uploads/selfie.jpg", happy).await;
    outbox_drained(&cloud).await;
    assert_eq!(executions(&cloud, &machine).await.len(), 3, "only the three uploads started executions");
    let router = cloud.cloud.as_ref().unwrap().router();
    let logs = router.service::<Lambda>().logs("wildrydes-upload-trigger", 500).await.expect("trigger logs");
    assert!(
        logs.iter().any(|l| l.message.contains("uploads/selfie.jpg") && l.message.contains("names no user")),
        "the trigger says why it skipped the key: {logs:?}"
    );

    // Events recorded but not delivered when the server stopped (a PUT acknowledged just
    // before a kill -9) are delivered after the restart; the same event twice starts one
    // execution.
    let object = CreatedObject {
        bucket: &bucket,
        key: "uploads/user_t/selfie.jpg",
        size: 1,
        etag: "e",
        created_by: CreatedBy::Put,
    };
    let at = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let message = notifications::event_message("us-east-1", UPLOAD_NOTIFICATION_ID, &object, at).to_string();
    cloud.cloud.take().expect("running").shutdown().await;
    let store = wildrydes::local::storage::Store::open(cloud.dir.path()).expect("the data directory opens");
    store
        .call_blocking(|conn| {
            notifications::record(conn, &trigger, &message)?;
            notifications::record(conn, &trigger, &message)
        })
        .expect("recorded");
    drop(store);
    let cloud = TestCloud::start_in(cloud.dir).await;
    outbox_drained(&cloud).await;
    let after = executions(&cloud, &machine).await;
    assert_eq!(after.len(), 4, "the undelivered event started one execution, its repeat none: {after:?}");
    let redelivered = after.iter().filter(|(_, input)| input["s3Key"] == "uploads/user_t/selfie.jpg").count();
    assert_eq!(redelivered, 2, "the first upload and the event delivered after the restart");
}

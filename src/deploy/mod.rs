//! Create-or-update of every workshop resource, through the SDK clients only, so the same
//! calls deploy to the local cloud and to AWS: on AWS the two IAM roles when none are given
//! (`roles`) and the functions' zips when none are given (`package`), the Rekognition
//! collection, the two buckets, the riders table, the six functions, the four state machines (placeholders
//! substituted with the functions' ARNs), the upload trigger (`trigger`: a function and
//! the photo bucket's notification, on by default locally, opt-in on AWS) and the test
//! selfies. Running it twice changes nothing the second time. [`cleanup`] deletes what it
//! made.
//!
//! Uses `cloud` and `workshop`, and `local::lambda::code::zip_bootstrap` to package a
//! function binary (the same bytes for the same binary, so an unchanged function is left
//! alone on either target); knows nothing of the dashboard or of the rest of the local
//! cloud.

pub mod cleanup;
mod functions;
mod package;
pub mod roles;
mod trigger;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use serde::Serialize;

use crate::cloud::{Clients, error_code, error_message, not_implemented};
use crate::workshop::{self, WorkshopNames};

pub use functions::{CodeSource, FunctionSettings, host_architecture};
pub use roles::Role;

/// What happened to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Deleted,
    AlreadyGone,
    /// The functions' zips were built.
    Built,
    /// The endpoint does not implement this call (a stand-in for AWS without the service):
    /// the resource is not there, and deploy went on without it.
    NotImplemented(&'static str),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Deleted => "deleted",
            Outcome::AlreadyGone => "already gone",
            Outcome::Built => "built",
            Outcome::NotImplemented(call) => return write!(f, "skipped: the endpoint does not implement {call}"),
        })
    }
}

/// Progress, reported as each resource is worked on and finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Working(String),
    Done { resource: String, outcome: Outcome },
}

/// Where deploy sends progress: the CLI prints it, the dashboard shows it.
pub type ProgressSink<'a> = &'a mut (dyn FnMut(Progress) + Send);

/// The target-specific parts of a deploy.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    pub names: WorkshopNames,
    pub functions: FunctionSettings,
    /// The functions' execution role.
    pub lambda_role: Role,
    /// The role Step Functions assumes to invoke the functions.
    pub states_role: Role,
    /// Upload `assets/selfies` to the rider photo bucket.
    pub upload_selfies: bool,
    /// Deploy the upload trigger (`None`: leave it out).
    pub upload_trigger: Option<UploadTrigger>,
}

/// How the upload trigger is deployed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadTrigger {
    /// Add the resource-policy statement that lets S3 invoke the function (AWS; the local
    /// cloud has no resource policies).
    pub grant_s3_invoke: bool,
}

/// A role ARN the local cloud accepts; it checks the shape, not IAM.
pub const LOCAL_LAMBDA_ROLE: &str = "arn:aws:iam::000000000000:role/wildrydes-lambda";
pub const LOCAL_STATES_ROLE: &str = "arn:aws:iam::000000000000:role/wildrydes-states";
/// Locally every SES identity is verified at once, so the notifications land in the outbox.
pub const LOCAL_NOTIFICATION_FROM: &str = "noreply@wildrydes.example";
pub const LOCAL_NOTIFICATION_TO: &str = "operator@wildrydes.example";

impl DeployOptions {
    /// The local cloud: fixed names, the workspace's binaries from `binaries`, and
    /// notifications sent (to the outbox) from a sender deploy verifies.
    pub fn local(binaries: PathBuf) -> Self {
        Self {
            names: WorkshopNames::local(),
            functions: FunctionSettings {
                code: CodeSource::Binaries(binaries),
                architecture: host_architecture(),
                notification: Some((LOCAL_NOTIFICATION_FROM.into(), LOCAL_NOTIFICATION_TO.into())),
                wait_for_aws: false,
            },
            lambda_role: Role::Given(LOCAL_LAMBDA_ROLE.into()),
            states_role: Role::Given(LOCAL_STATES_ROLE.into()),
            upload_selfies: true,
            upload_trigger: Some(UploadTrigger { grant_s3_invoke: false }),
        }
    }
}

/// What deploy made, under the names of the workshop's CloudFormation outputs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outputs {
    /// `FaceDetectionFunctionArn` … `PersistMetadataFunctionArn`.
    #[serde(flatten)]
    pub function_arns: BTreeMap<String, String>,
    #[serde(rename = "RiderPhotoS3Bucket")]
    pub photo_bucket: String,
    #[serde(rename = "ThumbnailS3Bucket")]
    pub thumbnail_bucket: String,
    #[serde(rename = "RiderPhotoDDBTable")]
    pub riders_table: String,
    /// State machine name → ARN.
    #[serde(rename = "StateMachineArns")]
    pub state_machine_arns: BTreeMap<String, String>,
    #[serde(rename = "CollectionId")]
    pub collection_id: String,
    /// The upload trigger, when deployed.
    #[serde(rename = "UploadTriggerFunctionArn", skip_serializing_if = "Option::is_none")]
    pub upload_trigger_arn: Option<String>,
}

/// Creates or updates every workshop resource, reporting each one to `progress`.
pub async fn deploy(clients: &Clients, options: &DeployOptions, progress: ProgressSink<'_>) -> anyhow::Result<Outputs> {
    let resource = format!("collection {}", options.names.collection);
    progress(Progress::Working(resource.clone()));
    let outcome = ensure_collection(clients, &options.names.collection).await.with_context(|| resource.clone())?;
    progress(Progress::Done { resource, outcome });
    let (mut outputs, functions) = resources(clients, options, progress).await?;
    let states_role = roles::states_role(clients, options, &outputs.function_arns, progress).await?;
    for (name, _) in workshop::STATE_MACHINES {
        let arn = state_machine(clients, &outputs.function_arns, name, &states_role, progress).await?;
        outputs.state_machine_arns.insert(name.to_string(), arn);
    }
    if let Some(trigger) = options.upload_trigger {
        outputs.upload_trigger_arn =
            Some(deploy_trigger(clients, options, &functions, trigger, &outputs, progress).await?);
    }
    Ok(outputs)
}

/// The scope of the workshop's CloudFormation stack (its section 2): the buckets, the table,
/// the email identity, the functions (with their role and zips, on AWS, when not given) and
/// the test selfies — not the collection (section 1) nor the state machines (sections 3–6),
/// which the attendee makes. The dashboard deploys this much on start; its Lab makes the
/// rest step by step, as the workshop does.
pub async fn deploy_resources(
    clients: &Clients,
    options: &DeployOptions,
    progress: ProgressSink<'_>,
) -> anyhow::Result<Outputs> {
    Ok(resources(clients, options, progress).await?.0)
}

/// The functions as deployed: their settings with the code packaged, and their role.
struct DeployedFunctions {
    settings: FunctionSettings,
    role_arn: String,
}

async fn resources(
    clients: &Clients,
    options: &DeployOptions,
    progress: ProgressSink<'_>,
) -> anyhow::Result<(Outputs, DeployedFunctions)> {
    let names = &options.names;
    // First: a build that cannot run (no cargo-lambda) fails before anything is made.
    let code = options.functions.code.prepared(&options.functions.architecture, progress).await?;
    let settings = FunctionSettings { code, ..options.functions.clone() };
    let mut outputs = Outputs {
        photo_bucket: names.photo_bucket.clone(),
        thumbnail_bucket: names.thumbnail_bucket.clone(),
        riders_table: names.riders_table.clone(),
        collection_id: names.collection.clone(),
        ..Outputs::default()
    };

    for bucket in [&names.photo_bucket, &names.thumbnail_bucket] {
        let resource = format!("bucket {bucket}");
        progress(Progress::Working(resource.clone()));
        let outcome = ensure_bucket(clients, bucket).await.with_context(|| resource.clone())?;
        progress(Progress::Done { resource, outcome });
    }

    let resource = format!("table {}", names.riders_table);
    progress(Progress::Working(resource.clone()));
    let outcome = ensure_table(clients, &names.riders_table, options.functions.wait_for_aws)
        .await
        .with_context(|| resource.clone())?;
    progress(Progress::Done { resource, outcome });

    if let Some((from, _)) = &options.functions.notification {
        let resource = format!("email identity {from}");
        progress(Progress::Working(resource.clone()));
        let outcome = ensure_email_identity(clients, from).await.with_context(|| resource.clone())?;
        progress(Progress::Done { resource, outcome });
    }

    let role_arn = roles::lambda_role(clients, options, progress).await?;
    for spec in workshop::FUNCTIONS {
        let resource = format!("function {}", spec.function_name());
        progress(Progress::Working(resource.clone()));
        let env = functions::environment(&spec, names, &settings);
        let (arn, outcome) = functions::ensure_function(clients, &spec, env, &settings, &role_arn)
            .await
            .with_context(|| resource.clone())?;
        outputs.function_arns.insert(spec.output.to_string(), arn);
        progress(Progress::Done { resource, outcome });
    }

    if options.upload_selfies {
        for (key, bytes) in workshop::SELFIES {
            let resource = format!("photo s3://{}/{key}", names.photo_bucket);
            progress(Progress::Working(resource.clone()));
            let outcome =
                ensure_object(clients, &names.photo_bucket, key, bytes).await.with_context(|| resource.clone())?;
            progress(Progress::Done { resource, outcome });
        }
    }
    Ok((outputs, DeployedFunctions { settings, role_arn }))
}

/// The trigger function (starting the newest state machine), S3's leave to invoke it
/// where asked, and the photo bucket's notification; returns the function's ARN.
async fn deploy_trigger(
    clients: &Clients,
    options: &DeployOptions,
    deployed: &DeployedFunctions,
    trigger: UploadTrigger,
    outputs: &Outputs,
    progress: ProgressSink<'_>,
) -> anyhow::Result<String> {
    let spec = workshop::UPLOAD_TRIGGER;
    let name = spec.function_name();
    let bucket = &options.names.photo_bucket;
    let state_machine = outputs
        .state_machine_arns
        .get(workshop::TRIGGERED_STATE_MACHINE)
        .with_context(|| format!("{} was not deployed", workshop::TRIGGERED_STATE_MACHINE))?;

    let resource = format!("function {name}");
    progress(Progress::Working(resource.clone()));
    let env = std::collections::HashMap::from([("STATE_MACHINE_ARN".to_string(), state_machine.clone())]);
    let (arn, outcome) = functions::ensure_function(clients, &spec, env, &deployed.settings, &deployed.role_arn)
        .await
        .with_context(|| resource.clone())?;
    progress(Progress::Done { resource, outcome });

    if trigger.grant_s3_invoke {
        let resource = format!("permission for s3://{bucket} to invoke {name}");
        progress(Progress::Working(resource.clone()));
        let outcome = trigger::ensure_permission(clients, &arn, bucket).await.with_context(|| resource.clone())?;
        progress(Progress::Done { resource, outcome });
    }

    let resource = format!("notification s3://{bucket}/{}* → {name}", workshop::UPLOAD_PREFIX);
    progress(Progress::Working(resource.clone()));
    let outcome = trigger::ensure_notification(clients, bucket, &arn).await.with_context(|| resource.clone())?;
    progress(Progress::Done { resource, outcome });
    Ok(arn)
}

/// Creates or updates the workshop's state machine `name` (one of
/// [`workshop::STATE_MACHINES`]) with its placeholders set to `function_arns`, and its role
/// on AWS when not given; returns its ARN.
pub async fn deploy_state_machine(
    clients: &Clients,
    options: &DeployOptions,
    function_arns: &BTreeMap<String, String>,
    name: &str,
    progress: ProgressSink<'_>,
) -> anyhow::Result<String> {
    let role_arn = roles::states_role(clients, options, function_arns, progress).await?;
    state_machine(clients, function_arns, name, &role_arn, progress).await
}

async fn state_machine(
    clients: &Clients,
    function_arns: &BTreeMap<String, String>,
    name: &str,
    role_arn: &str,
    progress: ProgressSink<'_>,
) -> anyhow::Result<String> {
    let Some((_, template)) = workshop::STATE_MACHINES.iter().find(|(n, _)| *n == name) else {
        anyhow::bail!("{name} is not one of the workshop's state machines")
    };
    let resource = format!("state machine {name}");
    progress(Progress::Working(resource.clone()));
    let definition = workshop::substitute(template, function_arns).with_context(|| resource.clone())?;
    let (arn, outcome) =
        ensure_state_machine(clients, name, &definition, role_arn).await.with_context(|| resource.clone())?;
    progress(Progress::Done { resource, outcome });
    Ok(arn)
}

/// The ARNs of the deployed functions, under their output names; a function that is not
/// there is an error saying to deploy the resources first.
pub async fn deployed_function_arns(clients: &Clients) -> anyhow::Result<BTreeMap<String, String>> {
    let mut arns = BTreeMap::new();
    for spec in workshop::FUNCTIONS {
        let name = spec.function_name();
        let found = match clients.lambda.get_function().function_name(&name).send().await {
            Ok(found) => found.configuration.and_then(|c| c.function_arn),
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => None,
            Err(e) => anyhow::bail!("looking for the function {name}: {}", error_message(&e)),
        };
        let Some(arn) = found else {
            anyhow::bail!("the function {name} is not deployed yet: deploy the resources first")
        };
        arns.insert(spec.output.to_string(), arn);
    }
    Ok(arns)
}

/// Creates the Rekognition collection `id` (the workshop's step 1), or finds it already there.
pub async fn ensure_collection(clients: &Clients, id: &str) -> anyhow::Result<Outcome> {
    match clients.rekognition.create_collection().collection_id(id).send().await {
        Ok(_) => Ok(Outcome::Created),
        Err(e) if error_code(&e) == Some("ResourceAlreadyExistsException") => Ok(Outcome::Unchanged),
        // A stand-in for AWS without Rekognition (moto): the rest of the workshop deploys
        // there, and the line says what is missing. AWS itself never answers so.
        Err(e) if not_implemented(&e) => Ok(Outcome::NotImplemented("Rekognition CreateCollection")),
        Err(e) => anyhow::bail!("{}", error_message(&e)),
    }
}

async fn ensure_bucket(clients: &Clients, bucket: &str) -> anyhow::Result<Outcome> {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    // In us-east-1 S3 answers 200 to creating a bucket you already own, so whether it
    // was there is asked first.
    if clients.s3.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(Outcome::Unchanged);
    }
    let mut request = clients.s3.create_bucket().bucket(bucket);
    // Outside us-east-1, S3 wants the region named again in the request body.
    if let Some(region) = clients.s3.config().region().map(|r| r.as_ref().to_string())
        && region != "us-east-1"
    {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    match request.send().await {
        Ok(_) => Ok(Outcome::Created),
        Err(e) if error_code(&e) == Some("BucketAlreadyOwnedByYou") => Ok(Outcome::Unchanged),
        Err(e) if error_code(&e) == Some("BucketAlreadyExists") => anyhow::bail!(
            "the bucket name {bucket} is taken by another AWS account (bucket names are global); {}",
            error_message(&e)
        ),
        Err(e) => anyhow::bail!("{}", error_message(&e)),
    }
}

async fn ensure_table(clients: &Clients, table: &str, wait_for_aws: bool) -> anyhow::Result<Outcome> {
    match clients.dynamodb.describe_table().table_name(table).send().await {
        Ok(_) => return Ok(Outcome::Unchanged),
        Err(e) if error_code(&e) == Some("ResourceNotFoundException") => {}
        Err(e) => anyhow::bail!("{}", error_message(&e)),
    }
    let key = "Username";
    clients
        .dynamodb
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name(key).attribute_type(ScalarAttributeType::S).build()?,
        )
        .key_schema(KeySchemaElement::builder().attribute_name(key).key_type(KeyType::Hash).build()?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", error_message(&e)))?;
    if wait_for_aws {
        use aws_sdk_dynamodb::client::Waiters;
        clients
            .dynamodb
            .wait_until_table_exists()
            .table_name(table)
            .wait(std::time::Duration::from_secs(300))
            .await
            .map_err(|e| anyhow::anyhow!("the table did not become ACTIVE: {e}"))?;
    }
    Ok(Outcome::Created)
}

async fn ensure_email_identity(clients: &Clients, address: &str) -> anyhow::Result<Outcome> {
    match clients.sesv2.create_email_identity().email_identity(address).send().await {
        Ok(_) => Ok(Outcome::Created),
        Err(e) if error_code(&e) == Some("AlreadyExistsException") => Ok(Outcome::Unchanged),
        Err(e) => anyhow::bail!("{}", error_message(&e)),
    }
}

/// The ARN of the state machine called `name`, if there is one.
pub async fn find_state_machine(clients: &Clients, name: &str) -> anyhow::Result<Option<String>> {
    let mut pages = clients.sfn.list_state_machines().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| anyhow::anyhow!("listing state machines: {}", error_message(&e)))?;
        if let Some(found) = page.state_machines().iter().find(|m| m.name() == name) {
            return Ok(Some(found.state_machine_arn().to_string()));
        }
    }
    Ok(None)
}

async fn ensure_state_machine(
    clients: &Clients,
    name: &str,
    definition: &str,
    role_arn: &str,
) -> anyhow::Result<(String, Outcome)> {
    if let Some(arn) = find_state_machine(clients, name).await? {
        let current = clients
            .sfn
            .describe_state_machine()
            .state_machine_arn(&arn)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", error_message(&e)))?;
        if same_json(current.definition(), definition) && current.role_arn() == role_arn {
            return Ok((arn, Outcome::Unchanged));
        }
        // A role made seconds ago may not be assumable by Step Functions yet.
        roles::while_role_propagates(|| {
            clients.sfn.update_state_machine().state_machine_arn(&arn).definition(definition).role_arn(role_arn).send()
        })
        .await
        .map_err(|e| anyhow::anyhow!("{}", error_message(&e)))?;
        return Ok((arn, Outcome::Updated));
    }
    let created = roles::while_role_propagates(|| {
        clients.sfn.create_state_machine().name(name).definition(definition).role_arn(role_arn).send()
    })
    .await
    .map_err(|e| anyhow::anyhow!("{}", error_message(&e)))?;
    Ok((created.state_machine_arn().to_string(), Outcome::Created))
}

/// Two definitions that differ only in whitespace are the same definition.
fn same_json(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Uploads `bytes` unless the object already holds them (its ETag is their MD5).
async fn ensure_object(clients: &Clients, bucket: &str, key: &str, bytes: &[u8]) -> anyhow::Result<Outcome> {
    use md5::Digest;
    let md5 = hex::encode(md5::Md5::digest(bytes));
    let existing = match clients.s3.head_object().bucket(bucket).key(key).send().await {
        Ok(head) => Some(head.e_tag().unwrap_or_default().trim_matches('"').to_string()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => None,
        Err(e) => anyhow::bail!("{}", error_message(&e)),
    };
    if existing.as_deref() == Some(md5.as_str()) {
        return Ok(Outcome::Unchanged);
    }
    clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type(key))
        .body(bytes.to_vec().into())
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", error_message(&e)))?;
    Ok(if existing.is_some() { Outcome::Updated } else { Outcome::Created })
}

/// The Content-Type for a photo's file name.
pub fn content_type(key: &str) -> &'static str {
    let lower = key.to_ascii_lowercase();
    if lower.ends_with(".png") {
        "image/png"
    } else if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
        "image/jpeg"
    } else {
        "application/octet-stream"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_serialise_under_the_workshops_output_names() {
        let outputs = Outputs {
            function_arns: BTreeMap::from([("FaceDetectionFunctionArn".into(), "arn:fd".into())]),
            photo_bucket: "p".into(),
            thumbnail_bucket: "t".into(),
            riders_table: "r".into(),
            state_machine_arns: BTreeMap::from([("RiderPhotoProcessing-1".into(), "arn:sm".into())]),
            collection_id: "rider-photos".into(),
            upload_trigger_arn: None,
        };
        let json = serde_json::to_value(&outputs).unwrap();
        assert_eq!(json["FaceDetectionFunctionArn"], "arn:fd");
        assert_eq!(json["RiderPhotoS3Bucket"], "p");
        assert_eq!(json["ThumbnailS3Bucket"], "t");
        assert_eq!(json["RiderPhotoDDBTable"], "r");
        assert_eq!(json["StateMachineArns"]["RiderPhotoProcessing-1"], "arn:sm");
        assert_eq!(json["CollectionId"], "rider-photos");
        assert!(json.get("UploadTriggerFunctionArn").is_none(), "no trigger, no output");
    }

    #[test]
    fn definitions_equal_up_to_whitespace_are_unchanged() {
        assert!(same_json("{\"a\": 1}", "{ \"a\":1 }"));
        assert!(!same_json("{\"a\": 1}", "{\"a\": 2}"));
    }
}

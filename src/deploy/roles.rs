//! The two IAM roles a deploy to AWS needs, made when none are given: the functions'
//! execution role (trusted by lambda.amazonaws.com) and the state machines' role (trusted
//! by states.amazonaws.com). Each gets one inline policy granting what the workshop's SAM
//! template (`statemachine/template.yaml`) grants its functions and state machine, scoped to
//! this deploy's collection, buckets, table, email identity and functions. Create-or-update
//! like the rest of deploy; [`delete`] removes a role made here with its policies.
//!
//! IAM is eventually consistent: a role made seconds ago may not yet be assumable by
//! Lambda or Step Functions. [`while_role_propagates`] retries the calls that say so.
//!
//! Uses `cloud` and `workshop`; deploy and cleanup call it.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{DeployOptions, Outcome, Progress, ProgressSink};
use crate::cloud::{Clients, error_code, error_message};
use crate::workshop;

/// A role deploy uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Given by its ARN: used as it is, never changed or deleted.
    Given(String),
    /// Made (and kept up to date) by deploy under this name, deleted by cleanup.
    Made(String),
}

/// The names of the roles deploy makes in `region`. IAM names are global to the account,
/// and the policies name regional resources: one pair per region.
pub fn made_names(region: &str) -> (String, String) {
    (format!("wildrydes-lambda-{region}"), format!("wildrydes-states-{region}"))
}

/// The one inline policy of a role made here.
const POLICY_NAME: &str = "wildrydes";

/// Where ARNs of this account point: taken from a role's own ARN
/// (`arn:PARTITION:iam::ACCOUNT:role/NAME`), so no other call is needed.
struct Scope {
    partition: String,
    account: String,
    region: String,
}

impl Scope {
    fn of(role_arn: &str, region: &str) -> anyhow::Result<Self> {
        let parts: Vec<&str> = role_arn.split(':').collect();
        match parts.as_slice() {
            ["arn", partition, "iam", "", account, _] => {
                Ok(Scope { partition: partition.to_string(), account: account.to_string(), region: region.into() })
            }
            _ => anyhow::bail!("IAM answered a role ARN of an unknown shape: {role_arn}"),
        }
    }

    /// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
    fn arn(&self, service: &str, resource: &str) -> String {
        format!("arn:{}:{service}:{}:{}:{resource}", self.partition, self.region, self.account)
    }
}

fn trust_policy(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" }]
    })
}

/// What the functions do, as the SAM template grants it: their own log groups; DetectFaces
/// (not a resource-level action); search and index in the collection; read the photos
/// (Rekognition reads them with the caller's rights); write thumbnails; write riders; send
/// from the notification's identity; and, with the upload trigger, start its state machine.
fn lambda_policy(scope: &Scope, options: &DeployOptions) -> Value {
    let names = &options.names;
    let p = &scope.partition;
    let log_groups = scope.arn("logs", "log-group:/aws/lambda/wildrydes-*");
    let mut statements = vec![
        json!({ "Sid": "Logs", "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [log_groups.clone(), format!("{log_groups}:*")] }),
        json!({ "Sid": "DetectFaces", "Effect": "Allow", "Action": ["rekognition:DetectFaces"], "Resource": "*" }),
        json!({ "Sid": "Collection", "Effect": "Allow",
                "Action": ["rekognition:SearchFacesByImage", "rekognition:IndexFaces"],
                "Resource": scope.arn("rekognition", &format!("collection/{}", names.collection)) }),
        json!({ "Sid": "ReadPhotos", "Effect": "Allow", "Action": ["s3:GetObject"],
                "Resource": format!("arn:{p}:s3:::{}/*", names.photo_bucket) }),
        // Without ListBucket a missing photo is "AccessDenied" rather than "NoSuchKey".
        json!({ "Sid": "ListPhotos", "Effect": "Allow", "Action": ["s3:ListBucket"],
                "Resource": format!("arn:{p}:s3:::{}", names.photo_bucket) }),
        json!({ "Sid": "Thumbnails", "Effect": "Allow", "Action": ["s3:PutObject"],
                "Resource": format!("arn:{p}:s3:::{}/*", names.thumbnail_bucket) }),
        json!({ "Sid": "Riders", "Effect": "Allow", "Action": ["dynamodb:PutItem"],
                "Resource": scope.arn("dynamodb", &format!("table/{}", names.riders_table)) }),
    ];
    if let Some((from, _)) = &options.functions.notification {
        statements.push(json!({ "Sid": "Notification", "Effect": "Allow", "Action": ["ses:SendEmail"],
                                "Resource": scope.arn("ses", &format!("identity/{from}")) }));
    }
    if options.upload_trigger.is_some() {
        statements.push(json!({ "Sid": "UploadTrigger", "Effect": "Allow", "Action": ["states:StartExecution"],
            "Resource": scope.arn("states", &format!("stateMachine:{}", workshop::TRIGGERED_STATE_MACHINE)) }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// What the state machines do: invoke the six functions (any version or alias of them, as
/// SAM's LambdaInvokePolicy grants).
fn states_policy(function_arns: &[&str]) -> Value {
    let resources: Vec<String> = function_arns.iter().flat_map(|arn| [arn.to_string(), format!("{arn}:*")]).collect();
    json!({
        "Version": "2012-10-17",
        "Statement": [{ "Sid": "InvokeFunctions", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                        "Resource": resources }]
    })
}

/// The functions' role ARN: the given one, or the made one brought up to date.
pub async fn lambda_role(
    clients: &Clients,
    options: &DeployOptions,
    progress: ProgressSink<'_>,
) -> anyhow::Result<String> {
    match &options.lambda_role {
        Role::Given(arn) => Ok(arn.clone()),
        Role::Made(name) => {
            ensure(clients, name, "lambda.amazonaws.com", &|scope: &Scope| lambda_policy(scope, options), progress)
                .await
        }
    }
}

/// The state machines' role ARN: the given one, or the made one allowed to invoke
/// `function_arns` (the six functions' ARNs under their output names).
pub async fn states_role(
    clients: &Clients,
    options: &DeployOptions,
    function_arns: &std::collections::BTreeMap<String, String>,
    progress: ProgressSink<'_>,
) -> anyhow::Result<String> {
    match &options.states_role {
        Role::Given(arn) => Ok(arn.clone()),
        Role::Made(name) => {
            let arns: Vec<&str> = workshop::FUNCTIONS
                .iter()
                .filter_map(|spec| function_arns.get(spec.output).map(String::as_str))
                .collect();
            ensure(clients, name, "states.amazonaws.com", &|_: &Scope| states_policy(&arns), progress).await
        }
    }
}

/// Creates the role `name` trusted by `service` with the inline policy `policy` gives, or
/// brings trust and policy up to date; returns the role's ARN.
async fn ensure(
    clients: &Clients,
    name: &str,
    service: &str,
    policy: &(dyn Fn(&Scope) -> Value + Sync),
    progress: ProgressSink<'_>,
) -> anyhow::Result<String> {
    let resource = format!("role {name}");
    progress(Progress::Working(resource.clone()));
    let result = ensure_role(clients, name, service, policy).await;
    let (arn, outcome) = result.map_err(|e| e.context(resource.clone()))?;
    progress(Progress::Done { resource, outcome });
    Ok(arn)
}

async fn ensure_role(
    clients: &Clients,
    name: &str,
    service: &str,
    policy: &(dyn Fn(&Scope) -> Value + Sync),
) -> anyhow::Result<(String, Outcome)> {
    let trust = trust_policy(service);
    let (arn, mut outcome) = match clients.iam.get_role().role_name(name).send().await {
        Ok(found) => {
            let role = found.role.ok_or_else(|| anyhow::anyhow!("IAM answered GetRole without the role"))?;
            let mut outcome = Outcome::Unchanged;
            if !same_document(role.assume_role_policy_document(), &trust) {
                clients
                    .iam
                    .update_assume_role_policy()
                    .role_name(name)
                    .policy_document(trust.to_string())
                    .send()
                    .await
                    .map_err(|e| anyhow::anyhow!("updating who may assume it: {}", error_message(&e)))?;
                outcome = Outcome::Updated;
            }
            (role.arn, outcome)
        }
        Err(e) if error_code(&e) == Some("NoSuchEntity") => {
            let created = clients
                .iam
                .create_role()
                .role_name(name)
                .assume_role_policy_document(trust.to_string())
                .description("Wild Rydes workshop: made by `wildrydes --aws deploy`, deleted by its cleanup")
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("{}", error_message(&e)))?;
            let role = created.role.ok_or_else(|| anyhow::anyhow!("IAM answered CreateRole without the role"))?;
            (role.arn, Outcome::Created)
        }
        Err(e) => anyhow::bail!("{}", error_message(&e)),
    };

    let region = clients.lambda.config().region().map(|r| r.to_string()).unwrap_or_default();
    let wanted = policy(&Scope::of(&arn, &region)?);
    let current = match clients.iam.get_role_policy().role_name(name).policy_name(POLICY_NAME).send().await {
        Ok(found) => Some(found.policy_document),
        Err(e) if error_code(&e) == Some("NoSuchEntity") => None,
        Err(e) => anyhow::bail!("reading its policy: {}", error_message(&e)),
    };
    if !current.as_deref().is_some_and(|doc| same_document(Some(doc), &wanted)) {
        clients
            .iam
            .put_role_policy()
            .role_name(name)
            .policy_name(POLICY_NAME)
            .policy_document(wanted.to_string())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("writing its policy: {}", error_message(&e)))?;
        if outcome == Outcome::Unchanged {
            outcome = Outcome::Updated;
        }
    }
    Ok((arn, outcome))
}

/// IAM answers policy documents URL-encoded (RFC 3986); equal up to encoding and
/// whitespace is the same document.
fn same_document(answered: Option<&str>, wanted: &Value) -> bool {
    let Some(answered) = answered else { return false };
    let decoded = percent_encoding::percent_decode_str(answered).decode_utf8_lossy();
    serde_json::from_str::<Value>(&decoded).is_ok_and(|doc| &doc == wanted)
}

/// Deletes a role deploy made: its inline policies and attached managed policies first, as
/// IAM requires. A given role is left alone.
pub async fn delete(clients: &Clients, role: &Role) -> Option<(String, anyhow::Result<Outcome>)> {
    let Role::Made(name) = role else { return None };
    Some((format!("role {name}"), delete_role(clients, name).await))
}

async fn delete_role(clients: &Clients, name: &str) -> anyhow::Result<Outcome> {
    let inline = match clients.iam.list_role_policies().role_name(name).send().await {
        Ok(listed) => listed.policy_names,
        Err(e) if error_code(&e) == Some("NoSuchEntity") => return Ok(Outcome::AlreadyGone),
        Err(e) => anyhow::bail!("listing its policies: {}", error_message(&e)),
    };
    for policy in inline {
        clients
            .iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(&policy)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("deleting its policy {policy}: {}", error_message(&e)))?;
    }
    let attached = clients
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("listing its attached policies: {}", error_message(&e)))?;
    for policy in attached.attached_policies() {
        let Some(arn) = policy.policy_arn() else { continue };
        clients
            .iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("detaching {arn}: {}", error_message(&e)))?;
    }
    match clients.iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(Outcome::Deleted),
        Err(e) if error_code(&e) == Some("NoSuchEntity") => Ok(Outcome::AlreadyGone),
        Err(e) => anyhow::bail!("{}", error_message(&e)),
    }
}

/// How long a role may take to become assumable: AWS documents "a few seconds"; in practice
/// up to about ten. The bound keeps a role that never will be (a wrong ARN) from hanging.
const PROPAGATION_BOUND: Duration = Duration::from_secs(60);

/// Makes `call` again, with backoff, while its answer is that the role cannot be assumed
/// yet; any other answer (and that one past the bound) is returned as it is.
pub async fn while_role_propagates<T, E, F, Fut>(
    mut call: F,
) -> Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>>,
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    let deadline = Instant::now() + PROPAGATION_BOUND;
    let mut delay = Duration::from_secs(1);
    loop {
        match call().await {
            Err(e) if role_not_assumable_yet(&e) && Instant::now() + delay < deadline => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(8));
            }
            answered => return answered,
        }
    }
}

/// Lambda: InvalidParameterValueException "The role defined for the function cannot be
/// assumed by Lambda." Step Functions: AccessDeniedException "Neither the global service
/// principal states.amazonaws.com, nor the regional one is authorized to assume the provided
/// role."
fn role_not_assumable_yet<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    let Some(service) = e.as_service_error() else { return false };
    let message = service.message().unwrap_or_default();
    match service.code() {
        Some("InvalidParameterValueException") => message.contains("cannot be assumed"),
        Some("AccessDeniedException") => message.contains("authorized to assume"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workshop::WorkshopNames;

    fn options() -> DeployOptions {
        let mut options = DeployOptions::local(std::path::PathBuf::from("/nonexistent"));
        options.names = WorkshopNames::for_account("123456789012", "eu-west-1");
        options.functions.notification = None;
        options.upload_trigger = None;
        options
    }

    #[test]
    fn the_functions_policy_names_only_this_deploys_resources() {
        let scope = Scope::of("arn:aws:iam::123456789012:role/wildrydes-lambda-eu-west-1", "eu-west-1").unwrap();
        let policy = lambda_policy(&scope, &options()).to_string();
        assert!(policy.contains("arn:aws:s3:::wildrydes-riderphotos-123456789012-eu-west-1/*"), "{policy}");
        assert!(policy.contains("arn:aws:s3:::wildrydes-thumbnails-123456789012-eu-west-1/*"), "{policy}");
        assert!(policy.contains("arn:aws:dynamodb:eu-west-1:123456789012:table/"), "{policy}");
        assert!(policy.contains("arn:aws:rekognition:eu-west-1:123456789012:collection/rider-photos"), "{policy}");
        assert!(!policy.contains("ses:") && !policy.contains("states:"), "nothing asked for, nothing granted");

        let mut asked = options();
        asked.functions.notification = Some(("from@x.example".into(), "to@x.example".into()));
        asked.upload_trigger = Some(super::super::UploadTrigger { grant_s3_invoke: true });
        let policy = lambda_policy(&scope, &asked).to_string();
        assert!(policy.contains("arn:aws:ses:eu-west-1:123456789012:identity/from@x.example"), "{policy}");
        assert!(policy.contains("arn:aws:states:eu-west-1:123456789012:stateMachine:RiderPhotoProcessing-4"));
    }

    #[test]
    fn the_state_machines_may_invoke_the_functions_and_their_versions() {
        let policy = states_policy(&["arn:aws:lambda:eu-west-1:1:function:a"]);
        assert_eq!(
            policy["Statement"][0]["Resource"],
            json!(["arn:aws:lambda:eu-west-1:1:function:a", "arn:aws:lambda:eu-west-1:1:function:a:*"])
        );
    }

    #[test]
    fn documents_iam_answers_url_encoded_compare_as_json() {
        let wanted = trust_policy("lambda.amazonaws.com");
        let encoded: String =
            percent_encoding::utf8_percent_encode(&wanted.to_string(), percent_encoding::NON_ALPHANUMERIC).to_string();
        assert!(same_document(Some(&encoded), &wanted));
        assert!(!same_document(Some(&encoded), &trust_policy("states.amazonaws.com")));
        assert!(!same_document(None, &wanted));
        assert!(Scope::of("arn:aws:iam::123456789012:role/x", "us-east-1").is_ok());
        assert!(Scope::of("not-an-arn", "us-east-1").is_err());
    }
}

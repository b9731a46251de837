//! The upload trigger (the workshop's "S3 upload event"): the function that starts the
//! newest state machine, and the rider photo bucket's notification that calls it for each
//! object created under `uploads/`. The same calls on both targets; on AWS, S3 also needs leave
//! to invoke the function (a resource-policy statement for `s3.amazonaws.com`), and the
//! function's role must allow `states:StartExecution` on the state machine — roles are
//! not made here (the SAM template makes them).

use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, S3KeyFilter,
};

use super::Outcome;
use crate::cloud::{Clients, error_code, error_message};
use crate::workshop::{UPLOAD_NOTIFICATION_ID, UPLOAD_PREFIX};

/// The event type the trigger listens to: every way an object is created.
const EVENT: &str = "s3:ObjectCreated:*";
/// The resource-policy statement that lets S3 invoke the trigger on AWS.
const PERMISSION_ID: &str = "wildrydes-s3-upload-trigger";

/// Lets S3 invoke `function_arn` for events of `bucket` (AWS only; the local cloud has no
/// resource policies). A statement already there is left as it is.
pub async fn ensure_permission(clients: &Clients, function_arn: &str, bucket: &str) -> anyhow::Result<Outcome> {
    let mut request = clients
        .lambda
        .add_permission()
        .function_name(function_arn)
        .statement_id(PERMISSION_ID)
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .source_arn(format!("arn:aws:s3:::{bucket}"));
    // The bucket's owner: bucket ARNs carry no account, so S3's calls are pinned to ours.
    if let Some(account) = function_arn.split(':').nth(4).filter(|a| !a.is_empty()) {
        request = request.source_account(account);
    }
    match request.send().await {
        Ok(_) => Ok(Outcome::Created),
        Err(e) if error_code(&e) == Some("ResourceConflictException") => Ok(Outcome::Unchanged),
        Err(e) => anyhow::bail!("{}", error_message(&e)),
    }
}

/// The configuration deploy puts on the photo bucket.
fn wanted(function_arn: &str) -> anyhow::Result<LambdaFunctionConfiguration> {
    let prefix = FilterRule::builder().name(FilterRuleName::Prefix).value(UPLOAD_PREFIX).build();
    Ok(LambdaFunctionConfiguration::builder()
        .id(UPLOAD_NOTIFICATION_ID)
        .lambda_function_arn(function_arn)
        .events(Event::from(EVENT))
        .filter(
            NotificationConfigurationFilter::builder().key(S3KeyFilter::builder().filter_rules(prefix).build()).build(),
        )
        .build()?)
}

/// Whether two configurations say the same, whatever case S3 gives the rule names in.
fn same(a: &LambdaFunctionConfiguration, b: &LambdaFunctionConfiguration) -> bool {
    let rules = |c: &LambdaFunctionConfiguration| {
        let mut rules: Vec<(String, String)> = c
            .filter()
            .and_then(|f| f.key())
            .map(|k| k.filter_rules())
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let name = r.name().map(|n| n.as_str().to_ascii_lowercase()).unwrap_or_default();
                (name, r.value().unwrap_or_default().to_string())
            })
            .collect();
        rules.sort();
        rules
    };
    let events = |c: &LambdaFunctionConfiguration| {
        let mut events: Vec<String> = c.events().iter().map(|e| e.as_str().to_string()).collect();
        events.sort();
        events
    };
    a.lambda_function_arn() == b.lambda_function_arn() && events(a) == events(b) && rules(a) == rules(b)
}

/// The bucket's current configuration, or `None` when the bucket is gone.
async fn current(clients: &Clients, bucket: &str) -> anyhow::Result<Option<NotificationConfiguration>> {
    match clients.s3.get_bucket_notification_configuration().bucket(bucket).send().await {
        Ok(c) => Ok(Some(
            NotificationConfiguration::builder()
                .set_lambda_function_configurations(c.lambda_function_configurations)
                .set_queue_configurations(c.queue_configurations)
                .set_topic_configurations(c.topic_configurations)
                .set_event_bridge_configuration(c.event_bridge_configuration)
                .build(),
        )),
        Err(e) if error_code(&e) == Some("NoSuchBucket") => Ok(None),
        Err(e) => anyhow::bail!("{}", error_message(&e)),
    }
}

/// `config` with the lambda configurations replaced by `lambdas`; the other destinations
/// (someone else's, on AWS) are kept as they are.
async fn put(
    clients: &Clients,
    bucket: &str,
    config: NotificationConfiguration,
    lambdas: Vec<LambdaFunctionConfiguration>,
) -> anyhow::Result<()> {
    let config = NotificationConfiguration::builder()
        .set_lambda_function_configurations((!lambdas.is_empty()).then_some(lambdas))
        .set_queue_configurations(config.queue_configurations)
        .set_topic_configurations(config.topic_configurations)
        .set_event_bridge_configuration(config.event_bridge_configuration)
        .build();
    clients
        .s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(config)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", error_message(&e)))?;
    Ok(())
}

/// Sends the bucket's `uploads/` events to `function_arn`, keeping its other configurations.
pub async fn ensure_notification(clients: &Clients, bucket: &str, function_arn: &str) -> anyhow::Result<Outcome> {
    let Some(config) = current(clients, bucket).await? else {
        anyhow::bail!("the bucket {bucket} does not exist");
    };
    let wanted = wanted(function_arn)?;
    let mut lambdas = config.lambda_function_configurations.clone().unwrap_or_default();
    let ours = lambdas.iter().position(|c| c.id() == Some(UPLOAD_NOTIFICATION_ID));
    let outcome = match ours {
        Some(i) if same(&lambdas[i], &wanted) => return Ok(Outcome::Unchanged),
        Some(i) => {
            lambdas[i] = wanted;
            Outcome::Updated
        }
        None => {
            lambdas.push(wanted);
            Outcome::Created
        }
    };
    put(clients, bucket, config, lambdas).await?;
    Ok(outcome)
}

/// Removes deploy's configuration from the bucket, leaving any other.
pub async fn remove_notification(clients: &Clients, bucket: &str) -> anyhow::Result<Outcome> {
    let Some(config) = current(clients, bucket).await? else { return Ok(Outcome::AlreadyGone) };
    let mut lambdas = config.lambda_function_configurations.clone().unwrap_or_default();
    let before = lambdas.len();
    lambdas.retain(|c| c.id() != Some(UPLOAD_NOTIFICATION_ID));
    if lambdas.len() == before {
        return Ok(Outcome::AlreadyGone);
    }
    put(clients, bucket, config, lambdas).await?;
    Ok(Outcome::Deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_differing_only_in_rule_name_case_are_the_same() {
        let a = wanted("arn:aws:lambda:us-east-1:000000000000:function:f").unwrap();
        let mut b = a.clone();
        b.filter = Some(
            NotificationConfigurationFilter::builder()
                .key(
                    S3KeyFilter::builder()
                        .filter_rules(
                            FilterRule::builder().name(FilterRuleName::from("Prefix")).value("uploads/").build(),
                        )
                        .build(),
                )
                .build(),
        );
        assert!(same(&a, &b));
        let other = wanted("arn:aws:lambda:us-east-1:000000000000:function:g").unwrap();
        assert!(!same(&a, &other));
    }
}

//! The workshop's clean-up: delete everything deploy made, emptying the buckets first and
//! the roles it made (not given ones) last. A resource that is already gone is reported as
//! such, so running it twice is safe.

use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::{DeployOptions, Outcome, Progress, ProgressSink, find_state_machine, roles, trigger};
use crate::cloud::{Clients, error_code, error_message, not_implemented};
use crate::workshop;

/// Deletes every workshop resource that `options` names, reporting each one.
pub async fn cleanup(clients: &Clients, options: &DeployOptions, progress: ProgressSink<'_>) -> anyhow::Result<()> {
    let names = &options.names;
    let mut step = |resource: String, work: anyhow::Result<Outcome>| -> anyhow::Result<()> {
        let outcome = work.map_err(|e| e.context(resource.clone()))?;
        progress(Progress::Done { resource, outcome });
        Ok(())
    };

    // The upload trigger first, so nothing starts while the rest goes. Whether or not
    // this deploy made it: removing what is not there is harmless.
    let trigger_name = workshop::UPLOAD_TRIGGER.function_name();
    let work = trigger::remove_notification(clients, &names.photo_bucket).await;
    step(format!("notification s3://{}/{}* → {trigger_name}", names.photo_bucket, workshop::UPLOAD_PREFIX), work)?;
    let work = deleted(
        clients.lambda.delete_function().function_name(&trigger_name).send().await,
        "ResourceNotFoundException",
    );
    step(format!("function {trigger_name}"), work)?;

    for (name, _) in workshop::STATE_MACHINES {
        step(format!("state machine {name}"), delete_state_machine(clients, name).await)?;
    }
    for spec in workshop::FUNCTIONS {
        let name = spec.function_name();
        let work =
            deleted(clients.lambda.delete_function().function_name(&name).send().await, "ResourceNotFoundException");
        step(format!("function {name}"), work)?;
    }
    let work = deleted(
        clients.dynamodb.delete_table().table_name(&names.riders_table).send().await,
        "ResourceNotFoundException",
    );
    step(format!("table {}", names.riders_table), work)?;
    for bucket in [&names.photo_bucket, &names.thumbnail_bucket] {
        step(format!("bucket {bucket}"), empty_and_delete_bucket(clients, bucket).await)?;
    }
    let work = match clients.rekognition.delete_collection().collection_id(&names.collection).send().await {
        // A stand-in without Rekognition: deploy could not make it either.
        Err(e) if not_implemented(&e) => Ok(Outcome::NotImplemented("Rekognition DeleteCollection")),
        answered => deleted(answered, "ResourceNotFoundException"),
    };
    step(format!("collection {}", names.collection), work)?;
    if let Some((from, _)) = &options.functions.notification {
        let work =
            deleted(clients.sesv2.delete_email_identity().email_identity(from).send().await, "NotFoundException");
        step(format!("email identity {from}"), work)?;
    }
    // Last: until the functions and state machines are gone, they are still using them.
    for role in [&options.states_role, &options.lambda_role] {
        if let Some((resource, work)) = roles::delete(clients, role).await {
            step(resource, work)?;
        }
    }
    Ok(())
}

/// A delete's outcome: done, or the resource was not there (AWS's `gone` code for it).
fn deleted<T, E>(
    result: Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
    gone: &str,
) -> anyhow::Result<Outcome>
where
    E: std::error::Error + aws_smithy_types::error::metadata::ProvideErrorMetadata + 'static,
{
    match result {
        Ok(_) => Ok(Outcome::Deleted),
        Err(e) if error_code(&e) == Some(gone) => Ok(Outcome::AlreadyGone),
        Err(e) => Err(anyhow::anyhow!("{}", error_message(&e))),
    }
}

async fn delete_state_machine(clients: &Clients, name: &str) -> anyhow::Result<Outcome> {
    let Some(arn) = find_state_machine(clients, name).await? else { return Ok(Outcome::AlreadyGone) };
    deleted(clients.sfn.delete_state_machine().state_machine_arn(&arn).send().await, "StateMachineDoesNotExist")
}

/// S3 refuses to delete a bucket with objects in it: delete them, a page at a time.
async fn empty_and_delete_bucket(clients: &Clients, bucket: &str) -> anyhow::Result<Outcome> {
    let mut pages = clients.s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(e) if error_code(&e) == Some("NoSuchBucket") => return Ok(Outcome::AlreadyGone),
            Err(e) => anyhow::bail!("listing its objects: {}", error_message(&e)),
        };
        let keys: Vec<ObjectIdentifier> = page
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .filter_map(|key| ObjectIdentifier::builder().key(key).build().ok())
            .collect();
        if keys.is_empty() {
            continue;
        }
        let deleted = clients
            .s3
            .delete_objects()
            .bucket(bucket)
            .delete(Delete::builder().set_objects(Some(keys)).quiet(true).build()?)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("deleting its objects: {}", error_message(&e)))?;
        if let Some(failed) = deleted.errors().first() {
            anyhow::bail!(
                "could not delete s3://{bucket}/{}: {}",
                failed.key().unwrap_or_default(),
                failed.message().unwrap_or_default()
            );
        }
    }
    deleted(clients.s3.delete_bucket().bucket(bucket).send().await, "NoSuchBucket")
}

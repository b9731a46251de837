//! The dashboard's actions on the target (start, stop, rerun, redrive, delete faces, find
//! duplicates). Each runs in a background task and ends in one [`Loaded`] action: what it
//! did, or a sentence saying why it could not.

use super::app::Loaded;
use super::load::{Source, sdk_message};

/// An error of the shared CLI code as a sentence for the dashboard: its whole chain, with
/// a capital letter and a full stop.
pub fn sentence(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return "Something failed without saying why.".into(),
    };
    if !out.ends_with(['.', '!', '?', ')']) {
        out.push('.');
    }
    out
}

/// Uploads a file from disk into the rider photo bucket (the Photos view's upload form).
pub async fn upload(source: &Source, path: &str) -> Loaded {
    let bucket = &source.names.photo_bucket;
    let path = path.trim();
    let result = crate::run::upload_photo(&source.clients, bucket, std::path::Path::new(path)).await;
    Loaded::Done(result.map(|key| format!("Uploaded {path} to {bucket}/{key}.")).map_err(|e| sentence(&e)))
}

/// Finds a state machine's ARN by its name.
async fn machine_arn(source: &Source, name: &str) -> Result<String, String> {
    let mut pages = source.clients.sfn.list_state_machines().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_message(&e))?;
        if let Some(m) = page.state_machines().iter().find(|m| m.name() == name || m.state_machine_arn() == name) {
            return Ok(m.state_machine_arn().to_string());
        }
    }
    Err(format!("There is no state machine named {name}."))
}

/// Starts an execution with the workshop's input shape. A photo that is a file on disk is
/// uploaded to the rider photo bucket first; anything else is a key already there.
pub async fn start(source: &Source, machine: &str, photo: &str, user: &str) -> Loaded {
    Loaded::Done(start_inner(source, machine, photo, user).await)
}

async fn start_inner(source: &Source, machine: &str, photo: &str, user: &str) -> Result<String, String> {
    let arn = machine_arn(source, machine).await?;
    let bucket = &source.names.photo_bucket;
    let key = crate::run::photo_key(&source.clients, bucket, photo).await.map_err(|e| sentence(&e))?;
    let input = crate::run::workflow_input(user, bucket, &key);
    let started = source
        .clients
        .sfn
        .start_execution()
        .state_machine_arn(&arn)
        .input(input)
        .send()
        .await
        .map_err(|e| format!("Starting {machine} failed: {}", sdk_message(&e)))?;
    let name = started.execution_arn().rsplit(':').next().unwrap_or_default();
    Ok(format!("Started {name} on {machine} for {user} with {bucket}/{key}."))
}

pub async fn stop(source: &Source, arn: &str) -> Loaded {
    let name = arn.rsplit(':').next().unwrap_or(arn);
    Loaded::Done(
        source
            .clients
            .sfn
            .stop_execution()
            .execution_arn(arn)
            .error("Stopped")
            .cause("Stopped from the wildrydes dashboard")
            .send()
            .await
            .map(|_| format!("Stopped {name}."))
            .map_err(|e| format!("Stopping {name} failed: {}", sdk_message(&e))),
    )
}

/// Starts the same state machine again with the same input.
pub async fn rerun(source: &Source, arn: &str) -> Loaded {
    let sfn = &source.clients.sfn;
    let result = async {
        let described = sfn.describe_execution().execution_arn(arn).send().await.map_err(|e| sdk_message(&e))?;
        let started = sfn
            .start_execution()
            .state_machine_arn(described.state_machine_arn())
            .set_input(described.input().map(str::to_string))
            .send()
            .await
            .map_err(|e| format!("Rerunning failed: {}", sdk_message(&e)))?;
        Ok(format!(
            "Reran {} as {} with the same input.",
            described.name().unwrap_or_default(),
            started.execution_arn().rsplit(':').next().unwrap_or_default()
        ))
    }
    .await;
    Loaded::Done(result)
}

pub async fn redrive(source: &Source, arn: &str) -> Loaded {
    let name = arn.rsplit(':').next().unwrap_or(arn);
    Loaded::Done(
        source
            .clients
            .sfn
            .redrive_execution()
            .execution_arn(arn)
            .send()
            .await
            .map(|_| format!("Redriving {name} from the state that failed."))
            .map_err(|e| format!("Redriving {name} failed: {}", sdk_message(&e))),
    )
}

pub async fn delete_faces(source: &Source, faces: &[(String, String)]) -> Loaded {
    let ids: Vec<String> = faces.iter().map(|(id, _)| id.clone()).collect();
    let mut users: Vec<&str> = faces.iter().map(|(_, u)| u.as_str()).collect();
    users.sort();
    users.dedup();
    Loaded::Done(
        source
            .clients
            .rekognition
            .delete_faces()
            .collection_id(&source.names.collection)
            .set_face_ids(Some(ids))
            .send()
            .await
            .map(|out| format!("Deleted {} face(s) of {}.", out.deleted_faces().len(), users.join(", ")))
            .map_err(|e| format!("Deleting the face(s) of {} failed: {}", users.join(", "), sdk_message(&e))),
    )
}

/// SearchFaces for every face of the collection: the pairs above the threshold.
pub async fn find_duplicates(source: &Source, threshold: f32) -> Loaded {
    let result = async {
        let rek = &source.clients.rekognition;
        let mut ids = Vec::new();
        let mut token = None;
        loop {
            let page = rek
                .list_faces()
                .collection_id(&source.names.collection)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| sdk_message(&e))?;
            ids.extend(page.faces().iter().filter_map(|f| f.face_id().map(str::to_string)));
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut pairs = Vec::new();
        for id in &ids {
            let found = rek
                .search_faces()
                .collection_id(&source.names.collection)
                .face_id(id)
                .face_match_threshold(threshold)
                .max_faces(100)
                .send()
                .await
                .map_err(|e| format!("SearchFaces for {id} failed: {}", sdk_message(&e)))?;
            for m in found.face_matches() {
                if let Some(other) = m.face().and_then(|f| f.face_id()) {
                    pairs.push((id.clone(), other.to_string(), m.similarity().unwrap_or_default()));
                }
            }
        }
        Ok(pairs)
    }
    .await;
    Loaded::Duplicates(result)
}

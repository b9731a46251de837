//! The dashboard's actions on the target (start, stop, rerun, redrive, delete faces, find
//! duplicates), each through the operations layer. Each runs in a background task and ends
//! in one [`Loaded`] action: what it did, or a sentence saying why it could not.

use super::app::Loaded;
use super::load::{Source, said};
use crate::ops::executions::short;

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

/// Starts an execution with the workshop's input shape. A photo that is a file on disk is
/// uploaded to the rider photo bucket first; anything else is a key already there.
pub async fn start(source: &Source, machine: &str, photo: &str, user: &str) -> Loaded {
    Loaded::Done(start_inner(source, machine, photo, user).await)
}

async fn start_inner(source: &Source, machine: &str, photo: &str, user: &str) -> Result<String, String> {
    let bucket = &source.names.photo_bucket;
    let key = crate::run::photo_key(&source.clients, bucket, photo).await.map_err(|e| sentence(&e))?;
    let input = crate::run::workflow_input(user, bucket, &key);
    let arn = crate::run::start(&source.clients, machine, &input).await.map_err(|e| sentence(&e))?;
    Ok(format!("Started {} on {machine} for {user} with {bucket}/{key}.", short(&arn)))
}

pub async fn stop(source: &Source, arn: &str) -> Loaded {
    Loaded::Done(said(source.stop(arn).await).map(|()| format!("Stopped {}.", short(arn))))
}

/// Starts the same state machine again with the same input.
pub async fn rerun(source: &Source, arn: &str) -> Loaded {
    Loaded::Done(
        said(source.rerun(arn).await).map(|r| format!("Reran {} as {} with the same input.", r.original, r.name())),
    )
}

pub async fn redrive(source: &Source, arn: &str) -> Loaded {
    Loaded::Done(said(source.redrive(arn).await).map(|r| format!("Redriving {} from the state that failed.", r.name)))
}

/// Deletes the faces, and the riders table rows that point at them.
pub async fn delete_faces(source: &Source, faces: &[(String, String)]) -> Loaded {
    let ids: Vec<String> = faces.iter().map(|(id, _)| id.clone()).collect();
    let result = async {
        let deletions = source.select_faces(&ids, &[]).await?;
        source.delete_faces(&deletions).await
    }
    .await;
    Loaded::Done(said(result).map(|d| d.to_string()))
}

/// The groups of faces that are one person under several user ids.
pub async fn find_duplicates(source: &Source, threshold: f32) -> Loaded {
    Loaded::Duplicates(said(source.duplicates(threshold).await))
}

//! Background loads: each reads one view's data through the operations layer (`ops`) and
//! maps it into the dashboard's message, or into a sentence saying what is missing. They
//! run in tokio tasks; the render loop never waits for them.

use super::app::{GraphData, Loaded, Tab, Thumb};
use crate::ops::{ExecutionDetail, ExecutionFilter, Ops, OpsError};

/// What the dashboard works on: the operations on its target, and how the Lab deploys there.
#[derive(Clone)]
pub struct Source {
    pub ops: Ops,
    /// How the Lab deploys and cleans up on this target; `None` where the dashboard cannot
    /// (on AWS the roles come from the user: `wildrydes deploy --aws …`).
    pub deploy: Option<crate::deploy::DeployOptions>,
}

impl std::ops::Deref for Source {
    type Target = Ops;
    fn deref(&self) -> &Ops {
        &self.ops
    }
}

/// An operations error as the dashboard shows it.
pub(crate) fn said<T>(result: Result<T, OpsError>) -> Result<T, String> {
    result.map_err(|e| e.to_string())
}

pub async fn load(source: &Source, tab: Tab) -> Loaded {
    match tab {
        Tab::Lab => Loaded::Lab(Ok(super::lab::status(source).await)),
        Tab::Executions => Loaded::Executions(said(source.executions(&ExecutionFilter::default()).await)),
        Tab::Faces => Loaded::Faces(said(source.faces().await)),
        Tab::Photos => Loaded::Photos(said(source.photos().await)),
        Tab::Riders => Loaded::Riders(said(source.riders().await)),
        Tab::Outbox => Loaded::Outbox(said(source.outbox().await)),
        Tab::Logs => Loaded::Logs(said(source.logs().await)),
        Tab::Graph => Loaded::Graph(graph(source, None).await),
    }
}

/// Is the target answering at all? A signed request that any service answers, even with
/// an error, proves the endpoint and the credentials work.
pub async fn health(source: &Source) -> Loaded {
    match source.clients.s3.list_buckets().send().await {
        Ok(_) => Loaded::Health(Ok(())),
        // Nothing listens: the local cloud this dashboard started or joined has gone (killed,
        // say); what to run says more than the connection error.
        Err(aws_sdk_s3::error::SdkError::DispatchFailure(_)) if source.restart_hint.is_some() => {
            Loaded::Health(Err(source.restart_hint.clone().unwrap_or_default()))
        }
        Err(e) => Loaded::Health(Err(sdk_message(&e))),
    }
}

/// The SDK error as one readable sentence (shared with the CLI and deploy).
pub(crate) use crate::cloud::error_message as sdk_message;

pub async fn execution_detail(source: &Source, arn: &str) -> Result<ExecutionDetail, String> {
    said(source.execution_detail(arn).await)
}

/// The Graph tab's data: the execution's definition and history, or the newest state machine.
pub async fn graph(source: &Source, execution: Option<&str>) -> Result<GraphData, String> {
    if let Some(arn) = execution {
        let detail = execution_detail(source, arn).await?;
        let definition = detail
            .definition
            .clone()
            .ok_or_else(|| format!("The definition of {}'s state machine could not be read.", detail.name))?;
        return Ok(GraphData {
            title: format!("{} — execution {} ({})", detail.state_machine, detail.name, detail.status),
            definition,
            execution: Some(detail),
        });
    }
    let sfn = &source.clients.sfn;
    let list = sfn.list_state_machines().send().await.map_err(|e| sdk_message(&e))?;
    let mut machines: Vec<_> = list.state_machines().to_vec();
    machines.sort_by(|a, b| b.name().cmp(a.name()));
    let Some(machine) = machines.first() else {
        return Err("No state machine yet: deploy the workshop (Lab) to create them.".into());
    };
    machine_definition(source, machine.state_machine_arn(), machine.name()).await
}

/// The Graph tab's data for the state machine of this name (`:name` on the command line).
pub async fn machine_graph(source: &Source, name: &str) -> Result<GraphData, String> {
    let list = source.clients.sfn.list_state_machines().send().await.map_err(|e| sdk_message(&e))?;
    let Some(machine) = list.state_machines().iter().find(|m| m.name() == name) else {
        return Err(format!("There is no state machine named {name}: the Lab creates the workshop's."));
    };
    machine_definition(source, machine.state_machine_arn(), machine.name()).await
}

async fn machine_definition(source: &Source, arn: &str, name: &str) -> Result<GraphData, String> {
    let described =
        source.clients.sfn.describe_state_machine().state_machine_arn(arn).send().await.map_err(|e| sdk_message(&e))?;
    let definition = serde_json::from_str(described.definition())
        .map_err(|e| format!("The definition of {name} is not JSON: {e}"))?;
    Ok(GraphData {
        title: format!("{name} — open an execution (Executions, o) to see its states coloured"),
        definition,
        execution: None,
    })
}

/// Reads an S3 object ("bucket/key") and scales it down for a preview. A key ending in
/// `#face=left,top,width,height` (ratios, as Rekognition's BoundingBox) is that part of
/// the photo: a face cut out of its source photo.
pub async fn image(source: &Source, path: &str) -> Result<Thumb, String> {
    let (object_path, crop) = match path.split_once("#face=") {
        Some((object, spec)) => {
            let parts: Vec<f32> = spec.split(',').filter_map(|p| p.parse().ok()).collect();
            let [l, t, w, h] = parts[..] else { return Err(format!("{spec} is not a face's box")) };
            (object, Some([l, t, w, h]))
        }
        None => (path, None),
    };
    let bytes = source.object_bytes(object_path).await.map_err(|e| e.to_string())?;
    // Decoding and scaling are CPU work: off the async threads.
    tokio::task::spawn_blocking(move || {
        let mut img = image::load_from_memory(&bytes).map_err(|e| format!("not an image I can show: {e}"))?;
        if let Some([l, t, w, h]) = crop {
            let (width, height) = (img.width() as f32, img.height() as f32);
            let x = ((l.clamp(0.0, 1.0) * width) as u32).min(img.width().saturating_sub(1));
            let y = ((t.clamp(0.0, 1.0) * height) as u32).min(img.height().saturating_sub(1));
            let cw = ((w.max(0.0) * width) as u32).clamp(1, (img.width() - x).max(1));
            let ch = ((h.max(0.0) * height) as u32).clamp(1, (img.height() - y).max(1));
            img = img.crop_imm(x, y, cw, ch);
        }
        let small = img.thumbnail(400, 400).to_rgb8();
        Ok(Thumb { width: small.width(), height: small.height(), rgb: small.into_raw() })
    })
    .await
    .map_err(|e| format!("decoding the preview stopped: {e}"))?
}

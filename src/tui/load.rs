//! Background loads: each reads one view's data through the SDK clients and turns it into
//! rows, or into a sentence saying what is missing. They run in tokio tasks; the render
//! loop never waits for them.

use aws_sdk_dynamodb::types::AttributeValue;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

use super::app::{
    ExecutionDetail, ExecutionRow, FaceRow, FunctionLogs, GraphData, HistoryRow, Loaded, MailRow, ObjectRow, RiderRow,
    Tab, Thumb,
};
use crate::cloud::Clients;
use crate::workshop::WorkshopNames;

/// Where to load from.
#[derive(Clone)]
pub struct Source {
    pub clients: Clients,
    pub names: WorkshopNames,
    /// The local cloud's endpoint, for what only it has (the outbox); `None` on AWS.
    pub local_endpoint: Option<String>,
    /// How the Lab deploys and cleans up on this target; `None` where the dashboard cannot
    /// (on AWS the roles come from the user: `wildrydes deploy --aws …`).
    pub deploy: Option<crate::deploy::DeployOptions>,
}

pub async fn load(source: &Source, tab: Tab) -> Loaded {
    match tab {
        Tab::Lab => Loaded::Lab(Ok(super::lab::status(source).await)),
        Tab::Executions => Loaded::Executions(executions(source).await),
        Tab::Faces => Loaded::Faces(faces(source).await),
        Tab::Photos => Loaded::Photos(photos(source).await),
        Tab::Riders => Loaded::Riders(riders(source).await),
        Tab::Outbox => Loaded::Outbox(outbox(source).await),
        Tab::Logs => Loaded::Logs(logs(source).await),
        Tab::Graph => Loaded::Graph(graph(source, None).await),
    }
}

/// Is the target answering at all? A signed request that any service answers, even with
/// an error, proves the endpoint and the credentials work.
pub async fn health(source: &Source) -> Loaded {
    match source.clients.s3.list_buckets().send().await {
        Ok(_) => Loaded::Health(Ok(())),
        Err(e) => Loaded::Health(Err(sdk_message(&e))),
    }
}

/// The SDK error as one readable sentence (shared with the CLI and deploy).
pub(crate) use crate::cloud::error_message as sdk_message;

fn format_time(t: Option<&aws_smithy_types::DateTime>) -> String {
    t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t.secs()).ok())
        .and_then(|t| t.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]")).ok())
        .unwrap_or_default()
}

/// Why each failed execution failed ("State: Error"), by ARN. A finished execution never
/// changes, so its history is read once, not on every refresh.
fn failure_cache() -> &'static Mutex<HashMap<String, String>> {
    static CACHE: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

pub async fn executions(source: &Source) -> Result<Vec<ExecutionRow>, String> {
    let sfn = &source.clients.sfn;
    let machines = sfn.list_state_machines().send().await.map_err(|e| sdk_message(&e))?;
    let mut rows = Vec::new();
    for machine in machines.state_machines() {
        let mut pages = sfn.list_executions().state_machine_arn(machine.state_machine_arn()).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_message(&e))?;
            for e in page.executions() {
                let duration = e
                    .stop_date()
                    .map(|stop| format!("{:.1} s", (stop.as_secs_f64() - e.start_date().as_secs_f64()).max(0.0)))
                    .unwrap_or_default();
                rows.push(ExecutionRow {
                    name: e.name().to_string(),
                    state_machine: machine.name().to_string(),
                    status: e.status().as_str().to_string(),
                    started: format_time(Some(e.start_date())),
                    duration,
                    arn: e.execution_arn().to_string(),
                    failure: String::new(),
                });
            }
        }
    }
    rows.sort_by(|a, b| b.started.cmp(&a.started));
    for row in rows.iter_mut().filter(|r| matches!(r.status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED")) {
        let cached = failure_cache().lock().ok().and_then(|c| c.get(&row.arn).cloned());
        row.failure = match cached {
            Some(f) => f,
            None => {
                let Ok(history) = history(source, &row.arn).await else { continue };
                let failure = failure_of(&history);
                if let Ok(mut cache) = failure_cache().lock() {
                    cache.insert(row.arn.clone(), failure.clone());
                }
                failure
            }
        };
    }
    Ok(rows)
}

/// "State: Error" of a failed history: the last failing event's state and error.
pub fn failure_of(events: &[HistoryRow]) -> String {
    let failed = events.iter().rev().find(|e| e.is_failure() && !e.kind.starts_with("Execution"));
    let ended = events.iter().rev().find(|e| e.kind.starts_with("Execution") && e.is_failure());
    let error = ended.or(failed).and_then(|e| e.json["error"].as_str()).unwrap_or_default();
    let state = failed.or(ended).map(|e| e.state.as_str()).unwrap_or_default();
    match (state.is_empty(), error.is_empty()) {
        (false, false) => format!("{state}: {error}"),
        (false, true) => state.to_string(),
        (true, _) => error.to_string(),
    }
}

/// Every page of an execution's history, as rows.
pub async fn history(source: &Source, arn: &str) -> Result<Vec<HistoryRow>, String> {
    let mut events = Vec::new();
    let mut pages = source.clients.sfn.get_execution_history().execution_arn(arn).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_message(&e))?;
        events.extend(page.events().iter().cloned());
    }
    Ok(history_rows(&events))
}

/// An input or output string as JSON when it is JSON, else as a string.
fn parsed(text: Option<&str>) -> Value {
    match text {
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_string())),
        None => Value::Null,
    }
}

fn error_json(error: Option<&str>, cause: Option<&str>) -> Value {
    // A Lambda error's cause is itself JSON (errorType, errorMessage…): show it as such.
    json!({ "error": error, "cause": parsed(cause) })
}

/// The function name in a Lambda ARN (or the name itself).
fn function_name(resource: &str) -> String {
    let parts: Vec<&str> = resource.split(':').collect();
    match parts.iter().position(|p| *p == "function") {
        Some(i) => parts.get(i + 1).copied().unwrap_or(resource).to_string(),
        None => resource.to_string(),
    }
}

pub fn history_rows(events: &[aws_sdk_sfn::types::HistoryEvent]) -> Vec<HistoryRow> {
    let mut rows = Vec::with_capacity(events.len());
    let mut state = String::new();
    let mut function: Option<String> = None;
    let mut previous_ms: Option<i64> = None;
    for e in events {
        let mut json = Value::Null;
        let mut this_function = None;
        if let Some(d) = e.state_entered_event_details() {
            state = d.name().to_string();
            function = None;
            json = json!({ "name": d.name(), "input": parsed(d.input()) });
        } else if let Some(d) = e.state_exited_event_details() {
            json = json!({ "name": d.name(), "output": parsed(d.output()) });
        } else if let Some(d) = e.execution_started_event_details() {
            json = json!({ "input": parsed(d.input()), "roleArn": d.role_arn() });
        } else if let Some(d) = e.execution_succeeded_event_details() {
            json = json!({ "output": parsed(d.output()) });
        } else if let Some(d) = e.execution_failed_event_details() {
            json = error_json(d.error(), d.cause());
        } else if let Some(d) = e.execution_aborted_event_details() {
            json = error_json(d.error(), d.cause());
        } else if let Some(d) = e.execution_timed_out_event_details() {
            json = error_json(d.error(), d.cause());
        } else if let Some(d) = e.lambda_function_scheduled_event_details() {
            function = Some(function_name(d.resource()));
            json = json!({ "resource": d.resource(), "input": parsed(d.input()), "timeoutInSeconds": d.timeout_in_seconds() });
        } else if let Some(d) = e.lambda_function_succeeded_event_details() {
            json = json!({ "output": parsed(d.output()) });
        } else if let Some(d) = e.lambda_function_failed_event_details() {
            json = error_json(d.error(), d.cause());
        } else if let Some(d) = e.lambda_function_timed_out_event_details() {
            json = error_json(d.error(), d.cause());
        } else if let Some(d) = e.lambda_function_start_failed_event_details() {
            json = error_json(d.error(), d.cause());
        } else if let Some(d) = e.lambda_function_schedule_failed_event_details() {
            json = error_json(d.error(), d.cause());
        } else if let Some(d) = e.task_scheduled_event_details() {
            if d.resource_type() == "lambda" {
                function = serde_json::from_str::<Value>(d.parameters())
                    .ok()
                    .and_then(|p| p["FunctionName"].as_str().map(function_name));
            }
            json = json!({ "resourceType": d.resource_type(), "resource": d.resource(), "parameters": parsed(Some(d.parameters())) });
        } else if let Some(d) = e.task_succeeded_event_details() {
            json = json!({ "resourceType": d.resource_type(), "resource": d.resource(), "output": parsed(d.output()) });
        } else if let Some(d) = e.task_failed_event_details() {
            json = error_json(d.error(), d.cause());
        } else if let Some(d) = e.task_timed_out_event_details() {
            json = error_json(d.error(), d.cause());
        } else if let Some(d) = e.execution_redriven_event_details() {
            json = json!({ "redriveCount": d.redrive_count() });
        }
        let kind = e.r#type().as_str().to_string();
        if kind.starts_with("LambdaFunction") || kind.starts_with("Task") && !kind.ends_with("StateEntered") {
            this_function = function.clone();
        }
        let ms = e.timestamp().to_millis().unwrap_or_default();
        rows.push(HistoryRow {
            id: e.id(),
            kind,
            state: state.clone(),
            time: format_time(Some(e.timestamp())),
            elapsed_ms: previous_ms.map_or(0, |p| ms - p),
            json,
            function: this_function,
        });
        previous_ms = Some(ms);
    }
    rows
}

pub async fn execution_detail(source: &Source, arn: &str) -> Result<ExecutionDetail, String> {
    let sfn = &source.clients.sfn;
    let described = sfn.describe_execution().execution_arn(arn).send().await.map_err(|e| sdk_message(&e))?;
    let events = history(source, arn).await?;
    let definition = match sfn.describe_state_machine_for_execution().execution_arn(arn).send().await {
        Ok(d) => serde_json::from_str(d.definition()).ok(),
        Err(_) => None,
    };
    let machine = described.state_machine_arn().rsplit(':').next().unwrap_or_default().to_string();
    Ok(ExecutionDetail {
        arn: arn.to_string(),
        name: described.name().unwrap_or_default().to_string(),
        status: described.status().as_str().to_string(),
        state_machine: machine,
        events,
        definition,
    })
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
    let described = sfn
        .describe_state_machine()
        .state_machine_arn(machine.state_machine_arn())
        .send()
        .await
        .map_err(|e| sdk_message(&e))?;
    let definition = serde_json::from_str(described.definition())
        .map_err(|e| format!("The definition of {} is not JSON: {e}", machine.name()))?;
    Ok(GraphData {
        title: format!("{} — open an execution (Executions, o) to see its states coloured", machine.name()),
        definition,
        execution: None,
    })
}

/// GET on the local cloud's own unsigned endpoints.
async fn local_get(source: &Source, path: &str) -> Result<Value, String> {
    let Some(endpoint) = &source.local_endpoint else {
        return Err("This is only there on the local cloud.".into());
    };
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let uri: http::Uri = format!("{endpoint}{path}").parse().map_err(|e| format!("bad endpoint {endpoint}: {e}"))?;
    let response = client.get(uri).await.map_err(|e| format!("cannot reach {endpoint}: {e}"))?;
    let status = response.status();
    let body = response.into_body().collect().await.map_err(|e| format!("cannot read {path}: {e}"))?.to_bytes();
    if !status.is_success() {
        return Err(format!("{path} answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    serde_json::from_slice(&body).map_err(|e| format!("{path} is not JSON: {e}"))
}

async fn logs(source: &Source) -> Result<Vec<FunctionLogs>, String> {
    if source.local_endpoint.is_none() {
        return Err(
            "On AWS, function logs are in CloudWatch Logs: the dashboard shows them for the local cloud.".into()
        );
    }
    let mut names = Vec::new();
    let mut pages = source.clients.lambda.list_functions().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_message(&e))?;
        names.extend(page.functions().iter().filter_map(|f| f.function_name().map(str::to_string)));
    }
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let json = local_get(source, &format!("/_wildrydes/logs/{name}?limit=500")).await;
        let lines = match json {
            Ok(json) => json["lines"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| {
                    let ms = l["timestamp_ms"].as_i64().or_else(|| l["timestampMs"].as_i64()).unwrap_or_default();
                    let when = time::OffsetDateTime::from_unix_timestamp(ms / 1000)
                        .ok()
                        .and_then(|t| t.format(time::macros::format_description!("[hour]:[minute]:[second]")).ok())
                        .unwrap_or_default();
                    let request = l["request_id"].as_str().or_else(|| l["requestId"].as_str()).unwrap_or("-");
                    let short: String = request.chars().take(8).collect();
                    format!("{when} {short} {}", l["message"].as_str().unwrap_or_default().trim_end())
                })
                .collect(),
            Err(e) => vec![e],
        };
        out.push(FunctionLogs { function: name, lines });
    }
    Ok(out)
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
    let (bucket, key) = object_path.split_once('/').ok_or_else(|| format!("{object_path} is not bucket/key"))?;
    let object = source.clients.s3.get_object().bucket(bucket).key(key).send().await.map_err(|e| sdk_message(&e))?;
    let bytes = object.body.collect().await.map_err(|e| format!("cannot read {object_path}: {e}"))?.into_bytes();
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

pub async fn faces(source: &Source) -> Result<Vec<FaceRow>, String> {
    let mut rows = Vec::new();
    let mut token = None;
    loop {
        let page = source
            .clients
            .rekognition
            .list_faces()
            .collection_id(&source.names.collection)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| sdk_message(&e))?;
        for face in page.faces() {
            let bounding_box = face.bounding_box().map(|b| {
                [b.left().unwrap_or(0.0), b.top().unwrap_or(0.0), b.width().unwrap_or(1.0), b.height().unwrap_or(1.0)]
            });
            rows.push(FaceRow {
                face_id: face.face_id().unwrap_or_default().to_string(),
                user: face.external_image_id().unwrap_or_default().to_string(),
                confidence: face.confidence().unwrap_or_default(),
                indexed: String::new(),
                bounding_box,
            });
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let ids: Vec<&str> = rows.iter().map(|f| f.face_id.as_str()).collect();
    let times = indexed_times(source, &ids).await;
    for row in &mut rows {
        row.indexed = times.get(&row.face_id).cloned().unwrap_or_default();
    }
    Ok(rows)
}

/// The FaceIds each finished execution's IndexFace task returned, with the event's time,
/// by ARN: a finished execution's history never changes, so it is read once.
fn indexed_cache() -> &'static Mutex<HashMap<String, Vec<(String, String)>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Vec<(String, String)>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// When each of `faces` was indexed. AWS's Face carries no timestamp; the honest source is
/// the history of the execution whose IndexFace task returned the FaceId. Executions are
/// read newest first and the search stops once every face is found; a face indexed outside
/// the workflow (the aws CLI) stays without a time.
async fn indexed_times(source: &Source, faces: &[&str]) -> HashMap<String, String> {
    let mut found = HashMap::new();
    if faces.is_empty() {
        return found;
    }
    let Ok(executions) = executions(source).await else { return found };
    for execution in executions.iter().filter(|e| e.status != "RUNNING") {
        let cached = indexed_cache().lock().ok().and_then(|c| c.get(&execution.arn).cloned());
        let indexed = match cached {
            Some(indexed) => indexed,
            None => {
                let Ok(events) = history(source, &execution.arn).await else { continue };
                let indexed: Vec<(String, String)> = events
                    .iter()
                    .filter(|e| e.kind == "LambdaFunctionSucceeded" || e.kind == "TaskSucceeded")
                    .filter_map(|e| Some((e.json["output"]["FaceId"].as_str()?.to_string(), e.time.clone())))
                    .collect();
                if let Ok(mut cache) = indexed_cache().lock() {
                    cache.insert(execution.arn.clone(), indexed.clone());
                }
                indexed
            }
        };
        for (face, time) in indexed {
            if faces.contains(&face.as_str()) {
                found.entry(face).or_insert(time);
            }
        }
        if found.len() == faces.len() {
            break;
        }
    }
    found
}

async fn photos(source: &Source) -> Result<Vec<ObjectRow>, String> {
    let mut rows = Vec::new();
    let mut missing = Vec::new();
    for bucket in [&source.names.photo_bucket, &source.names.thumbnail_bucket] {
        let mut pages = source.clients.s3.list_objects_v2().bucket(bucket).into_paginator().send();
        while let Some(page) = pages.next().await {
            // One bucket not made yet still leaves the other one to show.
            if let Err(e) = &page
                && e.as_service_error().is_some_and(|s| s.is_no_such_bucket())
            {
                missing.push(bucket.clone());
                break;
            }
            let page = page.map_err(|e| format!("{bucket}: {}", sdk_message(&e)))?;
            for object in page.contents() {
                rows.push(ObjectRow {
                    bucket: bucket.clone(),
                    key: object.key().unwrap_or_default().to_string(),
                    size: object.size().unwrap_or_default(),
                    modified: format_time(object.last_modified()),
                });
            }
        }
    }
    if missing.len() == 2 {
        return Err(format!("Neither {} nor {} exists yet: deploy the workshop (Lab).", missing[0], missing[1]));
    }
    Ok(rows)
}

fn string_attr(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        Some(AttributeValue::M(m)) => {
            let field = |k: &str| m.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            format!("{}/{}", field("s3bucket"), field("s3key"))
        }
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

async fn riders(source: &Source) -> Result<Vec<RiderRow>, String> {
    let mut rows = Vec::new();
    let mut pages = source.clients.dynamodb.scan().table_name(&source.names.riders_table).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("{}: {}", source.names.riders_table, sdk_message(&e)))?;
        for item in page.items() {
            rows.push(RiderRow {
                user: string_attr(item, "Username"),
                face_id: string_attr(item, "faceId"),
                photo: format!("{}/{}", string_attr(item, "s3bucket"), string_attr(item, "s3key")),
                thumbnail: string_attr(item, "thumbnail"),
            });
        }
    }
    rows.sort_by(|a, b| a.user.cmp(&b.user));
    Ok(rows)
}

pub(crate) async fn outbox(source: &Source) -> Result<Vec<MailRow>, String> {
    let Some(endpoint) = &source.local_endpoint else {
        return Err("On AWS, SES delivers mail to real inboxes: there is no outbox to show.".into());
    };
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let uri: http::Uri =
        format!("{endpoint}/_wildrydes/outbox").parse().map_err(|e| format!("bad endpoint {endpoint}: {e}"))?;
    let response = client.get(uri).await.map_err(|e| format!("cannot reach the outbox: {e}"))?;
    let status = response.status();
    let body = response.into_body().collect().await.map_err(|e| format!("cannot read the outbox: {e}"))?.to_bytes();
    if !status.is_success() {
        return Err(format!("the outbox answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    let json: serde_json::Value = serde_json::from_slice(&body).map_err(|e| format!("the outbox is not JSON: {e}"))?;
    let text = |m: &serde_json::Value, k: &str| match &m[k] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(list) => list.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    Ok(json["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| MailRow {
            sent: text(m, "timestamp"),
            from: text(m, "from"),
            to: text(m, "to"),
            subject: text(m, "subject"),
            body: text(m, "text"),
        })
        .collect())
}

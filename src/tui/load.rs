//! Background loads: each reads one view's data through the SDK clients and turns it into
//! rows, or into a sentence saying what is missing. They run in tokio tasks; the render
//! loop never waits for them.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::error::display::DisplayErrorContext;

use super::app::{ExecutionRow, FaceRow, LabStep, Loaded, MailRow, ObjectRow, RiderRow, StepStatus, Tab};
use crate::cloud::Clients;
use crate::workshop::WorkshopNames;

/// Where to load from.
#[derive(Clone)]
pub struct Source {
    pub clients: Clients,
    pub names: WorkshopNames,
    /// The local cloud's endpoint, for what only it has (the outbox); `None` on AWS.
    pub local_endpoint: Option<String>,
}

pub async fn load(source: &Source, tab: Tab) -> Loaded {
    match tab {
        Tab::Lab => Loaded::Lab(Ok(lab(source).await)),
        Tab::Executions => Loaded::Executions(executions(source).await),
        Tab::Faces => Loaded::Faces(faces(source).await),
        Tab::Photos => Loaded::Photos(photos(source).await),
        Tab::Riders => Loaded::Riders(riders(source).await),
        Tab::Outbox => Loaded::Outbox(outbox(source).await),
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

/// The SDK error as one readable sentence: the service's code and message when there is
/// one, otherwise the transport's reason (connection refused, timeout…).
fn sdk_message<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_s3::error::SdkError;
    match e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            match (err.code(), err.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                _ => DisplayErrorContext(e).to_string(),
            }
        }
        SdkError::DispatchFailure(_) => format!("cannot reach the endpoint ({})", DisplayErrorContext(e)),
        SdkError::TimeoutError(_) => "the endpoint did not answer in time".into(),
        _ => DisplayErrorContext(e).to_string(),
    }
}

async fn lab(source: &Source) -> Vec<LabStep> {
    let c = &source.clients;
    let n = &source.names;
    let step = |title: &str, status, detail: String| LabStep { title: title.into(), status, detail };

    let collection = match c.rekognition.describe_collection().collection_id(&n.collection).send().await {
        Ok(d) => step(
            "Create the Rekognition collection",
            StepStatus::Done,
            format!("{}: {} faces", n.collection, d.face_count().unwrap_or(0)),
        ),
        Err(e) => step("Create the Rekognition collection", status_of(&e), sdk_message(&e)),
    };
    let buckets = match (
        c.s3.head_bucket().bucket(&n.photo_bucket).send().await,
        c.s3.head_bucket().bucket(&n.thumbnail_bucket).send().await,
    ) {
        (Ok(_), Ok(_)) => {
            step("Deploy: buckets", StepStatus::Done, format!("{} and {}", n.photo_bucket, n.thumbnail_bucket))
        }
        (Err(e), _) | (_, Err(e)) => {
            step("Deploy: buckets", status_of(&e), format!("{}: {}", n.photo_bucket, sdk_message(&e)))
        }
    };
    let table = match c.dynamodb.describe_table().table_name(&n.riders_table).send().await {
        Ok(_) => step("Deploy: riders table", StepStatus::Done, n.riders_table.clone()),
        Err(e) => step("Deploy: riders table", status_of(&e), sdk_message(&e)),
    };
    let functions = match c.lambda.list_functions().send().await {
        Ok(list) => {
            let count = list.functions().len();
            let status = if count >= 6 { StepStatus::Done } else { StepStatus::Todo };
            step("Deploy: the six functions", status, format!("{count} functions"))
        }
        Err(e) => step("Deploy: the six functions", status_of(&e), sdk_message(&e)),
    };
    let mut steps = vec![collection, buckets, table, functions];
    match c.sfn.list_state_machines().send().await {
        Ok(list) => {
            for i in 1..=4u8 {
                let name = WorkshopNames::state_machine(i);
                let found = list.state_machines().iter().any(|m| m.name() == name);
                let status = if found { StepStatus::Done } else { StepStatus::Todo };
                steps.push(step(
                    &format!("Create state machine {name}"),
                    status,
                    if found { "created".into() } else { "not yet".into() },
                ));
            }
        }
        Err(e) => steps.push(step("Create state machines 1–4", status_of(&e), sdk_message(&e))),
    }
    steps
}

/// A service that is not there at all (locally: not built yet) is "n/a", anything else is
/// work still to do.
fn status_of<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> StepStatus
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    match e.as_service_error().and_then(|s| s.code()) {
        Some("UnrecognizedClientException" | "UnknownOperationException" | "NotImplemented") => StepStatus::Unavailable,
        Some(_) => StepStatus::Todo,
        None => StepStatus::Unavailable,
    }
}

fn format_time(t: Option<&aws_smithy_types::DateTime>) -> String {
    t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t.secs()).ok())
        .and_then(|t| t.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]")).ok())
        .unwrap_or_default()
}

async fn executions(source: &Source) -> Result<Vec<ExecutionRow>, String> {
    let sfn = &source.clients.sfn;
    let machines = sfn.list_state_machines().send().await.map_err(|e| sdk_message(&e))?;
    let mut rows = Vec::new();
    for machine in machines.state_machines() {
        let list = sfn
            .list_executions()
            .state_machine_arn(machine.state_machine_arn())
            .send()
            .await
            .map_err(|e| sdk_message(&e))?;
        for e in list.executions() {
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
            });
        }
    }
    rows.sort_by(|a, b| b.started.cmp(&a.started));
    Ok(rows)
}

async fn faces(source: &Source) -> Result<Vec<FaceRow>, String> {
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
            rows.push(FaceRow {
                face_id: face.face_id().unwrap_or_default().to_string(),
                user: face.external_image_id().unwrap_or_default().to_string(),
                confidence: face.confidence().unwrap_or_default(),
            });
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(rows);
        }
    }
}

async fn photos(source: &Source) -> Result<Vec<ObjectRow>, String> {
    let mut rows = Vec::new();
    for bucket in [&source.names.photo_bucket, &source.names.thumbnail_bucket] {
        let mut pages = source.clients.s3.list_objects_v2().bucket(bucket).into_paginator().send();
        while let Some(page) = pages.next().await {
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

async fn outbox(source: &Source) -> Result<Vec<MailRow>, String> {
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

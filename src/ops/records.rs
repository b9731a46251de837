//! What the workflow leaves behind: the riders table, the photos and thumbnails, the mail
//! SES sent (the local cloud's outbox) and the functions' logs; and an object's bytes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use super::history::format_time;
use super::{Ops, OpsError, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct ObjectRow {
    pub bucket: String,
    pub key: String,
    pub size: i64,
    pub modified: String,
}

/// A row of the riders table.
#[derive(Debug, Clone, PartialEq)]
pub struct RiderRow {
    /// The rider's user id (the table's key, `Username`).
    pub user: String,
    /// The face the rider was registered with.
    pub face_id: String,
    pub photo: String,
    pub thumbnail: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MailRow {
    pub sent: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// The rider and the photo the message is about, as the notification function names
    /// them ("Hello user_b, the photo you uploaded (s3://bucket/key) …"); empty for other mail.
    pub rider: String,
    pub photo: String,
}

impl MailRow {
    /// A row with the rider and the photo read from its body.
    pub fn new(sent: String, from: String, to: String, subject: String, body: String) -> Self {
        let (rider, photo) = about(&body);
        Self { sent, from, to, subject, body, rider, photo }
    }
}

/// The rider and the photo a notification names: its greeting and the photo in brackets
/// after "the photo you uploaded" (the notification function's wording).
fn about(body: &str) -> (String, String) {
    let rider = body
        .strip_prefix("Hello ")
        .and_then(|rest| rest.split_once(','))
        .map(|(user, _)| user.trim())
        .filter(|user| !user.is_empty() && *user != "rider" && !user.contains(' '))
        .unwrap_or_default()
        .to_string();
    let photo = body
        .split_once("the photo you uploaded (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(photo, _)| photo.strip_prefix("s3://").unwrap_or(photo).to_string())
        .unwrap_or_default();
    (rider, photo)
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionLogs {
    pub function: String,
    pub lines: Vec<String>,
}

fn string_attr(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        Some(AttributeValue::M(m)) => {
            let field = |k: &str| m.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            format!("{}/{}", field("s3bucket"), field("s3key"))
        }
        Some(AttributeValue::N(n)) => n.clone(),
        Some(AttributeValue::Bool(b)) => b.to_string(),
        Some(_) => "(not a string)".into(),
        None => String::new(),
    }
}

impl Ops {
    /// The riders table, by user id.
    pub async fn riders(&self) -> Result<Vec<RiderRow>> {
        let table = &self.names.riders_table;
        let mut rows = Vec::new();
        let mut pages = self.clients.dynamodb.scan().table_name(table).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| OpsError::call(format!("reading the table {table}"), &e))?;
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

    /// The objects of the rider photo and thumbnail buckets; a bucket not made yet is
    /// skipped while the other exists.
    pub async fn photos(&self) -> Result<Vec<ObjectRow>> {
        let mut rows = Vec::new();
        let mut missing = Vec::new();
        for bucket in [&self.names.photo_bucket, &self.names.thumbnail_bucket] {
            let mut pages = self.clients.s3.list_objects_v2().bucket(bucket).into_paginator().send();
            while let Some(page) = pages.next().await {
                if let Err(e) = &page
                    && e.as_service_error().is_some_and(|s| s.is_no_such_bucket())
                {
                    missing.push(bucket.clone());
                    break;
                }
                let page = page.map_err(|e| OpsError::call(format!("listing {bucket}"), &e))?;
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
            return Err(OpsError::Other(format!(
                "Neither {} nor {} exists yet: deploy the workshop (Lab).",
                missing[0], missing[1]
            )));
        }
        Ok(rows)
    }

    /// An S3 object's bytes ("bucket/key").
    pub async fn object_bytes(&self, path: &str) -> Result<bytes::Bytes> {
        let (bucket, key) = path.split_once('/').ok_or_else(|| OpsError::Other(format!("{path} is not bucket/key")))?;
        let object = self
            .clients
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| OpsError::call(format!("reading s3://{path}"), &e))?;
        object
            .body
            .collect()
            .await
            .map(|b| b.into_bytes())
            .map_err(|e| OpsError::Other(format!("cannot read s3://{path}: {e}")))
    }

    /// GET on the local cloud's own unsigned endpoints.
    async fn local_get(&self, path: &str, only_local: &'static str) -> Result<Value> {
        let Some(endpoint) = &self.local_endpoint else { return Err(OpsError::LocalOnly(only_local)) };
        use http_body_util::BodyExt;
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http::<http_body_util::Empty<bytes::Bytes>>();
        let uri: http::Uri = format!("{endpoint}{path}")
            .parse()
            .map_err(|e| OpsError::Other(format!("bad endpoint {endpoint}: {e}")))?;
        let response = client.get(uri).await.map_err(|e| OpsError::Other(format!("cannot reach {endpoint}: {e}")))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| OpsError::Other(format!("cannot read {path}: {e}")))?
            .to_bytes();
        if !status.is_success() {
            return Err(OpsError::Other(format!("{path} answered {status}: {}", String::from_utf8_lossy(&body))));
        }
        serde_json::from_slice(&body).map_err(|e| OpsError::Other(format!("{path} is not JSON: {e}")))
    }

    /// The mail SES sent, from the local cloud's outbox.
    pub async fn outbox(&self) -> Result<Vec<MailRow>> {
        let json = self
            .local_get("/_wildrydes/outbox", "On AWS, SES delivers mail to real inboxes: there is no outbox to show.")
            .await?;
        let text = |m: &Value, k: &str| match &m[k] {
            Value::String(s) => s.clone(),
            Value::Array(list) => list.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        Ok(json["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                MailRow::new(text(m, "timestamp"), text(m, "from"), text(m, "to"), text(m, "subject"), text(m, "text"))
            })
            .collect())
    }

    /// The newest lines each of the workshop's functions wrote, from CloudWatch Logs (the
    /// local cloud speaks it for its functions too): the newest streams' last events,
    /// oldest first, without terminal escapes.
    pub async fn logs(&self) -> Result<Vec<FunctionLogs>> {
        const LINES: usize = 500;
        let mut names = Vec::new();
        let mut pages = self.clients.lambda.list_functions().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| OpsError::call("listing the functions", &e))?;
            names.extend(page.functions().iter().filter_map(|f| f.function_name().map(str::to_string)));
        }
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let lines = match self.function_log(&name, LINES).await {
                Ok(lines) if lines.is_empty() => vec!["(no lines yet: the function has not run)".to_string()],
                Ok(lines) => lines,
                Err(e) => vec![e.to_string()],
            };
            out.push(FunctionLogs { function: name, lines });
        }
        Ok(out)
    }

    /// The newest `limit` lines of one function's log group.
    pub async fn function_log(&self, function: &str, limit: usize) -> Result<Vec<String>> {
        let group = format!("/aws/lambda/{function}");
        let streams = self
            .clients
            .logs
            .describe_log_streams()
            .log_group_name(&group)
            .order_by(aws_sdk_cloudwatchlogs::types::OrderBy::LastEventTime)
            .descending(true)
            .limit(5)
            .send()
            .await;
        let streams = match streams {
            Ok(s) => s,
            // A function that never ran has no log group yet.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(OpsError::call(format!("reading the log group {group}"), &e)),
        };
        let mut events: Vec<(i64, String)> = Vec::new();
        for stream in streams.log_streams() {
            let Some(name) = stream.log_stream_name() else { continue };
            let got = self
                .clients
                .logs
                .get_log_events()
                .log_group_name(&group)
                .log_stream_name(name)
                .limit(i32::try_from(limit).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| OpsError::call(format!("reading the log stream {name}"), &e))?;
            events.extend(
                got.events()
                    .iter()
                    .map(|e| (e.timestamp().unwrap_or_default(), e.message().unwrap_or_default().to_string())),
            );
        }
        events.sort_by_key(|(t, _)| *t);
        let skip = events.len().saturating_sub(limit);
        Ok(events.into_iter().skip(skip).map(|(t, message)| log_line(t, &message)).collect())
    }
}

/// A log event as the Logs view shows it: the time, and the message without terminal
/// escapes (functions colour their output; the dashboard draws its own colours).
fn log_line(timestamp_ms: i64, message: &str) -> String {
    let when = time::OffsetDateTime::from_unix_timestamp(timestamp_ms / 1000)
        .ok()
        .and_then(|t| t.format(time::macros::format_description!("[hour]:[minute]:[second]")).ok())
        .unwrap_or_default();
    let plain = strip_ansi_escapes::strip_str(message);
    format!("{when} {}", plain.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_names_its_rider_and_photo() {
        let body = "Hello user_b, the photo you uploaded (s3://wildrydes-riderphotos/2_sunglass_face.jpg) does not \
                    meet the requirements for a rider photo: Face is wearing sunglasses.";
        let row = MailRow::new("05:00".into(), "a@x".into(), "ops@x".into(), "S".into(), body.into());
        assert_eq!((row.rider.as_str(), row.photo.as_str()), ("user_b", "wildrydes-riderphotos/2_sunglass_face.jpg"));
        let other = MailRow::new(String::new(), String::new(), String::new(), String::new(), "Hi there".into());
        assert_eq!((other.rider.as_str(), other.photo.as_str()), ("", ""));
        let anonymous = about("Hello rider, the photo you uploaded could not be processed.");
        assert_eq!(anonymous, (String::new(), String::new()));
    }
}

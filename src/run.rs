//! Running the workflow on one photo: upload it (or use a key already in the rider photo
//! bucket), start an execution with the workshop's input, follow its history as it grows,
//! and report how it ended. The CLI's `run` prints this; the dashboard can start the same.

use std::path::Path;
use std::time::Duration;

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType};
use serde_json::json;

use crate::cloud::{Clients, error_code, error_message};

/// The execution input of the workshop: `{"userId", "s3Bucket", "s3Key"}`.
pub fn workflow_input(user_id: &str, bucket: &str, key: &str) -> String {
    json!({ "userId": user_id, "s3Bucket": bucket, "s3Key": key }).to_string()
}

/// The key of `photo` in `bucket`: a file on disk is uploaded under its file name; anything
/// else must already be a key in the bucket.
pub async fn photo_key(clients: &Clients, bucket: &str, photo: &str) -> anyhow::Result<String> {
    if Path::new(photo).is_file() {
        return upload_photo(clients, bucket, Path::new(photo)).await;
    }
    match clients.s3.head_object().bucket(bucket).key(photo).send().await {
        Ok(_) => Ok(photo.to_string()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => anyhow::bail!(
            "{photo} is neither a file nor a key in s3://{bucket} (is the workshop deployed? `wildrydes deploy`)"
        ),
        Err(e) => anyhow::bail!("looking for s3://{bucket}/{photo}: {}", error_message(&e)),
    }
}

/// Uploads the file at `path` to `bucket` under its file name; returns the key. A missing
/// or unreadable file is an error naming the path and the reason.
pub async fn upload_photo(clients: &Clients, bucket: &str, path: &Path) -> anyhow::Result<String> {
    let shown = path.display();
    if path.is_dir() {
        anyhow::bail!("{shown} is a directory, not a photo");
    }
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!("there is no file {shown}"),
        Err(e) => anyhow::bail!("cannot read {shown}: {e}"),
    };
    let key = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow::anyhow!("{shown}: the file name is not valid UTF-8, so it cannot be an S3 key"))?
        .to_string();
    clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(&key)
        .content_type(crate::deploy::content_type(&key))
        .body(bytes.into())
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("uploading {shown} to s3://{bucket}/{key}: {}", error_message(&e)))?;
    Ok(key)
}

/// Starts an execution of the state machine `machine` (its name or ARN); returns its ARN.
pub async fn start(clients: &Clients, machine: &str, input: &str) -> anyhow::Result<String> {
    let arn = if machine.starts_with("arn:") {
        machine.to_string()
    } else {
        match crate::deploy::find_state_machine(clients, machine).await? {
            Some(arn) => arn,
            None => anyhow::bail!(
                "there is no state machine named {machine}; deploy the workshop first (`wildrydes deploy`)"
            ),
        }
    };
    let started = clients
        .sfn
        .start_execution()
        .state_machine_arn(&arn)
        .input(input)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("starting {machine}: {}", error_message(&e)))?;
    Ok(started.execution_arn().to_string())
}

/// How an execution ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Ending {
    #[serde(rename = "executionArn")]
    pub execution_arn: String,
    pub status: String,
    #[serde(rename = "durationSeconds")]
    pub duration_seconds: f64,
    pub input: Option<serde_json::Value>,
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl Ending {
    pub fn succeeded(&self) -> bool {
        self.status == ExecutionStatus::Succeeded.as_str()
    }
}

/// Follows the execution's history until it ends, handing each event to `on_event` once,
/// in order, and returns how it ended.
pub async fn follow(
    clients: &Clients,
    execution_arn: &str,
    on_event: &mut (dyn FnMut(&HistoryEvent) + Send),
) -> anyhow::Result<Ending> {
    follow_after(clients, execution_arn, 0, on_event).await
}

/// [`follow`] from the event after `after_event`: a redrive's follower sees only what the
/// redrive does, not the attempt before it again. The duration of a redriven execution is
/// the redrive's own, from its redrive date.
pub async fn follow_after(
    clients: &Clients,
    execution_arn: &str,
    after_event: i64,
    on_event: &mut (dyn FnMut(&HistoryEvent) + Send),
) -> anyhow::Result<Ending> {
    let mut last_seen = after_event;
    let mut transient_failures = 0;
    let following = std::time::Instant::now();
    let mut history_read: Option<std::time::Instant> = None;
    loop {
        // Read the status first: once it is final, the history read after it is complete.
        let described = match clients.sfn.describe_execution().execution_arn(execution_arn).send().await {
            Ok(d) => d,
            Err(e) if error_code(&e).is_none() && transient_failures < 20 => {
                // The endpoint blinked (a restart, a timeout): the execution goes on; so do we.
                transient_failures += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            Err(e) => anyhow::bail!("following {execution_arn}: {}", error_message(&e)),
        };
        let ended =
            described.status() != &ExecutionStatus::Running && described.status() != &ExecutionStatus::PendingRedrive;
        // The status is polled often, to see the end soon; the history, the heavier read, at
        // most every HISTORY_EVERY while the execution runs, and once more at its end.
        if ended || history_read.is_none_or(|at| at.elapsed() >= HISTORY_EVERY) {
            history_read = Some(std::time::Instant::now());
            let mut pages = clients.sfn.get_execution_history().execution_arn(execution_arn).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| anyhow::anyhow!("reading the history: {}", error_message(&e)))?;
                for event in page.events() {
                    if event.id() > last_seen {
                        last_seen = event.id();
                        on_event(event);
                    }
                }
            }
        }
        if ended {
            let parse = |s: Option<&str>| s.map(|s| serde_json::from_str(s).unwrap_or_else(|_| json!(s)));
            let began = described.redrive_date().unwrap_or(described.start_date());
            let duration_seconds = match described.stop_date() {
                Some(stop) => seconds_between(began, stop),
                None => 0.0,
            };
            return Ok(Ending {
                execution_arn: execution_arn.to_string(),
                status: described.status().as_str().to_string(),
                duration_seconds,
                input: parse(described.input()),
                output: parse(described.output()),
                error: described.error().map(str::to_string),
                cause: described.cause().map(str::to_string),
            });
        }
        tokio::time::sleep(poll_delay(following.elapsed())).await;
    }
}

/// How often a running execution's history is read for the events it adds.
const HISTORY_EVERY: Duration = Duration::from_millis(200);

/// How long to wait before the next poll of an execution followed for `elapsed`: an eighth
/// of that, from 10 ms to 200 ms, so the end is seen at most about 12% late. A photo's
/// execution ends in under 0.2 s, where a fixed 200 ms would add half its duration on
/// average; a long one is polled five times a second. Only DescribeExecution is polled that
/// often: the history is read every [`HISTORY_EVERY`], within Step Functions'
/// GetExecutionHistory rate on AWS.
fn poll_delay(elapsed: Duration) -> Duration {
    (elapsed / 8).clamp(Duration::from_millis(10), Duration::from_millis(200))
}

fn seconds_between(a: &aws_smithy_types::DateTime, b: &aws_smithy_types::DateTime) -> f64 {
    let nanos = |t: &aws_smithy_types::DateTime| t.secs() as f64 + f64::from(t.subsec_nanos()) / 1e9;
    (nanos(b) - nanos(a)).max(0.0)
}

/// Turns history events into the lines a person follows: a state entered, left (with its
/// duration), or failed (with its error and cause).
#[derive(Debug, Default)]
pub struct Narrator {
    entered: std::collections::HashMap<String, aws_smithy_types::DateTime>,
    current_state: Option<String>,
    /// States that failed and have not been left yet: leaving them is a Catch, not a success.
    failed: std::collections::HashSet<String>,
}

impl Narrator {
    pub fn line(&mut self, event: &HistoryEvent) -> Option<String> {
        let t = *event.timestamp();
        if let Some(entered) = event.state_entered_event_details() {
            self.entered.insert(entered.name().to_string(), t);
            self.current_state = Some(entered.name().to_string());
            return Some(format!("  → {}", entered.name()));
        }
        if let Some(exited) = event.state_exited_event_details() {
            let took = self.entered.get(exited.name()).map(|start| seconds_between(start, &t)).unwrap_or(0.0);
            if self.failed.remove(exited.name()) {
                return Some(format!("  ↪ {} left through its Catch ({took:.2} s)", exited.name()));
            }
            return Some(format!("  ✓ {} ({took:.2} s)", exited.name()));
        }
        let state = self.current_state.clone().unwrap_or_default();
        let mut failure = |error: Option<&str>, cause: Option<&str>| {
            self.failed.insert(state.clone());
            let mut line = format!("  ✗ {state}: {}", error.unwrap_or("failed"));
            if let Some(cause) = cause.filter(|c| !c.is_empty()) {
                line.push_str(&format!(" — {}", one_line(&cause_sentence(cause))));
            }
            Some(line)
        };
        match event.r#type() {
            HistoryEventType::LambdaFunctionFailed => {
                let d = event.lambda_function_failed_event_details()?;
                failure(d.error(), d.cause())
            }
            HistoryEventType::TaskFailed => {
                let d = event.task_failed_event_details()?;
                failure(d.error(), d.cause())
            }
            HistoryEventType::LambdaFunctionTimedOut => {
                let d = event.lambda_function_timed_out_event_details()?;
                failure(d.error(), d.cause())
            }
            _ => None,
        }
    }
}

/// A failure's cause as a person reads it: a Lambda error's cause is JSON
/// (`{"errorType", "errorMessage", …}`) whose message is the sentence; anything else as it is.
pub fn cause_sentence(cause: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(cause) {
        Ok(serde_json::Value::Object(o)) => match o.get("errorMessage").and_then(serde_json::Value::as_str) {
            Some(message) => message.to_string(),
            None => cause.to_string(),
        },
        _ => cause.to_string(),
    }
}

/// Lambda's causes are JSON on one line already; anything else is squeezed onto one.
fn one_line(text: &str) -> String {
    let squeezed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if squeezed.chars().count() > 300 { squeezed.chars().take(300).collect::<String>() + "…" } else { squeezed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::types::{StateEnteredEventDetails, StateExitedEventDetails, TaskFailedEventDetails};
    use aws_smithy_types::DateTime;

    fn event(id: i64, kind: HistoryEventType, secs: f64) -> aws_sdk_sfn::types::builders::HistoryEventBuilder {
        HistoryEvent::builder().id(id).r#type(kind).timestamp(DateTime::from_secs_f64(secs))
    }

    #[test]
    fn a_short_execution_is_polled_often_and_a_long_one_five_times_a_second() {
        assert_eq!(poll_delay(Duration::ZERO), Duration::from_millis(10));
        assert_eq!(poll_delay(Duration::from_millis(160)), Duration::from_millis(20));
        assert_eq!(poll_delay(Duration::from_secs(30)), Duration::from_millis(200));
    }

    #[test]
    fn the_narrator_names_each_state_its_duration_and_its_failure() {
        let mut narrator = Narrator::default();
        let entered = event(2, HistoryEventType::TaskStateEntered, 10.0)
            .state_entered_event_details(StateEnteredEventDetails::builder().name("FaceDetection").build().unwrap())
            .build()
            .unwrap();
        assert_eq!(narrator.line(&entered).as_deref(), Some("  → FaceDetection"));
        let failed = event(3, HistoryEventType::TaskFailed, 10.5)
            .task_failed_event_details(
                TaskFailedEventDetails::builder()
                    .error("PhotoDoesNotMeetRequirementError")
                    .cause("Face is wearing sunglasses")
                    .resource("r")
                    .resource_type("lambda")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        assert_eq!(
            narrator.line(&failed).as_deref(),
            Some("  ✗ FaceDetection: PhotoDoesNotMeetRequirementError — Face is wearing sunglasses")
        );
        let exited = event(4, HistoryEventType::TaskStateExited, 11.25)
            .state_exited_event_details(StateExitedEventDetails::builder().name("FaceDetection").build().unwrap())
            .build()
            .unwrap();
        assert_eq!(narrator.line(&exited).as_deref(), Some("  ↪ FaceDetection left through its Catch (1.25 s)"));
        narrator.line(&entered);
        let exited_again = event(6, HistoryEventType::TaskStateExited, 12.0)
            .state_exited_event_details(StateExitedEventDetails::builder().name("FaceDetection").build().unwrap())
            .build()
            .unwrap();
        assert_eq!(narrator.line(&exited_again).as_deref(), Some("  ✓ FaceDetection (2.00 s)"));
        let other = event(5, HistoryEventType::ExecutionStarted, 9.0).build().unwrap();
        assert_eq!(narrator.line(&other), None);
    }

    #[test]
    fn a_lambda_cause_reads_as_its_error_message() {
        let cause = r#"{"errorMessage":"Face is wearing sunglasses","errorType":"PhotoDoesNotMeetRequirementError"}"#;
        assert_eq!(cause_sentence(cause), "Face is wearing sunglasses");
        assert_eq!(cause_sentence("plain words"), "plain words");
        assert_eq!(cause_sentence(r#"{"other":1}"#), r#"{"other":1}"#);
    }

    #[test]
    fn the_input_is_the_workshops_shape() {
        let input: serde_json::Value =
            serde_json::from_str(&workflow_input("user_a", "b", "1_happy_face.jpg")).unwrap();
        assert_eq!(input, json!({"userId": "user_a", "s3Bucket": "b", "s3Key": "1_happy_face.jpg"}));
    }
}

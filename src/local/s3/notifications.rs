//! S3 event notifications to Lambda functions: a bucket's notification configuration
//! (`LambdaFunctionConfigurations`, checked as AWS checks it), the S3 event records it
//! produces, and their durable delivery.
//!
//! Durability: a created object's event records are written to an outbox table
//! (`s3_event_outbox`) in the same SQLite transaction that makes the object visible, so an
//! acknowledged PUT never loses its notification, kill -9 included. A background
//! [`Dispatcher`] hands each record to the function through an [`EventTarget`] (the local
//! Lambda, which S3 knows only through that trait) and deletes it once the function has
//! run it; a record still in the outbox after a restart is delivered then. Delivery is
//! at-least-once, as AWS says of S3 events: a function must tolerate a repeated event.
//!
//! What the local cloud emits: `ObjectCreated:Put` (PutObject), `ObjectCreated:Copy`
//! (CopyObject) and `ObjectCreated:CompleteMultipartUpload`. Configurations may name any `s3:ObjectCreated:*` event; other event
//! types and other destinations (SQS, SNS, EventBridge) are refused with a message saying
//! the local cloud does not send them, rather than accepted and never sent.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use rusqlite::{OptionalExtension, params};
use s3s::S3Result;
use s3s::dto::{
    FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, S3KeyFilter,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::local::storage::{StorageError, Store};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS s3_notifications (
    bucket TEXT PRIMARY KEY REFERENCES s3_buckets(name),
    config TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS s3_event_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    function_arn TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at_ms INTEGER NOT NULL
);
";

/// The event types a configuration may name: those of created objects. The local cloud
/// emits Put and Copy; Post and CompleteMultipartUpload have no local operation yet, so
/// they are accepted and simply never happen.
const CREATED_EVENTS: [&str; 5] = [
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
];

/// AWS's other event types: valid on AWS, never sent by the local cloud.
const OTHER_AWS_EVENTS: [&str; 25] = [
    "s3:ReducedRedundancyLostObject",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
    "s3:ObjectCreated:PutRetention",
    "s3:ObjectCreated:PutLegalHold",
    "s3:ObjectAnnotation:*",
];

/// How many times a record is tried before it is dropped: once and twice more, as AWS
/// retries an asynchronous invocation whose function failed.
const MAX_ATTEMPTS: i64 = 3;
/// Records delivered at once; each is one function invocation.
const CONCURRENCY: usize = 8;

/// One Lambda destination of a bucket, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LambdaTarget {
    pub id: String,
    pub function_arn: String,
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

/// A bucket's notification configuration, as stored (JSON in `s3_notifications`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSettings {
    pub lambda: Vec<LambdaTarget>,
}

/// Which write created an object: it names the event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CreatedBy {
    #[default]
    Put,
    Copy,
    CompleteMultipartUpload,
}

impl CreatedBy {
    /// The record's `eventName`.
    pub fn event_name(self) -> &'static str {
        match self {
            CreatedBy::Put => "ObjectCreated:Put",
            CreatedBy::Copy => "ObjectCreated:Copy",
            CreatedBy::CompleteMultipartUpload => "ObjectCreated:CompleteMultipartUpload",
        }
    }
}

/// Where S3 sends events: the local Lambda, seen only through this trait.
pub trait EventTarget: Send + Sync {
    /// Whether `function_arn` names a function that exists (destination validation).
    fn function_exists<'a>(&'a self, function_arn: &'a str) -> BoxFuture<'a, bool>;
    /// Runs the function on one event, as Lambda runs an asynchronous invocation, and
    /// says how it went.
    fn deliver<'a>(&'a self, function_arn: &'a str, payload: Vec<u8>) -> BoxFuture<'a, Delivery>;
}

/// How one delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The function ran the event.
    Delivered,
    /// The function failed or could not run: try again later.
    Failed(String),
    /// The function is gone (deleted since the configuration was set): drop the record.
    Gone(String),
}

fn invalid(message: impl Into<String>) -> s3s::S3Error {
    s3s::S3Error::with_message(s3s::S3ErrorCode::InvalidArgument, message.into())
}

/// Checks a PutBucketNotificationConfiguration request as S3 does and turns it into what
/// is stored. `validate_destinations: false` is the request's SkipDestinationValidation.
pub async fn validate(
    config: NotificationConfiguration,
    validate_destinations: bool,
    target: &dyn EventTarget,
) -> S3Result<NotificationSettings> {
    let others = [
        ("QueueConfigurations (SQS)", config.queue_configurations.as_ref().is_some_and(|c| !c.is_empty())),
        ("TopicConfigurations (SNS)", config.topic_configurations.as_ref().is_some_and(|c| !c.is_empty())),
        ("EventBridgeConfiguration", config.event_bridge_configuration.is_some()),
    ];
    if let Some((kind, _)) = others.iter().find(|(_, present)| *present) {
        return Err(invalid(format!(
            "{kind} destinations are not supported by the local cloud; it delivers S3 events to Lambda \
             functions only (LambdaFunctionConfigurations)."
        )));
    }
    let mut targets = Vec::new();
    for lambda in config.lambda_function_configurations.unwrap_or_default() {
        targets.push(lambda_target(lambda)?);
    }
    let mut ids = HashSet::new();
    for t in &targets {
        if !ids.insert(t.id.as_str()) {
            return Err(invalid("Same ID used for multiple configurations. IDs must be unique."));
        }
    }
    for (i, a) in targets.iter().enumerate() {
        for b in &targets[i + 1..] {
            if overlap(a, b) {
                return Err(invalid(
                    "Configurations overlap. Configurations on the same bucket cannot share a common event type.",
                ));
            }
        }
    }
    if validate_destinations {
        let mut unreachable = Vec::new();
        for t in &targets {
            if !target.function_exists(&t.function_arn).await {
                unreachable.push(t.function_arn.clone());
            }
        }
        if !unreachable.is_empty() {
            return Err(invalid(format!(
                "Unable to validate the following destination configurations: {}",
                unreachable.join(", ")
            )));
        }
    }
    Ok(NotificationSettings { lambda: targets })
}

fn lambda_target(c: LambdaFunctionConfiguration) -> S3Result<LambdaTarget> {
    if c.lambda_function_arn.trim().is_empty() {
        return Err(invalid("A LambdaFunctionConfiguration needs a LambdaFunctionArn (CloudFunction)."));
    }
    if c.events.is_empty() {
        return Err(invalid("A notification configuration needs at least one event (Event)."));
    }
    let mut events = Vec::new();
    for event in c.events {
        let name: String = event.into();
        if OTHER_AWS_EVENTS.contains(&name.as_str()) {
            return Err(invalid(format!(
                "The event {name} is not supported by the local cloud: it sends s3:ObjectCreated:* events \
                 (Put and Copy) only."
            )));
        }
        if !CREATED_EVENTS.contains(&name.as_str()) {
            return Err(invalid(format!("The event is not supported for notifications: {name}")));
        }
        if !events.contains(&name) {
            events.push(name);
        }
    }
    let (prefix, suffix) = key_filter(c.filter)?;
    let id = c.id.filter(|id| !id.trim().is_empty()).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if id.len() > 1024 {
        return Err(invalid("The notification configuration Id is longer than 1024 characters."));
    }
    Ok(LambdaTarget { id, function_arn: c.lambda_function_arn, events, prefix, suffix })
}

/// The prefix and suffix of a filter; each at most once, named `prefix` or `suffix` in any case.
fn key_filter(filter: Option<NotificationConfigurationFilter>) -> S3Result<(Option<String>, Option<String>)> {
    let rules = filter.and_then(|f| f.key).and_then(|k| k.filter_rules).unwrap_or_default();
    let (mut prefix, mut suffix) = (None, None);
    for rule in rules {
        let name = rule.name.as_ref().map(|n| n.as_str().to_ascii_lowercase()).unwrap_or_default();
        let slot = match name.as_str() {
            "prefix" => &mut prefix,
            "suffix" => &mut suffix,
            _ => return Err(invalid("filter rule name must be either prefix or suffix")),
        };
        if slot.is_some() {
            return Err(invalid(format!("Cannot specify more than one {name} rule in a filter.")));
        }
        let value = rule.value.unwrap_or_default();
        if value.len() > 1024 {
            return Err(invalid(format!("The {name} of a filter rule is longer than 1024 characters.")));
        }
        *slot = Some(value);
    }
    Ok((prefix.filter(|p| !p.is_empty()), suffix.filter(|s| !s.is_empty())))
}

/// Whether two event names can match the same event (`s3:ObjectCreated:*` covers Put).
fn events_overlap(a: &str, b: &str) -> bool {
    let family = |e: &str| e.rsplit_once(':').map(|(f, _)| f.to_string()).unwrap_or_default();
    a == b || (family(a) == family(b) && (a.ends_with(":*") || b.ends_with(":*")))
}

/// S3 refuses two configurations that could both fire for one object and event.
fn overlap(a: &LambdaTarget, b: &LambdaTarget) -> bool {
    let events = a.events.iter().any(|x| b.events.iter().any(|y| events_overlap(x, y)));
    let prefixes = match (&a.prefix, &b.prefix) {
        (Some(x), Some(y)) => x.starts_with(y.as_str()) || y.starts_with(x.as_str()),
        _ => true,
    };
    let suffixes = match (&a.suffix, &b.suffix) {
        (Some(x), Some(y)) => x.ends_with(y.as_str()) || y.ends_with(x.as_str()),
        _ => true,
    };
    events && prefixes && suffixes
}

impl LambdaTarget {
    /// Whether this destination wants `event` (`ObjectCreated:Put` …) on `key`.
    pub fn wants(&self, event: &str, key: &str) -> bool {
        let named = format!("s3:{event}");
        self.events.iter().any(|e| *e == named || (e.ends_with(":*") && events_overlap(e, &named)))
            && self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && self.suffix.as_deref().is_none_or(|s| key.ends_with(s))
    }
}

/// The settings in S3's shape, for GetBucketNotificationConfiguration.
pub fn to_dto(settings: NotificationSettings) -> Option<Vec<LambdaFunctionConfiguration>> {
    let configs: Vec<LambdaFunctionConfiguration> = settings
        .lambda
        .into_iter()
        .map(|t| {
            let rule = |name: &'static str, value: Option<String>| {
                value.map(|value| FilterRule { name: Some(FilterRuleName::from_static(name)), value: Some(value) })
            };
            let rules: Vec<FilterRule> =
                [rule("Prefix", t.prefix), rule("Suffix", t.suffix)].into_iter().flatten().collect();
            LambdaFunctionConfiguration {
                events: t.events.into_iter().map(Into::into).collect(),
                filter: (!rules.is_empty()).then_some(NotificationConfigurationFilter {
                    key: Some(S3KeyFilter { filter_rules: Some(rules) }),
                }),
                id: Some(t.id),
                lambda_function_arn: t.function_arn,
            }
        })
        .collect();
    (!configs.is_empty()).then_some(configs)
}

/// A created object, as its event records describe it.
pub struct CreatedObject<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub size: u64,
    pub etag: &'a str,
    pub created_by: CreatedBy,
}

/// The canonical id the local cloud's one account shows as owner and principal.
const LOCAL_PRINCIPAL: &str = "A3NL1KOZZKExample";

/// AWS's S3 event message for one destination: `{"Records": [one record]}`.
pub fn event_message(region: &str, target_id: &str, object: &CreatedObject<'_>, at: OffsetDateTime) -> Value {
    let time = at
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .unwrap_or_default();
    // S3's sequencer orders events for one key: a hex number that grows with time.
    let sequencer = format!("{:016X}", at.unix_timestamp_nanos());
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": time,
        "eventName": object.created_by.event_name(),
        "userIdentity": {"principalId": format!("AWS:{LOCAL_PRINCIPAL}")},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": crate::local::protocol::request_id(),
            "x-amz-id-2": crate::local::protocol::request_id(),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": target_id,
            "bucket": {
                "name": object.bucket,
                "ownerIdentity": {"principalId": LOCAL_PRINCIPAL},
                "arn": format!("arn:aws:s3:::{}", object.bucket),
            },
            "object": {
                "key": super::api::url_encode(object.key),
                "size": object.size,
                "eTag": object.etag,
                "sequencer": sequencer,
            },
        },
    }]})
}

fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The bucket's stored settings (none: no notifications).
pub fn load(conn: &rusqlite::Connection, bucket: &str) -> Result<NotificationSettings, StorageError> {
    let text: Option<String> =
        conn.query_row("SELECT config FROM s3_notifications WHERE bucket = ?1", [bucket], |r| r.get(0)).optional()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default())
}

/// Replaces the bucket's settings; empty settings turn notifications off.
pub fn save(conn: &rusqlite::Connection, bucket: &str, settings: &NotificationSettings) -> Result<(), StorageError> {
    if settings.lambda.is_empty() {
        conn.execute("DELETE FROM s3_notifications WHERE bucket = ?1", [bucket])?;
    } else {
        let text = serde_json::to_string(settings).unwrap_or_else(|_| "{}".into());
        conn.execute(
            "INSERT INTO s3_notifications (bucket, config) VALUES (?1, ?2)
             ON CONFLICT (bucket) DO UPDATE SET config = excluded.config",
            params![bucket, text],
        )?;
    }
    Ok(())
}

/// Inside the transaction that makes `object` visible: records one event message per
/// destination that wants it. Returns how many were recorded.
pub fn record_created(
    conn: &rusqlite::Connection,
    region: &str,
    object: &CreatedObject<'_>,
) -> Result<usize, StorageError> {
    let settings = load(conn, object.bucket)?;
    let event = object.created_by.event_name();
    let now = OffsetDateTime::now_utc();
    let mut recorded = 0;
    for target in settings.lambda.iter().filter(|t| t.wants(event, object.key)) {
        let message = event_message(region, &target.id, object, now);
        record(conn, &target.function_arn, &message.to_string())?;
        recorded += 1;
    }
    Ok(recorded)
}

/// Adds one message to the outbox, due now.
pub fn record(conn: &rusqlite::Connection, function_arn: &str, payload: &str) -> Result<(), StorageError> {
    conn.execute(
        "INSERT INTO s3_event_outbox (function_arn, payload, due_at_ms) VALUES (?1, ?2, ?3)",
        params![function_arn, payload, now_ms()],
    )?;
    Ok(())
}

/// A message waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: i64,
    pub function_arn: String,
    pub payload: String,
    pub attempts: i64,
}

/// Every message still waiting, oldest first (the dashboard and tests look at it).
pub async fn pending(store: &Store) -> Result<Vec<Pending>, StorageError> {
    store
        .call(|conn| {
            let mut stmt =
                conn.prepare("SELECT id, function_arn, payload, attempts FROM s3_event_outbox ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                Ok(Pending { id: r.get(0)?, function_arn: r.get(1)?, payload: r.get(2)?, attempts: r.get(3)? })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
}

/// Delivers the outbox in the background until told to stop.
pub struct Dispatcher {
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
}

impl Dispatcher {
    /// Starts delivering what is in the outbox now (left from before a restart) and
    /// whatever is recorded later; `wake` is signalled after each recording.
    pub fn start(store: Store, target: Arc<dyn EventTarget>, wake: Arc<Notify>) -> Self {
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(run(store, target, wake.clone(), stopped));
        Self { wake, stop }
    }

    /// Stops delivering. Messages in flight stay in the outbox and are delivered again
    /// after the next start (at-least-once).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
        self.wake.notify_one();
    }
}

async fn run(store: Store, target: Arc<dyn EventTarget>, wake: Arc<Notify>, mut stopped: watch::Receiver<bool>) {
    let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let mut tasks = JoinSet::new();
    loop {
        if *stopped.borrow() {
            break; // dropping `tasks` aborts the deliveries in flight
        }
        let busy: Vec<i64> = in_flight.lock().unwrap_or_else(|p| p.into_inner()).iter().copied().collect();
        let room = CONCURRENCY.saturating_sub(busy.len());
        let (due, next_due) = match store.call(move |conn| due_messages(conn, &busy, room)).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!("S3 event outbox: cannot read pending events: {e}");
                (Vec::new(), Some(now_ms() + 1_000))
            }
        };
        for message in due {
            in_flight.lock().unwrap_or_else(|p| p.into_inner()).insert(message.id);
            let (store, target, wake, in_flight) = (store.clone(), target.clone(), wake.clone(), in_flight.clone());
            tasks.spawn(async move {
                let outcome = target.deliver(&message.function_arn, message.payload.clone().into_bytes()).await;
                if let Err(e) = settle(&store, &message, outcome).await {
                    tracing::error!("S3 event outbox: cannot record the delivery of event {}: {e}", message.id);
                }
                in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&message.id);
                wake.notify_one();
            });
        }
        while tasks.try_join_next().is_some() {}
        let wait = next_due.map(|at| Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0).max(10)));
        tokio::select! {
            _ = wake.notified() => {}
            changed = stopped.changed() => {
                if changed.is_err() {
                    break; // the S3 service is gone
                }
            }
            _ = tokio::time::sleep(wait.unwrap_or(Duration::from_secs(60))) => {}
        }
    }
}

/// Up to `room` messages due now and not in flight, and when the next later one is due.
fn due_messages(
    conn: &mut rusqlite::Connection,
    busy: &[i64],
    room: usize,
) -> Result<(Vec<Pending>, Option<i64>), StorageError> {
    let now = now_ms();
    let mut stmt = conn.prepare_cached(
        "SELECT id, function_arn, payload, attempts, due_at_ms FROM s3_event_outbox ORDER BY due_at_ms, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((Pending { id: r.get(0)?, function_arn: r.get(1)?, payload: r.get(2)?, attempts: r.get(3)? }, r.get(4)?))
    })?;
    let mut due = Vec::new();
    let mut next_due: Option<i64> = None;
    for row in rows {
        let (message, at): (Pending, i64) = row?;
        if busy.contains(&message.id) {
            continue;
        }
        if at <= now && due.len() < room {
            due.push(message);
        } else if at > now {
            next_due = Some(next_due.map_or(at, |n| n.min(at)));
            break; // ordered by due time: the rest are later still
        } else {
            next_due = Some(now); // due, but no room: look again when a delivery ends
        }
    }
    Ok((due, next_due))
}

/// Deletes a delivered (or undeliverable) message; schedules a failed one again.
async fn settle(store: &Store, message: &Pending, outcome: Delivery) -> Result<(), StorageError> {
    let id = message.id;
    let attempts = message.attempts + 1;
    let retry_at = match outcome {
        Delivery::Delivered => None,
        Delivery::Gone(why) => {
            tracing::warn!("S3 event {id} for {} dropped: {why}", message.function_arn);
            None
        }
        Delivery::Failed(why) if attempts >= MAX_ATTEMPTS => {
            tracing::warn!("S3 event {id} for {} dropped after {attempts} attempts: {why}", message.function_arn);
            None
        }
        Delivery::Failed(why) => {
            tracing::info!("S3 event {id} for {} failed (attempt {attempts}), retrying: {why}", message.function_arn);
            Some(now_ms() + (1_000i64 << attempts.min(6)))
        }
    };
    store
        .call(move |conn| {
            match retry_at {
                None => conn.execute("DELETE FROM s3_event_outbox WHERE id = ?1", [id])?,
                Some(at) => conn.execute(
                    "UPDATE s3_event_outbox SET attempts = ?2, due_at_ms = ?3 WHERE id = ?1",
                    params![id, attempts, at],
                )?,
            };
            Ok(())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(events: &[&str], prefix: Option<&str>, suffix: Option<&str>) -> LambdaTarget {
        LambdaTarget {
            id: "t".into(),
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            events: events.iter().map(|e| e.to_string()).collect(),
            prefix: prefix.map(str::to_string),
            suffix: suffix.map(str::to_string),
        }
    }

    #[test]
    fn a_target_wants_its_events_under_its_prefix_and_suffix() {
        let t = target(&["s3:ObjectCreated:*"], Some("uploads/"), Some(".jpg"));
        assert!(t.wants("ObjectCreated:Put", "uploads/u/a.jpg"));
        assert!(t.wants("ObjectCreated:Copy", "uploads/u/a.jpg"));
        assert!(!t.wants("ObjectCreated:Put", "photos/a.jpg"));
        assert!(!t.wants("ObjectCreated:Put", "uploads/u/a.png"));
        let put_only = target(&["s3:ObjectCreated:Put"], None, None);
        assert!(put_only.wants("ObjectCreated:Put", "x"));
        assert!(!put_only.wants("ObjectCreated:Copy", "x"));
    }

    #[test]
    fn overlapping_prefixes_for_a_shared_event_type_overlap() {
        let a = target(&["s3:ObjectCreated:*"], Some("uploads/"), None);
        assert!(overlap(&a, &target(&["s3:ObjectCreated:Put"], Some("uploads/user/"), None)));
        assert!(overlap(&a, &target(&["s3:ObjectCreated:Put"], None, None)));
        assert!(!overlap(&a, &target(&["s3:ObjectCreated:Put"], Some("photos/"), None)));
        let put = target(&["s3:ObjectCreated:Put"], None, None);
        assert!(!overlap(&put, &target(&["s3:ObjectCreated:Copy"], None, None)));
        let jpg = target(&["s3:ObjectCreated:Put"], None, Some(".jpg"));
        assert!(!overlap(&jpg, &target(&["s3:ObjectCreated:Put"], None, Some(".png"))));
    }

    #[test]
    fn the_event_message_has_aws_fields_and_a_url_encoded_key() {
        let object = CreatedObject {
            bucket: "b",
            key: "uploads/user a/café.jpg",
            size: 3,
            etag: "abc",
            created_by: CreatedBy::Put,
        };
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let message = event_message("eu-west-1", "cfg", &object, at);
        let record = &message["Records"][0];
        assert_eq!(record["eventVersion"], "2.1");
        assert_eq!(record["eventSource"], "aws:s3");
        assert_eq!(record["awsRegion"], "eu-west-1");
        assert_eq!(record["eventName"], "ObjectCreated:Put");
        assert_eq!(record["eventTime"], "2023-11-14T22:13:20.000Z");
        assert_eq!(record["s3"]["configurationId"], "cfg");
        assert_eq!(record["s3"]["bucket"]["arn"], "arn:aws:s3:::b");
        assert_eq!(record["s3"]["object"]["key"], "uploads/user+a/caf%C3%A9.jpg");
        assert_eq!(record["s3"]["object"]["size"], 3);
        assert_eq!(record["s3"]["object"]["eTag"], "abc");
        assert!(record["s3"]["object"]["sequencer"].as_str().is_some_and(|s| s.len() >= 16));
    }

    #[test]
    fn filter_rules_are_named_prefix_or_suffix_once_each() {
        let filter = |rules: &[(&str, &str)]| {
            Some(NotificationConfigurationFilter {
                key: Some(S3KeyFilter {
                    filter_rules: Some(
                        rules
                            .iter()
                            .map(|(n, v)| FilterRule {
                                name: Some((*n).to_string().into()),
                                value: Some(v.to_string()),
                            })
                            .collect(),
                    ),
                }),
            })
        };
        assert_eq!(
            key_filter(filter(&[("Prefix", "a/"), ("suffix", ".jpg")])).unwrap(),
            (Some("a/".into()), Some(".jpg".into()))
        );
        assert!(key_filter(filter(&[("prefix", "a/"), ("prefix", "b/")])).is_err());
        assert!(key_filter(filter(&[("middle", "a")])).is_err());
    }
}

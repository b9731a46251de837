//! History events with AWS's types, ids, previousEventId and details, so the same reader
//! (the dashboard, GetExecutionHistory) serves AWS and the local engine.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An AWS history event type name (`ExecutionStarted`, `TaskStateEntered`, ...).
pub type EventType = String;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: u64,
    /// Milliseconds since the Unix epoch, as given to the interpreter.
    pub timestamp_ms: i64,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The `...EventDetails` object, keyed in the wire form by [`HistoryEvent::details_key`].
    pub details: Option<Value>,
}

impl HistoryEvent {
    /// The member name AWS uses for this event's details: `stateEnteredEventDetails` for
    /// every `...StateEntered`, `taskScheduledEventDetails` for `TaskScheduled`, ...
    pub fn details_key(&self) -> String {
        let t = self.event_type.as_str();
        if t.ends_with("StateEntered") {
            return "stateEnteredEventDetails".into();
        }
        if t.ends_with("StateExited") {
            return "stateExitedEventDetails".into();
        }
        let mut chars = t.chars();
        match chars.next() {
            Some(c) => format!("{}{}EventDetails", c.to_ascii_lowercase(), chars.as_str()),
            None => "eventDetails".into(),
        }
    }

    /// The event as GetExecutionHistory returns it (timestamp in epoch seconds).
    pub fn to_aws_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), Value::from(self.id));
        m.insert("previousEventId".into(), Value::from(self.previous_event_id));
        m.insert("timestamp".into(), serde_json::json!(self.timestamp_ms as f64 / 1000.0));
        m.insert("type".into(), Value::String(self.event_type.clone()));
        if let Some(d) = &self.details {
            m.insert(self.details_key(), d.clone());
        }
        Value::Object(m)
    }
}

/// Formats epoch milliseconds as AWS's ISO 8601 timestamps (`2024-01-01T00:00:00.000Z`).
pub fn iso8601(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ),
        Err(_) => "1970-01-01T00:00:00.000Z".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_keys_follow_aws_naming() {
        let e = |t: &str| HistoryEvent {
            id: 1,
            previous_event_id: 0,
            timestamp_ms: 0,
            event_type: t.into(),
            details: None,
        };
        assert_eq!(e("PassStateEntered").details_key(), "stateEnteredEventDetails");
        assert_eq!(e("MapStateExited").details_key(), "stateExitedEventDetails");
        assert_eq!(e("LambdaFunctionScheduled").details_key(), "lambdaFunctionScheduledEventDetails");
        assert_eq!(e("ExecutionFailed").details_key(), "executionFailedEventDetails");
    }

    #[test]
    fn iso8601_has_milliseconds_and_zulu() {
        assert_eq!(iso8601(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}

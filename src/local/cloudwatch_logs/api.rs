//! CloudWatch Logs' operations: the awsJson1_1 `X-Amz-Target` names the operation; the log
//! groups, streams and events are read through [`FunctionLogs`].

use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::CloudWatchLogs;
use crate::local::lambda::logs;
use crate::local::protocol::{ApiError, ApiRequest, Protocol, Response, json_response};

const TARGET_PREFIX: &str = "Logs_20140328";
const GROUP_PREFIX: &str = "/aws/lambda/";
/// AWS's default and largest page of events.
const MAX_EVENTS: usize = 10_000;
/// The local cloud's one account (as in its other services' ARNs).
const ACCOUNT_ID: &str = "000000000000";

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("InvalidParameterException", message)
}

fn not_found(group: &str) -> ApiError {
    ApiError::bad_request("ResourceNotFoundException", format!("The specified log group does not exist: {group}"))
}

/// The function a log group name names.
fn function_of(group: &str) -> Result<&str, ApiError> {
    group.strip_prefix(GROUP_PREFIX).filter(|f| !f.is_empty()).ok_or_else(|| not_found(group))
}

/// A page position: the id of the last line given. Tokens are opaque to clients.
fn token(prefix: &str, id: i64) -> String {
    format!("{prefix}/{id:020}")
}

fn parse_token(token: &str) -> Result<(String, i64), ApiError> {
    let (prefix, id) = token.split_once('/').ok_or_else(|| invalid("The specified nextToken is invalid."))?;
    let id = id.parse().map_err(|_| invalid("The specified nextToken is invalid."))?;
    Ok((prefix.to_string(), id))
}

fn limit(requested: Option<i64>, max: usize) -> Result<usize, ApiError> {
    match requested {
        None => Ok(max),
        Some(n) if n >= 1 && usize::try_from(n).is_ok_and(|n| n <= max) => Ok(n as usize),
        Some(n) => Err(invalid(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {max}"
        ))),
    }
}

/// A CloudWatch Logs filter pattern of terms: every plain term (or quoted phrase) must
/// appear, `?term`s are alternatives of which one must appear, `-term` must not. JSON
/// (`{ $.x = … }`) and space-delimited (`[a, b]`) patterns are not implemented here.
#[derive(Debug, Default, PartialEq)]
struct Pattern {
    all: Vec<String>,
    any: Vec<String>,
    none: Vec<String>,
}

impl Pattern {
    fn parse(text: &str) -> Result<Pattern, ApiError> {
        let text = text.trim();
        if text.starts_with('{') || text.starts_with('[') || text.starts_with('%') {
            return Err(ApiError::bad_request(
                "NotImplemented",
                "JSON, space-delimited and regular-expression filter patterns are not implemented by the local cloud: use terms, \"quoted phrases\", ?alternatives and -exclusions.",
            ));
        }
        let mut pattern = Pattern::default();
        let mut rest = text;
        while !rest.is_empty() {
            let (sign, after) = match rest.as_bytes()[0] {
                b'?' => (Some('?'), &rest[1..]),
                b'-' => (Some('-'), &rest[1..]),
                _ => (None, rest),
            };
            let (term, next) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted
                    .find('"')
                    .ok_or_else(|| invalid("Invalid filter pattern: a quoted phrase is not closed."))?;
                (&quoted[..end], &quoted[end + 1..])
            } else {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            if !term.is_empty() {
                match sign {
                    Some('?') => pattern.any.push(term.to_string()),
                    Some(_) => pattern.none.push(term.to_string()),
                    None => pattern.all.push(term.to_string()),
                }
            }
            rest = next.trim_start();
        }
        Ok(pattern)
    }

    fn matches(&self, message: &str) -> bool {
        self.all.iter().all(|t| message.contains(t.as_str()))
            && (self.any.is_empty() || self.any.iter().any(|t| message.contains(t.as_str())))
            && !self.none.iter().any(|t| message.contains(t.as_str()))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Request {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_group_name_prefix: Option<String>,
    log_stream_name: Option<String>,
    log_stream_names: Option<Vec<String>>,
    log_stream_name_prefix: Option<String>,
    order_by: Option<String>,
    descending: Option<bool>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    start_from_head: Option<bool>,
    filter_pattern: Option<String>,
    limit: Option<i64>,
    next_token: Option<String>,
}

impl Request {
    fn group(&self) -> Result<&str, ApiError> {
        let group = self.log_group_name.as_deref().or(self.log_group_identifier.as_deref());
        group.ok_or_else(|| invalid("1 validation error detected: Value null at 'logGroupName' failed to satisfy constraint: Member must not be null"))
    }
}

impl CloudWatchLogs {
    pub async fn handle(&self, req: ApiRequest) -> Result<Response, ApiError> {
        let operation = req.target_operation(TARGET_PREFIX);
        let body: Request = req.json_body()?;
        self.functions.flush().await;
        let value = match operation {
            Some("DescribeLogGroups") => self.describe_log_groups(&body).await?,
            Some("DescribeLogStreams") => self.describe_log_streams(&body).await?,
            Some("GetLogEvents") => self.get_log_events(&body).await?,
            Some("FilterLogEvents") => self.filter_log_events(&body).await?,
            None if !req.target().is_empty() => {
                return Err(ApiError::bad_request(
                    "UnknownOperationException",
                    format!("The operation '{}' is not a CloudWatch Logs operation.", req.target()),
                ));
            }
            Some("") | None => {
                return Err(ApiError::bad_request(
                    "UnknownOperationException",
                    "The request names no operation (X-Amz-Target).",
                ));
            }
            Some(other) => {
                return Err(ApiError::bad_request(
                    "NotImplemented",
                    format!(
                        "{other} is not implemented by the local cloud: it serves the Lambda functions' log groups for reading."
                    ),
                ));
            }
        };
        Ok(json_response(Protocol::AwsJson11, StatusCode::OK, &value))
    }

    fn group_arn(&self, group: &str) -> String {
        format!("arn:aws:logs:{}:{}:log-group:{group}", self.region, ACCOUNT_ID)
    }

    async fn describe_log_groups(&self, req: &Request) -> Result<Value, ApiError> {
        let page = limit(req.limit, 50)?;
        let after = req.next_token.as_deref().map(|t| t.to_string());
        let prefix = req.log_group_name_prefix.clone().unwrap_or_default();
        let groups = self.functions.groups().await?;
        let mut listed: Vec<Value> = groups
            .into_iter()
            .map(|g| (format!("{GROUP_PREFIX}{}", g.function), g))
            .filter(|(name, _)| name.starts_with(&prefix))
            .filter(|(name, _)| after.as_ref().is_none_or(|a| name > a))
            .map(|(name, g)| {
                json!({"logGroupName": name, "creationTime": g.first_ms, "metricFilterCount": 0,
                       "arn": format!("{}:*", self.group_arn(&name)), "logGroupArn": self.group_arn(&name),
                       "storedBytes": g.stored_bytes, "logGroupClass": "STANDARD"})
            })
            .collect();
        let more = listed.len() > page;
        listed.truncate(page);
        let mut out = json!({ "logGroups": listed });
        if more && let Some(last) = listed.last() {
            out["nextToken"] = last["logGroupName"].clone();
        }
        Ok(out)
    }

    async fn describe_log_streams(&self, req: &Request) -> Result<Value, ApiError> {
        let group = req.group()?.to_string();
        let function = function_of(&group)?.to_string();
        let page = limit(req.limit, 50)?;
        let by_time = match req.order_by.as_deref() {
            None | Some("LogStreamName") => false,
            Some("LastEventTime") => true,
            Some(other) => {
                return Err(invalid(format!(
                    "1 validation error detected: Value '{other}' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]"
                )));
            }
        };
        if by_time && req.log_stream_name_prefix.is_some() {
            return Err(invalid("Cannot order by LastEventTime with a logStreamNamePrefix."));
        }
        let mut streams = self.functions.streams(function.clone()).await?;
        if streams.is_empty() && !self.functions.function_names().await?.contains(&function) {
            return Err(not_found(&group));
        }
        if let Some(prefix) = &req.log_stream_name_prefix {
            streams.retain(|s| s.name.starts_with(prefix.as_str()));
        }
        if by_time {
            streams.sort_by_key(|s| (s.last_ms, s.name.clone()));
        }
        if req.descending == Some(true) {
            streams.reverse();
        }
        let skip = match &req.next_token {
            Some(t) => parse_token(t)?.1 as usize,
            None => 0,
        };
        let listed: Vec<Value> = streams
            .iter()
            .skip(skip)
            .take(page)
            .map(|s| {
                json!({"logStreamName": s.name, "creationTime": s.first_ms, "firstEventTimestamp": s.first_ms,
                       "lastEventTimestamp": s.last_ms, "lastIngestionTime": s.last_ms, "storedBytes": s.stored_bytes,
                       "arn": format!("{}:log-stream:{}", self.group_arn(&group), s.name)})
            })
            .collect();
        let mut out = json!({ "logStreams": listed });
        if skip + page < streams.len() {
            out["nextToken"] = token("s", (skip + page) as i64).into();
        }
        Ok(out)
    }

    async fn get_log_events(&self, req: &Request) -> Result<Value, ApiError> {
        let group = req.group()?.to_string();
        let function = function_of(&group)?.to_string();
        let stream = req.log_stream_name.clone().ok_or_else(|| invalid("1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: Member must not be null"))?;
        let page = limit(req.limit, MAX_EVENTS)?;
        // Without a token AWS starts at the end unless told to start from the head.
        let (newest_first, after_id) = match &req.next_token {
            Some(t) => match parse_token(t)? {
                (dir, id) if dir == "f" => (false, Some(id)),
                (dir, id) if dir == "b" => (true, Some(id)),
                _ => return Err(invalid("The specified nextToken is invalid.")),
            },
            None => (req.start_from_head != Some(true), None),
        };
        let query = logs::EventQuery {
            streams: Some(vec![stream.clone()]),
            start_ms: req.start_time,
            end_ms: req.end_time,
            after_id,
            newest_first,
            limit: page,
        };
        let mut found = self.functions.events(function.clone(), query).await?;
        if found.is_empty() && after_id.is_none() {
            let streams = self.functions.streams(function.clone()).await?;
            if !streams.iter().any(|s| s.name == stream) {
                return Err(ApiError::bad_request(
                    "ResourceNotFoundException",
                    "The specified log stream does not exist.",
                ));
            }
        }
        if newest_first {
            found.reverse();
        }
        let first = found.first().map(|e| e.id).or(after_id).unwrap_or(0);
        let last = found.last().map(|e| e.id).or(after_id).unwrap_or(0);
        let events: Vec<Value> = found
            .iter()
            .map(|e| json!({"timestamp": e.timestamp_ms, "message": e.message, "ingestionTime": e.timestamp_ms}))
            .collect();
        Ok(json!({
            "events": events,
            "nextForwardToken": token("f", last),
            "nextBackwardToken": token("b", first),
        }))
    }

    async fn filter_log_events(&self, req: &Request) -> Result<Value, ApiError> {
        let group = req.group()?.to_string();
        let function = function_of(&group)?.to_string();
        if req.log_stream_names.is_some() && req.log_stream_name_prefix.is_some() {
            return Err(invalid("You cannot specify both logStreamNames and logStreamNamePrefix."));
        }
        let page = limit(req.limit, MAX_EVENTS)?;
        let pattern = Pattern::parse(req.filter_pattern.as_deref().unwrap_or(""))?;
        let mut streams = req.log_stream_names.clone();
        if let Some(prefix) = &req.log_stream_name_prefix {
            let all = self.functions.streams(function.clone()).await?;
            streams = Some(all.into_iter().map(|s| s.name).filter(|n| n.starts_with(prefix.as_str())).collect());
        }
        let mut after_id = match &req.next_token {
            Some(t) => Some(parse_token(t)?.1),
            None => None,
        };
        if after_id.is_none()
            && !self.functions.function_names().await?.contains(&function)
            && self.functions.streams(function.clone()).await?.is_empty()
        {
            return Err(not_found(&group));
        }
        // Reads in batches until a page of matches, or the end; a long run of lines that do
        // not match still ends in a token, so no request scans the whole log at once.
        let mut matched = Vec::new();
        let mut scanned = 0;
        let mut exhausted = false;
        while matched.len() < page && scanned < 4 * MAX_EVENTS {
            let query = logs::EventQuery {
                streams: streams.clone(),
                start_ms: req.start_time,
                end_ms: req.end_time,
                after_id,
                newest_first: false,
                limit: 1_000,
            };
            let batch = self.functions.events(function.clone(), query).await?;
            if batch.is_empty() {
                exhausted = true;
                break;
            }
            scanned += batch.len();
            for event in batch {
                after_id = Some(event.id);
                if pattern.matches(&event.message) {
                    matched.push(event);
                    if matched.len() == page {
                        break;
                    }
                }
            }
        }
        let events: Vec<Value> = matched
            .iter()
            .map(|e| {
                json!({"logStreamName": e.stream, "timestamp": e.timestamp_ms, "message": e.message,
                       "ingestionTime": e.timestamp_ms, "eventId": format!("{:056}", e.id)})
            })
            .collect();
        let mut out = json!({ "events": events, "searchedLogStreams": [] });
        if !exhausted && let Some(id) = after_id {
            out["nextToken"] = token("n", id).into();
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_patterns_take_terms_phrases_alternatives_and_exclusions() {
        let p = Pattern::parse(r#"ERROR "face not found" ?user_a ?user_b -debug"#).unwrap();
        assert!(p.matches("ERROR face not found for user_a"));
        assert!(!p.matches("ERROR face not found for user_c"), "one alternative must appear");
        assert!(!p.matches("ERROR face not found for user_a debug"), "an exclusion");
        assert!(!p.matches("face not found for user_a"), "every plain term");
        assert!(Pattern::parse("").unwrap().matches("anything"));
        assert_eq!(Pattern::parse("{ $.level = \"error\" }").unwrap_err().code, "NotImplemented");
        assert!(Pattern::parse("\"open").is_err());
    }

    #[test]
    fn tokens_round_trip_and_refuse_what_they_did_not_make() {
        assert_eq!(parse_token(&token("f", 42)).unwrap(), ("f".into(), 42));
        assert!(parse_token("nonsense").is_err());
        assert_eq!(function_of("/aws/lambda/wildrydes-face-detection").unwrap(), "wildrydes-face-detection");
        assert_eq!(function_of("/other/x").unwrap_err().code, "ResourceNotFoundException");
    }
}

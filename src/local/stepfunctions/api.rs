//! The Step Functions API (awsJson1_0, `X-Amz-Target: AWSStepFunctions.<Operation>`): state
//! machines and executions stored in SQLite, executions run by the durable
//! [`Executor`](super::executor::Executor).
//! Requests are checked as AWS checks them, and refused with AWS's error codes and messages
//! before anything is written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::StepFunctions;
use super::asl::{
    Definition, Diagnostic, ExecutionContext, ExecutionStatus, MAX_DEFINITION_BYTES, MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES,
};
use super::executor::{ExecutorError, Started, now_ms, status_update};
use super::store::{self, ExecutionRow, StateMachineRow};
use crate::local::protocol::{ApiError, ApiRequest, Protocol, Response, json_response};
use crate::local::storage::StorageError;

const TARGET_PREFIX: &str = "AWSStepFunctions";
/// The account id of every local ARN.
pub const ACCOUNT_ID: &str = "000000000000";
/// AWS's default and largest page sizes for the list operations.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: i64 = 1000;
/// The longest an express execution runs, as on AWS (StartSyncExecution waits that long).
const SYNC_EXECUTION_LIMIT: Duration = Duration::from_secs(300);
/// AWS redrives executions that closed within the last 14 days.
const REDRIVE_WINDOW_MS: i64 = 14 * 24 * 3600 * 1000;
/// AWS's quota of open executions per account and region.
const MAX_OPEN_EXECUTIONS: i64 = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum StepFunctionsError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Executor(#[from] ExecutorError),
}

impl From<ExecutorError> for ApiError {
    fn from(e: ExecutorError) -> Self {
        match e {
            ExecutorError::Storage(s) => s.into(),
            ExecutorError::ShuttingDown => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The local cloud is shutting down.",
            ),
            other => ApiError::internal(other.to_string()),
        }
    }
}

fn err(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, message)
}

fn missing(field: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
    ))
}

fn invalid_arn(reason: impl std::fmt::Display) -> ApiError {
    err("InvalidArn", format!("Invalid Arn: '{reason}'"))
}

fn sm_does_not_exist(arn: &str) -> ApiError {
    err("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'"))
}

fn execution_does_not_exist(arn: &str) -> ApiError {
    err("ExecutionDoesNotExist", format!("Execution Does Not Exist: '{arn}'"))
}

fn type_not_supported() -> ApiError {
    err("StateMachineTypeNotSupported", "This operation is not supported by this type of state machine")
}

/// AWS checks a definition's length in the request's validation, before reading it: over
/// 1 MiB characters is a ValidationException, not an InvalidDefinition.
fn check_definition_length(definition: &str) -> Result<(), ApiError> {
    if definition.len() > MAX_DEFINITION_BYTES && definition.chars().count() > MAX_DEFINITION_BYTES {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'definition' failed to satisfy constraint: Member must have length less than or equal to {MAX_DEFINITION_BYTES}"
        )));
    }
    Ok(())
}

fn invalid_definition(diags: &[Diagnostic]) -> ApiError {
    let text = diags.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ");
    err("InvalidDefinition", format!("Invalid State Machine Definition: '{text}'"))
}

fn seconds(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

/// The request body's members, with AWS's checks of their types.
struct Body(Map<String, Value>);

impl Body {
    fn parse(req: &ApiRequest) -> Result<Self, ApiError> {
        match req.json_body::<Value>()? {
            Value::Object(m) => Ok(Self(m)),
            _ => Err(ApiError::serialization("The request body must be a JSON object.")),
        }
    }

    fn str(&self, field: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::serialization(format!("Expected a string for '{field}'."))),
        }
    }

    fn required_str(&self, field: &str) -> Result<&str, ApiError> {
        self.str(field)?.ok_or_else(|| missing(field))
    }

    fn bool(&self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::serialization(format!("Expected a boolean for '{field}'."))),
        }
    }

    fn int(&self, field: &str) -> Result<Option<i64>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::serialization(format!("Expected an integer for '{field}'."))),
        }
    }

    fn object(&self, field: &str) -> Result<Option<&Map<String, Value>>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(ApiError::serialization(format!("Expected a structure for '{field}'."))),
        }
    }

    /// `maxResults`: 0 or absent means the default page; AWS caps it at 1000.
    fn page_size(&self) -> Result<usize, ApiError> {
        match self.int("maxResults")? {
            None | Some(0) => Ok(DEFAULT_PAGE),
            Some(n) if n < 0 => Err(ApiError::validation(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 0"
            ))),
            Some(n) if n > MAX_PAGE => Err(ApiError::validation(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
            ))),
            Some(n) => Ok(n as usize),
        }
    }
}

/// Names of state machines and executions: 1–80 characters of letters, digits, `-` and `_`
/// (the characters AWS allows in names that CloudWatch can log).
fn valid_name(name: &str) -> bool {
    (1..=80).contains(&name.chars().count()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if valid_name(name) { Ok(()) } else { Err(err("InvalidName", format!("Invalid Name: '{name}'"))) }
}

/// A parsed Step Functions ARN: `arn:aws:states:REGION:ACCOUNT:TYPE:REST`.
struct Arn<'a> {
    kind: &'a str,
    parts: Vec<&'a str>,
}

fn parse_arn(arn: &str) -> Result<Arn<'_>, ApiError> {
    let fields: Vec<&str> = arn.splitn(7, ':').collect();
    if fields.len() < 7 || fields[0] != "arn" || fields[2] != "states" || fields[3].is_empty() || fields[4].is_empty() {
        return Err(invalid_arn(format_args!("Invalid ARN prefix: {arn}")));
    }
    let parts: Vec<&str> = fields[6].split(':').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(invalid_arn(format_args!("Invalid ARN: {arn}")));
    }
    Ok(Arn { kind: fields[5], parts })
}

fn state_machine_arn(arn: &str) -> Result<(), ApiError> {
    let parsed = parse_arn(arn)?;
    if parsed.kind != "stateMachine" {
        return Err(invalid_arn(format_args!(
            "Resource type not valid in this context: {}",
            parsed.kind.to_lowercase()
        )));
    }
    if parsed.parts.len() != 1 {
        return Err(invalid_arn(format_args!("Invalid ARN: {arn}")));
    }
    Ok(())
}

/// Checks an execution ARN; `Ok(false)` for an EXPRESS execution's ARN.
fn execution_arn(arn: &str) -> Result<bool, ApiError> {
    let parsed = parse_arn(arn)?;
    match (parsed.kind, parsed.parts.len()) {
        ("execution", 2) => Ok(true),
        ("express", 3) => Ok(false),
        ("execution" | "express", _) => Err(invalid_arn(format_args!("Invalid ARN: {arn}"))),
        (kind, _) => Err(invalid_arn(format_args!("Resource type not valid in this context: {}", kind.to_lowercase()))),
    }
}

fn check_role_arn(role: &str) -> Result<(), ApiError> {
    let fields: Vec<&str> = role.splitn(6, ':').collect();
    if fields.len() == 6 && fields[0] == "arn" && fields[2] == "iam" && fields[5].starts_with("role/") {
        Ok(())
    } else {
        Err(invalid_arn(format_args!("Invalid ARN prefix: {role}")))
    }
}

fn encode_token(value: Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

fn decode_token(token: &str) -> Result<Value, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| err("InvalidToken", format!("Invalid Token: '{token}'")))
}

fn logging_configuration(body: &Body) -> Result<Value, ApiError> {
    let Some(cfg) = body.object("loggingConfiguration")? else {
        return Ok(json!({"level": "OFF", "includeExecutionData": false}));
    };
    let level = cfg.get("level").and_then(Value::as_str).unwrap_or("OFF");
    if !matches!(level, "ALL" | "ERROR" | "FATAL" | "OFF") {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{level}' at 'loggingConfiguration.level' failed to satisfy constraint: Member must satisfy enum value set: [ALL, ERROR, FATAL, OFF]"
        )));
    }
    let destinations = cfg.get("destinations").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
    if destinations > 1 || (level != "OFF" && destinations == 0) {
        return Err(err(
            "InvalidLoggingConfiguration",
            "Invalid Logging Configuration: Must specify exactly one Log Destination.",
        ));
    }
    let mut out = cfg.clone();
    out.insert("level".into(), json!(level));
    out.entry("includeExecutionData").or_insert(json!(false));
    Ok(Value::Object(out))
}

fn tracing_configuration(body: &Body) -> Result<Value, ApiError> {
    Ok(match body.object("tracingConfiguration")? {
        Some(cfg) => json!({"enabled": cfg.get("enabled").and_then(Value::as_bool).unwrap_or(false)}),
        None => json!({"enabled": false}),
    })
}

/// AWS's executions' status values, for `statusFilter`.
const EXECUTION_STATUSES: &[&str] = &["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"];

/// What AWS reports for a state machine created without an encryptionConfiguration.
fn default_encryption() -> Value {
    json!({"type": "AWS_OWNED_KEY"})
}

/// How many parsed definitions [`DefinitionCache`] keeps.
const CACHED_DEFINITIONS: usize = 256;

/// Parsed definitions by their text: a start would otherwise parse and validate the
/// definition again each time (the text was validated when it was stored). Keyed by the
/// text itself, so an UpdateStateMachine can never leave a stale entry behind.
#[derive(Default)]
pub(super) struct DefinitionCache {
    parsed: Mutex<HashMap<String, Arc<Definition>>>,
}

impl DefinitionCache {
    fn get(&self, text: &str) -> Result<Arc<Definition>, ApiError> {
        let mut parsed = self.parsed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = parsed.get(text) {
            return Ok(d.clone());
        }
        let d = Arc::new(Definition::parse(text).map_err(|d| invalid_definition(&d))?);
        if parsed.len() >= CACHED_DEFINITIONS {
            parsed.clear();
        }
        parsed.insert(text.to_string(), d.clone());
        Ok(d)
    }
}

impl StepFunctions {
    pub async fn handle(&self, req: ApiRequest) -> Result<Response, ApiError> {
        let op = req.target_operation(TARGET_PREFIX).unwrap_or(req.target()).to_string();
        let body = Body::parse(&req)?;
        let out = match op.as_str() {
            "CreateStateMachine" => self.create_state_machine(&body).await?,
            "UpdateStateMachine" => self.update_state_machine(&body).await?,
            "DescribeStateMachine" => self.describe_state_machine(&body).await?,
            "ListStateMachines" => self.list_state_machines(&body).await?,
            "DeleteStateMachine" => self.delete_state_machine(&body).await?,
            "ValidateStateMachineDefinition" => validate_definition(&body)?,
            "StartExecution" => self.start_execution(&body).await?,
            "StartSyncExecution" => self.start_sync_execution(&body).await?,
            "DescribeExecution" => self.describe_execution(&body).await?,
            "ListExecutions" => self.list_executions(&body).await?,
            "GetExecutionHistory" => self.get_execution_history(&body).await?,
            "StopExecution" => self.stop_execution(&body).await?,
            "RedriveExecution" => self.redrive_execution(&body).await?,
            "DescribeStateMachineForExecution" => self.describe_state_machine_for_execution(&body).await?,
            "TestState" => self.test_state(&body).await?,
            other => {
                return Err(err(
                    "UnknownOperationException",
                    format!("The local Step Functions does not support the operation '{other}'."),
                ));
            }
        };
        Ok(json_response(Protocol::AwsJson10, StatusCode::OK, &out))
    }

    fn sm_arn(&self, name: &str) -> String {
        format!("arn:aws:states:{}:{ACCOUNT_ID}:stateMachine:{name}", self.region)
    }

    async fn state_machine(&self, arn: &str) -> Result<StateMachineRow, ApiError> {
        state_machine_arn(arn)?;
        let key = arn.to_string();
        self.store.call(move |c| store::get_state_machine(c, &key)).await?.ok_or_else(|| sm_does_not_exist(arn))
    }

    async fn execution(&self, arn: &str) -> Result<ExecutionRow, ApiError> {
        if !execution_arn(arn)? {
            return Err(invalid_arn("Resource type not valid in this context: express"));
        }
        let key = arn.to_string();
        self.store.call(move |c| store::get_execution(c, &key)).await?.ok_or_else(|| execution_does_not_exist(arn))
    }

    async fn create_state_machine(&self, body: &Body) -> Result<Value, ApiError> {
        let name = body.required_str("name")?;
        let definition = body.required_str("definition")?;
        check_definition_length(definition)?;
        let role_arn = body.required_str("roleArn")?;
        let kind = body.str("type")?.unwrap_or("STANDARD");
        if !matches!(kind, "STANDARD" | "EXPRESS") {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{kind}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
            )));
        }
        if body.bool("publish")? != Some(true) && body.str("versionDescription")?.is_some() {
            return Err(ApiError::validation("Version description can only be set when publish is true"));
        }
        check_name(name)?;
        check_role_arn(role_arn)?;
        let logging = logging_configuration(body)?;
        let tracing = tracing_configuration(body)?;
        Definition::parse(definition).map_err(|d| invalid_definition(&d))?;
        let now = now_ms();
        let row = StateMachineRow {
            arn: self.sm_arn(name),
            name: name.to_string(),
            kind: kind.to_string(),
            definition: definition.to_string(),
            role_arn: role_arn.to_string(),
            logging_configuration: logging,
            tracing_configuration: tracing,
            revision_id: None,
            created_ms: now,
            updated_ms: None,
        };
        let result = self
            .store
            .call(move |c| {
                let tx = c.transaction()?;
                let existing = store::get_state_machine_by_name(&tx, &row.name)?;
                let out = match existing {
                    // Create is idempotent: the same name, definition, type and configuration
                    // answer with the machine that exists (its role and tags are left as they are).
                    Some(e)
                        if e.definition == row.definition
                            && e.kind == row.kind
                            && e.logging_configuration == row.logging_configuration
                            && e.tracing_configuration == row.tracing_configuration =>
                    {
                        Ok((e.arn, e.created_ms))
                    }
                    Some(e) => Err(e.arn),
                    None => {
                        store::insert_state_machine(&tx, &row)?;
                        Ok((row.arn.clone(), row.created_ms))
                    }
                };
                tx.commit()?;
                Ok(out)
            })
            .await?;
        match result {
            Ok((arn, created)) => Ok(json!({"stateMachineArn": arn, "creationDate": seconds(created)})),
            Err(arn) => Err(err("StateMachineAlreadyExists", format!("State Machine Already Exists: '{arn}'"))),
        }
    }

    async fn update_state_machine(&self, body: &Body) -> Result<Value, ApiError> {
        let arn = body.required_str("stateMachineArn")?;
        let mut sm = self.state_machine(arn).await?;
        let definition = body.str("definition")?;
        if let Some(d) = definition {
            check_definition_length(d)?;
        }
        let role_arn = body.str("roleArn")?;
        let has_logging = body.object("loggingConfiguration")?.is_some();
        let has_tracing = body.object("tracingConfiguration")?.is_some();
        if definition.is_none() && role_arn.is_none() && !has_logging && !has_tracing {
            return Err(err(
                "MissingRequiredParameter",
                "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
            ));
        }
        if let Some(role) = role_arn {
            check_role_arn(role)?;
            sm.role_arn = role.to_string();
        }
        if let Some(d) = definition {
            Definition::parse(d).map_err(|diags| invalid_definition(&diags))?;
            sm.definition = d.to_string();
        }
        if has_logging {
            sm.logging_configuration = logging_configuration(body)?;
        }
        if has_tracing {
            sm.tracing_configuration = tracing_configuration(body)?;
        }
        let now = now_ms();
        let revision = uuid::Uuid::new_v4().to_string();
        sm.revision_id = Some(revision.clone());
        sm.updated_ms = Some(now);
        self.store.call(move |c| store::update_state_machine(c, &sm)).await?;
        Ok(json!({"updateDate": seconds(now), "revisionId": revision}))
    }

    async fn describe_state_machine(&self, body: &Body) -> Result<Value, ApiError> {
        let arn = body.required_str("stateMachineArn")?;
        let sm = self.state_machine(arn).await?;
        let mut out = json!({
            "stateMachineArn": sm.arn,
            "name": sm.name,
            "status": "ACTIVE",
            "definition": sm.definition,
            "roleArn": sm.role_arn,
            "type": sm.kind,
            "creationDate": seconds(sm.created_ms),
            "loggingConfiguration": sm.logging_configuration,
            "tracingConfiguration": sm.tracing_configuration,
            "encryptionConfiguration": default_encryption(),
        });
        if let Some(r) = sm.revision_id {
            out["revisionId"] = json!(r);
        }
        if let Some(d) = Definition::parse(&sm.definition).ok().and_then(|d| d.comment) {
            out["description"] = json!(d);
        }
        Ok(out)
    }

    async fn list_state_machines(&self, body: &Body) -> Result<Value, ApiError> {
        let limit = body.page_size()?;
        let after = match body.str("nextToken")? {
            Some(t) => Some(
                decode_token(t)?
                    .get("after")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| err("InvalidToken", format!("Invalid Token: '{t}'")))?,
            ),
            None => None,
        };
        let mut rows = self.store.call(move |c| store::list_state_machines(c, after.as_deref(), limit + 1)).await?;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| encode_token(json!({"after": r.name})))
        } else {
            None
        };
        let items: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({"stateMachineArn": r.arn, "name": r.name, "type": r.kind, "creationDate": seconds(r.created_ms)})
            })
            .collect();
        let mut out = json!({"stateMachines": items});
        if let Some(n) = next {
            out["nextToken"] = json!(n);
        }
        Ok(out)
    }

    async fn delete_state_machine(&self, body: &Body) -> Result<Value, ApiError> {
        let arn = body.required_str("stateMachineArn")?;
        state_machine_arn(arn)?;
        // Like AWS, the running executions of a deleted state machine are stopped; their
        // records stay readable.
        let key = arn.to_string();
        let running = self
            .store
            .call(move |c| {
                let mut all = Vec::new();
                let mut before = None;
                loop {
                    let page = store::list_executions(c, &key, Some("RUNNING"), None, before, 1000)?;
                    let Some(last) = page.last() else { break };
                    before = Some(last.seq);
                    all.extend(page.into_iter().map(|r| r.arn));
                }
                store::delete_state_machine(c, &key)?;
                Ok(all)
            })
            .await?;
        for exec in running {
            match self.executor.stop(&exec, None, Some("The state machine was deleted.".into())).await {
                Ok(_) | Err(ExecutorError::NotRunning) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(json!({}))
    }

    async fn start_execution(&self, body: &Body) -> Result<Value, ApiError> {
        let (sm, name, input, input_value) = self.execution_request(body).await?;
        if sm.kind == "EXPRESS" {
            let arn = format!(
                "arn:aws:states:{}:{ACCOUNT_ID}:express:{}:{name}:{}",
                self.region,
                sm.name,
                uuid::Uuid::new_v4()
            );
            let definition = self.definitions.get(&sm.definition)?;
            let now = now_ms();
            // AWS runs an express execution for at most five minutes and keeps no history.
            let executor = self.executor.clone();
            let ctx = context(&sm, &arn, &name);
            tokio::spawn(async move {
                if let Err(e) = executor.run_express(definition, input_value, ctx, SYNC_EXECUTION_LIMIT, false).await {
                    tracing::warn!("express execution ended early: {e}");
                }
            });
            return Ok(json!({"executionArn": arn, "startDate": seconds(now)}));
        }
        let arn = format!("arn:aws:states:{}:{ACCOUNT_ID}:execution:{}:{name}", self.region, sm.name);
        let definition = self.definitions.get(&sm.definition)?;
        let now = now_ms();
        let row = ExecutionRow {
            seq: 0,
            arn: arn.clone(),
            state_machine_arn: sm.arn.clone(),
            name: name.clone(),
            status: "RUNNING".into(),
            input: input.clone(),
            output: None,
            error: None,
            cause: None,
            start_ms: now,
            stop_ms: None,
            redrive_count: 0,
            redrive_ms: None,
            definition: sm.definition.clone(),
            role_arn: sm.role_arn.clone(),
            revision_id: sm.revision_id.clone(),
        };
        let ctx = context(&sm, &arn, &name);
        match self.executor.start(row, definition, input_value, ctx).await? {
            Started::New => Ok(json!({"executionArn": arn, "startDate": seconds(now)})),
            // StartExecution is idempotent for a RUNNING execution started with the same input.
            Started::Existing(e) if e.status == "RUNNING" && e.input == input => {
                Ok(json!({"executionArn": e.arn, "startDate": seconds(e.start_ms)}))
            }
            Started::Existing(e) => {
                Err(err("ExecutionAlreadyExists", format!("Execution Already Exists: '{}'", e.arn)))
            }
        }
    }

    /// The checks shared by StartExecution and StartSyncExecution: the state machine, the
    /// name (or a fresh one), and the input (`{}` when absent).
    async fn execution_request(&self, body: &Body) -> Result<(StateMachineRow, String, String, Value), ApiError> {
        let sm_arn = body.required_str("stateMachineArn")?;
        let name = body.str("name")?.map(str::to_string);
        let input = body.str("input")?.unwrap_or("{}").to_string();
        if input.len() > MAX_PAYLOAD_BYTES {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to {MAX_PAYLOAD_BYTES}"
            )));
        }
        if let Some(n) = &name {
            check_name(n)?;
        }
        let sm = self.state_machine(sm_arn).await?;
        let input_value: Value = serde_json::from_str(&input)
            .map_err(|e| err("InvalidExecutionInput", format!("Invalid State Machine Execution Input: '{e}'")))?;
        if super::asl::json_depth(&input_value) > MAX_JSON_DEPTH {
            return Err(err(
                "InvalidExecutionInput",
                format!("Invalid State Machine Execution Input: 'nesting deeper than {MAX_JSON_DEPTH} levels'"),
            ));
        }
        let name = name.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        Ok((sm, name, input, input_value))
    }

    async fn start_sync_execution(&self, body: &Body) -> Result<Value, ApiError> {
        let (sm, name, input, input_value) = self.execution_request(body).await?;
        if sm.kind != "EXPRESS" {
            return Err(type_not_supported());
        }
        let arn =
            format!("arn:aws:states:{}:{ACCOUNT_ID}:express:{}:{name}:{}", self.region, sm.name, uuid::Uuid::new_v4());
        let definition = self.definitions.get(&sm.definition)?;
        let start = now_ms();
        let finished = self
            .executor
            .run_express(definition, input_value, context(&sm, &arn, &name), SYNC_EXECUTION_LIMIT, false)
            .await?;
        let update = status_update(&finished.status, finished.stop_ms);
        let status = match &finished.status {
            ExecutionStatus::Succeeded { .. } => "SUCCEEDED",
            ExecutionStatus::TimedOut { .. } => "TIMED_OUT",
            _ => "FAILED",
        };
        let duration = finished.stop_ms.saturating_sub(start).max(0);
        let mut out = json!({
            "executionArn": arn,
            "stateMachineArn": sm.arn,
            "name": name,
            "startDate": seconds(start),
            "stopDate": seconds(finished.stop_ms),
            "status": status,
            "input": input,
            "inputDetails": {"included": true},
            "billingDetails": {
                "billedMemoryUsedInMB": 64,
                "billedDurationInMilliseconds": ((duration + 99) / 100 * 100).max(100)
            }
        });
        if let Some(o) = update.output {
            out["output"] = json!(o);
            out["outputDetails"] = json!({"included": true});
        }
        if let Some(e) = update.error {
            out["error"] = json!(e);
        }
        if let Some(c) = update.cause {
            out["cause"] = json!(c);
        }
        Ok(out)
    }

    async fn describe_execution(&self, body: &Body) -> Result<Value, ApiError> {
        let arn = body.required_str("executionArn")?;
        let metadata_only = body.str("includedData")? == Some("METADATA_ONLY");
        let e = self.execution(arn).await?;
        let mut out = json!({
            "executionArn": e.arn,
            "stateMachineArn": e.state_machine_arn,
            "name": e.name,
            "status": e.status,
            "startDate": seconds(e.start_ms),
            "redriveCount": e.redrive_count,
        });
        if !metadata_only {
            out["input"] = json!(e.input);
            out["inputDetails"] = json!({"included": true});
        }
        if let Some(s) = e.stop_ms {
            out["stopDate"] = seconds(s);
        }
        if let Some(o) = &e.output
            && !metadata_only
        {
            out["output"] = json!(o);
            out["outputDetails"] = json!({"included": true});
        }
        if let Some(err) = &e.error {
            out["error"] = json!(err);
        }
        if let Some(c) = &e.cause {
            out["cause"] = json!(c);
        }
        if let Some(r) = e.redrive_ms {
            out["redriveDate"] = seconds(r);
        }
        match self.redrive_refusal(&e, now_ms()).await? {
            None => out["redriveStatus"] = json!("REDRIVABLE"),
            Some(reason) => {
                out["redriveStatus"] = json!("NOT_REDRIVABLE");
                out["redriveStatusReason"] = json!(reason);
            }
        }
        Ok(out)
    }

    async fn list_executions(&self, body: &Body) -> Result<Value, ApiError> {
        let Some(sm_arn) = body.str("stateMachineArn")? else {
            if body.str("mapRunArn")?.is_some() {
                return Err(err("ResourceNotFound", "Map runs are not available in the local cloud."));
            }
            return Err(ApiError::validation("Must provide a StateMachine ARN or MapRun ARN"));
        };
        let status = body.str("statusFilter")?.map(str::to_string);
        if let Some(s) = &status
            && !EXECUTION_STATUSES.contains(&s.as_str())
        {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{s}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                EXECUTION_STATUSES.join(", ")
            )));
        }
        let redriven = match body.str("redriveFilter")? {
            None => None,
            Some("REDRIVEN") => Some(true),
            Some("NOT_REDRIVEN") => Some(false),
            Some(other) => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'redriveFilter' failed to satisfy constraint: Member must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]"
                )));
            }
        };
        let limit = body.page_size()?;
        let sm = self.state_machine(sm_arn).await?;
        if sm.kind != "STANDARD" {
            return Err(type_not_supported());
        }
        let before = match body.str("nextToken")? {
            Some(t) => {
                let token = decode_token(t)?;
                if token.get("sm").and_then(Value::as_str) != Some(sm.arn.as_str()) {
                    return Err(err("InvalidToken", format!("Invalid Token: '{t}'")));
                }
                Some(
                    token
                        .get("before")
                        .and_then(Value::as_i64)
                        .ok_or_else(|| err("InvalidToken", format!("Invalid Token: '{t}'")))?,
                )
            }
            None => None,
        };
        let key = sm.arn.clone();
        let mut rows = self
            .store
            .call(move |c| store::list_executions(c, &key, status.as_deref(), redriven, before, limit + 1))
            .await?;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| encode_token(json!({"sm": sm.arn, "before": r.seq})))
        } else {
            None
        };
        let items: Vec<Value> = rows
            .iter()
            .map(|e| {
                let mut item = json!({
                    "executionArn": e.arn,
                    "stateMachineArn": e.state_machine_arn,
                    "name": e.name,
                    "status": e.status,
                    "startDate": seconds(e.start_ms),
                    "redriveCount": e.redrive_count,
                });
                if let Some(s) = e.stop_ms {
                    item["stopDate"] = seconds(s);
                }
                if let Some(r) = e.redrive_ms {
                    item["redriveDate"] = seconds(r);
                }
                item
            })
            .collect();
        let mut out = json!({"executions": items});
        if let Some(n) = next {
            out["nextToken"] = json!(n);
        }
        Ok(out)
    }

    async fn get_execution_history(&self, body: &Body) -> Result<Value, ApiError> {
        let arn = body.required_str("executionArn")?;
        let reverse = body.bool("reverseOrder")?.unwrap_or(false);
        let include_data = body.bool("includeExecutionData")?.unwrap_or(true);
        let limit = body.page_size()?;
        let e = self.execution(arn).await?;
        let from = match body.str("nextToken")? {
            Some(t) => {
                let token = decode_token(t)?;
                let valid = token.get("arn").and_then(Value::as_str) == Some(e.arn.as_str())
                    && token.get("reverse").and_then(Value::as_bool) == Some(reverse);
                match token.get("from").and_then(Value::as_u64) {
                    Some(id) if valid => Some(id),
                    _ => return Err(err("InvalidToken", format!("Invalid Token: '{t}'"))),
                }
            }
            None => None,
        };
        let key = e.arn.clone();
        let mut events = self.store.call(move |c| store::history(c, &key, from, reverse, limit + 1)).await?;
        let next = if events.len() > limit {
            let following = events.pop().map(|ev| ev.id);
            following.map(|id| encode_token(json!({"arn": e.arn, "reverse": reverse, "from": id})))
        } else {
            None
        };
        let items: Vec<Value> = events
            .iter()
            .map(|ev| {
                let mut v = ev.to_aws_json();
                if !include_data {
                    strip_execution_data(&mut v);
                }
                v
            })
            .collect();
        let mut out = json!({"events": items});
        if let Some(n) = next {
            out["nextToken"] = json!(n);
        }
        Ok(out)
    }

    async fn stop_execution(&self, body: &Body) -> Result<Value, ApiError> {
        let arn = body.required_str("executionArn")?;
        let error = body.str("error")?.map(str::to_string);
        let cause = body.str("cause")?.map(str::to_string);
        if error.as_ref().is_some_and(|e| e.chars().count() > 256) {
            return Err(ApiError::validation(
                "1 validation error detected: Value at 'error' failed to satisfy constraint: Member must have length less than or equal to 256",
            ));
        }
        if cause.as_ref().is_some_and(|c| c.chars().count() > 32768) {
            return Err(ApiError::validation(
                "1 validation error detected: Value at 'cause' failed to satisfy constraint: Member must have length less than or equal to 32768",
            ));
        }
        let mut e = self.execution(arn).await?;
        // An execution whose start has been committed but whose actor is not registered yet
        // is RUNNING on disk: wait for its actor rather than report it stopped.
        for _ in 0..200 {
            match self.executor.stop(&e.arn, error.clone(), cause.clone()).await {
                Ok(stop) => return Ok(json!({"stopDate": seconds(stop)})),
                Err(ExecutorError::NotRunning) => {}
                Err(other) => return Err(other.into()),
            }
            e = self.execution(arn).await?;
            if e.status != "RUNNING" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Stopping a closed execution changes nothing and answers with its stop date.
        Ok(json!({"stopDate": seconds(e.stop_ms.unwrap_or(e.start_ms))}))
    }

    /// Why an execution cannot be redriven now, or `None` when it can (AWS's eligibility:
    /// a closed, unsuccessful Standard execution, closed within 14 days, with room in its
    /// history and a state to resume from).
    async fn redrive_refusal(&self, e: &ExecutionRow, now: i64) -> Result<Option<String>, ApiError> {
        match e.status.as_str() {
            "FAILED" | "TIMED_OUT" | "ABORTED" => {}
            other => return Ok(Some(format!("Execution is {other} and cannot be redriven"))),
        }
        if now.saturating_sub(e.stop_ms.unwrap_or(e.start_ms)) > REDRIVE_WINDOW_MS {
            return Ok(Some("Execution redrivable period exceeded".into()));
        }
        Ok(self.executor.redrive_refusal(&e.arn).await?)
    }

    async fn redrive_execution(&self, body: &Body) -> Result<Value, ApiError> {
        let arn = body.required_str("executionArn")?;
        let token = body.str("clientToken")?.map(str::to_string);
        if let Some(token) = &token
            && !(1..=64).contains(&token.chars().count())
        {
            return Err(ApiError::validation(
                "1 validation error detected: Value at 'clientToken' failed to satisfy constraint: Member must have length between 1 and 64",
            ));
        }
        let e = self.execution(arn).await?;
        // The same request again (an SDK retry after a lost reply) is answered, not refused.
        if let Some(token) = token.clone() {
            let key = e.arn.clone();
            if let Some(at) = self.store.call(move |c| store::redrive_by_token(c, &key, &token, now_ms())).await? {
                return Ok(json!({"redriveDate": seconds(at)}));
            }
        }
        let not_redrivable =
            |reason: &str| err("ExecutionNotRedrivable", format!("Execution '{}' cannot be redriven: {reason}", e.arn));
        if let Some(reason) = self.redrive_refusal(&e, now_ms()).await? {
            return Err(not_redrivable(&reason));
        }
        let open = self.store.call(|c| store::open_executions(c)).await?;
        if open >= MAX_OPEN_EXECUTIONS {
            return Err(err(
                "ExecutionLimitExceeded",
                format!("Execution Limit Exceeded: the account has {open} open executions"),
            ));
        }
        match self.executor.redrive(&e.arn, token).await {
            Ok(at) => Ok(json!({"redriveDate": seconds(at)})),
            Err(ExecutorError::NotRedrivable(reason)) => Err(not_redrivable(&reason)),
            Err(other) => Err(other.into()),
        }
    }

    async fn describe_state_machine_for_execution(&self, body: &Body) -> Result<Value, ApiError> {
        let arn = body.required_str("executionArn")?;
        let e = self.execution(arn).await?;
        let key = e.state_machine_arn.clone();
        let sm = self.store.call(move |c| store::get_state_machine(c, &key)).await?;
        let name = e.state_machine_arn.rsplit(':').next().unwrap_or_default().to_string();
        // The definition the execution runs, as it was when it started.
        let (logging, tracing, update) = match &sm {
            Some(sm) if sm.definition == e.definition => (
                sm.logging_configuration.clone(),
                sm.tracing_configuration.clone(),
                sm.updated_ms.unwrap_or(sm.created_ms),
            ),
            Some(sm) => (sm.logging_configuration.clone(), sm.tracing_configuration.clone(), e.start_ms),
            None => (json!({"level": "OFF", "includeExecutionData": false}), json!({"enabled": false}), e.start_ms),
        };
        let mut out = json!({
            "stateMachineArn": e.state_machine_arn,
            "name": name,
            "definition": e.definition,
            "roleArn": e.role_arn,
            "updateDate": seconds(update),
            "loggingConfiguration": logging,
            "tracingConfiguration": tracing,
            "encryptionConfiguration": default_encryption(),
        });
        if let Some(r) = e.revision_id {
            out["revisionId"] = json!(r);
        }
        Ok(out)
    }
}

impl StepFunctions {
    /// TestState: runs one state on an input and reports its output, next state and error.
    /// The state runs as the start of a machine whose transitions lead to stand-in Pass
    /// states, so the interpreter applies exactly the data flow an execution would; the
    /// stand-in entered names the next state. As on AWS, retriers are not run (a matching
    /// one makes the status RETRIABLE) and a Wait does not wait.
    async fn test_state(&self, body: &Body) -> Result<Value, ApiError> {
        let definition = body.required_str("definition")?;
        check_definition_length(definition)?;
        if let Some(role) = body.str("roleArn")? {
            check_role_arn(role)?;
        }
        let level = body.str("inspectionLevel")?.unwrap_or("INFO");
        if !matches!(level, "INFO" | "DEBUG" | "TRACE") {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{level}' at 'inspectionLevel' failed to satisfy constraint: Member must satisfy enum value set: [INFO, DEBUG, TRACE]"
            )));
        }
        let input_text = body.str("input")?.unwrap_or("{}");
        let input: Value = serde_json::from_str(input_text)
            .map_err(|e| err("InvalidExecutionInput", format!("Invalid State Machine Execution Input: '{e}'")))?;
        let parsed: Value = serde_json::from_str(definition).map_err(|e| {
            invalid_definition(&[Diagnostic::error("INVALID_JSON_DESCRIPTION", format!("Invalid JSON: {e}"), "/")])
        })?;
        let (name, state) = match (parsed.get("States"), body.str("stateName")?) {
            (Some(states), Some(n)) => (
                n.to_string(),
                find_state(states, n).ok_or_else(|| ApiError::validation("State not found in definition"))?,
            ),
            (Some(_), None) => {
                return Err(ApiError::validation("stateName is required when the definition is a state machine"));
            }
            (None, n) => (n.unwrap_or("TestState").to_string(), parsed.clone()),
        };
        let Value::Object(mut state) = state else {
            return Err(invalid_definition(&[Diagnostic::schema("The state definition must be a JSON object", "/")]));
        };
        let retriers = state.remove("Retry");
        if state.get("Type").and_then(Value::as_str) == Some("Wait") {
            for key in ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"] {
                state.remove(key);
            }
            state.insert("Seconds".into(), json!(0));
        }
        // Every transition leads to a stand-in; `targets[i]` is what stand-in i replaces.
        let mut targets: Vec<(String, bool)> = Vec::new();
        let mut stand_in = |target: &mut Value, caught: bool| {
            if let Some(t) = target.as_str() {
                targets.push((t.to_string(), caught));
                *target = json!(format!("TestState stand-in {}", targets.len() - 1));
            }
        };
        if let Some(next) = state.get_mut("Next") {
            stand_in(next, false);
        }
        if let Some(default) = state.get_mut("Default") {
            stand_in(default, false);
        }
        if let Some(Value::Array(choices)) = state.get_mut("Choices") {
            for choice in choices.iter_mut() {
                if let Some(next) = choice.get_mut("Next") {
                    stand_in(next, false);
                }
            }
        }
        if let Some(Value::Array(catchers)) = state.get_mut("Catch") {
            for catcher in catchers.iter_mut() {
                if let Some(next) = catcher.get_mut("Next") {
                    stand_in(next, true);
                }
            }
        }
        let mut states = Map::new();
        states.insert(name.clone(), Value::Object(state));
        for i in 0..targets.len() {
            states.insert(format!("TestState stand-in {i}"), json!({"Type": "Pass", "End": true}));
        }
        let machine = json!({"StartAt": name, "States": states});
        let definition = Definition::from_value(&machine).map_err(|d| invalid_definition(&d))?;
        let tested = definition.machines.first().and_then(|m| m.states.get(&name)).cloned();
        let id = uuid::Uuid::new_v4();
        let arn = format!("arn:aws:states:{}:{ACCOUNT_ID}:express:TestState:{id}:{id}", self.region);
        let ctx_arn = arn.clone();
        let started = now_ms();
        let ctx = ExecutionContext {
            execution_arn: arn,
            name: id.to_string(),
            role_arn: body.str("roleArn")?.unwrap_or_default().to_string(),
            state_machine_arn: self.sm_arn("TestState"),
            state_machine_name: "TestState".into(),
            redrive_count: 0,
        };
        let finished =
            self.executor.run_express(Arc::new(definition), input.clone(), ctx, SYNC_EXECUTION_LIMIT, true).await?;
        let entered = finished.history.iter().find_map(|e| {
            let d = e.details.as_ref()?;
            let n = d.get("name")?.as_str()?;
            let i: usize = n.strip_prefix("TestState stand-in ")?.parse().ok()?;
            e.event_type
                .ends_with("StateEntered")
                .then(|| (i, d.get("input").and_then(Value::as_str).map(str::to_string)))
        });
        let last_error = finished.history.iter().rev().find_map(|e| {
            let d = e.details.as_ref()?;
            let error = d.get("error")?.as_str()?.to_string();
            Some((error, d.get("cause").and_then(Value::as_str).map(str::to_string)))
        });
        let mut out = Map::new();
        match (&finished.status, entered) {
            (_, Some((i, output))) => {
                let (next, caught) = targets.get(i).cloned().unwrap_or_default();
                out.insert("status".into(), json!(if caught { "CAUGHT_ERROR" } else { "SUCCEEDED" }));
                out.insert("nextState".into(), json!(next));
                if let Some(o) = output {
                    out.insert("output".into(), json!(o));
                }
                if caught && let Some((error, cause)) = last_error {
                    out.insert("error".into(), json!(error));
                    if let Some(c) = cause {
                        out.insert("cause".into(), json!(c));
                    }
                }
            }
            (ExecutionStatus::Succeeded { output }, None) => {
                out.insert("status".into(), json!("SUCCEEDED"));
                out.insert("output".into(), json!(super::asl::to_json_text(output)));
            }
            (
                ExecutionStatus::Failed { error, cause }
                | ExecutionStatus::TimedOut { error, cause }
                | ExecutionStatus::Aborted { error, cause },
                None,
            ) => {
                let retriable = error.as_deref().is_some_and(|e| retrier_matches(retriers.as_ref(), e));
                out.insert("status".into(), json!(if retriable { "RETRIABLE" } else { "FAILED" }));
                if let Some(e) = error {
                    out.insert("error".into(), json!(e));
                }
                if let Some(c) = cause {
                    out.insert("cause".into(), json!(c));
                }
            }
            (ExecutionStatus::Running, None) => {
                out.insert("status".into(), json!("FAILED"));
                out.insert("error".into(), json!("States.Timeout"));
            }
        }
        if level != "INFO"
            && let Some(state) = &tested
        {
            // The task's own result, as its `...Succeeded` event recorded it.
            let result = finished.history.iter().find_map(|e| {
                let d = e.details.as_ref()?;
                matches!(e.event_type.as_str(), "LambdaFunctionSucceeded" | "TaskSucceeded")
                    .then(|| d.get("output").and_then(Value::as_str).and_then(|o| serde_json::from_str(o).ok()))
                    .flatten()
            });
            let context = json!({
                "Execution": {"Id": ctx_arn, "Input": input, "Name": id.to_string(), "StartTime": super::asl::history::iso8601(started)},
                "StateMachine": {"Id": self.sm_arn("TestState"), "Name": "TestState"},
                "State": {"Name": name, "EnteredTime": super::asl::history::iso8601(started)},
            });
            let inspection = super::asl::inspect::inspection(state, &input, result.as_ref(), &context);
            out.insert("inspectionData".into(), Value::Object(inspection));
        }
        Ok(Value::Object(out))
    }
}

/// A state by name anywhere in a definition's `States`, including inside Parallel branches
/// and Map processors (TestState's stateName may name any of them).
fn find_state(states: &Value, name: &str) -> Option<Value> {
    let mut stack = vec![states];
    while let Some(states) = stack.pop() {
        let Some(map) = states.as_object() else { continue };
        if let Some(s) = map.get(name) {
            return Some(s.clone());
        }
        for state in map.values() {
            for key in ["ItemProcessor", "Iterator"] {
                if let Some(inner) = state.get(key).and_then(|p| p.get("States")) {
                    stack.push(inner);
                }
            }
            if let Some(Value::Array(branches)) = state.get("Branches") {
                stack.extend(branches.iter().filter_map(|b| b.get("States")));
            }
        }
    }
    None
}

/// Whether a state's Retry field has a retrier for `error` that would run again.
fn retrier_matches(retriers: Option<&Value>, error: &str) -> bool {
    let Some(Value::Array(list)) = retriers else { return false };
    list.iter().any(|r| {
        let attempts = r.get("MaxAttempts").and_then(Value::as_u64).unwrap_or(3);
        let names: Vec<&str> = r
            .get("ErrorEquals")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        attempts > 0 && names.iter().any(|n| *n == error || (*n == "States.ALL" && error != "States.Runtime"))
    })
}

fn context(sm: &StateMachineRow, arn: &str, name: &str) -> ExecutionContext {
    ExecutionContext {
        execution_arn: arn.to_string(),
        name: name.to_string(),
        role_arn: sm.role_arn.clone(),
        state_machine_arn: sm.arn.clone(),
        state_machine_name: sm.name.clone(),
        redrive_count: 0,
    }
}

fn validate_definition(body: &Body) -> Result<Value, ApiError> {
    let definition = body.required_str("definition")?;
    check_definition_length(definition)?;
    if let Some(kind) = body.str("type")?
        && !matches!(kind, "STANDARD" | "EXPRESS")
    {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{kind}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
        )));
    }
    let limit = match body.int("maxResults")? {
        None | Some(0) => 100,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(n) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100"
            )));
        }
    };
    let diagnostics = Definition::validate(definition);
    let truncated = diagnostics.len() > limit;
    let items: Vec<Value> = diagnostics
        .iter()
        .take(limit)
        .map(|d| {
            let mut v = json!({"severity": d.severity, "code": d.code, "message": d.message});
            if let Some(l) = &d.location {
                v["location"] = json!(l);
            }
            v
        })
        .collect();
    let failed = diagnostics.iter().any(|d| d.severity == "ERROR");
    Ok(json!({"result": if failed { "FAIL" } else { "OK" }, "diagnostics": items, "truncated": truncated}))
}

/// With `includeExecutionData: false`, AWS leaves the payloads out of the history.
fn strip_execution_data(event: &mut Value) {
    if let Some(obj) = event.as_object_mut() {
        for (key, details) in obj.iter_mut() {
            if key.ends_with("EventDetails")
                && let Some(d) = details.as_object_mut()
            {
                d.remove("input");
                d.remove("output");
                d.remove("parameters");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_aws_rules() {
        assert!(valid_name("RiderPhotoProcessing-1"));
        assert!(valid_name("a_b"));
        assert!(valid_name(&"x".repeat(80)));
        for bad in ["", "has space", "semi;colon", "star*", "slash/", "dot.", "ü", &"x".repeat(81)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn arns_are_checked_for_their_resource_type() {
        assert!(state_machine_arn("arn:aws:states:us-east-1:000000000000:stateMachine:sm").is_ok());
        let e = state_machine_arn("arn:aws:states:us-east-1:000000000000:execution:sm:e").unwrap_err();
        assert_eq!(e.code, "InvalidArn");
        assert!(e.message.contains("Resource type not valid in this context: execution"), "{}", e.message);
        assert_eq!(state_machine_arn("not-an-arn").unwrap_err().code, "InvalidArn");
        assert!(execution_arn("arn:aws:states:us-east-1:000000000000:execution:sm:e").unwrap());
        assert!(!execution_arn("arn:aws:states:us-east-1:000000000000:express:sm:e:u").unwrap());
        assert!(execution_arn("arn:aws:states:us-east-1:000000000000:execution:sm").is_err());
    }

    #[test]
    fn role_arns_must_name_an_iam_role() {
        assert!(check_role_arn("arn:aws:iam::000000000000:role/StepFunctionsRole").is_ok());
        assert!(check_role_arn("role").is_err());
        assert!(check_role_arn("arn:aws:s3:::bucket").is_err());
    }

    #[test]
    fn tokens_round_trip_and_garbage_is_invalid() {
        let t = encode_token(json!({"after": "x"}));
        assert_eq!(decode_token(&t).unwrap(), json!({"after": "x"}));
        assert_eq!(decode_token("%%%").unwrap_err().code, "InvalidToken");
    }
}

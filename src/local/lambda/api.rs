//! Lambda's operations: REST-JSON, the method and the path under `/2015-03-31/functions`
//! name the operation (CreateFunction, GetFunction, ListFunctions, UpdateFunctionCode,
//! UpdateFunctionConfiguration, DeleteFunction, Invoke).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::{Method, StatusCode};
use rusqlite::params;
use serde::Deserialize;
use serde_json::json;
use sha2::Digest;

use super::model::{self, FunctionRecord, invalid_parameter, not_found};
use super::{Lambda, LambdaError, MAX_ASYNC_PAYLOAD, MAX_SYNC_PAYLOAD, code, runtime};
use crate::local::protocol::{ApiError, ApiRequest, Protocol, Response, full_body, json_response, request_id};

/// `LogType: Tail` returns this much of the end of the invocation's log.
const TAIL_BYTES: usize = 4 * 1024;

impl Lambda {
    /// A REST-JSON request of the Lambda API.
    pub async fn handle(&self, req: ApiRequest) -> Result<Response, ApiError> {
        let Some(rest) = req.path.strip_prefix("/2015-03-31/functions") else {
            return Err(unknown_operation(&req));
        };
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        match (&req.method, segments.as_slice()) {
            (&Method::POST, []) => self.create_function(&req).await,
            (&Method::GET, []) => self.list_functions(&req).await,
            (&Method::GET, [name]) => self.get_function(&req, name).await,
            (&Method::DELETE, [name]) => self.delete_function(&req, name).await,
            (&Method::GET, [name, "configuration"]) => self.get_function_configuration(&req, name).await,
            (&Method::PUT, [name, "configuration"]) => self.update_configuration(&req, name).await,
            (&Method::PUT, [name, "code"]) => self.update_code(&req, name).await,
            (&Method::POST, [name, "invocations"]) => self.invoke_api(&req, name).await,
            _ => Err(unknown_operation(&req)),
        }
    }

    fn resolve(&self, req: &ApiRequest, identifier: &str) -> Result<String, ApiError> {
        let name = model::resolve_name(&self.inner.region, identifier)?;
        match req.query_param("Qualifier") {
            None | Some("$LATEST") => Ok(name),
            Some(q) => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                format!("Function not found: {}:{q}", model::function_arn(&self.inner.region, &name)),
            )),
        }
    }

    async fn create_function(&self, req: &ApiRequest) -> Result<Response, ApiError> {
        let input: CreateFunctionInput = req.json_body()?;
        let name = input.function_name.ok_or_else(|| missing("functionName"))?;
        model::validate_name(&name)?;
        let role = input.role.ok_or_else(|| missing("role"))?;
        model::validate_role(&role)?;
        if input.package_type.as_deref().is_some_and(|p| p != "Zip") {
            return Err(invalid_parameter("The local cloud runs functions packaged as Zip only."));
        }
        let (Some(runtime), Some(handler)) = (input.runtime, input.handler) else {
            return Err(invalid_parameter(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
            ));
        };
        model::validate_runtime(&runtime)?;
        let timeout = input.timeout.map(model::validate_timeout).transpose()?.unwrap_or(model::DEFAULT_TIMEOUT);
        let memory_size = input.memory_size.map(model::validate_memory).transpose()?.unwrap_or(model::DEFAULT_MEMORY);
        let environment = input.environment.and_then(|e| e.variables).unwrap_or_default();
        model::validate_environment(&environment)?;
        let architectures = validate_architectures(input.architectures)?;
        let code = input.code.ok_or_else(|| missing("code"))?;
        let zip = decode_zip(code)?;
        if self.exists(&name).await? {
            return Err(conflict(&name));
        }
        let (code_blob, code_sha256, code_size) = self.store_code(zip).await?;
        let record = FunctionRecord {
            name: name.clone(),
            runtime,
            role,
            handler: Some(handler),
            description: input.description.unwrap_or_default(),
            timeout,
            memory_size,
            environment,
            architectures,
            code_blob: code_blob.clone(),
            code_sha256,
            code_size,
            last_modified: model::now_last_modified(),
            revision_id: uuid::Uuid::new_v4().to_string(),
        };
        let json = serde_json::to_string(&record).map_err(|e| ApiError::internal(e.to_string()))?;
        let key = name.clone();
        let inserted = self
            .inner
            .store
            .call(move |conn| {
                Ok(conn.execute(
                    "INSERT OR IGNORE INTO lambda_functions (name, record) VALUES (?1, ?2)",
                    params![key, json],
                )?)
            })
            .await?;
        if inserted == 0 {
            // Created by a concurrent request since the check above.
            self.discard_code(&code_blob);
            return Err(conflict(&name));
        }
        Ok(json_response(Protocol::RestJson, StatusCode::CREATED, &record.configuration(&self.inner.region)))
    }

    pub(super) async fn exists(&self, name: &str) -> Result<bool, ApiError> {
        match self.load(name).await {
            Ok(_) => Ok(true),
            Err(LambdaError::Api(e)) if e.code == "ResourceNotFoundException" => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks and stores a zip: a durable blob, and the code unpacked beside it.
    async fn store_code(&self, zip: Vec<u8>) -> Result<(String, String, u64), ApiError> {
        let store = self.inner.store.clone();
        let code_root = self.inner.code_root.clone();
        tokio::task::spawn_blocking(move || -> Result<(String, String, u64), ApiError> {
            code::check(&zip).map_err(|e| {
                invalid_parameter(format!(
                    "Could not unzip uploaded file. Please check your file, then try to upload again. ({e})"
                ))
            })?;
            let sha = BASE64.encode(sha2::Sha256::digest(&zip));
            let blob = store.blobs().put(&zip)?;
            if let Err(e) = code::unpack(&zip, &code_root.join(&blob)) {
                let _ = store.blobs().delete(&blob);
                return Err(ApiError::internal(format!("could not unpack the function code: {e}")));
            }
            Ok((blob, sha, zip.len() as u64))
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
    }

    fn discard_code(&self, blob: &str) {
        let _ = self.inner.store.blobs().delete(blob);
        let _ = std::fs::remove_dir_all(self.inner.code_root.join(blob));
    }

    async fn save(&self, record: &FunctionRecord) -> Result<(), ApiError> {
        let json = serde_json::to_string(record).map_err(|e| ApiError::internal(e.to_string()))?;
        let name = record.name.clone();
        let updated = self
            .inner
            .store
            .call(move |conn| {
                Ok(conn.execute("UPDATE lambda_functions SET record = ?2 WHERE name = ?1", params![name, json])?)
            })
            .await?;
        if updated == 0 {
            return Err(not_found(&self.inner.region, &record.name));
        }
        Ok(())
    }

    async fn get_function(&self, req: &ApiRequest, identifier: &str) -> Result<Response, ApiError> {
        let name = self.resolve(req, identifier)?;
        let record = self.load(&name).await?;
        let body = json!({
            "Configuration": record.configuration(&self.inner.region),
            "Code": {
                "RepositoryType": "S3",
                "Location": format!("{}/_wildrydes/lambda-code/{}", self.inner.endpoint, record.name),
            },
        });
        Ok(json_response(Protocol::RestJson, StatusCode::OK, &body))
    }

    async fn get_function_configuration(&self, req: &ApiRequest, identifier: &str) -> Result<Response, ApiError> {
        let name = self.resolve(req, identifier)?;
        let record = self.load(&name).await?;
        Ok(json_response(Protocol::RestJson, StatusCode::OK, &record.configuration(&self.inner.region)))
    }

    async fn list_functions(&self, req: &ApiRequest) -> Result<Response, ApiError> {
        let max_items = match req.query_param("MaxItems") {
            None => 50,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=10_000).contains(&n) => n,
                _ => {
                    return Err(ApiError::validation(format!(
                        "1 validation error detected: Value '{v}' at 'maxItems' failed to satisfy constraint: Member \
                         must have value between 1 and 10000"
                    )));
                }
            },
        };
        let after = match req.query_param("Marker") {
            None | Some("") => String::new(),
            Some(marker) => BASE64
                .decode(marker)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|name| model::validate_name(name).is_ok())
                .ok_or_else(|| invalid_parameter("Invalid marker value."))?,
        };
        let rows: Vec<String> = self
            .inner
            .store
            .call(move |conn| {
                let mut stmt =
                    conn.prepare("SELECT record FROM lambda_functions WHERE name > ?1 ORDER BY name LIMIT ?2")?;
                let rows = stmt.query_map(params![after, max_items + 1], |row| row.get(0))?;
                Ok(rows.collect::<Result<Vec<String>, _>>()?)
            })
            .await?;
        let mut functions = Vec::new();
        let mut last = None;
        for row in rows.iter().take(max_items as usize) {
            if let Ok(record) = serde_json::from_str::<FunctionRecord>(row) {
                functions.push(record.configuration(&self.inner.region));
                last = Some(record.name);
            }
        }
        let mut body = json!({ "Functions": functions });
        if rows.len() as i64 > max_items
            && let Some(last) = last
        {
            body["NextMarker"] = json!(BASE64.encode(last));
        }
        Ok(json_response(Protocol::RestJson, StatusCode::OK, &body))
    }

    async fn delete_function(&self, req: &ApiRequest, identifier: &str) -> Result<Response, ApiError> {
        let name = self.resolve(req, identifier)?;
        let record = self.load(&name).await?;
        let key = name.clone();
        self.inner
            .store
            .call(move |conn| Ok(conn.execute("DELETE FROM lambda_functions WHERE name = ?1", params![key])?))
            .await?;
        self.inner.runtime.retire(&name);
        self.discard_code(&record.code_blob);
        Ok(empty_response(StatusCode::NO_CONTENT))
    }

    async fn update_configuration(&self, req: &ApiRequest, identifier: &str) -> Result<Response, ApiError> {
        let name = self.resolve(req, identifier)?;
        let input: UpdateConfigurationInput = req.json_body()?;
        let mut record = self.load(&name).await?;
        check_revision(&record, input.revision_id.as_deref())?;
        if let Some(role) = input.role {
            model::validate_role(&role)?;
            record.role = role;
        }
        if let Some(runtime) = input.runtime {
            model::validate_runtime(&runtime)?;
            record.runtime = runtime;
        }
        if let Some(handler) = input.handler {
            record.handler = Some(handler);
        }
        if let Some(description) = input.description {
            record.description = description;
        }
        if let Some(timeout) = input.timeout {
            record.timeout = model::validate_timeout(timeout)?;
        }
        if let Some(memory) = input.memory_size {
            record.memory_size = model::validate_memory(memory)?;
        }
        if let Some(environment) = input.environment {
            let variables = environment.variables.unwrap_or_default();
            model::validate_environment(&variables)?;
            record.environment = variables;
        }
        record.last_modified = model::now_last_modified();
        record.revision_id = uuid::Uuid::new_v4().to_string();
        self.save(&record).await?;
        self.inner.runtime.retire(&name);
        Ok(json_response(Protocol::RestJson, StatusCode::OK, &record.configuration(&self.inner.region)))
    }

    async fn update_code(&self, req: &ApiRequest, identifier: &str) -> Result<Response, ApiError> {
        let name = self.resolve(req, identifier)?;
        let input: UpdateCodeInput = req.json_body()?;
        let mut record = self.load(&name).await?;
        check_revision(&record, input.revision_id.as_deref())?;
        let zip = decode_zip(CodeInput {
            zip_file: input.zip_file,
            s3_bucket: input.s3_bucket,
            s3_key: input.s3_key,
            image_uri: input.image_uri,
        })?;
        if let Some(architectures) = input.architectures {
            record.architectures = validate_architectures(Some(architectures))?;
        }
        if input.dry_run == Some(true) {
            code::check(&zip).map_err(|e| {
                invalid_parameter(format!(
                    "Could not unzip uploaded file. Please check your file, then try to upload again. ({e})"
                ))
            })?;
            return Ok(json_response(Protocol::RestJson, StatusCode::OK, &record.configuration(&self.inner.region)));
        }
        let (blob, sha, size) = self.store_code(zip).await?;
        let old_blob = std::mem::replace(&mut record.code_blob, blob.clone());
        record.code_sha256 = sha;
        record.code_size = size;
        record.last_modified = model::now_last_modified();
        record.revision_id = uuid::Uuid::new_v4().to_string();
        if let Err(e) = self.save(&record).await {
            self.discard_code(&blob);
            return Err(e);
        }
        self.inner.runtime.retire(&name);
        self.discard_code(&old_blob);
        Ok(json_response(Protocol::RestJson, StatusCode::OK, &record.configuration(&self.inner.region)))
    }

    async fn invoke_api(&self, req: &ApiRequest, identifier: &str) -> Result<Response, ApiError> {
        let name = self.resolve(req, identifier)?;
        let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
        let invocation_type = header("x-amz-invocation-type").unwrap_or("RequestResponse");
        let tail = match header("x-amz-log-type").unwrap_or("None") {
            "None" => false,
            "Tail" => true,
            other => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'logType' failed to satisfy constraint: Member \
                     must satisfy enum value set: [None, Tail]"
                )));
            }
        };
        match invocation_type {
            "RequestResponse" => {
                let payload = check_payload(req.body.clone(), MAX_SYNC_PAYLOAD, "Invoke")?;
                let invoked = self.invoke_function(&name, payload).await?;
                let (body, function_error) = match invoked.outcome {
                    runtime::Outcome::Response(body) => (body, false),
                    runtime::Outcome::Error(body) => (body, true),
                };
                let mut builder = http::Response::builder()
                    .status(StatusCode::OK)
                    .header("x-amzn-requestid", request_id())
                    .header("x-amz-executed-version", "$LATEST")
                    .header(http::header::CONTENT_TYPE, "application/json");
                if function_error {
                    builder = builder.header("x-amz-function-error", "Unhandled");
                }
                if tail {
                    builder = builder.header("x-amz-log-result", BASE64.encode(log_tail(&invoked.log)));
                }
                builder.body(full_body(body)).map_err(|e| ApiError::internal(e.to_string()))
            }
            "Event" => {
                let payload = check_payload(req.body.clone(), MAX_ASYNC_PAYLOAD, "InvokeAsync")?;
                // Checked now, so the caller hears of a missing function.
                self.load(&name).await?;
                let lambda = self.clone();
                tokio::spawn(async move {
                    match lambda.invoke_function(&name, payload).await {
                        Ok(invoked) => {
                            if let runtime::Outcome::Error(body) = invoked.outcome {
                                tracing::info!(
                                    "asynchronous invocation of {name} failed: {}",
                                    String::from_utf8_lossy(&body)
                                );
                            }
                        }
                        Err(e) => tracing::warn!("asynchronous invocation of {name} could not run: {e}"),
                    }
                });
                Ok(empty_response(StatusCode::ACCEPTED))
            }
            "DryRun" => {
                self.load(&name).await?;
                Ok(empty_response(StatusCode::NO_CONTENT))
            }
            other => Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: \
                 Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            ))),
        }
    }
}

fn empty_response(status: StatusCode) -> Response {
    http::Response::builder()
        .status(status)
        .header("x-amzn-requestid", request_id())
        .body(full_body(Bytes::new()))
        .unwrap_or_else(|_| http::Response::new(full_body("")))
}

/// The end of an invocation's log, at most [`TAIL_BYTES`], starting on a whole character.
fn log_tail(log: &str) -> &str {
    if log.len() <= TAIL_BYTES {
        return log;
    }
    let mut start = log.len() - TAIL_BYTES;
    while !log.is_char_boundary(start) {
        start += 1;
    }
    &log[start..]
}

/// An invocation payload within Lambda's limit, as JSON; an empty one is `{}`.
pub(super) fn check_payload(payload: Bytes, limit: usize, operation: &str) -> Result<Bytes, ApiError> {
    if payload.len() > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            format!("Request must be smaller than {limit} bytes for the {operation} operation"),
        ));
    }
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(Bytes::from_static(b"{}"));
    }
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
        return Err(ApiError::bad_request(
            "InvalidRequestContentException",
            format!("Could not parse request body into json: Could not parse payload into json: {e}"),
        ));
    }
    Ok(payload)
}

fn check_revision(record: &FunctionRecord, expected: Option<&str>) -> Result<(), ApiError> {
    match expected {
        Some(expected) if expected != record.revision_id => Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to \
             retrieve the latest Revision Id",
        )),
        _ => Ok(()),
    }
}

fn decode_zip(code: CodeInput) -> Result<Vec<u8>, ApiError> {
    if code.image_uri.is_some() {
        return Err(invalid_parameter("The local cloud runs functions packaged as Zip only (no ImageUri)."));
    }
    if code.s3_bucket.is_some() || code.s3_key.is_some() {
        return Err(invalid_parameter(
            "The local cloud takes function code as Code.ZipFile (S3Bucket/S3Key are not supported).",
        ));
    }
    let encoded = code.zip_file.ok_or_else(|| invalid_parameter("Please provide a source for function code."))?;
    let zip = BASE64.decode(encoded.as_bytes()).map_err(|e| {
        invalid_parameter(format!(
            "Could not unzip uploaded file. Please check your file, then try to upload again. ({e})"
        ))
    })?;
    Ok(zip)
}

fn validate_architectures(architectures: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let architectures = architectures.unwrap_or_else(|| vec!["x86_64".into()]);
    if architectures.len() != 1 || !matches!(architectures[0].as_str(), "x86_64" | "arm64") {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{architectures:?}' at 'architectures' failed to satisfy constraint: \
             Member must have length less than or equal to 1, Member must satisfy enum value set: [x86_64, arm64]"
        )));
    }
    Ok(architectures)
}

fn missing(field: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
    ))
}

fn conflict(name: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "ResourceConflictException", format!("Function already exist: {name}"))
}

fn unknown_operation(req: &ApiRequest) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        format!("The local Lambda has no operation {} {}", req.method, req.path),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateFunctionInput {
    function_name: Option<String>,
    runtime: Option<String>,
    role: Option<String>,
    handler: Option<String>,
    code: Option<CodeInput>,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    environment: Option<EnvironmentInput>,
    architectures: Option<Vec<String>>,
    package_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CodeInput {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
    image_uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnvironmentInput {
    variables: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateConfigurationInput {
    role: Option<String>,
    runtime: Option<String>,
    handler: Option<String>,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    environment: Option<EnvironmentInput>,
    revision_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateCodeInput {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    s3_key: Option<String>,
    image_uri: Option<String>,
    architectures: Option<Vec<String>>,
    dry_run: Option<bool>,
    revision_id: Option<String>,
}

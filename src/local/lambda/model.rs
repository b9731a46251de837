//! A function's stored configuration, its validation with Lambda's rules and messages, and
//! its `FunctionConfiguration` shape on the wire.

use std::collections::BTreeMap;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::super::protocol::ApiError;

/// The account id in the ARNs of the local cloud.
pub const ACCOUNT_ID: &str = "000000000000";
/// The runtimes the local cloud can run: the OS-only ones, whose code is a `bootstrap`.
pub const RUNTIMES: [&str; 2] = ["provided.al2023", "provided.al2"];
pub const DEFAULT_TIMEOUT: u32 = 3;
pub const DEFAULT_MEMORY: u32 = 128;
pub const MAX_TIMEOUT: u32 = 900;
pub const MIN_MEMORY: u32 = 128;
pub const MAX_MEMORY: u32 = 10_240;
/// Lambda's limit on the total size of a function's environment variables.
const MAX_ENVIRONMENT_BYTES: usize = 4 * 1024;
/// Variables the Lambda runtime sets itself; a function may not set them (Lambda's list).
pub const RESERVED_VARIABLES: [&str; 18] = [
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// What the local cloud keeps of a function (one row of `lambda_functions`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FunctionRecord {
    pub name: String,
    pub runtime: String,
    pub role: String,
    pub handler: Option<String>,
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    pub environment: BTreeMap<String, String>,
    pub architectures: Vec<String>,
    /// The blob holding the zip as uploaded.
    pub code_blob: String,
    pub code_sha256: String,
    pub code_size: u64,
    pub last_modified: String,
    /// Changes on every update; also tells the runtime when warm instances are stale.
    pub revision_id: String,
}

impl FunctionRecord {
    pub fn arn(&self, region: &str) -> String {
        function_arn(region, &self.name)
    }

    /// `FunctionConfiguration` as Lambda returns it.
    pub fn configuration(&self, region: &str) -> Value {
        let mut config = json!({
            "FunctionName": self.name,
            "FunctionArn": self.arn(region),
            "Runtime": self.runtime,
            "Role": self.role,
            "CodeSize": self.code_size,
            "Description": self.description,
            "Timeout": self.timeout,
            "MemorySize": self.memory_size,
            "LastModified": self.last_modified,
            "CodeSha256": self.code_sha256,
            "Version": "$LATEST",
            "TracingConfig": {"Mode": "PassThrough"},
            "RevisionId": self.revision_id,
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": self.architectures,
            "EphemeralStorage": {"Size": 512},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{}", self.name)},
        });
        if let Some(handler) = &self.handler {
            config["Handler"] = json!(handler);
        }
        if !self.environment.is_empty() {
            config["Environment"] = json!({ "Variables": self.environment });
        }
        config
    }
}

pub fn function_arn(region: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}")
}

pub fn not_found(region: &str, name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        format!("Function not found: {}", function_arn(region, name)),
    )
}

pub fn invalid_parameter(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("InvalidParameterValueException", message)
}

/// A function named by its name, its ARN or its partial ARN, with an optional qualifier.
/// Only `$LATEST` exists locally (no published versions or aliases).
pub fn resolve_name(region: &str, identifier: &str) -> Result<String, ApiError> {
    let parts: Vec<&str> = identifier.split(':').collect();
    let (name, qualifier) = match parts.as_slice() {
        [name] => (*name, None),
        [name, qualifier] => (*name, Some(*qualifier)),
        [account, "function", name] if *account == ACCOUNT_ID => (*name, None),
        [account, "function", name, qualifier] if *account == ACCOUNT_ID => (*name, Some(*qualifier)),
        ["arn", "aws", "lambda", _region, account, "function", name] if *account == ACCOUNT_ID => (*name, None),
        ["arn", "aws", "lambda", _region, account, "function", name, qualifier] if *account == ACCOUNT_ID => {
            (*name, Some(*qualifier))
        }
        _ => return Err(name_validation(identifier)),
    };
    validate_name(name)?;
    match qualifier {
        None | Some("$LATEST") => Ok(name.to_string()),
        Some(q) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("Function not found: {}:{q}", function_arn(region, name)),
        )),
    }
}

fn name_validation(value: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at 'functionName' failed to satisfy constraint: Member must \
         satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
    ))
}

pub fn validate_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(name_validation(name)) }
}

pub fn validate_runtime(runtime: &str) -> Result<(), ApiError> {
    if RUNTIMES.contains(&runtime) {
        Ok(())
    } else {
        Err(invalid_parameter(format!(
            "The runtime parameter of {runtime} is not supported by the local cloud: it runs the OS-only runtimes \
             ({}), whose code is a 'bootstrap' executable.",
            RUNTIMES.join(", ")
        )))
    }
}

pub fn validate_role(role: &str) -> Result<(), ApiError> {
    let ok = role.starts_with("arn:aws")
        && role.split(':').nth(2) == Some("iam")
        && role.split(':').nth(4).is_some_and(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
        && role.split(':').nth(5).is_some_and(|r| r.starts_with("role/") && r.len() > 5);
    if ok {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "1 validation error detected: Value '{role}' at 'role' failed to satisfy constraint: Member must satisfy \
             regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{{12}}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"
        )))
    }
}

pub fn validate_timeout(timeout: i64) -> Result<u32, ApiError> {
    if timeout < 1 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{timeout}' at 'timeout' failed to satisfy constraint: Member must \
             have value greater than or equal to 1"
        )));
    }
    u32::try_from(timeout).ok().filter(|t| *t <= MAX_TIMEOUT).ok_or_else(|| {
        invalid_parameter(format!("Timeout value must be between 1 and {MAX_TIMEOUT} seconds (was {timeout})."))
    })
}

pub fn validate_memory(memory: i64) -> Result<u32, ApiError> {
    let (bound, word) = if memory < i64::from(MIN_MEMORY) {
        (MIN_MEMORY, "greater")
    } else if memory > i64::from(MAX_MEMORY) {
        (MAX_MEMORY, "less")
    } else {
        return Ok(memory as u32);
    };
    Err(ApiError::validation(format!(
        "1 validation error detected: Value '{memory}' at 'memorySize' failed to satisfy constraint: Member must \
         have value {word} than or equal to {bound}"
    )))
}

pub fn validate_environment(variables: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let reserved: Vec<&str> = variables.keys().map(String::as_str).filter(|k| RESERVED_VARIABLES.contains(k)).collect();
    if !reserved.is_empty() {
        return Err(invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have \
             provided contains reserved keys that are currently not supported for modification. Reserved keys used \
             in this request: {}",
            reserved.join(", ")
        )));
    }
    for key in variables.keys() {
        let valid = key.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys \
                 must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+] \
                 (key '{key}')"
            )));
        }
    }
    let size = serde_json::to_string(variables).map(|s| s.len()).unwrap_or(usize::MAX);
    if size > MAX_ENVIRONMENT_BYTES {
        return Err(invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have \
             provided exceeded the 4KB limit. String measured: {size} bytes"
        )));
    }
    Ok(())
}

/// Lambda's `LastModified` format: `2024-01-02T03:04:05.678+0000`.
pub fn now_last_modified() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000");
    now.format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_arns_and_partial_arns_resolve_to_the_name() {
        for id in [
            "fn-1",
            "fn-1:$LATEST",
            "000000000000:function:fn-1",
            "arn:aws:lambda:us-east-1:000000000000:function:fn-1",
            "arn:aws:lambda:us-east-1:000000000000:function:fn-1:$LATEST",
        ] {
            assert_eq!(resolve_name("us-east-1", id).unwrap(), "fn-1", "{id}");
        }
        assert_eq!(resolve_name("us-east-1", "fn-1:7").unwrap_err().code, "ResourceNotFoundException");
        assert_eq!(resolve_name("us-east-1", "bad name").unwrap_err().code, "ValidationException");
        assert_eq!(
            resolve_name("us-east-1", "arn:aws:lambda:us-east-1:123456789012:function:x").unwrap_err().code,
            "ValidationException"
        );
    }

    #[test]
    fn limits_are_lambdas() {
        assert!(validate_timeout(0).is_err());
        assert_eq!(validate_timeout(901).unwrap_err().code, "InvalidParameterValueException");
        assert_eq!(validate_timeout(900).unwrap(), 900);
        assert_eq!(validate_memory(127).unwrap_err().code, "ValidationException");
        assert_eq!(validate_memory(10_241).unwrap_err().code, "ValidationException");
        assert_eq!(validate_memory(10_240).unwrap(), 10_240);
    }

    #[test]
    fn reserved_variables_are_refused() {
        let vars = BTreeMap::from([("AWS_REGION".to_string(), "x".to_string())]);
        let err = validate_environment(&vars).unwrap_err();
        assert!(err.message.contains("AWS_REGION"));
        let vars = BTreeMap::from([("TABLE".to_string(), "x".to_string())]);
        validate_environment(&vars).unwrap();
    }
}

//! The local Lambda service as Step Functions' task runner: a Task state whose resource is
//! a function runs that function here, and a function error becomes the state's error with
//! AWS's `Cause` text (`{"errorMessage": …, "errorType": …}`), which Catch and the
//! notification function read.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::{InvokeOutcome, Lambda};
use crate::local::stepfunctions::{TaskFailure, TaskRunner};

impl TaskRunner for Lambda {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        input: Value,
        timeout: Option<Duration>,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        Box::pin(async move {
            let payload = serde_json::to_vec(&input).map_err(|e| {
                TaskFailure::new("States.Runtime", format!("The task input could not be serialised: {e}"))
            })?;
            let call = Lambda::invoke(self, resource, payload);
            let outcome = match timeout {
                Some(limit) => tokio::time::timeout(limit, call).await.map_err(|_| {
                    TaskFailure::new(
                        "States.Timeout",
                        format!("The function {resource} did not answer within {} s.", limit.as_secs()),
                    )
                })?,
                None => call.await,
            };
            match outcome {
                Ok(InvokeOutcome::Ok(bytes)) => {
                    if bytes.iter().all(u8::is_ascii_whitespace) {
                        return Ok(Value::Null);
                    }
                    serde_json::from_slice(&bytes).map_err(|e| {
                        TaskFailure::new(
                            "States.Runtime",
                            format!("The function {resource} returned a result that is not JSON: {e}"),
                        )
                    })
                }
                Ok(InvokeOutcome::FunctionError { error_type, error_message }) => Err(TaskFailure {
                    cause: Some(json!({"errorMessage": error_message, "errorType": error_type}).to_string()),
                    error: error_type,
                }),
                // As AWS reports a failed Invoke call: `Lambda.<ErrorCode>`.
                Err(e) => Err(TaskFailure::new(format!("Lambda.{}", e.code()), e.to_string())),
            }
        })
    }
}

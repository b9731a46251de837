//! The local Lambda service as S3's event target: a bucket notification names a function
//! by ARN, S3 checks it exists when the configuration is set, and each event record runs
//! the function as an asynchronous invocation would. The outcome goes back to S3's outbox,
//! which retries a failure and drops an event whose function is gone.

use futures::future::BoxFuture;

use super::{InvokeOutcome, Lambda, LambdaError, MAX_ASYNC_PAYLOAD, model};
use crate::local::s3::{Delivery, EventTarget};

impl Lambda {
    /// The function an S3 notification names: only a Lambda ARN of this account does.
    fn notification_function(&self, function_arn: &str) -> Option<String> {
        if !function_arn.starts_with("arn:aws:lambda:") {
            return None;
        }
        model::resolve_name(&self.inner.region, function_arn).ok()
    }
}

impl EventTarget for Lambda {
    fn function_exists<'a>(&'a self, function_arn: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            match self.notification_function(function_arn) {
                Some(name) => self.exists(&name).await.unwrap_or(false),
                None => false,
            }
        })
    }

    fn deliver<'a>(&'a self, function_arn: &'a str, payload: Vec<u8>) -> BoxFuture<'a, Delivery> {
        Box::pin(async move {
            let Some(name) = self.notification_function(function_arn) else {
                return Delivery::Gone(format!("{function_arn} is not a function of the local cloud"));
            };
            if payload.len() > MAX_ASYNC_PAYLOAD {
                return Delivery::Gone(format!("the event is larger than {MAX_ASYNC_PAYLOAD} bytes"));
            }
            match self.invoke(&name, payload).await {
                Ok(InvokeOutcome::Ok(_)) => Delivery::Delivered,
                Ok(InvokeOutcome::FunctionError { error_type, error_message }) => {
                    Delivery::Failed(format!("{error_type}: {error_message}"))
                }
                Err(e @ LambdaError::Api(_)) if e.code() == "ResourceNotFoundException" => {
                    Delivery::Gone(e.to_string())
                }
                Err(e) => Delivery::Failed(e.to_string()),
            }
        })
    }
}

//! The IndexFace Lambda function: wires the handler in `lib.rs` to the Lambda runtime.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use wildrydes_lambda_shared::env;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = wildrydes_lambda_shared::aws::load_config().await;
    let client = aws_sdk_rekognition::Client::new(&config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let client = client.clone();
        async move { wildrydes_index_face::handle(&client, &env::process, event.payload).await }
    }))
    .await
}

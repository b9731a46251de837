//! The upload trigger Lambda function: wires the handler in `lib.rs` to the Lambda runtime.

use lambda_runtime::{LambdaEvent, service_fn};
use wildrydes_lambda_shared::env;
use wildrydes_lambda_shared::s3_event::S3Event;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = wildrydes_lambda_shared::aws::load_config().await;
    let client = aws_sdk_sfn::Client::new(&config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Event>| {
        let client = client.clone();
        async move { wildrydes_upload_trigger::handle(&client, &env::process, event.payload).await }
    }))
    .await
}

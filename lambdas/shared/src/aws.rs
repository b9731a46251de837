//! SDK setup shared by the functions. There is deliberately no endpoint code: on AWS the
//! default chain finds everything, and the local cloud sets `AWS_ENDPOINT_URL` in each
//! function's environment, which `aws_config` honours on its own.

use aws_config::{BehaviorVersion, SdkConfig};

/// The SDK configuration from the Lambda environment (region, credentials, endpoint).
pub async fn load_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// Whether S3 must be addressed by path (`http://host/bucket/key`) rather than by virtual
/// host (`http://bucket.host/key`).
pub fn s3_needs_path_style(lookup: crate::env::Lookup<'_>) -> bool {
    // A custom endpoint (the local cloud on 127.0.0.1) has no DNS for bucket subdomains, so
    // virtual-host addressing cannot reach it; on AWS neither variable is set and the
    // SDK's default addressing applies.
    crate::env::optional(lookup, "AWS_ENDPOINT_URL").is_some()
        || crate::env::optional(lookup, "AWS_ENDPOINT_URL_S3").is_some()
}

/// An S3 client for this environment: path-style when a custom endpoint is configured.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let path_style = s3_needs_path_style(&crate::env::process);
    let s3_config = aws_sdk_s3::config::Builder::from(config).force_path_style(path_style).build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_style_only_with_a_custom_endpoint() {
        assert!(!s3_needs_path_style(&|_| None));
        assert!(s3_needs_path_style(&|name| (name == "AWS_ENDPOINT_URL").then(|| "http://127.0.0.1:4566".into())));
        assert!(s3_needs_path_style(&|name| (name == "AWS_ENDPOINT_URL_S3").then(|| "http://127.0.0.1:1".into())));
    }
}

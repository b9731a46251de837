//! The one place where the target (the local cloud or real AWS) becomes SDK clients.
//! Everything else — dashboard, CLI, deploy — only ever holds a [`Clients`], so the code
//! path is the same for both targets; only the endpoint and credentials differ.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

use crate::local::{DEFAULT_ACCESS_KEY, DEFAULT_REGION, DEFAULT_SECRET_KEY};

/// Where the SDK clients send their requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The local cloud (or any AWS-compatible endpoint) at this URL, with the local
    /// credentials unless `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` say otherwise.
    Local { endpoint: String, region: String },
    /// Real AWS through the normal config chain (profile, environment, SSO, instance role).
    Aws { region: Option<String> },
}

impl Target {
    pub fn local(endpoint: impl Into<String>) -> Self {
        Target::Local { endpoint: endpoint.into(), region: DEFAULT_REGION.into() }
    }

    /// A short description for status bars and messages.
    pub fn describe(&self) -> String {
        match self {
            Target::Local { endpoint, region } => format!("local cloud {endpoint} ({region})"),
            Target::Aws { region: Some(region) } => format!("AWS ({region})"),
            Target::Aws { region: None } => "AWS (region from the AWS config)".into(),
        }
    }
}

/// One `SdkConfig` for the target.
pub async fn sdk_config(target: &Target) -> SdkConfig {
    match target {
        Target::Local { endpoint, region } => {
            let access_key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| DEFAULT_ACCESS_KEY.into());
            let secret_key = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| DEFAULT_SECRET_KEY.into());
            aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new(region.clone()))
                .endpoint_url(endpoint.clone())
                .credentials_provider(Credentials::new(access_key, secret_key, None, None, "wildrydes-local"))
                .load()
                .await
        }
        Target::Aws { region } => {
            let mut loader = aws_config::defaults(BehaviorVersion::latest());
            if let Some(region) = region {
                loader = loader.region(Region::new(region.clone()));
            }
            loader.load().await
        }
    }
}

/// The SDK clients of every service the workshop uses, built from one `SdkConfig`.
#[derive(Clone, Debug)]
pub struct Clients {
    pub sfn: aws_sdk_sfn::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub rekognition: aws_sdk_rekognition::Client,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sesv2: aws_sdk_sesv2::Client,
}

impl Clients {
    pub fn new(config: &SdkConfig, target: &Target) -> Self {
        // Locally there is no DNS for bucket subdomains of 127.0.0.1: address buckets by path.
        let path_style = matches!(target, Target::Local { .. });
        let s3_config = aws_sdk_s3::config::Builder::from(config).force_path_style(path_style).build();
        let mut sfn_config = aws_sdk_sfn::config::Builder::from(config);
        if path_style {
            sfn_config = sfn_config.interceptor(NoSyncHostPrefix);
        }
        Self {
            sfn: aws_sdk_sfn::Client::from_conf(sfn_config.build()),
            lambda: aws_sdk_lambda::Client::new(config),
            rekognition: aws_sdk_rekognition::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            sesv2: aws_sdk_sesv2::Client::new(config),
        }
    }

    pub async fn for_target(target: &Target) -> Self {
        Self::new(&sdk_config(target).await, target)
    }
}

/// An SDK error as one readable sentence: the service's code and message when there is
/// one, otherwise the transport's reason (connection refused, timeout…). The SDK's own
/// `Display` says only "service error", which tells a user nothing.
pub fn error_message<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: std::error::Error + aws_smithy_types::error::metadata::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_s3::error::SdkError;
    use aws_smithy_types::error::display::DisplayErrorContext;
    match e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            match (err.code(), err.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                _ => DisplayErrorContext(e).to_string(),
            }
        }
        SdkError::DispatchFailure(_) => format!("cannot reach the endpoint ({})", DisplayErrorContext(e)),
        SdkError::TimeoutError(_) => "the endpoint did not answer in time".into(),
        _ => DisplayErrorContext(e).to_string(),
    }
}

/// The AWS error code of a service error, if the error is one.
pub fn error_code<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> Option<&str>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    e.as_service_error().and_then(|s| s.code())
}

/// The SDK sends StartSyncExecution and TestState to the `sync-` host prefix of the endpoint
/// (`sync-states.REGION.amazonaws.com`). A local endpoint such as `127.0.0.1` has no such
/// host, so for the local target the prefix is taken off again before the request is signed.
#[derive(Debug)]
struct NoSyncHostPrefix;

impl aws_sdk_sfn::config::Intercept for NoSyncHostPrefix {
    fn name(&self) -> &'static str {
        "NoSyncHostPrefix"
    }

    fn modify_before_signing(
        &self,
        context: &mut aws_sdk_sfn::config::interceptors::BeforeTransmitInterceptorContextMut<'_>,
        _rc: &aws_sdk_sfn::config::RuntimeComponents,
        _cfg: &mut aws_sdk_sfn::config::ConfigBag,
    ) -> Result<(), aws_sdk_sfn::error::BoxError> {
        if let Some(uri) = strip_sync_prefix(context.request().uri()) {
            context.request_mut().set_uri(uri)?;
        }
        Ok(())
    }
}

/// `http://sync-127.0.0.1:4566/` → `http://127.0.0.1:4566/`; `None` without the prefix.
fn strip_sync_prefix(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    rest.strip_prefix("sync-").map(|host| format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sync_host_prefix_is_stripped_from_local_uris_only_once() {
        assert_eq!(strip_sync_prefix("http://sync-127.0.0.1:4566/").as_deref(), Some("http://127.0.0.1:4566/"));
        assert_eq!(strip_sync_prefix("https://sync-localhost/x").as_deref(), Some("https://localhost/x"));
        assert_eq!(strip_sync_prefix("http://127.0.0.1:4566/"), None);
    }
}

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
    /// `endpoint` sends the requests elsewhere with AWS's semantics kept (account-qualified
    /// names, roles), as the aws CLI's `--endpoint-url` does: how a stand-in such as moto
    /// is reached.
    Aws { region: Option<String>, profile: Option<String>, endpoint: Option<String> },
}

impl Target {
    pub fn local(endpoint: impl Into<String>) -> Self {
        Target::Local { endpoint: endpoint.into(), region: DEFAULT_REGION.into() }
    }

    /// A short description for status bars and messages.
    pub fn describe(&self) -> String {
        match self {
            Target::Local { endpoint, region } => format!("local cloud {endpoint} ({region})"),
            Target::Aws { region, profile, endpoint } => {
                let mut out = match region {
                    Some(region) => format!("AWS ({region}"),
                    None => "AWS (region from the AWS config".into(),
                };
                if let Some(profile) = profile {
                    out.push_str(&format!(", profile {profile}"));
                }
                if let Some(endpoint) = endpoint {
                    out.push_str(&format!(", at {endpoint}"));
                }
                out.push(')');
                out
            }
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
        Target::Aws { region, profile, endpoint } => {
            let mut loader = aws_config::defaults(BehaviorVersion::latest());
            if let Some(profile) = profile {
                loader = loader.profile_name(profile);
            }
            if let Some(region) = region {
                loader = loader.region(Region::new(region.clone()));
            }
            if let Some(endpoint) = endpoint {
                loader = loader.endpoint_url(endpoint);
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
    pub sts: aws_sdk_sts::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// The roles `--aws deploy` makes when none are given (the local cloud has no IAM).
    pub iam: aws_sdk_iam::Client,
}

impl Clients {
    pub fn new(config: &SdkConfig, target: &Target) -> Self {
        // Locally (and at any other endpoint) there is no DNS for bucket subdomains of the
        // endpoint's host: address buckets by path.
        let path_style = matches!(target, Target::Local { .. } | Target::Aws { endpoint: Some(_), .. });
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
            sts: aws_sdk_sts::Client::new(config),
            cloudformation: aws_sdk_cloudformation::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
        }
    }

    pub async fn for_target(target: &Target) -> Self {
        Self::new(&sdk_config(target).await, target)
    }
}

/// An SDK error as one readable sentence: the service's code and message when there is
/// one, otherwise the transport's reason (connection refused, timeout…). The SDK's own
/// `Display` says only "service error", which tells a user nothing.
pub fn error_message<E>(e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> String
where
    E: std::error::Error + aws_smithy_types::error::metadata::ProvideErrorMetadata + 'static,
{
    use aws_sdk_s3::error::SdkError;
    use aws_smithy_types::error::display::DisplayErrorContext;
    match e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            match (err.code(), err.message()) {
                (Some(code), Some(message)) if is_access_denied(code) => format!(
                    "access denied ({code}: {message}): the credentials in use may not do this; check the profile \
                     (--profile, AWS_PROFILE) and its IAM permissions"
                ),
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                _ if matches!(service.raw().status().as_u16(), 401 | 403) => format!(
                    "access denied (HTTP {}): the credentials in use may not do this; check the profile \
                     (--profile, AWS_PROFILE) and its IAM permissions",
                    service.raw().status().as_u16()
                ),
                // No AWS error at all: an HTML page or an empty body, as from a stand-in
                // that does not implement the call, or a proxy in the way.
                _ => format!(
                    "the endpoint answered HTTP {} without an AWS error: it may not implement this call",
                    service.raw().status().as_u16()
                ),
            }
        }
        SdkError::DispatchFailure(_) => {
            let chain = DisplayErrorContext(e).to_string();
            setup_problem(&chain).unwrap_or_else(|| format!("cannot reach the endpoint ({})", first_line(&chain)))
        }
        SdkError::TimeoutError(_) => "the endpoint did not answer in time".into(),
        _ => {
            let chain = DisplayErrorContext(e).to_string();
            setup_problem(&chain).unwrap_or(chain)
        }
    }
}

/// What the user must set up, when the SDK failed before reaching AWS for want of
/// credentials, a profile or a region: one sentence that says what to run. The SDK says it
/// only in its error chain's text (its credential errors are not public types), so the
/// chain is read for the phrases its providers use.
fn setup_problem(chain: &str) -> Option<String> {
    let lower = chain.to_ascii_lowercase();
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "PROFILE".into());
    if lower.contains("sso") && (lower.contains("expired") || lower.contains("token")) {
        return Some(format!(
            "your AWS SSO session has expired or was never started: run `aws sso login --profile {profile}`"
        ));
    }
    if lower.contains("profile") && (lower.contains("not defined") || lower.contains("could not find")) {
        return Some(format!(
            "the AWS profile is not in your AWS config (~/.aws/config, ~/.aws/credentials): check --profile \
             and AWS_PROFILE, or create it with `aws configure --profile {profile}`"
        ));
    }
    if lower.contains("credential")
        && (lower.contains("loading") || lower.contains("no providers") || lower.contains("no credentials"))
    {
        return Some(
            "no AWS credentials were found: run `aws configure` (or `aws sso login --profile P` and give \
             --profile P), or set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                .into(),
        );
    }
    if lower.contains("region")
        && (lower.contains("must be set")
            || lower.contains("no region")
            || lower.contains("missing region")
            || lower.contains("missing signing region"))
    {
        return Some("no AWS region is set: give --region R, set AWS_REGION, or set a region in your profile".into());
    }
    None
}

/// The first line of a long error chain, cut to a sentence's length.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > 200 { line.chars().take(200).collect::<String>() + "…" } else { line.to_string() }
}

/// A service error's code that means the caller may not do this.
pub fn is_access_denied(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "SignatureDoesNotMatch"
    )
}

/// Whether the endpoint says it does not implement the call: AWS's codes for an unknown
/// operation, or an answer without any AWS error (a stand-in such as moto answers a call it
/// lacks with an HTML page). Not so for 401/403, which are access denied.
pub fn not_implemented<E>(e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    let Some(service) = e.as_service_error() else { return false };
    match service.code() {
        Some(code) => {
            matches!(code, "NotImplemented" | "NotImplementedException" | "UnknownOperationException" | "InvalidAction")
        }
        None => {
            let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or_default();
            service.message().is_none() && !matches!(status, 401 | 403)
        }
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
    fn setup_problems_become_one_sentence_that_says_what_to_run() {
        let imds =
            "dispatch failure: other: an error occurred while loading credentials: failed to load IMDS session token";
        assert!(setup_problem(imds).is_some_and(|s| s.contains("aws configure")));
        let sso = "the SSO token has expired and needs to be refreshed";
        assert!(setup_problem(sso).is_some_and(|s| s.contains("aws sso login")));
        let profile = "ProfileFile provider could not be built: profile `nope` was not defined";
        assert!(setup_problem(profile).is_some_and(|s| s.contains("--profile")));
        assert_eq!(setup_problem("connection refused"), None);
        assert!(first_line(&"x".repeat(500)).ends_with('…'));
    }

    #[test]
    fn the_sync_host_prefix_is_stripped_from_local_uris_only_once() {
        assert_eq!(strip_sync_prefix("http://sync-127.0.0.1:4566/").as_deref(), Some("http://127.0.0.1:4566/"));
        assert_eq!(strip_sync_prefix("https://sync-localhost/x").as_deref(), Some("https://localhost/x"));
        assert_eq!(strip_sync_prefix("http://127.0.0.1:4566/"), None);
    }
}

//! The one `Context` a run of `wildrydes` works in, resolved once from the command line:
//! the target (the local cloud this process runs or joins, another endpoint, or AWS), its
//! region, the workshop's resource names there, and the operations on it. The dashboard and
//! every command take it from here, so they never disagree about where they are.
//!
//! May use `cloud`, `local` (to start or join the local cloud), `ops`, `deploy` and `workshop`.

use std::path::{Path, PathBuf};

use crate::cloud::{Clients, Target};
use crate::deploy::{CodeSource, DeployOptions, FunctionSettings, Role, UploadTrigger};
use crate::local::{self, LocalCloud, LocalCloudConfig};
use crate::ops::Ops;
use crate::workshop::WorkshopNames;

/// Where the commands work and what they work on.
pub struct Context {
    pub target: Target,
    pub ops: Ops,
    /// How deploy and the Lab deploy here; an error sentence where they cannot (no
    /// directory of function binaries, no region for the roles' names).
    pub deploy: Result<DeployOptions, String>,
    /// The local cloud this process started, stopped by [`Context::close`].
    local_cloud: Option<LocalCloud>,
}

/// What selects the target: the command line's global options.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub endpoint_url: Option<String>,
    pub aws: bool,
    pub region: Option<String>,
    /// `Some` when the user named a data directory (flag or environment).
    pub data_dir: Option<PathBuf>,
    pub port: u16,
    /// AWS: the named profile of the AWS config to use.
    pub profile: Option<String>,
    /// AWS: the CloudFormation stack whose outputs name the resources.
    pub stack: Option<String>,
    /// Names given outright, before a stack's outputs and the default names.
    pub names: NameFlags,
}

/// Resource names given on the command line.
#[derive(Debug, Clone, Default)]
pub struct NameFlags {
    pub collection: Option<String>,
    pub photo_bucket: Option<String>,
    pub thumbnail_bucket: Option<String>,
    pub riders_table: Option<String>,
}

/// Where the functions' code and roles come from (deploy and clean-up).
#[derive(Debug, Clone, Default)]
pub struct Functions {
    pub lambda_dir: Option<PathBuf>,
    /// AWS: zips built for Lambda; `None` packages them with cargo-lambda.
    pub lambda_zips: Option<PathBuf>,
    /// AWS: what the functions run on, `arm64` (the default, as the SAM template's) or `x86_64`.
    pub architecture: Option<String>,
    /// AWS: the roles to use; `None` makes them.
    pub lambda_role_arn: Option<String>,
    pub states_role_arn: Option<String>,
    pub notification: Option<(String, String)>,
    pub upload_trigger: bool,
}

impl Context {
    /// Resolves the target: real AWS or an explicit endpoint as asked, else the local cloud
    /// on `port` — the one already serving there (when it serves the same data directory),
    /// or a new one in this process.
    pub async fn resolve(selection: &Selection, functions: &Functions) -> anyhow::Result<Context> {
        let mut local_cloud = None;
        let target = if selection.aws {
            Target::Aws {
                region: selection.region.clone(),
                profile: selection.profile.clone(),
                endpoint: selection.endpoint_url.clone(),
            }
        } else if let Some(endpoint) = &selection.endpoint_url {
            Target::Local {
                endpoint: endpoint.clone(),
                region: selection.region.clone().unwrap_or_else(|| local::DEFAULT_REGION.into()),
            }
        } else {
            let (target, cloud) = local_target(selection).await?;
            local_cloud = cloud;
            target
        };
        let config = crate::cloud::sdk_config(&target).await;
        let clients = Clients::new(&config, &target);
        let names = match &target {
            Target::Local { .. } => selection.names.apply(WorkshopNames::local()),
            Target::Aws { .. } => aws_names(&clients, config.region().map(|r| r.to_string()), selection).await?,
        };
        let local_endpoint = match &target {
            Target::Local { endpoint, .. } => Some(endpoint.clone()),
            Target::Aws { .. } => None,
        };
        let region = config.region().map(|r| r.to_string());
        let deploy = deploy_options(&target, region.as_deref(), &names, functions).map_err(|e| format!("{e:#}"));
        Ok(Context { ops: Ops::new(clients, names, local_endpoint), target, deploy, local_cloud })
    }

    /// Whether this process runs the local cloud itself (rather than joining one).
    pub fn runs_local_cloud(&self) -> bool {
        self.local_cloud.is_some()
    }

    /// Ends the context: stops the local cloud this process started.
    pub async fn close(self) {
        if let Some(cloud) = self.local_cloud {
            cloud.shutdown().await;
        }
    }
}

/// The data directory the local cloud uses: the one named, else the default.
pub fn data_dir(selection: &Selection) -> PathBuf {
    selection.data_dir.clone().unwrap_or_else(local::default_data_dir)
}

/// The local cloud on the selected port: a new one in this process, or the one already
/// serving there.
async fn local_target(selection: &Selection) -> anyhow::Result<(Target, Option<LocalCloud>)> {
    let dir = data_dir(selection);
    let mut config = LocalCloudConfig::new(dir.clone());
    config.port = selection.port;
    if let Some(region) = &selection.region {
        config.region = region.clone();
    }
    match LocalCloud::start(config.clone()).await {
        Ok(cloud) => Ok((Target::Local { endpoint: cloud.endpoint(), region: config.region.clone() }, Some(cloud))),
        Err(local::LocalCloudError::Bind { addr, source }) if source.kind() == std::io::ErrorKind::AddrInUse => {
            let endpoint = format!("http://{addr}");
            match serving(&endpoint).await {
                None => anyhow::bail!(
                    "port {} is in use by another program. Stop it, pick another port with --port, or reach a \
                     running local cloud with --endpoint-url URL.",
                    addr.port()
                ),
                Some(other) if selection.data_dir.is_some() && !same_dir(&other, &dir) => anyhow::bail!(
                    "the local cloud on port {} serves {}, not {}. Stop it, or use --port to run another one \
                     on {}.",
                    addr.port(),
                    other.display(),
                    dir.display(),
                    dir.display()
                ),
                // `wildrydes serve` (or a dashboard) already serves this data: share it.
                Some(_) => Ok((Target::Local { endpoint, region: config.region.clone() }, None)),
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canonical(a) == canonical(b)
}

/// The data directory of the wildrydes local cloud answering at `endpoint`, or `None` when
/// what answers there is not one.
pub async fn serving(endpoint: &str) -> Option<PathBuf> {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let uri = format!("{endpoint}/_wildrydes/health").parse::<http::Uri>().ok()?;
    let response = tokio::time::timeout(std::time::Duration::from_secs(2), client.get(uri)).await.ok()?.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body = response.into_body().collect().await.ok()?.to_bytes();
    let health: serde_json::Value = serde_json::from_slice(&body).ok()?;
    (health["status"] == "ok").then(|| PathBuf::from(health["dataDir"].as_str().unwrap_or_default()))
}

impl NameFlags {
    /// `names` with the ones given here put in their place.
    pub fn apply(&self, names: WorkshopNames) -> WorkshopNames {
        WorkshopNames {
            collection: self.collection.clone().unwrap_or(names.collection),
            photo_bucket: self.photo_bucket.clone().unwrap_or(names.photo_bucket),
            thumbnail_bucket: self.thumbnail_bucket.clone().unwrap_or(names.thumbnail_bucket),
            riders_table: self.riders_table.clone().unwrap_or(names.riders_table),
        }
    }

    fn all_given(&self) -> bool {
        self.collection.is_some()
            && self.photo_bucket.is_some()
            && self.thumbnail_bucket.is_some()
            && self.riders_table.is_some()
    }
}

/// The workshop's names in an AWS account, in this order: the flags; a CloudFormation
/// stack's outputs (`--stack`: the workshop's `wildrydes-step-module-resources`, or the SAM
/// template's, which carry the same keys); the names `wildrydes --aws deploy` gives, which
/// carry the account (asked of STS) and the region, because S3 bucket names are global.
async fn aws_names(clients: &Clients, region: Option<String>, selection: &Selection) -> anyhow::Result<WorkshopNames> {
    if selection.names.all_given() {
        return Ok(selection.names.apply(WorkshopNames::local()));
    }
    let base = match &selection.stack {
        Some(stack) => stack_names(clients, stack).await?,
        None => {
            let who = clients.sts.get_caller_identity().send().await.map_err(|e| {
                match (&selection.profile, crate::cloud::error_message(&e)) {
                    (Some(profile), message) if message.starts_with("no AWS credentials") => anyhow::anyhow!(
                        "no AWS credentials for the profile {profile}: check that it is in ~/.aws/config or \
                         ~/.aws/credentials (`aws configure list-profiles`), create it with `aws configure --profile \
                         {profile}`, or for an SSO profile run `aws sso login --profile {profile}`"
                    ),
                    (_, message) => anyhow::anyhow!("{message}"),
                }
            })?;
            let account = who.account().unwrap_or_default().to_string();
            let region = region.ok_or_else(|| {
                anyhow::anyhow!(
                    "no AWS region is set: give --region R, set AWS_REGION, or set a region in your profile"
                )
            })?;
            WorkshopNames::for_account(&account, &region)
        }
    };
    Ok(selection.names.apply(base))
}

/// The names a CloudFormation stack's outputs give; what it does not name keeps its default.
async fn stack_names(clients: &Clients, stack: &str) -> anyhow::Result<WorkshopNames> {
    let described = clients.cloudformation.describe_stacks().stack_name(stack).send().await.map_err(|e| {
        let message = crate::cloud::error_message(&e);
        if message.contains("does not exist") {
            anyhow::anyhow!("there is no CloudFormation stack {stack} in this account and region ({message})")
        } else {
            anyhow::anyhow!("reading the stack {stack}: {message}")
        }
    })?;
    let outputs: std::collections::HashMap<&str, &str> = described
        .stacks()
        .iter()
        .flat_map(|s| s.outputs())
        .filter_map(|o| Some((o.output_key()?, o.output_value()?)))
        .collect();
    let found = |key: &str| outputs.get(key).map(|v| v.to_string());
    let photo_bucket = found("RiderPhotoS3Bucket")
        .ok_or_else(|| anyhow::anyhow!("the stack {stack} has no RiderPhotoS3Bucket output: is it the workshop's?"))?;
    let defaults = WorkshopNames::local();
    Ok(WorkshopNames {
        collection: found("CollectionId").unwrap_or(defaults.collection),
        photo_bucket,
        thumbnail_bucket: found("ThumbnailS3Bucket").unwrap_or(defaults.thumbnail_bucket),
        riders_table: found("RiderPhotoDDBTable").unwrap_or(defaults.riders_table),
    })
}

fn deploy_options(
    target: &Target,
    region: Option<&str>,
    names: &WorkshopNames,
    functions: &Functions,
) -> anyhow::Result<DeployOptions> {
    match target {
        Target::Local { .. } => {
            let binaries = match &functions.lambda_dir {
                Some(dir) => dir.clone(),
                None => std::env::current_exe()?
                    .parent()
                    .map(PathBuf::from)
                    .ok_or_else(|| anyhow::anyhow!("cannot tell which directory this program is in"))?,
            };
            Ok(DeployOptions::local(binaries))
        }
        Target::Aws { .. } => {
            let region = region.ok_or_else(|| {
                anyhow::anyhow!(
                    "no AWS region is set: give --region R, set AWS_REGION, or set a region in your profile"
                )
            })?;
            // Roles not given are made, under names of this region (see deploy::roles).
            let (lambda_name, states_name) = crate::deploy::roles::made_names(region);
            let role = |given: &Option<String>, made: String| match given {
                Some(arn) => Role::Given(arn.clone()),
                None => Role::Made(made),
            };
            Ok(DeployOptions {
                names: names.clone(),
                functions: FunctionSettings {
                    code: match &functions.lambda_zips {
                        Some(dir) => CodeSource::Zips(dir.clone()),
                        None => CodeSource::CargoLambda,
                    },
                    architecture: functions.architecture.as_deref().unwrap_or("arm64").into(),
                    notification: functions.notification.clone(),
                    wait_for_aws: true,
                },
                lambda_role: role(&functions.lambda_role_arn, lambda_name),
                states_role: role(&functions.states_role_arn, states_name),
                upload_selfies: true,
                upload_trigger: functions.upload_trigger.then_some(UploadTrigger { grant_s3_invoke: true }),
            })
        }
    }
}

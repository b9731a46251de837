//! The one `Context` a run of `wildrydes` works in, resolved once from the command line:
//! the target (the local cloud this process runs or joins, another endpoint, or AWS), its
//! region, the workshop's resource names there, and the operations on it. The dashboard and
//! every command take it from here, so they never disagree about where they are.
//!
//! May use `cloud`, `local` (to start or join the local cloud), `ops`, `deploy` and `workshop`.

use std::path::{Path, PathBuf};

use crate::cloud::{Clients, Target};
use crate::deploy::{CodeSource, DeployOptions, FunctionSettings, UploadTrigger};
use crate::local::{self, LocalCloud, LocalCloudConfig};
use crate::ops::Ops;
use crate::workshop::WorkshopNames;

/// Where the commands work and what they work on.
pub struct Context {
    pub target: Target,
    pub ops: Ops,
    /// How deploy and the Lab deploy here; an error sentence where they cannot (on AWS
    /// without roles).
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
}

/// Where the functions' code and roles come from (deploy and clean-up).
#[derive(Debug, Clone, Default)]
pub struct Functions {
    pub lambda_dir: Option<PathBuf>,
    pub lambda_zips: PathBuf,
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
            Target::Aws { region: selection.region.clone() }
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
        let names = workshop_names(&target, functions)?;
        let clients = Clients::for_target(&target).await;
        let local_endpoint = match &target {
            Target::Local { endpoint, .. } => Some(endpoint.clone()),
            Target::Aws { .. } => None,
        };
        let deploy = deploy_options(&target, &names, functions).map_err(|e| format!("{e:#}"));
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

/// The workshop's names on the target: fixed locally; on AWS, bucket names carry the
/// account (from the role ARN) and the region, because S3 bucket names are global.
fn workshop_names(target: &Target, functions: &Functions) -> anyhow::Result<WorkshopNames> {
    match target {
        Target::Local { .. } => Ok(WorkshopNames::local()),
        Target::Aws { region } => {
            let account = functions
                .lambda_role_arn
                .as_deref()
                .and_then(|arn| arn.split(':').nth(4))
                .filter(|a| a.len() == 12)
                .map(str::to_string)
                .or_else(|| std::env::var("WILDRYDES_AWS_ACCOUNT").ok())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "on AWS the bucket names carry your account id: give --lambda-role-arn (its account is used) \
                         or set WILDRYDES_AWS_ACCOUNT"
                    )
                })?;
            let region = region
                .clone()
                .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
                .ok_or_else(|| anyhow::anyhow!("on AWS, name the region: --region or AWS_REGION"))?;
            Ok(WorkshopNames::for_account(&account, &region))
        }
    }
}

fn deploy_options(target: &Target, names: &WorkshopNames, functions: &Functions) -> anyhow::Result<DeployOptions> {
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
            let (Some(lambda_role), Some(states_role)) = (&functions.lambda_role_arn, &functions.states_role_arn)
            else {
                anyhow::bail!(
                    "deploying to AWS needs --lambda-role-arn and --states-role-arn (IAM roles are not made by \
                     this command). Or deploy with AWS SAM: statemachine/template.yaml makes the roles too."
                )
            };
            Ok(DeployOptions {
                names: names.clone(),
                functions: FunctionSettings {
                    code: CodeSource::Zips(functions.lambda_zips.clone()),
                    role_arn: lambda_role.clone(),
                    notification: functions.notification.clone(),
                    wait_for_aws: true,
                },
                states_role_arn: states_role.clone(),
                upload_selfies: true,
                upload_trigger: functions.upload_trigger.then_some(UploadTrigger { grant_s3_invoke: true }),
            })
        }
    }
}

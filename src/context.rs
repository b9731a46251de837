//! The one `Context` a run of `wildrydes` works in, resolved once from the command line:
//! the target (the local cloud this process starts or joins, another endpoint, or AWS), its
//! region, the workshop's resource names there, and the operations on it. The dashboard and
//! every command take it from here, so they never disagree about where they are.
//!
//! The local cloud is never a part of the process that starts it: it runs as `wildrydes
//! serve --until-idle` on its own, and every dashboard and command on it holds a lease
//! (`local::leases`) while it runs, so quitting the one that started it pulls it from under
//! nobody; it stops itself once the last has gone.
//!
//! May use `cloud`, `local` (to start or join the local cloud), `ops`, `deploy` and `workshop`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cloud::{Clients, Target};
use crate::deploy::{CodeSource, DeployOptions, FunctionSettings, Role, UploadTrigger};
use crate::local;
use crate::ops::Ops;
use crate::workshop::WorkshopNames;

/// Where the commands work and what they work on.
pub struct Context {
    pub target: Target,
    pub ops: Ops,
    /// How deploy and the Lab deploy here; an error sentence where they cannot (no
    /// directory of function binaries, no region for the roles' names).
    pub deploy: Result<DeployOptions, String>,
    /// This process's lease on the local cloud it started or joined, given back by
    /// [`Context::close`].
    hold: Option<Hold>,
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
        let mut hold = None;
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
            let (target, held) = local_target(selection).await?;
            hold = Some(held);
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
        let mut ops = Ops::new(clients, names, local_endpoint);
        ops.restart_hint = hold.as_ref().map(|h| h.restart_hint.clone());
        Ok(Context { ops, target, deploy, hold })
    }

    /// Ends the context: gives back its lease on the local cloud, which stops once no
    /// dashboard or command holds one.
    pub async fn close(self) {
        if let Some(hold) = self.hold {
            hold.give_back().await;
        }
    }
}

/// The data directory the local cloud uses: the one named, else the default.
pub fn data_dir(selection: &Selection) -> PathBuf {
    selection.data_dir.clone().unwrap_or_else(local::default_data_dir)
}

/// How long a starting local cloud may take to answer (opening a large data directory,
/// resuming executions): a bound against hanging, not an expectation.
const START_WITHIN: Duration = Duration::from_secs(120);

/// The local cloud on the selected port: the one already serving there, or a new one
/// started as its own process; either way with a lease held on it.
async fn local_target(selection: &Selection) -> anyhow::Result<(Target, Hold)> {
    let dir = data_dir(selection);
    let region = selection.region.clone().unwrap_or_else(|| local::DEFAULT_REGION.into());
    let port = match selection.port {
        // Any free port: asked of the system, then handed to the cloud to bind.
        0 => std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port(),
        port => port,
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let found = match serving(&endpoint).await {
        Some(found) => found,
        None => {
            if let Err(e) = std::net::TcpListener::bind(("127.0.0.1", port))
                && e.kind() == std::io::ErrorKind::AddrInUse
            {
                anyhow::bail!(
                    "port {port} is in use by another program. Stop it, pick another port with --port, or reach a \
                     running local cloud with --endpoint-url URL."
                );
            }
            start_cloud(&dir, port, selection.region.as_deref(), &endpoint).await?
        }
    };
    if selection.data_dir.is_some() && !same_dir(&found, &dir) {
        anyhow::bail!(
            "the local cloud on port {port} serves {}, not {}. Stop it, or use --port to run another one on {}.",
            found.display(),
            dir.display(),
            dir.display()
        );
    }
    // `wildrydes serve`, a dashboard or a command already serves this data: share it.
    let restart_hint =
        format!("the local cloud has stopped: run `wildrydes serve --data-dir {} --port {port}`", found.display());
    let hold = Hold::take(endpoint.clone(), restart_hint).await;
    Ok((Target::Local { endpoint, region }, hold))
}

/// Starts `wildrydes serve --until-idle` on `dir` and `port` as a process of its own (its
/// own process group, so the terminal's Ctrl-C does not reach it), its output appended to
/// `cloud.log` in the data directory; returns once it answers, with the data directory it
/// serves (another process may have won the port meanwhile: then that one's).
async fn start_cloud(dir: &Path, port: u16, region: Option<&str>, endpoint: &str) -> anyhow::Result<PathBuf> {
    use std::os::unix::process::CommandExt;
    std::fs::create_dir_all(dir)?;
    let log_path = dir.join("cloud.log");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path)?;
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command.arg("--data-dir").arg(dir).arg("--port").arg(port.to_string());
    if let Some(region) = region {
        command.arg("--region").arg(region);
    }
    let mut child = command
        .args(["serve", "--until-idle"])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start the local cloud (`wildrydes serve`): {e}"))?;
    let deadline = Instant::now() + START_WITHIN;
    loop {
        if let Some(found) = serving(endpoint).await {
            // Reaped when it ends, so it leaves no zombie behind this process.
            std::thread::spawn(move || child.wait());
            return Ok(found);
        }
        if let Some(status) = child.try_wait()? {
            let said = std::fs::read_to_string(&log_path).unwrap_or_default();
            let last = said.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
            anyhow::bail!("the local cloud did not start ({status}): {last} (its log: {})", log_path.display());
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "the local cloud did not answer on port {port} within {} s; its log: {}",
                START_WITHIN.as_secs(),
                log_path.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A lease on the local cloud, renewed in the background every third of its lifetime; a
/// renewal the cloud does not know (it was restarted) takes a new one.
struct Hold {
    endpoint: String,
    lease: Arc<Mutex<Option<String>>>,
    keeper: tokio::task::JoinHandle<()>,
    /// What to run if the cloud is gone after all (see [`Ops::restart_hint`]).
    restart_hint: String,
}

impl Hold {
    async fn take(endpoint: String, restart_hint: String) -> Hold {
        let lease = Arc::new(Mutex::new(take_lease(&endpoint).await));
        let keeper = tokio::spawn({
            let (endpoint, lease) = (endpoint.clone(), lease.clone());
            async move {
                loop {
                    tokio::time::sleep(local::leases::LEASE_TTL / 3).await;
                    let held = lease.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let renewed = match &held {
                        Some(id) => {
                            let uri = format!("{endpoint}{}/{id}", local::leases::PATH);
                            match local_call(http::Method::PUT, &uri).await {
                                // Unreachable: the dashboard's status line says so; try again later.
                                None => continue,
                                Some((status, _)) => status.is_success(),
                            }
                        }
                        None => false,
                    };
                    if !renewed {
                        let new = take_lease(&endpoint).await;
                        *lease.lock().unwrap_or_else(|e| e.into_inner()) = new;
                    }
                }
            }
        });
        Hold { endpoint, lease, keeper, restart_hint }
    }

    async fn give_back(self) {
        self.keeper.abort();
        let held = self.lease.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(id) = held {
            local_call(http::Method::DELETE, &format!("{}{}/{id}", self.endpoint, local::leases::PATH)).await;
        }
    }
}

async fn take_lease(endpoint: &str) -> Option<String> {
    let (status, body) = local_call(http::Method::POST, &format!("{endpoint}{}", local::leases::PATH)).await?;
    status.is_success().then(|| body["id"].as_str().map(str::to_string)).flatten()
}

/// One call to the local cloud's own unsigned endpoints; `None` when it does not answer.
async fn local_call(method: http::Method, uri: &str) -> Option<(http::StatusCode, serde_json::Value)> {
    use http_body_util::BodyExt;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let request = http::Request::builder().method(method).uri(uri).body(http_body_util::Empty::new()).ok()?;
    let response = tokio::time::timeout(Duration::from_secs(2), client.request(request)).await.ok()?.ok()?;
    let status = response.status();
    let body = response.into_body().collect().await.ok()?.to_bytes();
    Some((status, serde_json::from_slice(&body).unwrap_or_default()))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canonical(a) == canonical(b)
}

/// The data directory of the wildrydes local cloud answering at `endpoint`, or `None` when
/// what answers there is not one.
pub async fn serving(endpoint: &str) -> Option<PathBuf> {
    let (status, health) = local_call(http::Method::GET, &format!("{endpoint}/_wildrydes/health")).await?;
    (status.is_success() && health["status"] == "ok")
        .then(|| PathBuf::from(health["dataDir"].as_str().unwrap_or_default()))
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

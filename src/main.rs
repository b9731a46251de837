//! The `wildrydes` command line: the dashboard (default), the local cloud, and the
//! workshop's steps as commands.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wildrydes::cloud::Target;
use wildrydes::local::{self, LocalCloud, LocalCloudConfig};

#[derive(Parser, Debug)]
#[command(
    name = "wildrydes",
    version,
    about = "The Wild Rydes rider-selfie workshop: a terminal dashboard and a local AWS-compatible cloud",
    long_about = "The Wild Rydes rider-selfie workflow (Step Functions orchestrating Lambda functions that call \
Rekognition, S3, DynamoDB and SES). With no command it opens the dashboard on the local cloud; \
`serve` runs the local cloud alone so the aws CLI, boto3 or any SDK can use it."
)]
struct Cli {
    /// Talk to this AWS-compatible endpoint instead of starting the local cloud
    #[arg(long, global = true, value_name = "URL", conflicts_with = "aws")]
    endpoint_url: Option<String>,

    /// Use real AWS through the normal config chain (profile, environment, SSO)
    #[arg(long, global = true)]
    aws: bool,

    /// AWS region (default locally: us-east-1; on AWS: from the AWS config)
    #[arg(long, global = true, env = "AWS_REGION")]
    region: Option<String>,

    /// Where the local cloud keeps its state
    #[arg(long, global = true, value_name = "DIR", env = "WILDRYDES_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// Port of the local cloud the dashboard, `serve` and the commands start (0 picks a free one)
    #[arg(long, global = true, default_value_t = local::DEFAULT_PORT, env = "WILDRYDES_PORT")]
    port: u16,

    /// Open the dashboard without deploying the workshop first
    #[arg(long)]
    no_deploy: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Open the dashboard (the default)
    Tui,
    /// Run the local cloud: one AWS-compatible endpoint for S3, DynamoDB, SES v2 and more
    Serve {
        /// Address to listen on; anything but loopback makes the endpoint reachable from other machines
        #[arg(long, default_value = "127.0.0.1")]
        bind: IpAddr,
    },
    /// Create or update every workshop resource (collection, buckets, table, functions, state machines, selfies)
    Deploy {
        /// Print only the outputs, as JSON
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        functions: FunctionArgs,
    },
    /// Run the rider-photo workflow on a selfie and follow it state by state
    Run {
        /// The photo: a file (uploaded for you) or a key already in the rider photo bucket
        photo: String,
        /// The rider's user id
        #[arg(long, default_value = "user_a")]
        user: String,
        /// The state machine to run
        #[arg(long, default_value = "RiderPhotoProcessing-4")]
        machine: String,
        /// Print only the ending (status, output or error and cause), as JSON
        #[arg(long)]
        json: bool,
    },
    /// List, search and delete the indexed faces
    Faces {
        #[command(subcommand)]
        action: Option<FacesAction>,
    },
    /// List executions, show why one failed, rerun, redrive or stop one
    Executions {
        #[command(subcommand)]
        action: Option<ExecutionsAction>,
    },
    /// Delete every workshop resource deploy made, emptying the buckets first
    Cleanup {
        #[command(flatten)]
        functions: FunctionArgs,
    },
}

#[derive(Subcommand, Debug)]
enum FacesAction {
    /// Every face of the collection: face id, confidence, user (the default)
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Faces of different users that are one person, and which of them to delete
    Duplicates {
        /// Similarity (0–100) above which two faces are one person
        #[arg(long, default_value_t = 80.0)]
        threshold: f32,
        /// Delete the extra accounts' faces (all but the first user of each group)
        #[arg(long)]
        delete: bool,
    },
    /// Delete faces by face id, or every face of a user
    Delete {
        /// Face ids to delete
        face_ids: Vec<String>,
        /// Delete every face of this user id (repeatable)
        #[arg(long = "user", value_name = "USER")]
        users: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ExecutionsAction {
    /// Executions of every state machine, newest first, with the failing state of failures (the default)
    List {
        /// Only this status: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE
        #[arg(long)]
        status: Option<String>,
        /// Only this state machine
        #[arg(long)]
        machine: Option<String>,
        /// At most this many (0: all)
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Why an execution failed: each failing state with its input, error, cause and what caught it
    Show {
        /// The execution's name or ARN
        execution: String,
        /// Also print every history event
        #[arg(long)]
        history: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Start the same state machine again with the same input, and follow it
    Rerun {
        /// The execution's name or ARN
        execution: String,
    },
    /// Resume a failed execution from the state that failed, and follow it
    Redrive {
        /// The execution's name or ARN
        execution: String,
    },
    /// Stop a running execution
    Stop {
        /// The execution's name or ARN
        execution: String,
    },
}

/// Where the functions' code and roles come from.
#[derive(clap::Args, Debug, Clone)]
struct FunctionArgs {
    /// Local target: the directory holding the workspace's function binaries (default: next to this program)
    #[arg(long, value_name = "DIR")]
    lambda_dir: Option<PathBuf>,
    /// AWS: the directory of `cargo lambda build --release --output-format zip` zips
    #[arg(long, value_name = "DIR", default_value = "target/lambda")]
    lambda_zips: PathBuf,
    /// AWS: the execution role of the functions (its account names the buckets)
    #[arg(long, value_name = "ARN")]
    lambda_role_arn: Option<String>,
    /// AWS: the role Step Functions assumes to invoke the functions
    #[arg(long, value_name = "ARN")]
    states_role_arn: Option<String>,
    /// AWS: send the notification from this verified SES identity (the workshop's extra credit)
    #[arg(long, value_name = "EMAIL", requires = "notify_to")]
    notify_from: Option<String>,
    /// AWS: send the notification to these addresses (comma-separated)
    #[arg(long, value_name = "EMAILS", requires = "notify_from")]
    notify_to: Option<String>,
    /// AWS: also deploy the upload trigger (photos put under uploads/<userId>/ start
    /// RiderPhotoProcessing-4); the --lambda-role-arn role must allow states:StartExecution.
    /// Always on locally
    #[arg(long)]
    upload_trigger: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wildrydes: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wildrydes: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let data_dir = cli.data_dir.clone().unwrap_or_else(local::default_data_dir);
    match cli.command {
        Some(Command::Serve { bind }) => serve(bind, cli.port, data_dir, cli.region).await,
        None | Some(Command::Tui) => dashboard(&cli, data_dir).await,
        Some(Command::Deploy { json, ref functions }) => {
            with_target(&cli, data_dir, async |clients, target| {
                let options = deploy_options(target, functions)?;
                let outputs = if json {
                    wildrydes::deploy::deploy(clients, &options, &mut |_| {}).await?
                } else {
                    println!("Deploying the workshop to {}", target.describe());
                    wildrydes::deploy::deploy(clients, &options, &mut print_progress).await?
                };
                if !json {
                    println!("\nOutputs:");
                }
                println!("{}", serde_json::to_string_pretty(&outputs)?);
                Ok(())
            })
            .await
        }
        Some(Command::Cleanup { ref functions }) => {
            with_target(&cli, data_dir, async |clients, target| {
                let options = deploy_options(target, functions)?;
                println!("Deleting the workshop's resources from {}", target.describe());
                wildrydes::deploy::cleanup::cleanup(clients, &options, &mut print_progress).await
            })
            .await
        }
        Some(Command::Run { ref photo, ref user, ref machine, json }) => {
            with_target(&cli, data_dir, async |clients, target| {
                let names = workshop_names(target, &FunctionArgs::none())?;
                let key = wildrydes::run::photo_key(clients, &names.photo_bucket, photo).await?;
                let input = wildrydes::run::workflow_input(user, &names.photo_bucket, &key);
                let arn = wildrydes::run::start(clients, machine, &input).await?;
                if !json {
                    println!("{machine}: started {arn}\n  input {input}");
                }
                follow_and_print(clients, &arn, json).await
            })
            .await
        }
        Some(Command::Faces { ref action }) => {
            with_target(&cli, data_dir, async |clients, target| faces(operator_source(clients, target)?, action).await)
                .await
        }
        Some(Command::Executions { ref action }) => {
            with_target(&cli, data_dir, async |clients, target| {
                executions(clients, operator_source(clients, target)?, action).await
            })
            .await
        }
    }
}

/// Follows an execution state by state (or silently with `json`) and prints how it ended;
/// an error unless it SUCCEEDED, so the exit status tells scripts.
async fn follow_and_print(clients: &wildrydes::cloud::Clients, arn: &str, json: bool) -> anyhow::Result<()> {
    let mut narrator = wildrydes::run::Narrator::default();
    let ending = wildrydes::run::follow(clients, arn, &mut |event| {
        if !json && let Some(line) = narrator.line(event) {
            println!("{line}");
        }
    })
    .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&ending)?);
    } else {
        print_ending(&ending);
    }
    if !ending.succeeded() {
        anyhow::bail!("the execution ended {}", ending.status);
    }
    Ok(())
}

/// What the operator commands read from: the dashboard's loads on the same target.
fn operator_source(
    clients: &wildrydes::cloud::Clients,
    target: &Target,
) -> anyhow::Result<wildrydes::tui::load::Source> {
    let local_endpoint = match target {
        Target::Local { endpoint, .. } => Some(endpoint.clone()),
        Target::Aws { .. } => None,
    };
    Ok(wildrydes::tui::load::Source {
        clients: clients.clone(),
        names: workshop_names(target, &FunctionArgs::none())?,
        local_endpoint,
        // The operator commands neither deploy nor clean up.
        deploy: None,
    })
}

async fn faces(source: wildrydes::tui::load::Source, action: &Option<FacesAction>) -> anyhow::Result<()> {
    use wildrydes::operator;
    let fail = |e: String| anyhow::anyhow!(e);
    match action {
        None | Some(FacesAction::List { json: false }) => {
            print!("{}", operator::faces_table(&operator::faces(&source).await.map_err(fail)?));
        }
        Some(FacesAction::List { json: true }) => {
            let rows = operator::faces(&source).await.map_err(fail)?;
            let json: Vec<_> = rows
                .iter()
                .map(|f| {
                    serde_json::json!({"faceId": f.face_id, "userId": f.user, "confidence": f.confidence, "indexed": f.indexed})
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Some(FacesAction::Duplicates { threshold, delete }) => {
            let groups = operator::duplicates(&source, *threshold).await.map_err(fail)?;
            print!("{}", operator::duplicates_report(&groups, *threshold));
            let extra: Vec<(String, String)> =
                groups.iter().flat_map(|g| g.extra.iter().map(|f| (f.face_id.clone(), f.user.clone()))).collect();
            if *delete && !extra.is_empty() {
                println!("{}", operator::delete_faces(&source, &extra).await.map_err(fail)?);
            } else if !extra.is_empty() {
                println!("Run again with --delete to delete the {} face(s) marked delete.", extra.len());
            }
        }
        Some(FacesAction::Delete { face_ids, users }) => {
            let all = operator::faces(&source).await.map_err(fail)?;
            let chosen = operator::select_faces(&all, face_ids, users).map_err(fail)?;
            println!("{}", operator::delete_faces(&source, &chosen).await.map_err(fail)?);
        }
    }
    Ok(())
}

async fn executions(
    clients: &wildrydes::cloud::Clients,
    source: wildrydes::tui::load::Source,
    action: &Option<ExecutionsAction>,
) -> anyhow::Result<()> {
    use wildrydes::operator::{self, ExecutionFilter};
    let fail = |e: String| anyhow::anyhow!(e);
    match action {
        None => print!(
            "{}",
            operator::executions_table(
                &operator::list_executions(&source, &ExecutionFilter { limit: 20, ..Default::default() })
                    .await
                    .map_err(fail)?
            )
        ),
        Some(ExecutionsAction::List { status, machine, limit, json }) => {
            let filter = ExecutionFilter { status: status.clone(), machine: machine.clone(), limit: *limit };
            let rows = operator::list_executions(&source, &filter).await.map_err(fail)?;
            if *json {
                let json: Vec<_> = rows
                    .iter()
                    .map(|r| {
                        serde_json::json!({"name": r.name, "executionArn": r.arn, "stateMachine": r.state_machine,
                            "status": r.status, "started": r.started, "failure": r.failure})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&json)?);
            } else {
                print!("{}", operator::executions_table(&rows));
            }
        }
        Some(ExecutionsAction::Show { execution, history, json }) => {
            let arn = operator::find_execution(&source, execution).await.map_err(fail)?;
            let detail = operator::execution_detail(&source, &arn).await.map_err(fail)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&operator::report_json(&detail))?);
            } else {
                print!("{}", operator::report(&detail, *history));
            }
        }
        Some(ExecutionsAction::Rerun { execution }) => {
            let arn = operator::find_execution(&source, execution).await.map_err(fail)?;
            let described = clients
                .sfn
                .describe_execution()
                .execution_arn(&arn)
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("reading {execution}: {}", wildrydes::cloud::error_message(&e)))?;
            let machine = described.state_machine_arn();
            let input = described.input().unwrap_or("{}");
            let new_arn = wildrydes::run::start(clients, machine, input).await?;
            println!("Rerunning {execution} as {new_arn}\n  input {input}");
            follow_and_print(clients, &new_arn, false).await?;
        }
        Some(ExecutionsAction::Redrive { execution }) => {
            let arn = operator::find_execution(&source, execution).await.map_err(fail)?;
            println!("{}", operator::redrive(&source, &arn).await.map_err(fail)?);
            follow_and_print(clients, &arn, false).await?;
        }
        Some(ExecutionsAction::Stop { execution }) => {
            let arn = operator::find_execution(&source, execution).await.map_err(fail)?;
            println!("{}", operator::stop(&source, &arn).await.map_err(fail)?);
        }
    }
    Ok(())
}

/// The target the global options select: an explicit endpoint, real AWS, or the local
/// cloud on its default port.
fn target(endpoint_url: &Option<String>, aws: bool, region: &Option<String>) -> Target {
    if aws {
        return Target::Aws { region: region.clone() };
    }
    let endpoint = endpoint_url.clone().unwrap_or_else(|| format!("http://127.0.0.1:{}", local::DEFAULT_PORT));
    Target::Local { endpoint, region: region.clone().unwrap_or_else(|| local::DEFAULT_REGION.into()) }
}

impl FunctionArgs {
    fn none() -> Self {
        Self {
            lambda_dir: None,
            lambda_zips: PathBuf::new(),
            lambda_role_arn: None,
            states_role_arn: None,
            notify_from: None,
            notify_to: None,
            upload_trigger: false,
        }
    }
}

/// Runs `work` with clients for the selected target. On the local default, when no local
/// cloud is serving, one runs in this process for the command's duration, on the same data
/// directory, so `deploy` and `run` work offline without a separate `serve`.
async fn with_target(
    cli: &Cli,
    data_dir: PathBuf,
    work: impl AsyncFnOnce(&wildrydes::cloud::Clients, &Target) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut local_cloud = None;
    let target = if cli.aws || cli.endpoint_url.is_some() {
        target(&cli.endpoint_url, cli.aws, &cli.region)
    } else {
        let (target, cloud) = local_target(cli, data_dir).await?;
        local_cloud = cloud;
        target
    };
    let clients = wildrydes::cloud::Clients::for_target(&target).await;
    let result = work(&clients, &target).await;
    if let Some(cloud) = local_cloud {
        cloud.shutdown().await;
    }
    result
}

/// The local cloud on the default port: the one already serving there, or a new one in
/// this process (returned, for the caller to shut down).
async fn local_target(cli: &Cli, data_dir: PathBuf) -> anyhow::Result<(Target, Option<LocalCloud>)> {
    let mut config = LocalCloudConfig::new(data_dir);
    config.port = cli.port;
    if let Some(region) = &cli.region {
        config.region = region.clone();
    }
    match LocalCloud::start(config.clone()).await {
        Ok(cloud) => {
            let target = Target::Local { endpoint: cloud.endpoint(), region: config.region.clone() };
            Ok((target, Some(cloud)))
        }
        Err(local::LocalCloudError::Bind { addr, source }) if source.kind() == std::io::ErrorKind::AddrInUse => {
            let endpoint = format!("http://{addr}");
            if !is_local_cloud(&endpoint).await {
                anyhow::bail!(
                    "port {} is taken by another program. Use --endpoint-url URL to reach a running local \
                     cloud, or stop the program on that port.",
                    addr.port()
                );
            }
            // `wildrydes serve` (or the dashboard) is already running: share it.
            Ok((Target::Local { endpoint, region: config.region.clone() }, None))
        }
        Err(e) => Err(e.into()),
    }
}

/// The workshop's names on the target: fixed locally; on AWS, bucket names carry the
/// account (from the role ARN) and the region, because S3 bucket names are global.
fn workshop_names(target: &Target, args: &FunctionArgs) -> anyhow::Result<wildrydes::workshop::WorkshopNames> {
    use wildrydes::workshop::WorkshopNames;
    match target {
        Target::Local { .. } => Ok(WorkshopNames::local()),
        Target::Aws { region } => {
            let account = args
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

fn deploy_options(target: &Target, args: &FunctionArgs) -> anyhow::Result<wildrydes::deploy::DeployOptions> {
    use wildrydes::deploy::{CodeSource, DeployOptions, FunctionSettings, UploadTrigger};
    match target {
        Target::Local { .. } => {
            let binaries = match &args.lambda_dir {
                Some(dir) => dir.clone(),
                None => std::env::current_exe()?
                    .parent()
                    .map(PathBuf::from)
                    .ok_or_else(|| anyhow::anyhow!("cannot tell which directory this program is in"))?,
            };
            Ok(DeployOptions::local(binaries))
        }
        Target::Aws { .. } => {
            let names = workshop_names(target, args)?;
            let (Some(lambda_role), Some(states_role)) = (&args.lambda_role_arn, &args.states_role_arn) else {
                anyhow::bail!(
                    "deploying to AWS needs --lambda-role-arn and --states-role-arn (IAM roles are not made by \
                     this command). Or deploy with AWS SAM: statemachine/template.yaml makes the roles too."
                )
            };
            Ok(DeployOptions {
                names,
                functions: FunctionSettings {
                    code: CodeSource::Zips(args.lambda_zips.clone()),
                    role_arn: lambda_role.clone(),
                    notification: args.notify_from.clone().zip(args.notify_to.clone()),
                    wait_for_aws: true,
                },
                states_role_arn: states_role.clone(),
                upload_selfies: true,
                upload_trigger: args.upload_trigger.then_some(UploadTrigger { grant_s3_invoke: true }),
            })
        }
    }
}

fn print_progress(progress: wildrydes::deploy::Progress) {
    use wildrydes::deploy::Progress;
    if let Progress::Done { resource, outcome } = progress {
        println!("  {resource:<58} {outcome}");
    }
}

fn print_ending(ending: &wildrydes::run::Ending) {
    println!("{} in {:.2} s", ending.status, ending.duration_seconds);
    if let Some(output) = &ending.output {
        println!("output: {}", serde_json::to_string_pretty(output).unwrap_or_default());
    }
    if let Some(error) = &ending.error {
        println!("error: {error}");
    }
    if let Some(cause) = &ending.cause {
        println!("cause: {cause}");
    }
}

/// Opens the dashboard: on the target the options name, or on a local cloud started in
/// this process (or the one already serving on the default port).
async fn dashboard(cli: &Cli, data_dir: PathBuf) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("the dashboard needs a terminal. Use `wildrydes serve` to run the local cloud without one.");
    }
    // The screen belongs to the dashboard: logs go to a file in the data directory.
    std::fs::create_dir_all(&data_dir)?;
    let log = std::fs::OpenOptions::new().create(true).append(true).open(data_dir.join("wildrydes.log"))?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WILDRYDES_LOG").unwrap_or_else(|_| "wildrydes=info".into()),
        )
        .with_writer(std::sync::Mutex::new(log))
        .with_ansi(false)
        .init();

    let mut local_cloud = None;
    let target = if cli.aws || cli.endpoint_url.is_some() {
        target(&cli.endpoint_url, cli.aws, &cli.region)
    } else {
        let mut config = LocalCloudConfig::new(data_dir.clone());
        config.port = cli.port;
        if let Some(region) = &cli.region {
            config.region = region.clone();
        }
        match LocalCloud::start(config.clone()).await {
            Ok(cloud) => {
                let target = Target::Local { endpoint: cloud.endpoint(), region: config.region.clone() };
                local_cloud = Some(cloud);
                target
            }
            Err(local::LocalCloudError::Bind { addr, source }) if source.kind() == std::io::ErrorKind::AddrInUse => {
                let endpoint = format!("http://{addr}");
                if !is_local_cloud(&endpoint).await {
                    anyhow::bail!(
                        "port {} is taken by another program. Start the dashboard with --endpoint-url URL \
                         to use a running local cloud, or stop the program on that port.",
                        addr.port()
                    );
                }
                // `wildrydes serve` is already running: share it rather than start a second one.
                Target::Local { endpoint, region: config.region.clone() }
            }
            Err(e) => return Err(e.into()),
        }
    };
    let clients = wildrydes::cloud::Clients::for_target(&target).await;
    if !cli.aws && cli.endpoint_url.is_none() && !cli.no_deploy {
        deploy_before_the_dashboard(&clients, &target).await;
    }
    let local_endpoint = match &target {
        Target::Local { endpoint, .. } => Some(endpoint.clone()),
        Target::Aws { .. } => None,
    };
    // The Lab deploys and cleans up where deploy needs nothing more from the user.
    let deploy = deploy_options(&target, &FunctionArgs::none()).ok();
    let source = wildrydes::tui::load::Source {
        clients,
        names: wildrydes::workshop::WorkshopNames::local(),
        local_endpoint,
        deploy,
    };
    let result = wildrydes::tui::run(source, target.describe()).await;
    if let Some(cloud) = local_cloud {
        cloud.shutdown().await;
    }
    result
}

/// On the local cloud the dashboard opens on a deployed workshop: deploy (idempotent, so
/// quick when nothing changed) with its progress on the terminal first. A failure is shown
/// and the dashboard opens anyway, so the user can still look around.
async fn deploy_before_the_dashboard(clients: &wildrydes::cloud::Clients, target: &Target) {
    let Ok(options) = deploy_options(target, &FunctionArgs::none()) else { return };
    println!("Deploying the workshop to {} (skip with --no-deploy)", target.describe());
    if let Err(e) = wildrydes::deploy::deploy(clients, &options, &mut print_progress).await {
        println!("\nThe workshop could not be deployed: {e:#}\nPress Enter to open the dashboard anyway.");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }
}

/// Whether a wildrydes local cloud answers at `endpoint`.
async fn is_local_cloud(endpoint: &str) -> bool {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let Ok(uri) = format!("{endpoint}/_wildrydes/health").parse::<http::Uri>() else { return false };
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(2), client.get(uri)).await,
        Ok(Ok(response)) if response.status().is_success()
    )
}

async fn serve(bind: IpAddr, port: u16, data_dir: PathBuf, region: Option<String>) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WILDRYDES_LOG").unwrap_or_else(|_| "wildrydes=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut config = LocalCloudConfig::new(data_dir.clone());
    config.bind = bind;
    config.port = port;
    if let Some(region) = region {
        config.region = region;
    }
    let cloud = LocalCloud::start(config.clone()).await?;
    if !bind.is_loopback() {
        eprintln!(
            "WARNING: listening on {bind}: the local cloud is reachable from other machines. \
             Anyone who knows the credentials can read and change its data."
        );
    }
    println!("wildrydes local cloud listening on {}", cloud.endpoint());
    println!("  data directory: {}", data_dir.display());
    println!(
        "  region: {}   credentials: AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY=…",
        config.region, config.credentials.access_key
    );
    println!("  try: aws --endpoint-url {} s3 ls", cloud.endpoint());
    use std::io::Write;
    let _ = std::io::stdout().flush();

    wait_for_shutdown_signal().await?;
    eprintln!("shutting down…");
    cloud.shutdown().await;
    Ok(())
}

async fn wait_for_shutdown_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
    }
    Ok(())
}

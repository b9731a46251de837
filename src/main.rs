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
        /// Port to listen on (0 picks a free one)
        #[arg(long, default_value_t = local::DEFAULT_PORT)]
        port: u16,
    },
    /// Create or update every workshop resource (collection, buckets, table, functions, state machines)
    Deploy {
        /// Print what was created as JSON
        #[arg(long)]
        json: bool,
    },
    /// Start an execution of the rider-photo state machine with a selfie
    Run {
        /// The photo to process (a file, uploaded for you, or a key in the rider photo bucket)
        photo: String,
        /// The rider's user id
        #[arg(long, default_value = "user_a")]
        user: String,
    },
    /// List, search and delete the indexed faces
    Faces,
    /// List executions and show why one failed
    Executions,
    /// Delete every workshop resource
    Cleanup,
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
        Some(Command::Serve { bind, port }) => serve(bind, port, data_dir, cli.region).await,
        None | Some(Command::Tui) => dashboard(&cli, data_dir).await,
        Some(other) => {
            let target = target(&cli.endpoint_url, cli.aws, &cli.region);
            anyhow::bail!(
                "`{}` is not available in this version yet (target would be {}). \
                 Run `wildrydes serve` and use the aws CLI against it meanwhile.",
                command_name(&other),
                target.describe()
            )
        }
    }
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Tui => "wildrydes tui",
        Command::Serve { .. } => "wildrydes serve",
        Command::Deploy { .. } => "wildrydes deploy",
        Command::Run { .. } => "wildrydes run",
        Command::Faces => "wildrydes faces",
        Command::Executions => "wildrydes executions",
        Command::Cleanup => "wildrydes cleanup",
    }
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
    let local_endpoint = match &target {
        Target::Local { endpoint, .. } => Some(endpoint.clone()),
        Target::Aws { .. } => None,
    };
    let source =
        wildrydes::tui::load::Source { clients, names: wildrydes::workshop::WorkshopNames::local(), local_endpoint };
    let result = wildrydes::tui::run(source, target.describe()).await;
    if let Some(cloud) = local_cloud {
        cloud.shutdown().await;
    }
    result
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

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
        Some(other) => {
            let target = target(&cli.endpoint_url, cli.aws, &cli.region);
            anyhow::bail!(
                "`{}` is not available in this version yet (target would be {}). \
                 Run `wildrydes serve` and use the aws CLI against it meanwhile.",
                command_name(&other),
                target.describe()
            )
        }
        None => anyhow::bail!(
            "the dashboard is not available in this version yet. Run `wildrydes serve` for the local cloud."
        ),
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

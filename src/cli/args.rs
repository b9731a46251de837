//! The command line's arguments (clap): the global options that pick the target, and each
//! command with its own. Parsing only; `cli` runs them.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::local;

#[derive(Parser, Debug)]
#[command(
    name = "wildrydes",
    version,
    about = "The Wild Rydes rider-selfie workshop: a terminal dashboard and a local AWS-compatible cloud",
    long_about = "The Wild Rydes rider-selfie workflow (Step Functions orchestrating Lambda functions that call \
Rekognition, S3, DynamoDB and SES). With no command it opens the dashboard on the local cloud; \
`serve` runs the local cloud alone so the aws CLI, boto3 or any SDK can use it."
)]
pub struct Cli {
    /// Talk to this AWS-compatible endpoint instead of starting the local cloud; with --aws,
    /// AWS's semantics (account-qualified names, your credentials) at another endpoint
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Use real AWS through the normal config chain (profile, environment, SSO)
    #[arg(long, global = true)]
    pub aws: bool,

    /// AWS: the profile of your AWS config to use (SSO profiles too)
    #[arg(long, global = true, env = "AWS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// AWS: read the resource names from this CloudFormation stack's outputs (the workshop's
    /// is wildrydes-step-module-resources)
    #[arg(long, global = true, value_name = "STACK", requires = "aws")]
    pub stack: Option<String>,

    /// The Rekognition collection (default: rider-photos, or the stack's CollectionId)
    #[arg(long, global = true, value_name = "ID")]
    pub collection: Option<String>,

    /// The rider photo bucket (default: from the stack, or the name deploy gives)
    #[arg(long, global = true, value_name = "BUCKET")]
    pub photo_bucket: Option<String>,

    /// The thumbnail bucket (default: from the stack, or the name deploy gives)
    #[arg(long, global = true, value_name = "BUCKET")]
    pub thumbnail_bucket: Option<String>,

    /// The riders table (default: from the stack, or the name deploy gives)
    #[arg(long, global = true, value_name = "TABLE")]
    pub table: Option<String>,

    /// AWS region (default locally: us-east-1; on AWS: from the AWS config)
    #[arg(long, global = true, env = "AWS_REGION")]
    pub region: Option<String>,

    /// Where the local cloud keeps its state
    #[arg(long, global = true, value_name = "DIR", env = "WILDRYDES_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Port of the local cloud the dashboard, `serve` and the commands start (0 picks a free one)
    #[arg(long, global = true, default_value_t = local::DEFAULT_PORT, env = "WILDRYDES_PORT")]
    pub port: u16,

    /// Open the dashboard without deploying the workshop first
    #[arg(long)]
    pub no_deploy: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the dashboard (the default)
    Tui,
    /// Run the local cloud: one AWS-compatible endpoint for S3, DynamoDB, SES v2 and more
    Serve {
        /// Address to listen on; anything but loopback makes the endpoint reachable from other machines
        #[arg(long, default_value = "127.0.0.1")]
        bind: IpAddr,
        /// Stop once no dashboard or command has used it for a few seconds (how the dashboard
        /// and the commands start it, so that it outlives whichever of them started it)
        #[arg(long)]
        until_idle: bool,
    },
    /// Create or update every workshop resource (collection, buckets, table, functions, state machines, selfies)
    Deploy {
        /// Print only the outputs, as JSON
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        functions: FunctionArgs,
    },
    /// Where the commands work (target, region, the workshop's resource names) and what of the
    /// workshop is there, step by step as the dashboard's Lab sees it; unknown where it cannot tell
    Status {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// A function's newest log lines, from CloudWatch Logs (the local cloud speaks it too)
    Logs {
        /// The function, e.g. wildrydes-face-detection (default: every function)
        function: Option<String>,
        /// How many of the newest lines
        #[arg(long, default_value_t = 100)]
        lines: usize,
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
pub enum FacesAction {
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
        /// Delete the extra accounts' faces (each group keeps the registered rider's face, else the
        /// oldest), with the riders table rows that point at them; asks first
        #[arg(long)]
        delete: bool,
        /// Do not ask before deleting (for scripts)
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Delete faces by face id, or every face of a user
    Delete {
        /// Face ids to delete
        face_ids: Vec<String>,
        /// Delete every face of this user id (repeatable)
        #[arg(long = "user", value_name = "USER")]
        users: Vec<String>,
        /// Do not ask before deleting (for scripts)
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ExecutionsAction {
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
pub struct FunctionArgs {
    /// Local target: the directory holding the workspace's function binaries (default: next to this program)
    #[arg(long, value_name = "DIR")]
    pub lambda_dir: Option<PathBuf>,
    /// AWS: a directory of zips built for Lambda (`<function>/bootstrap.zip`, as `cargo lambda
    /// build --release --output-format zip` leaves them in target/lambda). Default: deploy runs
    /// that build itself, in the wildrydes checkout it is run from
    #[arg(long, value_name = "DIR")]
    pub lambda_zips: Option<PathBuf>,
    /// AWS: the architecture the functions run on (and their zips are built for)
    #[arg(long, value_name = "ARCH", value_parser = ["arm64", "x86_64"], default_value = "arm64")]
    pub architecture: String,
    /// AWS: the execution role of the functions. Default: deploy makes wildrydes-lambda-REGION
    /// (least privilege on this deploy's resources) and cleanup deletes it
    #[arg(long, value_name = "ARN")]
    pub lambda_role_arn: Option<String>,
    /// AWS: the role Step Functions assumes to invoke the functions. Default: deploy makes
    /// wildrydes-states-REGION (may invoke the six functions) and cleanup deletes it
    #[arg(long, value_name = "ARN")]
    pub states_role_arn: Option<String>,
    /// AWS: send the notification from this verified SES identity (the workshop's extra credit)
    #[arg(long, value_name = "EMAIL", requires = "notify_to")]
    pub notify_from: Option<String>,
    /// AWS: send the notification to these addresses (comma-separated)
    #[arg(long, value_name = "EMAILS", requires = "notify_from")]
    pub notify_to: Option<String>,
    /// AWS: also deploy the upload trigger (photos put under uploads/<userId>/ start
    /// RiderPhotoProcessing-4); a --lambda-role-arn role must allow states:StartExecution on it.
    /// Always on locally
    #[arg(long)]
    pub upload_trigger: bool,
}

impl FunctionArgs {
    /// No function settings: what the commands that do not deploy resolve names with.
    pub fn none() -> Self {
        Self {
            lambda_dir: None,
            lambda_zips: None,
            architecture: "arm64".into(),
            lambda_role_arn: None,
            states_role_arn: None,
            notify_from: None,
            notify_to: None,
            upload_trigger: false,
        }
    }
}

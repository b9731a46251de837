//! The `wildrydes` command line: the dashboard (default), the local cloud (`serve`), the
//! workshop's steps (`deploy`, `run`, `cleanup`) and the operator's commands (`executions`,
//! `faces`). Each command resolves one [`Context`] and asks the operations layer (`ops`);
//! this module only prints (through `report`), asks before deleting, and sets the exit
//! status.
//!
//! May use everything below it: `context`, `ops`, `deploy`, `run`, `tui`, `local`.

pub mod args;
pub mod report;

use std::io::{IsTerminal, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::context::{self, Context, Functions, Selection};
use crate::local::{self, LocalCloud, LocalCloudConfig};
use crate::ops::{ExecutionFilter, Ops, Verdict};
use args::{Cli, Command, ExecutionsAction, FacesAction, FunctionArgs};

/// How a command ended, as its exit status: 0 done (a rider registered), 2 a photo refused
/// (the workflow's Catch took a refusal), 1 failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Done,
    Refused,
    Failed,
}

impl From<&Verdict> for Exit {
    fn from(verdict: &Verdict) -> Self {
        match verdict.exit_code() {
            0 => Exit::Done,
            2 => Exit::Refused,
            _ => Exit::Failed,
        }
    }
}

/// The program: parse, run, and turn the outcome into the exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wildrydes: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(Exit::Done) => ExitCode::SUCCESS,
        Ok(Exit::Refused) => ExitCode::from(2),
        Ok(Exit::Failed) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("wildrydes: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl Cli {
    fn selection(&self) -> Selection {
        Selection {
            endpoint_url: self.endpoint_url.clone(),
            aws: self.aws,
            region: self.region.clone(),
            data_dir: self.data_dir.clone(),
            port: self.port,
            profile: self.profile.clone(),
            stack: self.stack.clone(),
            names: context::NameFlags {
                collection: self.collection.clone(),
                photo_bucket: self.photo_bucket.clone(),
                thumbnail_bucket: self.thumbnail_bucket.clone(),
                riders_table: self.table.clone(),
            },
        }
    }
}

impl From<&FunctionArgs> for Functions {
    fn from(args: &FunctionArgs) -> Self {
        Functions {
            lambda_dir: args.lambda_dir.clone(),
            lambda_zips: args.lambda_zips.clone(),
            architecture: Some(args.architecture.clone()),
            lambda_role_arn: args.lambda_role_arn.clone(),
            states_role_arn: args.states_role_arn.clone(),
            notification: args.notify_from.clone().zip(args.notify_to.clone()),
            upload_trigger: args.upload_trigger,
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    let selection = cli.selection();
    let functions = match &cli.command {
        Some(Command::Deploy { functions, .. } | Command::Cleanup { functions }) => Functions::from(functions),
        _ => Functions::from(&FunctionArgs::none()),
    };
    match &cli.command {
        Some(Command::Serve { bind, until_idle }) => serve(*bind, *until_idle, &selection).await.map(|()| Exit::Done),
        None | Some(Command::Tui) => dashboard(&selection, cli.no_deploy).await.map(|()| Exit::Done),
        Some(command) => {
            let ctx = Context::resolve(&selection, &functions).await?;
            let result = command_in(&ctx, command).await;
            ctx.close().await;
            result
        }
    }
}

async fn command_in(ctx: &Context, command: &Command) -> anyhow::Result<Exit> {
    let ops = &ctx.ops;
    match command {
        Command::Serve { .. } | Command::Tui => unreachable!("handled before a context is resolved"),
        Command::Deploy { json, .. } => {
            let options = ctx.deploy.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
            let outputs = if *json {
                crate::deploy::deploy(&ops.clients, options, &mut |_| {}).await?
            } else {
                println!("Deploying the workshop to {}", ctx.target.describe());
                let outputs = crate::deploy::deploy(&ops.clients, options, &mut print_progress).await?;
                println!("\nOutputs:");
                outputs
            };
            println!("{}", serde_json::to_string_pretty(&outputs)?);
            Ok(Exit::Done)
        }
        Command::Cleanup { .. } => {
            let options = ctx.deploy.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("Deleting the workshop's resources from {}", ctx.target.describe());
            crate::deploy::cleanup::cleanup(&ops.clients, options, &mut print_progress).await?;
            Ok(Exit::Done)
        }
        Command::Run { photo, user, machine, json } => {
            let bucket = &ops.names.photo_bucket;
            let key = crate::run::photo_key(&ops.clients, bucket, photo).await?;
            let input = crate::run::workflow_input(user, bucket, &key);
            let arn = crate::run::start(&ops.clients, machine, &input).await?;
            if !json {
                println!("{machine}: started {}\n  input {input}", crate::ops::executions::short(&arn));
            }
            follow_and_print(ops, &arn, 0, *json).await
        }
        Command::Status { json } => {
            let source = crate::tui::load::Source { ops: ops.clone(), deploy: ctx.deploy.clone().ok() };
            let steps = crate::tui::lab::status(&source).await;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report::status_json(&ctx.target, &ops.names, &steps))?);
            } else {
                print!("{}", report::status(&ctx.target, &ops.names, &steps));
            }
            Ok(Exit::Done)
        }
        Command::Logs { function: Some(function), lines } => {
            for line in ops.function_log(function, *lines).await? {
                println!("{line}");
            }
            Ok(Exit::Done)
        }
        Command::Logs { function: None, lines } => {
            for logs in ops.logs().await? {
                println!("== /aws/lambda/{}", logs.function);
                let skip = logs.lines.len().saturating_sub(*lines);
                for line in logs.lines.iter().skip(skip) {
                    println!("{line}");
                }
            }
            Ok(Exit::Done)
        }
        Command::Faces { action } => faces(ops, action).await,
        Command::Executions { action } => executions(ops, action).await,
    }
}

/// Follows an execution state by state (or silently with `json`) from the event after
/// `after_event`, prints how it ended, and returns its verdict as the exit status.
async fn follow_and_print(ops: &Ops, arn: &str, after_event: i64, json: bool) -> anyhow::Result<Exit> {
    let mut narrator = crate::run::Narrator::default();
    let followed = ops
        .follow(arn, after_event, &mut |event| {
            if !json && let Some(line) = narrator.line(event) {
                println!("{line}");
            }
        })
        .await?;
    if json {
        let mut out = serde_json::to_value(&followed.ending)?;
        out["outcome"] = followed.verdict.summary().into();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_ending(&followed.ending, &followed.verdict);
    }
    Ok(Exit::from(&followed.verdict))
}

/// Asks before a destructive step; `yes` skips the question. Without a terminal to ask on,
/// refuses rather than guess.
fn confirm(question: &str, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("{question} There is no terminal to ask on: add --yes to go ahead without asking.");
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

async fn faces(ops: &Ops, action: &Option<FacesAction>) -> anyhow::Result<Exit> {
    match action {
        None | Some(FacesAction::List { json: false }) => print!("{}", report::faces_table(&ops.faces().await?)),
        Some(FacesAction::List { json: true }) => {
            println!("{}", serde_json::to_string_pretty(&report::faces_json(&ops.faces().await?))?)
        }
        Some(FacesAction::Duplicates { threshold, delete, yes }) => {
            let groups = ops.duplicates(*threshold).await?;
            print!("{}", report::duplicates_report(&groups, *threshold));
            let deletions = ops.deletions_for(&groups).await?;
            if deletions.is_empty() {
                return Ok(Exit::Done);
            }
            if !*delete {
                println!("Run again with --delete to delete the {} face(s) marked delete.", deletions.len());
                return Ok(Exit::Done);
            }
            delete_confirmed(ops, &deletions, *yes).await?;
        }
        Some(FacesAction::Delete { face_ids, users, yes }) => {
            let deletions = ops.select_faces(face_ids, users).await?;
            delete_confirmed(ops, &deletions, *yes).await?;
        }
    }
    Ok(Exit::Done)
}

async fn delete_confirmed(ops: &Ops, deletions: &[crate::ops::faces::Deletion], yes: bool) -> anyhow::Result<()> {
    println!("To delete:\n{}", report::deletion_plan(deletions));
    let riders = deletions.iter().filter(|d| d.rider.is_some()).count();
    let question = match riders {
        0 => format!("Delete {} face(s)?", deletions.len()),
        n => format!("Delete {} face(s) and {n} riders table row(s)?", deletions.len()),
    };
    if !confirm(&question, yes)? {
        println!("Nothing deleted.");
        return Ok(());
    }
    println!("{}", report::deleted(&ops.delete_faces(deletions).await?));
    Ok(())
}

async fn executions(ops: &Ops, action: &Option<ExecutionsAction>) -> anyhow::Result<Exit> {
    match action {
        None => {
            let rows = ops.executions(&ExecutionFilter { limit: 20, ..Default::default() }).await?;
            print!("{}", report::executions_table(&rows));
        }
        Some(ExecutionsAction::List { status, machine, limit, json }) => {
            let filter = ExecutionFilter { status: status.clone(), machine: machine.clone(), limit: *limit };
            let rows = ops.executions(&filter).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report::executions_json(&rows))?);
            } else {
                print!("{}", report::executions_table(&rows));
            }
        }
        Some(ExecutionsAction::Show { execution, history, json }) => {
            let arn = ops.find_execution(execution).await?;
            let detail = ops.execution_detail(&arn).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report::execution_json(&detail, *history))?);
            } else {
                print!("{}", report::execution_report(&detail, *history));
            }
        }
        Some(ExecutionsAction::Rerun { execution }) => {
            let arn = ops.find_execution(execution).await?;
            let rerun = ops.rerun(&arn).await?;
            println!("Rerunning {} on {} as {}\n  input {}", rerun.original, rerun.machine, rerun.name(), rerun.input);
            return follow_and_print(ops, &rerun.arn, 0, false).await;
        }
        Some(ExecutionsAction::Redrive { execution }) => {
            let arn = ops.find_execution(execution).await?;
            let redrive = ops.redrive(&arn).await?;
            println!("Redriving {} from the state that failed", redrive.name);
            return follow_and_print(ops, &redrive.arn, redrive.after_event, false).await;
        }
        Some(ExecutionsAction::Stop { execution }) => {
            let arn = ops.find_execution(execution).await?;
            ops.stop(&arn).await?;
            println!("Stopped {}.", crate::ops::executions::short(&arn));
        }
    }
    Ok(Exit::Done)
}

fn print_progress(progress: crate::deploy::Progress) {
    use crate::deploy::Progress;
    if let Progress::Done { resource, outcome } = progress {
        println!("  {resource:<58} {outcome}");
    }
}

fn print_ending(ending: &crate::run::Ending, verdict: &Verdict) {
    println!("{} in {:.2} s — {}", ending.status, ending.duration_seconds, verdict.summary());
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

/// Opens the dashboard on the selected target; on the local cloud it starts (or joins),
/// after deploying the workshop's stack there unless told not to.
async fn dashboard(selection: &Selection, no_deploy: bool) -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!("the dashboard needs a terminal. Use `wildrydes serve` to run the local cloud without one.");
    }
    // The screen belongs to the dashboard: logs go to a file in the data directory.
    let data_dir = context::data_dir(selection);
    std::fs::create_dir_all(&data_dir)?;
    let log = std::fs::OpenOptions::new().create(true).append(true).open(data_dir.join("wildrydes.log"))?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WILDRYDES_LOG").unwrap_or_else(|_| "wildrydes=info".into()),
        )
        .with_writer(std::sync::Mutex::new(log))
        .with_ansi(false)
        .init();

    let ctx = Context::resolve(selection, &Functions::default()).await?;
    let local = !selection.aws && selection.endpoint_url.is_none();
    if local && !no_deploy {
        deploy_before_the_dashboard(&ctx).await;
    }
    let source = crate::tui::load::Source { ops: ctx.ops.clone(), deploy: ctx.deploy.clone().ok() };
    let result = crate::tui::run(source, ctx.target.describe()).await;
    ctx.close().await;
    result
}

/// On the local cloud the dashboard opens where the workshop's attendee starts: what its
/// CloudFormation stack makes (section 2) deployed (idempotent, so quick when nothing
/// changed), with its progress on the terminal first; the collection and the state machines
/// are the Lab's steps. A failure is shown and the dashboard opens anyway, so the user can
/// still look around.
async fn deploy_before_the_dashboard(ctx: &Context) {
    let Ok(options) = &ctx.deploy else { return };
    println!(
        "Deploying the workshop's stack (buckets, table, functions, test photos) to {} (skip with --no-deploy)",
        ctx.target.describe()
    );
    if let Err(e) = crate::deploy::deploy_resources(&ctx.ops.clients, options, &mut print_progress).await {
        println!("\nThe workshop could not be deployed: {e:#}\nPress Enter to open the dashboard anyway.");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }
}

async fn serve(bind: IpAddr, until_idle: bool, selection: &Selection) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WILDRYDES_LOG").unwrap_or_else(|_| "wildrydes=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let data_dir: PathBuf = context::data_dir(selection);
    let mut config = LocalCloudConfig::new(data_dir.clone());
    config.bind = bind;
    config.port = selection.port;
    if let Some(region) = &selection.region {
        config.region = region.clone();
    }
    let cloud = match LocalCloud::start(config.clone()).await {
        Ok(cloud) => cloud,
        Err(local::LocalCloudError::Bind { addr, source }) if source.kind() == std::io::ErrorKind::AddrInUse => {
            let by = match context::serving(&format!("http://127.0.0.1:{}", addr.port())).await {
                Some(dir) => format!("by wildrydes serving {}", dir.display()),
                None => "by another program".into(),
            };
            anyhow::bail!("port {} is in use ({by}).", addr.port())
        }
        Err(e) => return Err(e.into()),
    };
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
    let _ = std::io::stdout().flush();

    // Started for its clients: it ends when the last of them has gone (see `local::leases`).
    let idle = async {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            if cloud.idle_for().is_some_and(|d| d >= local::leases::IDLE_GRACE) {
                break;
            }
        }
    };
    tokio::select! {
        result = wait_for_shutdown_signal() => result?,
        () = idle, if until_idle => eprintln!("no dashboard or command has used the local cloud for {} s", local::leases::IDLE_GRACE.as_secs()),
    }
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

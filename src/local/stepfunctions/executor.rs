//! The durable executor: one actor (a tokio task) per running execution owns the
//! interpreter's [`Execution`]. Each step — the start, or a batch of events that arrived
//! together (task results, fired timers, a stop) — is applied to the interpreter, then its
//! history events, snapshot, status and outstanding commands are written in ONE SQLite
//! transaction; only after that commit are the commands carried out (tasks invoked, timers
//! armed, either cancelled).
//!
//! On start-up every RUNNING execution is loaded from its snapshot: its timers are re-armed
//! (a tokio sleep until the fire time, no polling) and its outstanding tasks are invoked
//! again — task delivery is at-least-once, as on AWS.
//!
//! Tasks go through the [`TaskRunner`] trait; this module maps the Task resources AWS
//! knows for Lambda (a function ARN, or `arn:aws:states:::lambda:invoke` with its
//! `FunctionName`/`Payload` parameters and AWS's result shape) onto plain function calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::asl::{Command, Definition, Event, Execution, ExecutionContext, ExecutionStatus, HistoryEvent};
use super::store::{self, ExecutionRow, Inserted, Pending, Resumable, StatusUpdate, Step};
use crate::local::storage::{StorageError, Store};

/// A task's failure as the state machine sees it: an error name and a cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    pub error: String,
    pub cause: Option<String>,
}

impl TaskFailure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self { error: error.into(), cause: Some(cause.into()) }
    }
}

/// Runs the work of Task states. For Lambda resources `resource` is the function (name or
/// ARN, as the definition gives it) and `input` its payload; the answer is the function's
/// result payload, or its error type and cause. Other resources arrive as written in the
/// definition, with the state's effective parameters.
pub trait TaskRunner: Send + Sync + 'static {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        input: Value,
        timeout: Option<Duration>,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>>;
}

/// The runner used until a local Lambda service provides one: every task fails with a
/// `States.Runtime` error that names the resource, so nothing waits on work nobody does.
pub struct UnavailableTaskRunner;

impl TaskRunner for UnavailableTaskRunner {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        _input: Value,
        _timeout: Option<Duration>,
    ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
        Box::pin(async move {
            Err(TaskFailure::new(
                "States.Runtime",
                format!("The resource '{resource}' is not available in the local cloud."),
            ))
        })
    }
}

/// The longest a task without TimeoutSeconds may take before the engine gives up on the
/// runner: a Lambda function cannot run longer than 900 s on AWS, so a runner silent for
/// longer is stuck, and the execution must not hang on it.
pub const UNBOUNDED_TASK_LIMIT: Duration = Duration::from_secs(960);

#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("cannot serialise the execution state: {0}")]
    Snapshot(#[from] serde_json::Error),
    #[error("the execution is not running")]
    NotRunning,
    #[error("the executor is shutting down")]
    ShuttingDown,
    #[error("{0}")]
    NotRedrivable(String),
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The execution's status as stored (`RUNNING`, `SUCCEEDED`, ...), with its output or error.
pub fn status_update(status: &ExecutionStatus, now: i64) -> StatusUpdate {
    let closed = |s: &'static str, error: &Option<String>, cause: &Option<String>| StatusUpdate {
        status: s,
        output: None,
        error: error.clone(),
        cause: cause.clone(),
        stop_ms: Some(now),
    };
    match status {
        ExecutionStatus::Running => {
            StatusUpdate { status: "RUNNING", output: None, error: None, cause: None, stop_ms: None }
        }
        ExecutionStatus::Succeeded { output } => StatusUpdate {
            status: "SUCCEEDED",
            output: Some(super::asl::to_json_text(output)),
            error: None,
            cause: None,
            stop_ms: Some(now),
        },
        ExecutionStatus::Failed { error, cause } => closed("FAILED", error, cause),
        ExecutionStatus::TimedOut { error, cause } => closed("TIMED_OUT", error, cause),
        ExecutionStatus::Aborted { error, cause } => closed("ABORTED", error, cause),
    }
}

enum Msg {
    Task { id: String, result: Result<Value, TaskFailure> },
    Stop { error: Option<String>, cause: Option<String>, reply: oneshot::Sender<Result<i64, ExecutorError>> },
}

/// How a finished execution ended, for StartSyncExecution.
#[derive(Debug, Clone)]
pub struct Finished {
    pub status: ExecutionStatus,
    pub stop_ms: i64,
    /// The history, when the run was asked to keep it (TestState reads it).
    pub history: Vec<HistoryEvent>,
}

struct Inner {
    store: Store,
    runner: Arc<dyn TaskRunner>,
    actors: Mutex<HashMap<String, mpsc::UnboundedSender<Msg>>>,
    handles: Mutex<Vec<JoinHandle<()>>>,
    shutdown: watch::Sender<bool>,
}

/// The registry of running executions.
#[derive(Clone)]
pub struct Executor {
    inner: Arc<Inner>,
}

/// What an actor starts with: its armed timers and the tasks to invoke.
#[derive(Default)]
struct Outstanding {
    timers: HashMap<String, i64>,
    tasks: Vec<(String, String, Value, Option<u64>)>,
}

/// The outcome of [`Executor::start`].
pub enum Started {
    New,
    Existing(Box<ExecutionRow>),
}

/// An execution from its stored snapshot and the text of the definition it started with.
fn restore(snapshot: &str, definition: &str) -> Result<Execution, String> {
    let definition = Definition::parse(definition)
        .map_err(|diagnostics| format!("its definition no longer parses: {diagnostics:?}"))?;
    Execution::restore(snapshot, Arc::new(definition)).map_err(|e| e.to_string())
}

impl Executor {
    pub fn new(store: Store, runner: Arc<dyn TaskRunner>) -> Self {
        let (shutdown, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                store,
                runner,
                actors: Mutex::new(HashMap::new()),
                handles: Mutex::new(Vec::new()),
                shutdown,
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Resumes every execution left RUNNING by the previous process.
    pub async fn resume_all(&self) -> Result<usize, ExecutorError> {
        let resumable = self.inner.store.call(|c| store::running_executions(c)).await?;
        let mut resumed = 0;
        for r in resumable {
            let Resumable { arn, snapshot, definition, pending, last_event_id } = r;
            match restore(&snapshot, &definition) {
                Ok(exec) => {
                    let mut timers = HashMap::new();
                    let mut tasks = Vec::new();
                    for p in pending {
                        match p {
                            Pending::Timer { id, fire_at_ms } => {
                                timers.insert(id, fire_at_ms);
                            }
                            Pending::Task { id, resource, parameters, timeout_seconds, .. } => {
                                tasks.push((id, resource, parameters, timeout_seconds))
                            }
                        }
                    }
                    tracing::info!("resuming execution {arn}: {} timers, {} tasks", timers.len(), tasks.len());
                    self.spawn_actor(arn, exec, true, Outstanding { timers, tasks }, None, None);
                    resumed += 1;
                }
                Err(e) => {
                    tracing::error!("cannot resume execution {arn}: {e}");
                    let cause = format!("The local cloud could not resume this execution after a restart: {e}");
                    let now = now_ms();
                    self.inner
                        .store
                        .call(move |c| store::fail_unresumable(c, &arn, last_event_id, now, &cause))
                        .await?;
                }
            }
        }
        Ok(resumed)
    }

    /// Starts a durable (STANDARD) execution. The execution row, its first history events
    /// and its outstanding commands are committed before anything runs; if an execution with
    /// the same ARN exists, nothing is written and it is returned instead.
    pub async fn start(
        &self,
        row: ExecutionRow,
        definition: Arc<Definition>,
        input: Value,
        context: ExecutionContext,
    ) -> Result<Started, ExecutorError> {
        if *self.inner.shutdown.borrow() {
            return Err(ExecutorError::ShuttingDown);
        }
        let now = row.start_ms;
        let (exec, events, commands) = Execution::start(definition, input, context, now);
        let mut step = Step { events, snapshot: serde_json::to_string(&exec)?, ..Step::default() };
        let mut changes = PendingChanges::default();
        changes.apply_commands(&commands);
        (step.add, step.remove) = changes.into_parts();
        if !exec.is_running() {
            step.status = Some(status_update(exec.status(), now));
        }
        let arn = row.arn.clone();
        let inserted = self.inner.store.call(move |c| store::insert_execution(c, &row, &step)).await?;
        match inserted {
            Inserted::Existing(existing) => Ok(Started::Existing(existing)),
            Inserted::New => {
                if exec.is_running() {
                    self.launch(arn, exec, true, commands, None, None);
                }
                Ok(Started::New)
            }
        }
    }

    /// RedriveExecution: resumes a closed execution from its unsuccessful state(s). The
    /// `ExecutionRedriven` event, the new snapshot and the RUNNING status are committed in
    /// one transaction (which also refuses a second, concurrent redrive) before the actor runs.
    pub async fn redrive(&self, arn: &str, client_token: Option<String>) -> Result<i64, ExecutorError> {
        if *self.inner.shutdown.borrow() {
            return Err(ExecutorError::ShuttingDown);
        }
        let key = arn.to_string();
        let Some(store::Snapshot { status, redrive_count, snapshot, definition }) =
            self.inner.store.call(move |c| store::snapshot(c, &key)).await?
        else {
            return Err(ExecutorError::NotRedrivable("Execution does not exist".into()));
        };
        if !matches!(status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED") {
            return Err(ExecutorError::NotRedrivable(format!("Execution is {status} and cannot be redriven")));
        }
        let mut exec = restore(&snapshot, &definition)
            .map_err(|e| ExecutorError::NotRedrivable(format!("The execution's state cannot be read back: {e}")))?;
        let now = now_ms();
        let (events, commands) = exec.redrive(now).map_err(ExecutorError::NotRedrivable)?;
        let mut changes = PendingChanges::default();
        changes.apply_commands(&commands);
        let (add, remove) = changes.into_parts();
        let status = (!exec.is_running()).then(|| status_update(exec.status(), now));
        let step = Step { events, snapshot: serde_json::to_string(&exec)?, status, add, remove };
        let key = arn.to_string();
        let committed = self
            .inner
            .store
            .call(move |c| store::commit_redrive(c, &key, redrive_count, now, client_token.as_deref(), &step))
            .await?;
        if !committed {
            return Err(ExecutorError::NotRedrivable("Execution is already being redriven".into()));
        }
        if exec.is_running() {
            self.launch(arn.to_string(), exec, true, commands, None, None);
        }
        Ok(now)
    }

    /// Why a closed execution cannot be redriven (`None`: it can), read from its snapshot.
    pub async fn redrive_refusal(&self, arn: &str) -> Result<Option<String>, ExecutorError> {
        let key = arn.to_string();
        let Some(stored) = self.inner.store.call(move |c| store::snapshot(c, &key)).await? else {
            return Ok(Some("Execution does not exist".into()));
        };
        Ok(match restore(&stored.snapshot, &stored.definition) {
            Ok(exec) => exec.redrive_refusal(),
            Err(_) => Some("The execution's state cannot be read back".into()),
        })
    }

    /// Runs an EXPRESS execution in memory (AWS keeps no history for them) and returns how
    /// it ended; `limit` bounds a synchronous run as AWS's five minutes do.
    pub async fn run_express(
        &self,
        definition: Arc<Definition>,
        input: Value,
        context: ExecutionContext,
        limit: Duration,
        keep_history: bool,
    ) -> Result<Finished, ExecutorError> {
        if *self.inner.shutdown.borrow() {
            return Err(ExecutorError::ShuttingDown);
        }
        let arn = context.execution_arn.clone();
        let now = now_ms();
        let (exec, events, commands) = Execution::start(definition, input, context, now);
        let history = keep_history.then_some(events);
        if !exec.is_running() {
            return Ok(Finished { status: exec.status().clone(), stop_ms: now, history: history.unwrap_or_default() });
        }
        let (done_tx, done_rx) = oneshot::channel();
        self.launch(arn.clone(), exec, false, commands, Some(done_tx), history);
        match tokio::time::timeout(limit, done_rx).await {
            Ok(Ok(finished)) => Ok(finished),
            Ok(Err(_)) => Err(ExecutorError::ShuttingDown),
            Err(_) => {
                let _ = self.stop(&arn, Some("States.Timeout".into()), None).await;
                Ok(Finished {
                    status: ExecutionStatus::TimedOut { error: Some("States.Timeout".into()), cause: None },
                    stop_ms: now_ms(),
                    history: Vec::new(),
                })
            }
        }
    }

    /// StopExecution: the abort is durable when this returns the stop time.
    pub async fn stop(&self, arn: &str, error: Option<String>, cause: Option<String>) -> Result<i64, ExecutorError> {
        let sender = self.inner.actors.lock().unwrap_or_else(|p| p.into_inner()).get(arn).cloned();
        let Some(sender) = sender else { return Err(ExecutorError::NotRunning) };
        let (reply, answer) = oneshot::channel();
        sender.send(Msg::Stop { error, cause, reply }).map_err(|_| ExecutorError::NotRunning)?;
        answer.await.map_err(|_| ExecutorError::NotRunning)?
    }

    pub fn is_running(&self, arn: &str) -> bool {
        self.inner.actors.lock().unwrap_or_else(|p| p.into_inner()).contains_key(arn)
    }

    /// Stops every actor (their executions stay RUNNING on disk, to be resumed) and waits
    /// for them, so a new executor on the same data never races an old one.
    pub async fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
        let handles: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.inner.handles.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            let _ = h.await;
        }
    }

    /// Starts the actor of a freshly started execution and carries out its first commands.
    fn launch(
        &self,
        arn: String,
        exec: Execution,
        durable: bool,
        commands: Vec<Command>,
        done: Option<oneshot::Sender<Finished>>,
        history: Option<Vec<HistoryEvent>>,
    ) {
        let mut timers = HashMap::new();
        let mut tasks = Vec::new();
        for c in commands {
            match c {
                Command::StartTimer { id, fire_at_ms } => {
                    timers.insert(id, fire_at_ms);
                }
                Command::InvokeTask { id, resource, parameters, timeout_seconds, .. } => {
                    tasks.push((id, resource, parameters, timeout_seconds))
                }
                Command::CancelTimer { id } => {
                    timers.remove(&id);
                }
                Command::CancelTask { id } => tasks.retain(|t| t.0 != id),
            }
        }
        self.spawn_actor(arn, exec, durable, Outstanding { timers, tasks }, done, history);
    }

    fn spawn_actor(
        &self,
        arn: String,
        exec: Execution,
        durable: bool,
        outstanding: Outstanding,
        done: Option<oneshot::Sender<Finished>>,
        history: Option<Vec<HistoryEvent>>,
    ) {
        let Outstanding { timers, tasks } = outstanding;
        let (tx, rx) = mpsc::unbounded_channel();
        self.inner.actors.lock().unwrap_or_else(|p| p.into_inner()).insert(arn.clone(), tx.clone());
        let mut actor = Actor {
            arn,
            exec,
            durable,
            rx,
            tx,
            timers,
            tasks: HashMap::new(),
            inner: self.inner.clone(),
            shutdown: self.inner.shutdown.subscribe(),
            done,
            history,
        };
        for (id, resource, parameters, timeout) in tasks {
            actor.invoke(id, resource, parameters, timeout);
        }
        let handle = tokio::spawn(actor.run());
        let mut handles = self.inner.handles.lock().unwrap_or_else(|p| p.into_inner());
        handles.retain(|h| !h.is_finished());
        handles.push(handle);
    }
}

/// The net effect of a step on `sfn_pending`: a command added and cancelled in the same
/// step never reaches the table.
#[derive(Default)]
struct PendingChanges {
    add: Vec<Pending>,
    remove: Vec<String>,
}

impl PendingChanges {
    fn added(&mut self, p: Pending) {
        self.remove.retain(|id| id != p.id());
        self.add.push(p);
    }

    fn removed(&mut self, id: &str) {
        let before = self.add.len();
        self.add.retain(|p| p.id() != id);
        if self.add.len() == before {
            self.remove.push(id.to_string());
        }
    }

    fn apply_commands(&mut self, commands: &[Command]) {
        for c in commands {
            match c {
                Command::InvokeTask { id, resource, parameters, timeout_seconds, heartbeat_seconds } => {
                    self.added(Pending::Task {
                        id: id.clone(),
                        resource: resource.clone(),
                        parameters: parameters.clone(),
                        timeout_seconds: *timeout_seconds,
                        heartbeat_seconds: *heartbeat_seconds,
                    })
                }
                Command::StartTimer { id, fire_at_ms } => {
                    self.added(Pending::Timer { id: id.clone(), fire_at_ms: *fire_at_ms })
                }
                Command::CancelTask { id } | Command::CancelTimer { id } => self.removed(id),
            }
        }
    }

    fn into_parts(self) -> (Vec<Pending>, Vec<String>) {
        (self.add, self.remove)
    }
}

struct Actor {
    arn: String,
    exec: Execution,
    durable: bool,
    rx: mpsc::UnboundedReceiver<Msg>,
    tx: mpsc::UnboundedSender<Msg>,
    timers: HashMap<String, i64>,
    tasks: HashMap<String, JoinHandle<()>>,
    inner: Arc<Inner>,
    shutdown: watch::Receiver<bool>,
    done: Option<oneshot::Sender<Finished>>,
    history: Option<Vec<HistoryEvent>>,
}

impl Actor {
    async fn run(mut self) {
        loop {
            let next_timer = self.timers.values().min().copied();
            let sleep = async {
                match next_timer {
                    Some(at) => {
                        let wait = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
                        tokio::time::sleep(Duration::from_millis(wait)).await
                    }
                    None => std::future::pending().await,
                }
            };
            let mut events = Vec::new();
            let mut replies = Vec::new();
            tokio::select! {
                msg = self.rx.recv() => {
                    let Some(msg) = msg else { break };
                    self.take(msg, &mut events, &mut replies);
                    // Whatever else has arrived meanwhile goes into the same transaction.
                    while let Ok(msg) = self.rx.try_recv() {
                        self.take(msg, &mut events, &mut replies);
                    }
                }
                _ = sleep => {}
                _ = self.shutdown.changed() => break,
            }
            let now = now_ms();
            let mut due: Vec<(String, i64)> =
                self.timers.iter().filter(|(_, at)| **at <= now).map(|(id, at)| (id.clone(), *at)).collect();
            due.sort_by_key(|(id, at)| (*at, id.clone()));
            for (id, _) in due {
                self.timers.remove(&id);
                events.push(Event::TimerFired { id });
            }
            if events.is_empty() {
                continue;
            }
            match self.step(events, now).await {
                Ok(()) => {
                    for reply in replies {
                        let _ = reply.send(Ok(now));
                    }
                }
                Err(e) => {
                    // Nothing of this step is on disk: the execution resumes from its last
                    // committed snapshot when the local cloud restarts.
                    tracing::error!("execution {}: cannot record a step, pausing it: {e}", self.arn);
                    for reply in replies {
                        let _ = reply.send(Err(ExecutorError::ShuttingDown));
                    }
                    break;
                }
            }
            if !self.exec.is_running() {
                if let Some(done) = self.done.take() {
                    let history = self.history.take().unwrap_or_default();
                    let _ = done.send(Finished { status: self.exec.status().clone(), stop_ms: now, history });
                }
                break;
            }
        }
        for (_, task) in self.tasks.drain() {
            task.abort();
        }
        // A redrive may already have registered the execution's next actor under this ARN.
        let mut actors = self.inner.actors.lock().unwrap_or_else(|p| p.into_inner());
        if actors.get(&self.arn).is_some_and(|s| s.same_channel(&self.tx)) {
            actors.remove(&self.arn);
        }
    }

    fn take(
        &mut self,
        msg: Msg,
        events: &mut Vec<Event>,
        replies: &mut Vec<oneshot::Sender<Result<i64, ExecutorError>>>,
    ) {
        match msg {
            Msg::Task { id, result } => {
                self.tasks.remove(&id);
                events.push(match result {
                    Ok(output) => Event::TaskSucceeded { id, output },
                    Err(f) => Event::TaskFailed { id, error: f.error, cause: f.cause },
                });
            }
            Msg::Stop { error, cause, reply } => {
                events.push(Event::Stop { error, cause });
                replies.push(reply);
            }
        }
    }

    /// Applies a batch of events, commits the result, then acts on the commands.
    async fn step(&mut self, events: Vec<Event>, now: i64) -> Result<(), ExecutorError> {
        let mut history: Vec<HistoryEvent> = Vec::new();
        let mut commands: Vec<Command> = Vec::new();
        let mut changes = PendingChanges::default();
        for event in events {
            match &event {
                Event::TaskSucceeded { id, .. } | Event::TaskFailed { id, .. } | Event::TimerFired { id } => {
                    changes.removed(id)
                }
                Event::TaskHeartbeat { .. } | Event::Stop { .. } => {}
            }
            let (h, c) = self.exec.on(event, now);
            changes.apply_commands(&c);
            history.extend(h);
            commands.extend(c);
        }
        if let Some(kept) = &mut self.history {
            kept.extend(history.iter().cloned());
        }
        if self.durable {
            let (add, remove) = changes.into_parts();
            let status = (!self.exec.is_running()).then(|| status_update(self.exec.status(), now));
            let step = Step { events: history, snapshot: serde_json::to_string(&self.exec)?, status, add, remove };
            let arn = self.arn.clone();
            self.inner.store.call(move |c| store::commit_step(c, &arn, &step)).await?;
        }
        for c in commands {
            match c {
                Command::InvokeTask { id, resource, parameters, timeout_seconds, .. } => {
                    self.invoke(id, resource, parameters, timeout_seconds)
                }
                Command::StartTimer { id, fire_at_ms } => {
                    self.timers.insert(id, fire_at_ms);
                }
                Command::CancelTask { id } => {
                    if let Some(task) = self.tasks.remove(&id) {
                        task.abort();
                    }
                }
                Command::CancelTimer { id } => {
                    self.timers.remove(&id);
                }
            }
        }
        Ok(())
    }

    fn invoke(&mut self, id: String, resource: String, parameters: Value, timeout_seconds: Option<u64>) {
        let runner = self.inner.runner.clone();
        let tx = self.tx.clone();
        let task_id = id.clone();
        let handle = tokio::spawn(async move {
            let limit = timeout_seconds.map(Duration::from_secs).unwrap_or(UNBOUNDED_TASK_LIMIT);
            // The interpreter's own TimeoutSeconds timer ends the task and records AWS's
            // *TimedOut event; this outer limit is only a backstop, so it must lose that race.
            let backstop = limit + Duration::from_secs(5);
            let result =
                match tokio::time::timeout(backstop, run_task(runner.as_ref(), &resource, parameters, limit)).await {
                    Ok(result) => result,
                    Err(_) => Err(TaskFailure::new(
                        "States.Timeout",
                        format!("The task did not answer within {} seconds.", limit.as_secs()),
                    )),
                };
            let _ = tx.send(Msg::Task { id: task_id, result });
        });
        self.tasks.insert(id, handle);
    }
}

const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// A Lambda function ARN as a Task resource (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`).
fn is_lambda_function_arn(resource: &str) -> bool {
    let parts: Vec<&str> = resource.split(':').collect();
    parts.len() >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function"
}

/// Runs one Task resource through the runner, in AWS's shapes for the Lambda integrations.
async fn run_task(
    runner: &dyn TaskRunner,
    resource: &str,
    parameters: Value,
    timeout: Duration,
) -> Result<Value, TaskFailure> {
    if is_lambda_function_arn(resource) {
        return runner.invoke(resource, parameters, Some(timeout)).await;
    }
    if resource == LAMBDA_INVOKE {
        let Some(function) = parameters.get("FunctionName").and_then(Value::as_str).map(str::to_string) else {
            return Err(TaskFailure::new(
                "States.Runtime",
                "The Parameters of an arn:aws:states:::lambda:invoke task must name a FunctionName.",
            ));
        };
        let payload = parameters.get("Payload").cloned().unwrap_or_else(|| json!({}));
        let result = runner.invoke(&function, payload, Some(timeout)).await?;
        let request_id = uuid::Uuid::new_v4().to_string();
        return Ok(json!({
            "ExecutedVersion": "$LATEST",
            "Payload": result,
            "SdkHttpMetadata": {
                "AllHttpHeaders": {
                    "X-Amz-Executed-Version": ["$LATEST"],
                    "x-amzn-RequestId": [request_id],
                    "Content-Type": ["application/json"]
                },
                "HttpHeaders": {
                    "X-Amz-Executed-Version": "$LATEST",
                    "x-amzn-RequestId": request_id,
                    "Content-Type": "application/json"
                },
                "HttpStatusCode": 200
            },
            "SdkResponseMetadata": {"RequestId": request_id},
            "StatusCode": 200
        }));
    }
    if resource.starts_with(LAMBDA_INVOKE) {
        return Err(TaskFailure::new(
            "States.Runtime",
            format!("The integration pattern of '{resource}' is not available in the local cloud."),
        ));
    }
    runner.invoke(resource, parameters, Some(timeout)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_added_and_cancelled_in_one_step_never_reaches_the_table() {
        let mut c = PendingChanges::default();
        c.apply_commands(&[
            Command::StartTimer { id: "t1".into(), fire_at_ms: 5 },
            Command::StartTimer { id: "t2".into(), fire_at_ms: 6 },
            Command::CancelTimer { id: "t1".into() },
            Command::CancelTask { id: "old".into() },
        ]);
        let (add, remove) = c.into_parts();
        assert_eq!(add, vec![Pending::Timer { id: "t2".into(), fire_at_ms: 6 }]);
        assert_eq!(remove, vec!["old".to_string()]);
    }

    #[test]
    fn lambda_function_arns_are_recognised() {
        assert!(is_lambda_function_arn("arn:aws:lambda:us-east-1:000000000000:function:f"));
        assert!(is_lambda_function_arn("arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"));
        assert!(!is_lambda_function_arn("arn:aws:states:::lambda:invoke"));
        assert!(!is_lambda_function_arn("arn:aws:states:us-east-1:000000000000:activity:a"));
    }

    struct Echo;
    impl TaskRunner for Echo {
        fn invoke<'a>(
            &'a self,
            _resource: &'a str,
            input: Value,
            _timeout: Option<Duration>,
        ) -> BoxFuture<'a, Result<Value, TaskFailure>> {
            Box::pin(async move { Ok(input) })
        }
    }

    #[tokio::test]
    async fn lambda_invoke_wraps_the_payload_in_aws_result_shape() {
        let out =
            run_task(&Echo, LAMBDA_INVOKE, json!({"FunctionName": "f", "Payload": {"a": 1}}), Duration::from_secs(1))
                .await
                .unwrap();
        assert_eq!(out["Payload"], json!({"a": 1}));
        assert_eq!(out["StatusCode"], json!(200));
        assert_eq!(out["ExecutedVersion"], json!("$LATEST"));
    }

    #[tokio::test]
    async fn lambda_invoke_without_function_name_is_a_runtime_error() {
        let err = run_task(&Echo, LAMBDA_INVOKE, json!({"Payload": {}}), Duration::from_secs(1)).await.unwrap_err();
        assert_eq!(err.error, "States.Runtime");
    }

    #[tokio::test]
    async fn the_unavailable_runner_names_the_resource() {
        let err = UnavailableTaskRunner.invoke("arn:x", json!({}), None).await.unwrap_err();
        assert_eq!(err.error, "States.Runtime");
        assert!(err.cause.unwrap().contains("arn:x"));
    }
}

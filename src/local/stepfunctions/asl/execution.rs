//! The interpreter: a deterministic state machine over a serialisable execution state.
//!
//! [`Execution::start`] and [`Execution::on`] return the history events to append and the
//! commands to carry out (invoke a task, arm a timer, cancel either). A durable executor
//! appends the events, persists the state (serde), then acts on the commands; replaying
//! the same events from the same state yields the same history.
//!
//! Parallel branches and Map iterations are threads of one execution: several tasks and
//! timers may be outstanding at once. Threads whose parent is a Parallel step one event at
//! a time in turn (AWS interleaves branches); a Map starts its next iteration when the
//! previous one finishes or blocks, up to MaxConcurrency at once.

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::choice;
use super::definition::{Catcher, Definition, Kind, NumberOr, State, StringOr, Wait};
use super::history::{HistoryEvent, iso8601};
use super::path::{self, Scope};
use super::{Failure, MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES, json_depth, to_json_text};

/// AWS's cap on events in one execution history.
pub const MAX_HISTORY_EVENTS: u64 = 25_000;
/// The longest Wait AWS accepts: a signed 32-bit number of seconds (about 24855 days).
const MAX_WAIT_SECONDS: i64 = i32::MAX as i64;

/// What the executor knows about the execution (feeds the `$$` context object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ExecutionContext {
    pub execution_arn: String,
    pub name: String,
    pub role_arn: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
    pub redrive_count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ExecutionStatus {
    Running,
    Succeeded { output: Value },
    Failed { error: Option<String>, cause: Option<String> },
    TimedOut { error: Option<String>, cause: Option<String> },
    Aborted { error: Option<String>, cause: Option<String> },
}

/// Something the executor must do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    InvokeTask {
        id: String,
        resource: String,
        parameters: Value,
        timeout_seconds: Option<u64>,
        heartbeat_seconds: Option<u64>,
    },
    StartTimer {
        id: String,
        fire_at_ms: i64,
    },
    CancelTask {
        id: String,
    },
    CancelTimer {
        id: String,
    },
}

/// Something that happened outside the interpreter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    TaskSucceeded {
        id: String,
        output: Value,
    },
    TaskFailed {
        id: String,
        error: String,
        cause: Option<String>,
    },
    TaskHeartbeat {
        id: String,
    },
    TimerFired {
        id: String,
    },
    /// StopExecution.
    Stop {
        error: Option<String>,
        cause: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Phase {
    Enter,
    Execute,
    AwaitTask { task: String },
    AwaitTimer { timer: String, output: Value },
    AwaitRetry { timer: String },
    AwaitFork { fork: u32 },
    Exit { output: Value, next: Option<String> },
    Done,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Thread {
    machine: usize,
    state: String,
    input: Value,
    phase: Phase,
    parent: Option<(u32, usize)>,
    last_event: u64,
    entered_event: u64,
    entered_ms: i64,
    retry_counts: Vec<u32>,
    map_item: Option<(usize, Value)>,
    variables: Map<String, Value>,
    /// Children of a distributed Map run as separate executions on AWS: not in this history.
    silent: bool,
    /// Children of a Parallel take turns one step at a time.
    interleave: bool,
    /// A Parallel/Map that failed (or is being redriven): what its branches or iterations
    /// had achieved, so a redrive re-runs only the unsuccessful ones.
    #[serde(default)]
    resume_fork: Option<Box<FrozenFork>>,
}

/// Where a thread stood when the execution closed unsuccessfully: the state it was in and
/// that state's input, and for a Parallel/Map the branches or iterations still to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ResumePoint {
    machine: usize,
    state: String,
    input: Value,
    variables: Map<String, Value>,
    map_item: Option<(usize, Value)>,
    fork: Option<Box<FrozenFork>>,
}

/// A Parallel/Map's results so far and its unsuccessful children (index, resume point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FrozenFork {
    fork: Fork,
    pending: Vec<(usize, ResumePoint)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Fork {
    owner: u32,
    is_map: bool,
    distributed: bool,
    items: Vec<Value>,
    results: Vec<Option<Value>>,
    children: Vec<u32>,
    next_index: usize,
    active: usize,
    max_concurrency: usize,
    failures: usize,
    tolerated_count: Option<u64>,
    tolerated_percentage: Option<f64>,
    done: bool,
    /// Iterations a redriven Map re-runs before it starts the ones never started.
    #[serde(default)]
    redo: VecDeque<(usize, ResumePoint)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TaskRef {
    thread: u32,
    resource: String,
    lambda: bool,
    timeout_timer: Option<String>,
    heartbeat_timer: Option<(String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum TimerKind {
    Wait,
    Retry,
    TaskTimeout(String),
    Heartbeat(String),
    ExecutionTimeout,
}

/// The whole state of one execution; serialise it to persist it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// Shared with every execution of the same definition, and left out of the snapshot:
    /// the execution's row keeps the definition's text, and [`Execution::restore`] takes it
    /// back (a snapshot per step would otherwise re-serialise the whole state machine).
    #[serde(skip)]
    definition: Arc<Definition>,
    context: ExecutionContext,
    input: Value,
    start_ms: i64,
    status: ExecutionStatus,
    next_event_id: u64,
    next_id: u32,
    threads: BTreeMap<u32, Thread>,
    forks: BTreeMap<u32, Fork>,
    tasks: BTreeMap<String, TaskRef>,
    timers: BTreeMap<String, (u32, TimerKind)>,
    queue: VecDeque<u32>,
    seed: u64,
    /// Where a redrive resumes; set when the execution closes unsuccessfully.
    #[serde(default)]
    redrive_point: Option<ResumePoint>,
    /// When the execution was last redriven (`$$.Execution.RedriveTime`).
    #[serde(default)]
    redrive_ms: Option<i64>,
    #[serde(skip)]
    out_events: Vec<HistoryEvent>,
    #[serde(skip)]
    out_commands: Vec<Command>,
    #[serde(skip)]
    now: i64,
}

type Output = (Vec<HistoryEvent>, Vec<Command>);

fn is_lambda(resource: &str) -> bool {
    resource.starts_with("arn:aws:lambda:") || (resource.contains(":lambda:") && resource.contains(":function:"))
}

/// `resourceType` and `resource` of a service-integration ARN (`arn:aws:states:::lambda:invoke`).
fn service_parts(resource: &str) -> (String, String) {
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    match parts.get(5) {
        Some(rest) => {
            let mut it = rest.splitn(2, ':');
            let ty = it.next().unwrap_or_default().to_string();
            let res = it.next().unwrap_or_default().to_string();
            (ty, res)
        }
        None => (String::new(), resource.to_string()),
    }
}

/// A payload's JSON text, or what keeps it out of an execution, phrased to end AWS's "has an
/// input with …" and "returned a result with …": over 256 KiB, or nested deeper than
/// [`MAX_JSON_DEPTH`] — the executor's snapshot wraps payloads in a few more levels and
/// serde_json reads at most 128, so a deeper one would leave a running execution unreadable
/// after a restart (and one growing without end would overflow the stack). Depth first:
/// it needs no text.
fn payload_text(value: &Value) -> Result<String, String> {
    if json_depth(value) > MAX_JSON_DEPTH {
        return Err(format!("JSON nested deeper than the limit of {MAX_JSON_DEPTH} levels"));
    }
    let text = to_json_text(value);
    if text.len() > MAX_PAYLOAD_BYTES {
        return Err("a size exceeding the maximum number of bytes service limit".into());
    }
    Ok(text)
}

fn error_output(f: &Failure) -> Value {
    let mut m = Map::new();
    m.insert("Error".into(), Value::String(f.error.clone()));
    if let Some(c) = &f.cause {
        m.insert("Cause".into(), Value::String(c.clone()));
    }
    Value::Object(m)
}

fn matches_error(list: &[String], f: &Failure, task: bool) -> bool {
    list.iter().any(|e| {
        e == &f.error
            || (e == "States.ALL" && f.error != "States.Runtime" && f.error != "States.DataLimitExceeded")
            || (e == "States.TaskFailed"
                && task
                && !matches!(f.error.as_str(), "States.Timeout" | "States.Runtime" | "States.DataLimitExceeded"))
    })
}

impl Execution {
    /// Starts an execution: `input` is the StartExecution input text.
    pub fn start(
        definition: Arc<Definition>,
        input: Value,
        context: ExecutionContext,
        now_ms: i64,
    ) -> (Execution, Vec<HistoryEvent>, Vec<Command>) {
        let seed = context
            .execution_arn
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        let mut ex = Execution {
            definition,
            context,
            input: input.clone(),
            start_ms: now_ms,
            status: ExecutionStatus::Running,
            next_event_id: 1,
            next_id: 1,
            threads: BTreeMap::new(),
            forks: BTreeMap::new(),
            tasks: BTreeMap::new(),
            timers: BTreeMap::new(),
            queue: VecDeque::new(),
            seed,
            redrive_point: None,
            redrive_ms: None,
            out_events: Vec::new(),
            out_commands: Vec::new(),
            now: now_ms,
        };
        ex.record(
            None,
            "ExecutionStarted",
            Some(json!({
                "input": to_json_text(&input),
                "inputDetails": {"truncated": false},
                "roleArn": ex.context.role_arn,
            })),
        );
        if let Some(t) = ex.definition.timeout_seconds {
            let id = ex.new_id("exec-timeout");
            ex.timers.insert(id.clone(), (0, TimerKind::ExecutionTimeout));
            ex.out_commands
                .push(Command::StartTimer { id, fire_at_ms: now_ms.saturating_add((t as i64).saturating_mul(1000)) });
        }
        let start_at = ex.definition.machines[0].start_at.clone();
        let tid = ex.spawn(0, start_at, input, None, None, Map::new(), false, false);
        ex.threads.entry(tid).and_modify(|t| t.last_event = 0);
        ex.queue.push_back(tid);
        ex.run();
        let (events, commands) = ex.take();
        (ex, events, commands)
    }

    /// Feeds one external event at time `now_ms`.
    pub fn on(&mut self, event: Event, now_ms: i64) -> Output {
        self.now = now_ms;
        if self.status != ExecutionStatus::Running {
            return self.take();
        }
        match event {
            Event::TaskSucceeded { id, output } => self.task_succeeded(&id, output),
            Event::TaskFailed { id, error, cause } => self.task_failed(&id, Failure { error, cause }),
            Event::TaskHeartbeat { id } => self.task_heartbeat(&id),
            Event::TimerFired { id } => self.timer_fired(&id),
            Event::Stop { error, cause } => {
                self.record(None, "ExecutionAborted", Some(detail_error(&error, &cause)));
                self.redrive_point = self.root().and_then(|r| self.freeze(r));
                self.cancel_all();
                self.status = ExecutionStatus::Aborted { error, cause };
            }
        }
        self.run();
        self.take()
    }

    /// An execution from its snapshot and the definition it runs (its row's text, parsed).
    pub fn restore(snapshot: &str, definition: Arc<Definition>) -> Result<Execution, serde_json::Error> {
        let mut exec: Execution = serde_json::from_str(snapshot)?;
        exec.definition = definition;
        Ok(exec)
    }

    pub fn status(&self) -> &ExecutionStatus {
        &self.status
    }

    /// Why RedriveExecution cannot resume this execution, or `None` when it can.
    pub fn redrive_refusal(&self) -> Option<String> {
        match &self.status {
            ExecutionStatus::Running => Some("Execution is RUNNING and cannot be redriven".into()),
            ExecutionStatus::Succeeded { .. } => Some("Execution is SUCCEEDED and cannot be redriven".into()),
            _ if self.next_event_id + 3 > MAX_HISTORY_EVENTS => Some("Execution history event limit exceeded".into()),
            _ if self.redrive_point.is_none() => Some("Execution has no unsuccessful state to redrive".into()),
            _ => None,
        }
    }

    /// RedriveExecution: resumes a FAILED, TIMED_OUT or ABORTED execution from the state(s)
    /// that did not succeed, each with the input it had; of a Parallel or Map only the
    /// branches and iterations that failed or were aborted run again. Retry counts start
    /// over and the execution's TimeoutSeconds runs again from the redrive.
    pub fn redrive(&mut self, now_ms: i64) -> Result<Output, String> {
        if let Some(reason) = self.redrive_refusal() {
            return Err(reason);
        }
        let Some(point) = self.redrive_point.take() else {
            return Err("Execution has no unsuccessful state to redrive".into());
        };
        self.now = now_ms;
        self.status = ExecutionStatus::Running;
        self.context.redrive_count = self.context.redrive_count.saturating_add(1);
        self.redrive_ms = Some(now_ms);
        self.threads.clear();
        self.forks.clear();
        self.tasks.clear();
        self.timers.clear();
        self.queue.clear();
        self.record(None, "ExecutionRedriven", Some(json!({"redriveCount": self.context.redrive_count})));
        if let Some(t) = self.definition.timeout_seconds {
            let id = self.new_id("exec-timeout");
            self.timers.insert(id.clone(), (0, TimerKind::ExecutionTimeout));
            self.out_commands
                .push(Command::StartTimer { id, fire_at_ms: now_ms.saturating_add((t as i64).saturating_mul(1000)) });
        }
        let tid = self.instantiate(point, None, false, false);
        self.queue.push_back(tid);
        self.run();
        Ok(self.take())
    }

    /// How many times the execution has been redriven.
    pub fn redrive_count(&self) -> u32 {
        self.context.redrive_count
    }

    fn root(&self) -> Option<u32> {
        self.threads.iter().find(|(_, t)| t.parent.is_none()).map(|(id, _)| *id)
    }

    /// The resume point of a live thread (and, below a Parallel/Map it waits on, of its
    /// unfinished children).
    fn freeze(&self, tid: u32) -> Option<ResumePoint> {
        let t = self.threads.get(&tid)?;
        let fork = match &t.phase {
            Phase::AwaitFork { fork } => self.freeze_fork(*fork).map(Box::new),
            _ => t.resume_fork.clone(),
        };
        Some(ResumePoint {
            machine: t.machine,
            state: t.state.clone(),
            input: t.input.clone(),
            variables: t.variables.clone(),
            map_item: t.map_item.clone(),
            fork,
        })
    }

    fn freeze_fork(&self, fid: u32) -> Option<FrozenFork> {
        let f = self.forks.get(&fid)?;
        let mut pending: Vec<(usize, ResumePoint)> = f.redo.iter().cloned().collect();
        for c in &f.children {
            if let Some((_, idx)) = self.threads.get(c).and_then(|t| t.parent)
                && let Some(p) = self.freeze(*c)
            {
                pending.push((idx, p));
            }
        }
        let mut fork = f.clone();
        fork.children.clear();
        fork.redo.clear();
        fork.active = 0;
        fork.done = false;
        Some(FrozenFork { fork, pending })
    }

    /// A new thread at a resume point (its Parallel/Map resumes from the frozen fork).
    fn instantiate(&mut self, p: ResumePoint, parent: Option<(u32, usize)>, silent: bool, interleave: bool) -> u32 {
        let ResumePoint { machine, state, input, variables, map_item, fork } = p;
        let tid = self.spawn(machine, state, input, parent, map_item, variables, silent, interleave);
        if let Some(t) = self.threads.get_mut(&tid) {
            t.resume_fork = fork;
        }
        tid
    }

    pub fn is_running(&self) -> bool {
        self.status == ExecutionStatus::Running
    }

    /// Ids of the tasks the executor should have in flight (re-invoked after a restart).
    pub fn outstanding_tasks(&self) -> Vec<String> {
        self.tasks.keys().cloned().collect()
    }

    /// Number of history events written so far.
    pub fn event_count(&self) -> u64 {
        self.next_event_id - 1
    }

    fn take(&mut self) -> Output {
        (std::mem::take(&mut self.out_events), std::mem::take(&mut self.out_commands))
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{}", self.next_id)
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn(
        &mut self,
        machine: usize,
        state: String,
        input: Value,
        parent: Option<(u32, usize)>,
        map_item: Option<(usize, Value)>,
        variables: Map<String, Value>,
        silent: bool,
        interleave: bool,
    ) -> u32 {
        self.next_id += 1;
        let tid = self.next_id;
        let last_event = self.next_event_id.saturating_sub(1);
        self.threads.insert(
            tid,
            Thread {
                machine,
                state,
                input,
                phase: Phase::Enter,
                parent,
                last_event,
                entered_event: 0,
                entered_ms: self.now,
                retry_counts: Vec::new(),
                map_item,
                variables,
                silent,
                interleave,
                resume_fork: None,
            },
        );
        tid
    }

    /// Appends a history event on behalf of a thread (or the execution).
    fn record(&mut self, tid: Option<u32>, ty: &str, details: Option<Value>) -> u64 {
        if let Some(t) = tid.and_then(|t| self.threads.get(&t))
            && t.silent
        {
            return 0;
        }
        let id = self.next_event_id;
        self.next_event_id += 1;
        let previous = match tid.and_then(|t| self.threads.get(&t)) {
            Some(t) => t.last_event,
            None => self.out_events.last().map(|e| e.id).unwrap_or(id - 1),
        };
        self.out_events.push(HistoryEvent {
            id,
            previous_event_id: previous,
            timestamp_ms: self.now,
            event_type: ty.into(),
            details,
        });
        if let Some(t) = tid.and_then(|t| self.threads.get_mut(&t)) {
            t.last_event = id;
        }
        id
    }

    /// The context object (`$$`) for a state about to read it; `null` for a state that
    /// never mentions `$$`, as building it (timestamps, the execution's input) for every
    /// transition was a large part of a Pass chain's cost.
    fn context_for(&self, tid: u32, state: &State) -> Value {
        if state.reads_context { self.context_object(tid) } else { Value::Null }
    }

    fn state_of(&self, tid: u32) -> Option<(&Thread, &State)> {
        let t = self.threads.get(&tid)?;
        let s = self.definition.machines.get(t.machine)?.states.get(&t.state)?;
        Some((t, s))
    }

    fn context_object(&self, tid: u32) -> Value {
        let mut ctx = json!({
            "Execution": {
                "Id": self.context.execution_arn,
                "Input": self.input,
                "Name": self.context.name,
                "RoleArn": self.context.role_arn,
                "StartTime": iso8601(self.start_ms),
                "RedriveCount": self.context.redrive_count,
            },
            "StateMachine": {"Id": self.context.state_machine_arn, "Name": self.context.state_machine_name},
        });
        if let Some(ms) = self.redrive_ms {
            ctx["Execution"]["RedriveTime"] = json!(iso8601(ms));
        }
        if let Some(t) = self.threads.get(&tid) {
            ctx["State"] = json!({"Name": t.state, "EnteredTime": iso8601(t.entered_ms)});
            let retriable = self
                .state_of(tid)
                .is_some_and(|(_, st)| matches!(st.kind, Kind::Task { .. } | Kind::Parallel { .. } | Kind::Map { .. }));
            if retriable {
                ctx["State"]["RetryCount"] = json!(t.retry_counts.iter().sum::<u32>());
            }
            if let Some((i, v)) = &t.map_item {
                ctx["Map"] = json!({"Item": {"Index": i, "Value": v}});
            }
        }
        ctx
    }

    fn run(&mut self) {
        let mut guard: u64 = 0;
        while let Some(tid) = self.queue.pop_front() {
            if self.status != ExecutionStatus::Running {
                self.queue.clear();
                break;
            }
            loop {
                guard += 1;
                if self.next_event_id + 3 > MAX_HISTORY_EVENTS || guard > 10 * MAX_HISTORY_EVENTS {
                    self.fail_execution(Failure::runtime(format!(
                        "The execution reached the maximum number of history events ({MAX_HISTORY_EVENTS})."
                    )));
                    return;
                }
                match self.step(tid) {
                    Step::Continue => {
                        if self.threads.get(&tid).is_some_and(|t| t.interleave) {
                            self.queue.push_back(tid);
                            break;
                        }
                    }
                    Step::Blocked => {
                        self.on_blocked(tid);
                        break;
                    }
                    Step::Stop => break,
                }
                if self.status != ExecutionStatus::Running {
                    break;
                }
            }
        }
    }

    fn on_blocked(&mut self, tid: u32) {
        if let Some((fork, _)) = self.threads.get(&tid).and_then(|t| t.parent)
            && self.forks.get(&fork).is_some_and(|f| f.is_map)
        {
            self.fill_map(fork);
        }
    }

    fn step(&mut self, tid: u32) -> Step {
        let Some(phase) = self.threads.get(&tid).map(|t| t.phase.clone()) else { return Step::Stop };
        match phase {
            Phase::Enter => {
                let Some((t, s)) = self.state_of(tid) else {
                    return self.thread_failed(
                        tid,
                        Failure::runtime("The state machine references a state that does not exist"),
                    );
                };
                let details =
                    json!({"name": t.state, "input": to_json_text(&t.input), "inputDetails": {"truncated": false}});
                let ty = format!("{}StateEntered", s.kind.type_name());
                let id = self.record(Some(tid), &ty, Some(details));
                let now = self.now;
                if let Some(t) = self.threads.get_mut(&tid) {
                    t.entered_event = id;
                    t.entered_ms = now;
                    t.phase = Phase::Execute;
                }
                Step::Continue
            }
            Phase::Execute => match self.execute(tid) {
                Ok(step) => step,
                Err(f) => self.handle_error(tid, f, false),
            },
            Phase::Exit { output, next } => self.exit(tid, output, next),
            Phase::Done => Step::Stop,
            _ => Step::Blocked,
        }
    }

    fn runtime_prefix(&self, tid: u32, cause: &str) -> String {
        let (name, entered) = self.threads.get(&tid).map(|t| (t.state.clone(), t.entered_event)).unwrap_or_default();
        format!("An error occurred while executing the state '{name}' (entered at the event id #{entered}). {cause}")
    }

    /// Wraps runtime failures in AWS's "An error occurred while executing the state" text.
    fn runtime(&self, tid: u32, f: Failure) -> Failure {
        if f.error == "States.Runtime" {
            Failure { error: f.error, cause: Some(self.runtime_prefix(tid, f.cause.as_deref().unwrap_or(""))) }
        } else {
            f
        }
    }

    fn execute(&mut self, tid: u32) -> Result<Step, Failure> {
        let definition = Arc::clone(&self.definition);
        let Some((t, state)) = self.threads.get(&tid).and_then(|t| Some((t, state_in(&definition, t)?))) else {
            return Err(Failure::runtime("unknown state"));
        };
        let raw = t.input.clone();
        let vars = t.variables.clone();
        let ctx = self.context_for(tid, state);
        let seed = Cell::new(self.seed);
        let scope = Scope { input: &raw, context: &ctx, variables: &vars, seed: &seed };
        let res = self.execute_state(tid, state, &raw, &scope);
        self.seed = seed.get();
        res.map_err(|f| self.runtime(tid, f))
    }

    fn execute_state(&mut self, tid: u32, state: &State, raw: &Value, scope: &Scope<'_>) -> Result<Step, Failure> {
        let effective = path::apply_io_path(raw, &state.input_path, scope)?;
        let escope = Scope { input: &effective, context: scope.context, variables: scope.variables, seed: scope.seed };
        match &state.kind {
            Kind::Pass { result } => {
                let after_params = match &state.parameters {
                    Some(p) => path::eval_template(p, &escope)?,
                    None => effective.clone(),
                };
                let res = result.clone().unwrap_or_else(|| after_params.clone());
                // Assign sees the state's result, and runs before OutputPath (which may read it).
                self.assign(tid, state.assign.as_ref(), &res, scope)?;
                let vars_after = self.threads.get(&tid).map(|t| t.variables.clone()).unwrap_or_default();
                let scope =
                    &Scope { input: scope.input, context: scope.context, variables: &vars_after, seed: scope.seed };
                let merged = path::apply_result_path(raw, state.result_path.as_deref(), res)?;
                let out = path::apply_io_path(&merged, &state.output_path, scope)?;
                self.set_phase(tid, Phase::Exit { output: out, next: state.next.clone() });
                Ok(Step::Continue)
            }
            Kind::Choice { choices, default } => {
                let mut chosen = None;
                for c in choices {
                    if choice::evaluate(&c.rule, &escope)? {
                        self.assign(tid, c.assign.as_ref(), &effective, scope)?;
                        chosen = Some(c.next.clone());
                        break;
                    }
                }
                let next = match chosen.or_else(|| default.clone()) {
                    Some(n) => n,
                    None => return Err(Failure::new("States.NoChoiceMatched", "No Matches!")),
                };
                self.assign(tid, state.assign.as_ref(), &effective, scope)?;
                let out = path::apply_io_path(&effective, &state.output_path, scope)?;
                self.set_phase(tid, Phase::Exit { output: out, next: Some(next) });
                Ok(Step::Continue)
            }
            Kind::Succeed => {
                let out = path::apply_io_path(&effective, &state.output_path, scope)?;
                self.set_phase(tid, Phase::Exit { output: out, next: None });
                Ok(Step::Continue)
            }
            Kind::Fail { error, cause } => {
                let read = |v: &Option<StringOr>, field: &str| -> Result<Option<String>, Failure> {
                    match v {
                        None => Ok(None),
                        Some(StringOr::Literal(s)) => Ok(Some(s.clone())),
                        Some(StringOr::Path(p)) => {
                            let v = path::eval_expression(p, field, scope).map_err(|_| {
                                Failure::runtime(format!(
                                    "The JSONPath '{p}' specified for the field '{field}' could not be found in the input '{}'",
                                    to_json_text(raw)
                                ))
                            })?;
                            match v {
                                Value::String(s) => Ok(Some(s)),
                                other => Ok(Some(to_json_text(&other))),
                            }
                        }
                    }
                };
                let error = read(error, "ErrorPath")?;
                let cause = read(cause, "CausePath")?;
                Ok(self.finish_thread(tid, Err(Failure { error: error.unwrap_or_default(), cause })).into_fail_marker())
            }
            Kind::Wait(w) => {
                let now = self.now;
                let fire_at = match w {
                    Wait::Seconds(s) => now.saturating_add((*s as i64).saturating_mul(1000)),
                    Wait::Timestamp(ts) => timestamp_ms(ts).unwrap_or(now),
                    Wait::SecondsPath(p) => {
                        let v = path::query_scope(&escope, p).map_err(|_| {
                            Failure::runtime(format!(
                                "The SecondsPath parameter does not reference an input value: {p}"
                            ))
                        })?;
                        let shown = to_json_text(&v);
                        let secs = match &v {
                            Value::Number(n) => n.as_i64().or_else(|| n.as_u64().map(|_| i64::MAX)),
                            _ => None,
                        };
                        let Some(secs) = secs else {
                            return Err(Failure::runtime(format!(
                                "The SecondsPath parameter cannot be parsed as a long value: {p} == {shown}"
                            )));
                        };
                        if secs < 0 {
                            return Err(Failure::runtime(format!(
                                "The SecondsPath parameter references a negative value: {p} == {shown}"
                            )));
                        }
                        if secs > MAX_WAIT_SECONDS {
                            return Err(Failure::runtime("Wait state delay is too long."));
                        }
                        now.saturating_add(secs.saturating_mul(1000))
                    }
                    Wait::TimestampPath(p) => {
                        let v = path::query_scope(&escope, p).map_err(|_| {
                            Failure::runtime(format!(
                                "The TimestampPath parameter does not reference an input value: {p}"
                            ))
                        })?;
                        let shown = v.as_str().map(str::to_string).unwrap_or_else(|| to_json_text(&v));
                        match v.as_str().and_then(timestamp_ms) {
                            Some(ms) => ms,
                            None => {
                                return Err(Failure::runtime(format!(
                                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {shown}"
                                )));
                            }
                        }
                    }
                };
                if fire_at.saturating_sub(now) > MAX_WAIT_SECONDS * 1000 {
                    return Err(Failure::runtime("Wait state delay is too long."));
                }
                let out = path::apply_io_path(&effective, &state.output_path, scope)?;
                let timer = self.new_id("wait");
                self.timers.insert(timer.clone(), (tid, TimerKind::Wait));
                self.out_commands.push(Command::StartTimer { id: timer.clone(), fire_at_ms: fire_at.max(now) });
                self.set_phase(tid, Phase::AwaitTimer { timer, output: out });
                Ok(Step::Blocked)
            }
            Kind::Task { resource, timeout, heartbeat } => {
                let params = match &state.parameters {
                    Some(p) => path::eval_template(p, &escope)?,
                    None => effective.clone(),
                };
                let timeout = self.resolve_seconds(timeout.as_ref(), &escope, "TimeoutSecondsPath")?;
                let heartbeat = self.resolve_seconds(heartbeat.as_ref(), &escope, "HeartbeatSecondsPath")?;
                let task = self.new_id("task");
                let lambda = is_lambda(resource);
                let text = payload_text(&params).map_err(|why| {
                    Failure::new(
                        "States.DataLimitExceeded",
                        format!(
                            "The state/task '{}' has an input with {why}.",
                            self.threads.get(&tid).map(|t| t.state.clone()).unwrap_or_default()
                        ),
                    )
                })?;
                if lambda {
                    let mut d = json!({"resource": resource, "input": text, "inputDetails": {"truncated": false}});
                    if let Some(t) = timeout {
                        d["timeoutInSeconds"] = json!(t);
                    }
                    self.record(Some(tid), "LambdaFunctionScheduled", Some(d));
                    self.record(Some(tid), "LambdaFunctionStarted", None);
                } else {
                    let (rtype, rname) = service_parts(resource);
                    let mut d = json!({"resourceType": rtype, "resource": rname, "region": region_of(&self.context.execution_arn), "parameters": text});
                    if let Some(t) = timeout {
                        d["timeoutInSeconds"] = json!(t);
                    }
                    if let Some(h) = heartbeat {
                        d["heartbeatInSeconds"] = json!(h);
                    }
                    self.record(Some(tid), "TaskScheduled", Some(d));
                    self.record(Some(tid), "TaskStarted", Some(json!({"resourceType": rtype, "resource": rname})));
                }
                let now = self.now;
                let timeout_timer = timeout.map(|secs| {
                    let id = self.new_id("timeout");
                    self.timers.insert(id.clone(), (tid, TimerKind::TaskTimeout(task.clone())));
                    self.out_commands.push(Command::StartTimer {
                        id: id.clone(),
                        fire_at_ms: now.saturating_add((secs as i64).saturating_mul(1000)),
                    });
                    id
                });
                let heartbeat_timer = heartbeat.map(|secs| {
                    let id = self.new_id("heartbeat");
                    self.timers.insert(id.clone(), (tid, TimerKind::Heartbeat(task.clone())));
                    self.out_commands.push(Command::StartTimer {
                        id: id.clone(),
                        fire_at_ms: now.saturating_add((secs as i64).saturating_mul(1000)),
                    });
                    (id, secs)
                });
                self.tasks.insert(
                    task.clone(),
                    TaskRef { thread: tid, resource: resource.clone(), lambda, timeout_timer, heartbeat_timer },
                );
                self.out_commands.push(Command::InvokeTask {
                    id: task.clone(),
                    resource: resource.clone(),
                    parameters: params,
                    timeout_seconds: timeout,
                    heartbeat_seconds: heartbeat,
                });
                self.set_phase(tid, Phase::AwaitTask { task });
                Ok(Step::Blocked)
            }
            Kind::Parallel { branches } => {
                if let Some(frozen) = self.threads.get_mut(&tid).and_then(|t| t.resume_fork.take()) {
                    self.record(Some(tid), "ParallelStateStarted", None);
                    self.next_id += 1;
                    let fid = self.next_id;
                    let FrozenFork { mut fork, pending } = *frozen;
                    fork.owner = tid;
                    fork.active = pending.len();
                    let last = self.threads.get(&tid).map(|t| t.last_event).unwrap_or(0);
                    for (idx, p) in pending {
                        let c = self.instantiate(p, Some((fid, idx)), false, true);
                        if let Some(ct) = self.threads.get_mut(&c) {
                            ct.last_event = last;
                        }
                        fork.children.push(c);
                        self.queue.push_back(c);
                    }
                    let finished = fork.active == 0;
                    self.forks.insert(fid, fork);
                    self.set_phase(tid, Phase::AwaitFork { fork: fid });
                    if finished {
                        self.fork_succeeded(fid);
                    }
                    return Ok(Step::Blocked);
                }
                let branch_input = match &state.parameters {
                    Some(p) => path::eval_template(p, &escope)?,
                    None => effective.clone(),
                };
                self.record(Some(tid), "ParallelStateStarted", None);
                self.next_id += 1;
                let fid = self.next_id;
                let mut children = Vec::new();
                let vars = scope.variables.clone();
                for (i, m) in branches.iter().enumerate() {
                    let start = self.definition.machines.get(*m).map(|m| m.start_at.clone()).unwrap_or_default();
                    let c =
                        self.spawn(*m, start, branch_input.clone(), Some((fid, i)), None, vars.clone(), false, true);
                    let last = self.threads.get(&tid).map(|t| t.last_event).unwrap_or(0);
                    if let Some(ct) = self.threads.get_mut(&c) {
                        ct.last_event = last;
                    }
                    children.push(c);
                    self.queue.push_back(c);
                }
                self.forks.insert(
                    fid,
                    Fork {
                        owner: tid,
                        is_map: false,
                        distributed: false,
                        items: Vec::new(),
                        results: vec![None; branches.len()],
                        children,
                        next_index: branches.len(),
                        active: branches.len(),
                        max_concurrency: 0,
                        failures: 0,
                        tolerated_count: None,
                        tolerated_percentage: None,
                        done: false,
                        redo: VecDeque::new(),
                    },
                );
                self.set_phase(tid, Phase::AwaitFork { fork: fid });
                Ok(Step::Blocked)
            }
            Kind::Map {
                processor,
                items_path,
                item_selector,
                max_concurrency,
                tolerated_count,
                tolerated_percentage,
                distributed,
            } => {
                if let Some(frozen) = self.threads.get_mut(&tid).and_then(|t| t.resume_fork.take()) {
                    let FrozenFork { mut fork, pending } = *frozen;
                    self.record(Some(tid), "MapStateStarted", Some(json!({"length": fork.items.len()})));
                    if *distributed {
                        let arn = format!("{}:map-run", self.context.execution_arn.replace(":execution:", ":mapRun:"));
                        self.record(Some(tid), "MapRunStarted", Some(json!({"mapRunArn": arn})));
                    }
                    self.next_id += 1;
                    let fid = self.next_id;
                    fork.owner = tid;
                    fork.redo = pending.into();
                    self.forks.insert(fid, fork);
                    self.set_phase(tid, Phase::AwaitFork { fork: fid });
                    self.fill_map(fid);
                    return Ok(Step::Blocked);
                }
                let items_value = match items_path {
                    Some(p) => path::query_scope(&escope, p)
                        .map_err(|_| Failure::runtime(format!("Invalid path '{p}' : No results for path: {p}")))?,
                    None => effective.clone(),
                };
                let Value::Array(items) = items_value else {
                    return Err(Failure::runtime(format!(
                        "Item path {} does not exist or is not an array: {}",
                        items_path.as_deref().unwrap_or("$"),
                        to_json_text(&items_value)
                    )));
                };
                let max = match max_concurrency {
                    None => 0,
                    Some(NumberOr::Literal(v)) => v.as_u64().unwrap_or(0) as usize,
                    Some(NumberOr::Path(p)) => {
                        let v = path::query_scope(&escope, p).unwrap_or(Value::Null);
                        let n = match &v {
                            Value::Number(n) => n.as_u64(),
                            Value::String(s) => s.parse::<u64>().ok(),
                            _ => None,
                        };
                        match n {
                            Some(n) => n as usize,
                            None => {
                                return Err(Failure::runtime(format!(
                                    "The MaxConcurrencyPath field refers to value \"{}\" which is not a valid integer: {p}",
                                    v.as_str().map(str::to_string).unwrap_or_else(|| to_json_text(&v))
                                )));
                            }
                        }
                    }
                };
                // AWS writes MapStateStarted once MaxConcurrency is known, before it reads
                // the tolerated-failure thresholds.
                self.record(Some(tid), "MapStateStarted", Some(json!({"length": items.len()})));
                let tcount = match tolerated_count {
                    None => None,
                    Some(NumberOr::Literal(v)) => v.as_u64(),
                    Some(NumberOr::Path(p)) => {
                        let v = path::query_scope(&escope, p).unwrap_or(Value::Null);
                        let n = match &v {
                            Value::Number(n) => n.as_i64(),
                            Value::String(s) => s.parse::<i64>().ok(),
                            _ => None,
                        };
                        match n {
                            Some(n) if n < 0 => {
                                return Err(Failure::runtime("ToleratedFailureCount cannot be negative."));
                            }
                            Some(n) => Some(n as u64),
                            None => {
                                return Err(Failure::runtime(format!(
                                    "The ToleratedFailureCountPath field refers to value \"{}\" which is not a valid integer: {p}",
                                    v.as_str().map(str::to_string).unwrap_or_else(|| to_json_text(&v))
                                )));
                            }
                        }
                    }
                };
                let tpct = match tolerated_percentage {
                    None => None,
                    Some(NumberOr::Literal(v)) => v.as_f64(),
                    Some(NumberOr::Path(p)) => {
                        let v = path::query_scope(&escope, p).unwrap_or(Value::Null);
                        let n = match &v {
                            Value::Number(n) => n.as_f64(),
                            Value::String(s) => s.parse::<f64>().ok(),
                            _ => None,
                        };
                        match n {
                            Some(n) if !(0.0..=100.0).contains(&n) => {
                                return Err(Failure::runtime("ToleratedFailurePercentage must be between 0 and 100."));
                            }
                            Some(n) => Some(n),
                            None => {
                                return Err(Failure::runtime(format!(
                                    "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {p}",
                                    v.as_str().map(str::to_string).unwrap_or_else(|| to_json_text(&v))
                                )));
                            }
                        }
                    }
                };
                // Each item's input: ItemSelector (or legacy Parameters) with $$.Map.Item.
                let mut inputs = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item_selector {
                        Some(sel) => {
                            let mut ctx = scope.context.clone();
                            ctx["Map"] = json!({"Item": {"Index": i, "Value": item}});
                            let s = Scope {
                                input: &effective,
                                context: &ctx,
                                variables: scope.variables,
                                seed: scope.seed,
                            };
                            inputs.push(path::eval_template(sel, &s)?);
                        }
                        None => inputs.push(item.clone()),
                    }
                }
                if *distributed {
                    let arn = format!("{}:map-run", self.context.execution_arn.replace(":execution:", ":mapRun:"));
                    self.record(Some(tid), "MapRunStarted", Some(json!({"mapRunArn": arn})));
                }
                self.next_id += 1;
                let fid = self.next_id;
                let n = inputs.len();
                self.forks.insert(
                    fid,
                    Fork {
                        owner: tid,
                        is_map: true,
                        distributed: *distributed,
                        items: inputs,
                        results: vec![None; n],
                        children: Vec::new(),
                        next_index: 0,
                        active: 0,
                        max_concurrency: max,
                        failures: 0,
                        tolerated_count: tcount,
                        tolerated_percentage: tpct,
                        done: false,
                        redo: VecDeque::new(),
                    },
                );
                // Remember the processor on the fork's owner thread via the state definition.
                let _ = processor;
                self.set_phase(tid, Phase::AwaitFork { fork: fid });
                self.fill_map(fid);
                Ok(Step::Blocked)
            }
        }
    }

    fn assign(&mut self, tid: u32, assign: Option<&Value>, input: &Value, scope: &Scope<'_>) -> Result<(), Failure> {
        let Some(a) = assign else { return Ok(()) };
        let s = Scope { input, context: scope.context, variables: scope.variables, seed: scope.seed };
        let Value::Object(vals) = path::eval_template(a, &s)? else { return Ok(()) };
        if vals.values().any(|v| json_depth(v) > MAX_JSON_DEPTH) {
            let name = self.threads.get(&tid).map(|t| t.state.clone()).unwrap_or_default();
            return Err(Failure::new(
                "States.DataLimitExceeded",
                format!(
                    "The state/task '{name}' assigned a variable with JSON nested deeper than the limit of {MAX_JSON_DEPTH} levels."
                ),
            ));
        }
        if let Some(t) = self.threads.get_mut(&tid) {
            for (k, v) in vals {
                t.variables.insert(k, v);
            }
        }
        Ok(())
    }

    fn resolve_seconds(&self, spec: Option<&NumberOr>, scope: &Scope<'_>, field: &str) -> Result<Option<u64>, Failure> {
        match spec {
            None => Ok(None),
            Some(NumberOr::Literal(v)) => Ok(v.as_u64()),
            Some(NumberOr::Path(p)) => {
                let v = path::query_scope(scope, p)
                    .map_err(|_| Failure::runtime(format!("Invalid path '{p}' for the field '{field}'")))?;
                match v.as_u64() {
                    Some(n) if n > 0 => Ok(Some(n)),
                    _ => Err(Failure::runtime(format!(
                        "The {field} field refers to value \"{}\" which is not a valid positive integer: {p}",
                        to_json_text(&v)
                    ))),
                }
            }
        }
    }

    /// Sets the event the thread's next event will follow.
    fn rewind(&mut self, tid: u32, last_event: u64) {
        if let Some(t) = self.threads.get_mut(&tid) {
            t.last_event = last_event;
        }
    }

    fn set_phase(&mut self, tid: u32, phase: Phase) {
        if let Some(t) = self.threads.get_mut(&tid) {
            t.phase = phase;
        }
    }

    /// Starts the next Map iteration if concurrency allows.
    fn fill_map(&mut self, fid: u32) {
        let Some(f) = self.forks.get(&fid) else { return };
        if f.done {
            return;
        }
        let (owner, distributed) = (f.owner, f.distributed);
        if f.next_index >= f.items.len() && f.redo.is_empty() {
            if f.active == 0 {
                self.fork_succeeded(fid);
            }
            return;
        }
        if f.max_concurrency != 0 && f.active >= f.max_concurrency {
            return;
        }
        if !f.redo.is_empty() {
            let Some((i, point)) = self.forks.get_mut(&fid).and_then(|f| f.redo.pop_front()) else { return };
            let map_name = self.threads.get(&owner).map(|t| t.state.clone()).unwrap_or_default();
            if let Some(f) = self.forks.get_mut(&fid) {
                f.active += 1;
            }
            if !distributed {
                self.record(Some(owner), "MapIterationStarted", Some(json!({"index": i, "name": map_name})));
            }
            let c = self.instantiate(point, Some((fid, i)), distributed, false);
            let last = self.threads.get(&owner).map(|t| t.last_event).unwrap_or(0);
            if let Some(ct) = self.threads.get_mut(&c) {
                ct.last_event = last;
            }
            if let Some(f) = self.forks.get_mut(&fid) {
                f.children.push(c);
            }
            self.queue.push_front(c);
            return;
        }
        let i = f.next_index;
        let item = f.items[i].clone();
        let Some((ot, os)) = self.state_of(owner) else { return };
        let Kind::Map { processor, .. } = &os.kind else { return };
        let processor = *processor;
        let vars = ot.variables.clone();
        let map_name = ot.state.clone();
        let start = self.definition.machines.get(processor).map(|m| m.start_at.clone()).unwrap_or_default();
        if let Some(f) = self.forks.get_mut(&fid) {
            f.next_index += 1;
            f.active += 1;
        }
        if !distributed {
            self.record(Some(owner), "MapIterationStarted", Some(json!({"index": i, "name": map_name})));
        }
        let c = self.spawn(processor, start, item.clone(), Some((fid, i)), Some((i, item)), vars, distributed, false);
        let last = self.threads.get(&owner).map(|t| t.last_event).unwrap_or(0);
        if let Some(ct) = self.threads.get_mut(&c) {
            ct.last_event = last;
        }
        if let Some(f) = self.forks.get_mut(&fid) {
            f.children.push(c);
        }
        self.queue.push_front(c);
    }

    fn exit(&mut self, tid: u32, output: Value, next: Option<String>) -> Step {
        let Some((t, s)) = self.state_of(tid) else { return Step::Stop };
        let name = t.state.clone();
        let ty = s.kind.type_name();
        let text = match payload_text(&output) {
            Ok(text) => text,
            Err(why) => {
                let f = Failure::new(
                    "States.DataLimitExceeded",
                    format!("The state/task '{name}' returned a result with {why}."),
                );
                return self.handle_error(tid, f, false);
            }
        };
        if ty != "Fail" {
            self.record(
                Some(tid),
                &format!("{ty}StateExited"),
                Some(json!({"name": name, "output": text, "outputDetails": {"truncated": false}})),
            );
        }
        match next {
            Some(n) => {
                if let Some(t) = self.threads.get_mut(&tid) {
                    t.state = n;
                    t.input = output;
                    t.phase = Phase::Enter;
                    t.retry_counts.clear();
                }
                Step::Continue
            }
            None => {
                self.finish_thread(tid, Ok(output));
                Step::Stop
            }
        }
    }

    /// A thread reached its end (success) or failed beyond its own Catchers.
    fn finish_thread(&mut self, tid: u32, result: Result<Value, Failure>) -> Finished {
        let parent = self.threads.get(&tid).and_then(|t| t.parent);
        self.set_phase(tid, Phase::Done);
        match parent {
            None => {
                match result {
                    Ok(output) => {
                        self.record(
                            Some(tid),
                            "ExecutionSucceeded",
                            Some(json!({"output": to_json_text(&output), "outputDetails": {"truncated": false}})),
                        );
                        self.cancel_all();
                        self.status = ExecutionStatus::Succeeded { output };
                    }
                    Err(f) => {
                        let d = detail_error(&Some(f.error.clone()).filter(|e| !e.is_empty()), &f.cause);
                        self.record(Some(tid), "ExecutionFailed", Some(d));
                        self.redrive_point = self.freeze(tid);
                        self.cancel_all();
                        self.status =
                            ExecutionStatus::Failed { error: Some(f.error).filter(|e| !e.is_empty()), cause: f.cause };
                    }
                }
                self.threads.remove(&tid);
            }
            Some((fid, idx)) => self.child_finished(fid, idx, tid, result),
        }
        Finished
    }

    fn child_finished(&mut self, fid: u32, idx: usize, tid: u32, result: Result<Value, Failure>) {
        let Some(f) = self.forks.get(&fid) else { return };
        if f.done {
            self.threads.remove(&tid);
            return;
        }
        let (owner, is_map, distributed) = (f.owner, f.is_map, f.distributed);
        let map_name = self.threads.get(&owner).map(|t| t.state.clone()).unwrap_or_default();
        let last = self.threads.get(&tid).map(|t| t.last_event).unwrap_or(0);
        let failed_at = if result.is_err() { self.freeze(tid) } else { None };
        self.threads.remove(&tid);
        if let Some(o) = self.threads.get_mut(&owner)
            && !distributed
        {
            o.last_event = last.max(o.last_event);
        }
        match result {
            Ok(out) => {
                if is_map && !distributed {
                    // AWS chains the next event of the Map to the iteration's last state
                    // event, not to this one.
                    self.record(Some(owner), "MapIterationSucceeded", Some(json!({"index": idx, "name": map_name})));
                    self.rewind(owner, last);
                }
                if let Some(f) = self.forks.get_mut(&fid) {
                    f.results[idx] = Some(out);
                    f.active = f.active.saturating_sub(1);
                }
                if is_map {
                    self.fill_map(fid);
                } else if self.forks.get(&fid).is_some_and(|f| f.active == 0) {
                    self.fork_succeeded(fid);
                }
            }
            Err(failure) => {
                if is_map && !distributed {
                    self.record(Some(owner), "MapIterationFailed", Some(json!({"index": idx, "name": map_name})));
                    self.rewind(owner, last);
                }
                let tolerated = if let Some(f) = self.forks.get_mut(&fid) {
                    f.failures += 1;
                    f.active = f.active.saturating_sub(1);
                    f.results[idx] = Some(error_output(&failure));
                    let total = f.items.len().max(1) as f64;
                    let by_count = f.tolerated_count.is_some_and(|c| f.failures as u64 <= c);
                    let by_pct = f.tolerated_percentage.is_some_and(|p| (f.failures as f64) * 100.0 / total <= p);
                    is_map && (by_count || by_pct)
                } else {
                    false
                };
                if tolerated {
                    self.fill_map(fid);
                    return;
                }
                let failure = if is_map
                    && self
                        .forks
                        .get(&fid)
                        .is_some_and(|f| f.tolerated_count.is_some() || f.tolerated_percentage.is_some())
                {
                    Failure::new(
                        "States.ExceedToleratedFailureThreshold",
                        "The specified tolerated failure threshold was exceeded",
                    )
                } else {
                    failure
                };
                self.fork_failed(fid, failure, failed_at.map(|p| (idx, p)));
            }
        }
    }

    fn fork_succeeded(&mut self, fid: u32) {
        let Some(f) = self.forks.get_mut(&fid) else { return };
        f.done = true;
        let owner = f.owner;
        let (is_map, distributed) = (f.is_map, f.distributed);
        let results: Vec<Value> = f.results.iter().map(|r| r.clone().unwrap_or(Value::Null)).collect();
        self.forks.remove(&fid);
        if is_map {
            // As AWS links them: MapStateSucceeded and MapStateExited both follow the last
            // event written before MapStateSucceeded (the last iteration's, or MapRunSucceeded).
            if distributed {
                self.record(Some(owner), "MapRunSucceeded", None);
            }
            let last_written = self.next_event_id.saturating_sub(1);
            self.rewind(owner, last_written);
            self.record(Some(owner), "MapStateSucceeded", None);
            self.rewind(owner, last_written);
        }
        self.set_phase(owner, Phase::Execute);
        let result = Value::Array(results);
        self.process_result(owner, result);
        self.queue.push_back(owner);
    }

    fn fork_failed(&mut self, fid: u32, failure: Failure, failed_child: Option<(usize, ResumePoint)>) {
        // What a redrive needs: results so far, the failed child and the aborted ones.
        let frozen = self.freeze_fork(fid).map(|mut fr| {
            if let Some((idx, p)) = failed_child {
                if let Some(r) = fr.fork.results.get_mut(idx) {
                    *r = None;
                }
                fr.fork.failures = fr.fork.failures.saturating_sub(1);
                fr.pending.push((idx, p));
            }
            fr.pending.sort_by_key(|(idx, _)| *idx);
            Box::new(fr)
        });
        let Some(f) = self.forks.get_mut(&fid) else { return };
        f.done = true;
        let owner = f.owner;
        let children = f.children.clone();
        let (is_map, distributed) = (f.is_map, f.distributed);
        self.forks.remove(&fid);
        for c in children {
            self.abort_thread(c);
        }
        if is_map && distributed {
            self.record(Some(owner), "MapRunFailed", Some(detail_error(&Some(failure.error.clone()), &failure.cause)));
        }
        self.set_phase(owner, Phase::Execute);
        if let Some(t) = self.threads.get_mut(&owner) {
            t.resume_fork = frozen;
        }
        let _ = self.handle_error(owner, failure, true);
        self.queue.push_back(owner);
    }

    /// Stops a thread (and everything below it) without further events.
    fn abort_thread(&mut self, tid: u32) {
        let Some(t) = self.threads.remove(&tid) else { return };
        match t.phase {
            Phase::AwaitTask { task } => self.drop_task(&task, true),
            Phase::AwaitTimer { timer, .. } | Phase::AwaitRetry { timer } => {
                self.timers.remove(&timer);
                self.out_commands.push(Command::CancelTimer { id: timer });
            }
            Phase::AwaitFork { fork } => {
                if let Some(f) = self.forks.remove(&fork) {
                    for c in f.children {
                        self.abort_thread(c);
                    }
                }
            }
            _ => {}
        }
        self.queue.retain(|q| *q != tid);
    }

    fn drop_task(&mut self, task: &str, cancel: bool) {
        if let Some(tr) = self.tasks.remove(task) {
            for id in tr.timeout_timer.into_iter().chain(tr.heartbeat_timer.map(|h| h.0)) {
                self.timers.remove(&id);
                self.out_commands.push(Command::CancelTimer { id });
            }
            if cancel {
                self.out_commands.push(Command::CancelTask { id: task.to_string() });
            }
        }
    }

    fn cancel_all(&mut self) {
        for task in self.tasks.keys().cloned().collect::<Vec<_>>() {
            self.out_commands.push(Command::CancelTask { id: task });
        }
        for timer in self.timers.keys().cloned().collect::<Vec<_>>() {
            self.out_commands.push(Command::CancelTimer { id: timer });
        }
        self.tasks.clear();
        self.timers.clear();
        self.queue.clear();
    }

    fn fail_execution(&mut self, f: Failure) {
        // Only the history limit ends an execution this way: a redrive would meet it again.
        self.redrive_point = None;
        self.record(None, "ExecutionFailed", Some(detail_error(&Some(f.error.clone()), &f.cause)));
        self.cancel_all();
        self.status = ExecutionStatus::Failed { error: Some(f.error), cause: f.cause };
    }

    /// ResultSelector, ResultPath and OutputPath on a Task/Parallel/Map result.
    fn process_result(&mut self, tid: u32, result: Value) {
        let definition = Arc::clone(&self.definition);
        let Some((t, state)) = self.threads.get(&tid).and_then(|t| Some((t, state_in(&definition, t)?))) else {
            return;
        };
        let raw = t.input.clone();
        let vars = t.variables.clone();
        let ctx = self.context_for(tid, state);
        let seed = Cell::new(self.seed);
        let scope = Scope { input: &raw, context: &ctx, variables: &vars, seed: &seed };
        let res = (|| -> Result<Value, Failure> {
            let selected = match &state.result_selector {
                Some(sel) => {
                    let s = Scope { input: &result, context: &ctx, variables: &vars, seed: &seed };
                    path::eval_template(sel, &s)?
                }
                None => result.clone(),
            };
            self.assign(tid, state.assign.as_ref(), &selected, &scope)?;
            let vars_after = self.threads.get(&tid).map(|t| t.variables.clone()).unwrap_or_default();
            let scope = Scope { input: &raw, context: &ctx, variables: &vars_after, seed: &seed };
            let merged = path::apply_result_path(&raw, state.result_path.as_deref(), selected)?;
            path::apply_io_path(&merged, &state.output_path, &scope)
        })();
        self.seed = seed.get();
        match res {
            Ok(out) => self.set_phase(tid, Phase::Exit { output: out, next: state.next.clone() }),
            Err(f) => {
                let f = self.runtime(tid, f);
                let _ = self.handle_error(tid, f, false);
            }
        }
    }

    /// Retry, then Catch, then propagate. `from_fork` marks a Parallel/Map whose branch
    /// failed: AWS writes `...StateFailed` only when the error is not retried.
    fn handle_error(&mut self, tid: u32, failure: Failure, from_fork: bool) -> Step {
        // A frozen fork matters only if the failure leaves the state: a retry re-runs it whole.
        let frozen = self.threads.get_mut(&tid).and_then(|t| t.resume_fork.take());
        let definition = Arc::clone(&self.definition);
        let Some((t, state)) = self.threads.get(&tid).and_then(|t| Some((t, state_in(&definition, t)?))) else {
            return Step::Stop;
        };
        let raw = t.input.clone();
        let counts = t.retry_counts.clone();
        let ty = state.kind.type_name();
        let is_task = ty == "Task";
        let retriable = matches!(state.kind, Kind::Task { .. } | Kind::Parallel { .. } | Kind::Map { .. });
        if retriable
            && let Some((i, r)) =
                state.retry.iter().enumerate().find(|(_, r)| matches_error(&r.error_equals, &failure, is_task))
        {
            let attempts = counts.get(i).copied().unwrap_or(0);
            if attempts < r.max_attempts {
                let mut delay = r.interval_seconds * r.backoff_rate.powi(attempts as i32);
                if let Some(m) = r.max_delay_seconds {
                    delay = delay.min(m);
                }
                if r.full_jitter {
                    self.seed = self.seed.wrapping_add(1);
                    let frac = (super::intrinsic::splitmix(self.seed) % 10_000) as f64 / 10_000.0;
                    delay *= frac;
                }
                if let Some(t) = self.threads.get_mut(&tid) {
                    if t.retry_counts.len() <= i {
                        t.retry_counts.resize(i + 1, 0);
                    }
                    t.retry_counts[i] += 1;
                }
                let timer = self.new_id("retry");
                self.timers.insert(timer.clone(), (tid, TimerKind::Retry));
                let fire = self.now.saturating_add((delay * 1000.0) as i64);
                self.out_commands.push(Command::StartTimer { id: timer.clone(), fire_at_ms: fire });
                self.set_phase(tid, Phase::AwaitRetry { timer });
                return Step::Blocked;
            }
        }
        if from_fork {
            self.record(Some(tid), &format!("{ty}StateFailed"), None);
        }
        let catcher: Option<Catcher> = if retriable {
            state.catch.iter().find(|c| matches_error(&c.error_equals, &failure, is_task)).cloned()
        } else {
            None
        };
        if let Some(c) = catcher {
            let out = match path::apply_result_path(&raw, c.result_path.as_deref(), error_output(&failure)) {
                Ok(o) => o,
                Err(f) => {
                    self.finish_thread(tid, Err(f));
                    return Step::Stop;
                }
            };
            if let Some(a) = &c.assign {
                let vars = self.threads.get(&tid).map(|t| t.variables.clone()).unwrap_or_default();
                let ctx = self.context_for(tid, state);
                let seed = Cell::new(self.seed);
                let eo = error_output(&failure);
                let scope = Scope { input: &eo, context: &ctx, variables: &vars, seed: &seed };
                if let Err(f) = self.assign(tid, Some(a), &eo, &scope) {
                    self.finish_thread(tid, Err(f));
                    return Step::Stop;
                }
            }
            self.set_phase(tid, Phase::Exit { output: out, next: Some(c.next) });
            return Step::Continue;
        }
        if let Some(t) = self.threads.get_mut(&tid) {
            t.resume_fork = frozen;
        }
        self.finish_thread(tid, Err(failure));
        Step::Stop
    }

    fn thread_failed(&mut self, tid: u32, f: Failure) -> Step {
        self.finish_thread(tid, Err(f));
        Step::Stop
    }

    fn task_succeeded(&mut self, id: &str, output: Value) {
        let Some(tr) = self.tasks.get(id).cloned() else { return };
        self.drop_task(id, false);
        let tid = tr.thread;
        let text = match payload_text(&output) {
            Ok(text) => text,
            Err(why) => {
                let name = self.threads.get(&tid).map(|t| t.state.clone()).unwrap_or_default();
                let f = Failure::new(
                    "States.DataLimitExceeded",
                    format!("The state/task '{name}' returned a result with {why}."),
                );
                self.set_phase(tid, Phase::Execute);
                self.handle_error(tid, f, false);
                self.queue.push_back(tid);
                return;
            }
        };
        if tr.lambda {
            self.record(
                Some(tid),
                "LambdaFunctionSucceeded",
                Some(json!({"output": text, "outputDetails": {"truncated": false}})),
            );
        } else {
            let (rtype, rname) = service_parts(&tr.resource);
            self.record(Some(tid), "TaskSucceeded", Some(json!({"resourceType": rtype, "resource": rname, "output": text, "outputDetails": {"truncated": false}})));
        }
        self.set_phase(tid, Phase::Execute);
        self.process_result(tid, output);
        self.queue.push_back(tid);
    }

    fn task_failed(&mut self, id: &str, f: Failure) {
        let Some(tr) = self.tasks.get(id).cloned() else { return };
        self.drop_task(id, false);
        let tid = tr.thread;
        if tr.lambda {
            self.record(Some(tid), "LambdaFunctionFailed", Some(detail_error(&Some(f.error.clone()), &f.cause)));
        } else {
            let (rtype, rname) = service_parts(&tr.resource);
            let mut d = detail_error(&Some(f.error.clone()), &f.cause);
            d["resourceType"] = json!(rtype);
            d["resource"] = json!(rname);
            self.record(Some(tid), "TaskFailed", Some(d));
        }
        self.set_phase(tid, Phase::Execute);
        self.handle_error(tid, f, false);
        self.queue.push_back(tid);
    }

    fn task_heartbeat(&mut self, id: &str) {
        let Some(tr) = self.tasks.get(id).cloned() else { return };
        if let Some((timer, secs)) = tr.heartbeat_timer {
            self.timers.remove(&timer);
            self.out_commands.push(Command::CancelTimer { id: timer });
            let new = self.new_id("heartbeat");
            self.timers.insert(new.clone(), (tr.thread, TimerKind::Heartbeat(id.to_string())));
            self.out_commands.push(Command::StartTimer {
                id: new.clone(),
                fire_at_ms: self.now.saturating_add((secs as i64).saturating_mul(1000)),
            });
            if let Some(t) = self.tasks.get_mut(id) {
                t.heartbeat_timer = Some((new, secs));
            }
        }
    }

    fn timer_fired(&mut self, id: &str) {
        let Some((tid, kind)) = self.timers.remove(id) else { return };
        match kind {
            TimerKind::ExecutionTimeout => {
                self.redrive_point = self.root().and_then(|r| self.freeze(r));
                self.record(
                    None,
                    "ExecutionTimedOut",
                    Some(json!({"error": "States.Timeout", "cause": "The execution timed out."})),
                );
                self.cancel_all();
                self.status = ExecutionStatus::TimedOut { error: Some("States.Timeout".into()), cause: None };
            }
            TimerKind::Wait => {
                if let Some(Phase::AwaitTimer { output, .. }) = self.threads.get(&tid).map(|t| t.phase.clone()) {
                    let next = self.state_of(tid).and_then(|(_, s)| s.next.clone());
                    self.set_phase(tid, Phase::Exit { output, next });
                    self.queue.push_back(tid);
                }
            }
            TimerKind::Retry => {
                if self.threads.get(&tid).is_some_and(|t| matches!(t.phase, Phase::AwaitRetry { .. })) {
                    self.set_phase(tid, Phase::Execute);
                    self.queue.push_back(tid);
                }
            }
            TimerKind::TaskTimeout(task) | TimerKind::Heartbeat(task) => {
                let Some(tr) = self.tasks.get(&task).cloned() else { return };
                self.drop_task(&task, true);
                let f = Failure { error: "States.Timeout".into(), cause: None };
                if tr.lambda {
                    self.record(Some(tid), "LambdaFunctionTimedOut", Some(json!({"error": "States.Timeout"})));
                } else {
                    let (rtype, rname) = service_parts(&tr.resource);
                    self.record(
                        Some(tid),
                        "TaskTimedOut",
                        Some(json!({"resourceType": rtype, "resource": rname, "error": "States.Timeout"})),
                    );
                }
                self.set_phase(tid, Phase::Execute);
                self.handle_error(tid, f, false);
                self.queue.push_back(tid);
            }
        }
    }
}

enum Step {
    Continue,
    Blocked,
    Stop,
}

struct Finished;

impl Finished {
    fn into_fail_marker(self) -> Step {
        Step::Stop
    }
}

/// The state a thread is in, borrowed from a definition the caller holds (an `Arc` clone),
/// so that the execution can change while the state is read.
fn state_in<'d>(definition: &'d Definition, t: &Thread) -> Option<&'d State> {
    definition.machines.get(t.machine)?.states.get(&t.state)
}

fn detail_error(error: &Option<String>, cause: &Option<String>) -> Value {
    let mut m = Map::new();
    if let Some(e) = error {
        m.insert("error".into(), Value::String(e.clone()));
    }
    if let Some(c) = cause {
        m.insert("cause".into(), Value::String(c.clone()));
    }
    Value::Object(m)
}

fn region_of(arn: &str) -> String {
    arn.split(':').nth(3).filter(|r| !r.is_empty()).unwrap_or("us-east-1").to_string()
}

fn timestamp_ms(s: &str) -> Option<i64> {
    choice::parse_timestamp(s).map(|n| (n / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ExecutionContext {
        ExecutionContext {
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:sm:e1".into(),
            name: "e1".into(),
            role_arn: "arn:aws:iam::123456789012:role/r".into(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:sm".into(),
            state_machine_name: "sm".into(),
            redrive_count: 0,
        }
    }

    fn start(def: Value, input: Value) -> (Execution, Vec<HistoryEvent>, Vec<Command>) {
        let d = Definition::from_value(&def).unwrap_or_else(|e| panic!("invalid test definition: {e:?}"));
        Execution::start(Arc::new(d), input, ctx(), 1_000)
    }

    /// What a durable executor does across a restart: the snapshot, reloaded with the
    /// definition the execution's row keeps.
    fn reload(ex: &Execution) -> Execution {
        let saved = serde_json::to_string(ex).unwrap_or_else(|e| panic!("no snapshot: {e}"));
        assert!(!saved.contains("\"StartAt\""), "the snapshot leaves the definition to the row");
        Execution::restore(&saved, ex.definition.clone()).unwrap_or_else(|e| panic!("state does not round-trip: {e}"))
    }

    fn types(events: &[HistoryEvent]) -> Vec<&str> {
        events.iter().map(|e| e.event_type.as_str()).collect()
    }

    fn invokes(cmds: &[Command]) -> Vec<(String, Value)> {
        cmds.iter()
            .filter_map(|c| match c {
                Command::InvokeTask { id, parameters, .. } => Some((id.clone(), parameters.clone())),
                _ => None,
            })
            .collect()
    }

    fn timers(cmds: &[Command]) -> Vec<(String, i64)> {
        cmds.iter()
            .filter_map(|c| match c {
                Command::StartTimer { id, fire_at_ms } => Some((id.clone(), *fire_at_ms)),
                _ => None,
            })
            .collect()
    }

    const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

    #[test]
    fn pass_chain_applies_paths_and_succeeds() {
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Parameters": {"x.$": "$.v", "name.$": "$$.Execution.Name"}, "ResultPath": "$.p", "Next": "B"},
            "B": {"Type": "Pass", "InputPath": "$.p", "OutputPath": "$.x", "End": true}}});
        let (ex, events, _) = start(def, json!({"v": 3}));
        assert_eq!(ex.status(), &ExecutionStatus::Succeeded { output: json!(3) });
        assert_eq!(
            types(&events),
            [
                "ExecutionStarted",
                "PassStateEntered",
                "PassStateExited",
                "PassStateEntered",
                "PassStateExited",
                "ExecutionSucceeded"
            ]
        );
        assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn lambda_task_result_goes_through_selector_and_result_path() {
        let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA,
            "ResultSelector": {"v.$": "$.value"}, "ResultPath": "$.r", "End": true}}});
        let (mut ex, events, cmds) = start(def, json!({"in": 1}));
        assert_eq!(
            types(&events),
            ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted"]
        );
        let (id, params) = invokes(&cmds).remove(0);
        assert_eq!(params, json!({"in": 1}));
        let (events, _) = ex.on(Event::TaskSucceeded { id, output: json!({"value": 7}) }, 2_000);
        assert_eq!(types(&events), ["LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"]);
        assert_eq!(ex.status(), &ExecutionStatus::Succeeded { output: json!({"in": 1, "r": {"v": 7}}) });
    }

    #[test]
    fn task_failure_is_retried_with_backoff_then_caught() {
        let def = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"Payload.$": "$"},
                  "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 3}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "C"}], "End": true},
            "C": {"Type": "Pass", "End": true}}});
        let (mut ex, events, cmds) = start(def, json!({}));
        assert!(types(&events).contains(&"TaskScheduled"));
        let mut id = invokes(&cmds)[0].0.clone();
        let mut delays = Vec::new();
        for _ in 0..2 {
            let (_, cmds) =
                ex.on(Event::TaskFailed { id: id.clone(), error: "Boom".into(), cause: Some("c".into()) }, 10_000);
            let (timer, at) = timers(&cmds)[0].clone();
            delays.push(at - 10_000);
            let (_, cmds) = ex.on(Event::TimerFired { id: timer }, at);
            id = invokes(&cmds)[0].0.clone();
        }
        assert_eq!(delays, [2_000, 6_000]);
        let (events, _) = ex.on(Event::TaskFailed { id, error: "Boom".into(), cause: Some("c".into()) }, 20_000);
        assert_eq!(
            types(&events),
            ["TaskFailed", "TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
        );
        assert_eq!(
            ex.status(),
            &ExecutionStatus::Succeeded { output: json!({"err": {"Error": "Boom", "Cause": "c"}}) }
        );
    }

    #[test]
    fn task_timeout_raises_states_timeout_and_cancels_the_task() {
        let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "TimeoutSeconds": 5, "End": true}}});
        let (mut ex, _, cmds) = start(def, json!({}));
        let (timer, at) = timers(&cmds)[0].clone();
        assert_eq!(at, 6_000);
        let (events, cmds) = ex.on(Event::TimerFired { id: timer }, at);
        assert_eq!(types(&events), ["LambdaFunctionTimedOut", "ExecutionFailed"]);
        assert!(cmds.iter().any(|c| matches!(c, Command::CancelTask { .. })));
        assert_eq!(ex.status(), &ExecutionStatus::Failed { error: Some("States.Timeout".into()), cause: None });
    }

    #[test]
    fn parallel_branches_run_tasks_concurrently_and_collect_in_order() {
        let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": LAMBDA, "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": LAMBDA, "End": true}}}]}}});
        let (mut ex, _, cmds) = start(def, json!({}));
        let tasks = invokes(&cmds);
        assert_eq!(tasks.len(), 2);
        ex.on(Event::TaskSucceeded { id: tasks[1].0.clone(), output: json!("b") }, 2_000);
        assert!(ex.is_running());
        let (events, _) = ex.on(Event::TaskSucceeded { id: tasks[0].0.clone(), output: json!("a") }, 3_000);
        assert_eq!(types(&events).last(), Some(&"ExecutionSucceeded"));
        assert_eq!(ex.status(), &ExecutionStatus::Succeeded { output: json!(["a", "b"]) });
    }

    #[test]
    fn map_respects_max_concurrency() {
        let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 2, "End": true,
            "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value"},
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": true}}}}}});
        let (mut ex, _, cmds) = start(def, json!([10, 20, 30]));
        let first = invokes(&cmds);
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].1, json!({"i": 0, "v": 10}));
        let (_, cmds) = ex.on(Event::TaskSucceeded { id: first[0].0.clone(), output: json!(0) }, 2_000);
        let third = invokes(&cmds);
        assert_eq!(third.len(), 1);
        assert_eq!(third[0].1, json!({"i": 2, "v": 30}));
        ex.on(Event::TaskSucceeded { id: third[0].0.clone(), output: json!(2) }, 3_000);
        ex.on(Event::TaskSucceeded { id: first[1].0.clone(), output: json!(1) }, 4_000);
        assert_eq!(ex.status(), &ExecutionStatus::Succeeded { output: json!([0, 1, 2]) });
    }

    #[test]
    fn wait_arms_a_timer_and_state_survives_serialisation() {
        let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "Next": "D"}, "D": {"Type": "Succeed"}}});
        let (ex, _, cmds) = start(def, json!({"k": 1}));
        let (timer, at) = timers(&cmds)[0].clone();
        assert_eq!(at, 61_000);
        let mut restored = reload(&ex);
        let (events, _) = restored.on(Event::TimerFired { id: timer }, at);
        assert_eq!(
            types(&events),
            ["WaitStateExited", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"]
        );
        assert_eq!(events[0].id, 3);
        assert_eq!(restored.status(), &ExecutionStatus::Succeeded { output: json!({"k": 1}) });
    }

    #[test]
    fn choice_without_match_fails_with_no_choice_matched() {
        let def = json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "D"}]}, "D": {"Type": "Succeed"}}});
        let (ex, _, _) = start(def, json!({"x": 2}));
        assert!(matches!(ex.status(), ExecutionStatus::Failed { error: Some(e), .. } if e == "States.NoChoiceMatched"));
    }

    #[test]
    fn stop_aborts_and_cancels_outstanding_work() {
        let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": true}}});
        let (mut ex, _, _) = start(def, json!({}));
        let (events, cmds) = ex.on(Event::Stop { error: Some("E".into()), cause: None }, 5_000);
        assert_eq!(types(&events), ["ExecutionAborted"]);
        assert!(cmds.iter().any(|c| matches!(c, Command::CancelTask { .. })));
        assert!(!ex.is_running());
    }

    #[test]
    fn oversized_task_result_fails_with_data_limit_exceeded() {
        let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": true}}});
        let (mut ex, _, cmds) = start(def, json!({}));
        let id = invokes(&cmds)[0].0.clone();
        ex.on(Event::TaskSucceeded { id, output: json!("x".repeat(MAX_PAYLOAD_BYTES + 1)) }, 2_000);
        assert!(
            matches!(ex.status(), ExecutionStatus::Failed { error: Some(e), .. } if e == "States.DataLimitExceeded")
        );
    }

    #[test]
    fn runaway_loop_stops_at_the_history_limit() {
        let def =
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}});
        let d = Definition::from_value(&def);
        // A loop without an end state is rejected by validation, so drive it through a Choice.
        assert!(d.is_err());
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "E"}], "Default": "A"}, "E": {"Type": "Succeed"}}});
        let (ex, events, _) = start(def, json!({}));
        assert!(matches!(ex.status(), ExecutionStatus::Failed { .. }));
        assert!(events.len() as u64 <= MAX_HISTORY_EVENTS);
    }

    #[test]
    fn payloads_nested_past_the_depth_limit_fail_the_execution_and_its_snapshot_still_reloads() {
        // Each loop wraps the state in three more objects: without a limit the snapshot
        // would soon be deeper than serde_json reads back, and later overflow the stack.
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Parameters": {"a": {"b": {"c.$": "$"}}}, "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "E"}], "Default": "A"},
            "E": {"Type": "Succeed"}}});
        let (ex, events, _) = start(def, json!({"x": 1}));
        assert!(
            matches!(ex.status(), ExecutionStatus::Failed { error: Some(e), cause: Some(c) }
                if e == "States.DataLimitExceeded" && c.contains("nested deeper")),
            "{:?}",
            ex.status()
        );
        assert!(events.len() < 200, "stopped at the limit, not at the history cap: {}", events.len());
        let back = reload(&ex);
        assert_eq!(back.event_count(), ex.event_count());
    }

    #[test]
    fn a_task_result_nested_past_the_depth_limit_fails_with_data_limit_exceeded() {
        let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": true}}});
        let (mut ex, _, cmds) = start(def, json!({}));
        let id = invokes(&cmds)[0].0.clone();
        let mut deep = json!(1);
        for _ in 0..(MAX_JSON_DEPTH + 1) {
            deep = json!([deep]);
        }
        ex.on(Event::TaskSucceeded { id, output: deep }, 2_000);
        assert!(
            matches!(ex.status(), ExecutionStatus::Failed { error: Some(e), .. } if e == "States.DataLimitExceeded")
        );
    }

    fn fail_task(ex: &mut Execution, id: &str, at: i64) -> Vec<HistoryEvent> {
        ex.on(Event::TaskFailed { id: id.into(), error: "Boom".into(), cause: Some("c".into()) }, at).0
    }

    #[test]
    fn redrive_resumes_the_failed_task_with_its_input_and_keeps_earlier_steps() {
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Result": {"k": 1}, "ResultPath": "$.a", "Next": "T"},
            "T": {"Type": "Task", "Resource": LAMBDA, "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 0}], "End": true}}});
        let (mut ex, _, cmds) = start(def, json!({"in": 1}));
        let (id, params) = invokes(&cmds).remove(0);
        fail_task(&mut ex, &id, 2_000);
        assert!(matches!(ex.status(), ExecutionStatus::Failed { .. }));
        assert_eq!(ex.redrive_refusal(), None);
        let last = ex.event_count();
        // The snapshot a durable executor keeps is enough to redrive from.
        let mut ex = reload(&ex);
        let (events, cmds) = ex.redrive(3_000).unwrap_or_else(|r| panic!("not redrivable: {r}"));
        assert_eq!(
            types(&events),
            ["ExecutionRedriven", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted"]
        );
        assert_eq!(events[0].id, last + 1);
        assert_eq!(events[0].previous_event_id, last);
        assert_eq!(events[0].details, Some(json!({"redriveCount": 1})));
        assert_eq!(events[1].previous_event_id, events[0].id);
        let (id2, params2) = invokes(&cmds).remove(0);
        assert_eq!(params2, params);
        ex.on(Event::TaskSucceeded { id: id2, output: json!("ok") }, 4_000);
        assert_eq!(ex.status(), &ExecutionStatus::Succeeded { output: json!("ok") });
        assert_eq!(ex.redrive_count(), 1);
        assert_eq!(ex.redrive_refusal().as_deref(), Some("Execution is SUCCEEDED and cannot be redriven"));
        assert!(ex.redrive(5_000).is_err());
    }

    #[test]
    fn redrive_of_a_parallel_reruns_only_the_failed_branch() {
        let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": LAMBDA, "End": true}}},
            {"StartAt": "B0", "States": {"B0": {"Type": "Pass", "Result": "b0", "Next": "B"},
                                         "B": {"Type": "Task", "Resource": LAMBDA, "End": true}}}]}}});
        let (mut ex, _, cmds) = start(def, json!({}));
        let tasks = invokes(&cmds);
        ex.on(Event::TaskSucceeded { id: tasks[0].0.clone(), output: json!("a") }, 2_000);
        let events = fail_task(&mut ex, &tasks[1].0, 3_000);
        assert!(types(&events).contains(&"ParallelStateFailed"));
        let (events, cmds) = ex.redrive(4_000).unwrap_or_else(|r| panic!("not redrivable: {r}"));
        assert_eq!(
            types(&events),
            [
                "ExecutionRedriven",
                "ParallelStateEntered",
                "ParallelStateStarted",
                "TaskStateEntered",
                "LambdaFunctionScheduled",
                "LambdaFunctionStarted"
            ]
        );
        // Branch B resumes at its failed Task, with that Task's input (B0's output).
        let again = invokes(&cmds);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].1, json!("b0"));
        ex.on(Event::TaskSucceeded { id: again[0].0.clone(), output: json!("b") }, 5_000);
        assert_eq!(ex.status(), &ExecutionStatus::Succeeded { output: json!(["a", "b"]) });
    }

    #[test]
    fn redrive_of_a_map_reruns_only_failed_and_unstarted_iterations() {
        let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 2, "End": true,
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": true}}}}}});
        let (mut ex, _, cmds) = start(def, json!([10, 20, 30]));
        let first = invokes(&cmds);
        assert_eq!(first.len(), 2);
        ex.on(Event::TaskSucceeded { id: first[0].0.clone(), output: json!(1) }, 2_000);
        let (_, cmds) = ex.on(Event::TaskFailed { id: first[1].0.clone(), error: "Boom".into(), cause: None }, 3_000);
        // The third iteration had started and is aborted with the Map.
        assert!(cmds.iter().any(|c| matches!(c, Command::CancelTask { .. })));
        assert!(matches!(ex.status(), ExecutionStatus::Failed { .. }));
        let (events, cmds) = ex.redrive(4_000).unwrap_or_else(|r| panic!("not redrivable: {r}"));
        assert!(types(&events).contains(&"MapStateStarted"));
        let again = invokes(&cmds);
        assert_eq!(again.iter().map(|t| t.1.clone()).collect::<Vec<_>>(), [json!(20), json!(30)]);
        ex.on(Event::TaskSucceeded { id: again[0].0.clone(), output: json!(2) }, 5_000);
        ex.on(Event::TaskSucceeded { id: again[1].0.clone(), output: json!(3) }, 6_000);
        assert_eq!(ex.status(), &ExecutionStatus::Succeeded { output: json!([1, 2, 3]) });
    }

    #[test]
    fn an_aborted_execution_redrives_from_the_state_it_was_stopped_in() {
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 5, "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 10, "End": true}}});
        let (mut ex, _, _) = start(def, json!({}));
        ex.on(Event::Stop { error: None, cause: None }, 2_000);
        let (events, cmds) = ex.redrive(3_000).unwrap_or_else(|r| panic!("not redrivable: {r}"));
        assert_eq!(types(&events), ["ExecutionRedriven", "WaitStateEntered"]);
        assert_eq!(events[1].details.as_ref().and_then(|d| d.get("input")), Some(&json!("5")));
        let (timer, at) = timers(&cmds)[0].clone();
        assert_eq!(at, 13_000);
        ex.on(Event::TimerFired { id: timer }, at);
        assert_eq!(ex.status(), &ExecutionStatus::Succeeded { output: json!(5) });
    }

    #[test]
    fn a_redriven_execution_sees_its_redrive_count_in_the_context() {
        let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA,
            "Parameters": {"n.$": "$$.Execution.RedriveCount", "t.$": "$$.Execution.RedriveTime"}, "End": true}}});
        // The first attempt has no RedriveTime to read, so its Task fails before it runs.
        let (mut ex, _, cmds) = start(def, json!({}));
        assert!(invokes(&cmds).is_empty());
        assert!(matches!(ex.status(), ExecutionStatus::Failed { error: Some(e), .. } if e == "States.Runtime"));
        let (_, cmds) = ex.redrive(3_000).unwrap_or_else(|r| panic!("not redrivable: {r}"));
        assert_eq!(invokes(&cmds)[0].1, json!({"n": 1, "t": "1970-01-01T00:00:03.000Z"}));
    }

    #[test]
    fn running_and_history_limited_executions_are_not_redrivable() {
        let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": true}}});
        let (mut ex, _, _) = start(def, json!({}));
        assert_eq!(ex.redrive_refusal().as_deref(), Some("Execution is RUNNING and cannot be redriven"));
        assert!(ex.redrive(2_000).is_err());
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "E"}], "Default": "A"}, "E": {"Type": "Succeed"}}});
        let (ex, _, _) = start(def, json!({}));
        assert_eq!(ex.redrive_refusal().as_deref(), Some("Execution history event limit exceeded"));
    }
}

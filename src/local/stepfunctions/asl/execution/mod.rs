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
//!
//! This file holds the execution's serialised state (the snapshot format: every type
//! below), the history and context-object plumbing every room shares, and the dispatch of
//! a state to its kind. The rooms:
//!
//! - `lifecycle`: start, external events, restore after a restart, stop, time-out, redrive;
//! - `threads`: the run loop, entering and leaving states, threads and the forks that
//!   Parallel and Map wait on;
//! - `errors`: the one Retry/Catch path every failure takes, and AWS's error texts;
//! - `timers`: arming, cancelling and firing timers;
//! - one room per state kind: `task`, `parallel`, `map`, `wait`, and `flow`
//!   (Pass, Choice, Succeed, Fail).
//!
//! May touch: the rest of `asl` (the definition, paths, Choice rules, intrinsics); no I/O
//! and no clock — time comes in with each call.

mod errors;
mod flow;
mod lifecycle;
mod map;
mod parallel;
mod task;
#[cfg(test)]
mod testing;
mod threads;
mod timers;
mod wait;

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::definition::{Definition, Kind, State};
use super::history::{HistoryEvent, iso8601};
use super::path::{self, Scope};
use super::{Failure, MAX_JSON_DEPTH, json_depth};

/// AWS's cap on events in one execution history.
pub const MAX_HISTORY_EVENTS: u64 = 25_000;

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

/// What a thread's step did to its turn.
enum Step {
    /// Keeps stepping (or, interleaved, yields to the next thread).
    Continue,
    /// Waits on a task, timer or fork.
    Blocked,
    /// The thread ended.
    Stop,
}

/// A state's input as its kind reads it: the raw input (ResultPath merges into it, errors
/// quote it), the input after InputPath, and a scope over each.
struct StateInput<'a> {
    raw: &'a Value,
    effective: &'a Value,
    /// Reads the raw input: Assign, OutputPath and the Fail paths.
    scope: &'a Scope<'a>,
    /// Reads the input after InputPath: Parameters, Choice rules, the kinds' own paths.
    escope: &'a Scope<'a>,
}

impl StateInput<'_> {
    /// The state's Parameters over its input after InputPath, or that input.
    fn parameters(&self, state: &State) -> Result<Value, Failure> {
        match &state.parameters {
            Some(p) => path::eval_template(p, self.escope),
            None => Ok(self.effective.clone()),
        }
    }
}

impl Execution {
    pub fn status(&self) -> &ExecutionStatus {
        &self.status
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

    /// How many times the execution has been redriven.
    pub fn redrive_count(&self) -> u32 {
        self.context.redrive_count
    }

    fn take(&mut self) -> Output {
        (std::mem::take(&mut self.out_events), std::mem::take(&mut self.out_commands))
    }

    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{}", self.next_id)
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
            if self.state_of(tid).is_some_and(|(_, st)| retriable(&st.kind)) {
                ctx["State"]["RetryCount"] = json!(t.retry_counts.iter().sum::<u32>());
            }
            if let Some((i, v)) = &t.map_item {
                ctx["Map"] = json!({"Item": {"Index": i, "Value": v}});
            }
        }
        ctx
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

    /// The name of the state a thread is in (empty for a thread that is gone).
    fn state_name(&self, tid: u32) -> String {
        self.threads.get(&tid).map(|t| t.state.clone()).unwrap_or_default()
    }

    /// Runs the state a thread has entered, with its input, context and variables.
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

    /// InputPath, then the state's kind in its own room.
    fn execute_state(&mut self, tid: u32, state: &State, raw: &Value, scope: &Scope<'_>) -> Result<Step, Failure> {
        let effective = path::apply_io_path(raw, &state.input_path, scope)?;
        let escope = Scope { input: &effective, context: scope.context, variables: scope.variables, seed: scope.seed };
        let input = StateInput { raw, effective: &effective, scope, escope: &escope };
        match &state.kind {
            Kind::Pass { result } => self.execute_pass(tid, state, result.as_ref(), &input),
            Kind::Choice { choices, default } => self.execute_choice(tid, state, choices, default.as_ref(), &input),
            Kind::Succeed => self.execute_succeed(tid, state, &input),
            Kind::Fail { error, cause } => self.execute_fail(tid, error.as_ref(), cause.as_ref(), &input),
            Kind::Wait(wait) => self.execute_wait(tid, state, wait, &input),
            Kind::Task { resource, timeout, heartbeat } => {
                self.execute_task(tid, state, resource, timeout.as_ref(), heartbeat.as_ref(), &input)
            }
            Kind::Parallel { branches } => self.execute_parallel(tid, state, branches, &input),
            Kind::Map { .. } => self.execute_map(tid, state, &input),
        }
    }

    /// Assign: evaluates the template over `input` and sets the thread's variables.
    fn assign(&mut self, tid: u32, assign: Option<&Value>, input: &Value, scope: &Scope<'_>) -> Result<(), Failure> {
        let Some(a) = assign else { return Ok(()) };
        let s = Scope { input, context: scope.context, variables: scope.variables, seed: scope.seed };
        let Value::Object(vals) = path::eval_template(a, &s)? else { return Ok(()) };
        if vals.values().any(|v| json_depth(v) > MAX_JSON_DEPTH) {
            let name = self.state_name(tid);
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
}

/// Task, Parallel and Map: the kinds that take Retry and Catch, and count retries in `$$`.
fn retriable(kind: &Kind) -> bool {
    matches!(kind, Kind::Task { .. } | Kind::Parallel { .. } | Kind::Map { .. })
}

/// The state a thread is in, borrowed from a definition the caller holds (an `Arc` clone),
/// so that the execution can change while the state is read.
fn state_in<'d>(definition: &'d Definition, t: &Thread) -> Option<&'d State> {
    definition.machines.get(t.machine)?.states.get(&t.state)
}

//! An execution's life as the executor sees it: start, the external events fed to it
//! (task results, timers, StopExecution), restoring it from its snapshot after a restart,
//! its end by stop or time-out, and RedriveExecution from the resume point it kept.
//!
//! May touch: the execution's whole state; the state kinds run through the thread loop.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::super::definition::Definition;
use super::super::history::HistoryEvent;
use super::super::{Failure, to_json_text};
use super::errors::detail_error;
use super::{
    Command, Event, Execution, ExecutionContext, ExecutionStatus, FrozenFork, MAX_HISTORY_EVENTS, Output, Phase,
    ResumePoint, TimerKind,
};

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
        ex.arm_execution_timeout();
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
            Event::Stop { error, cause } => self.stopped(error, cause),
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
        self.arm_execution_timeout();
        let tid = self.instantiate(point, None, false, false);
        self.queue.push_back(tid);
        self.run();
        Ok(self.take())
    }

    /// The definition's TimeoutSeconds, counted from now (the start or a redrive).
    fn arm_execution_timeout(&mut self) {
        if let Some(t) = self.definition.timeout_seconds {
            let fire_at_ms = self.seconds_from_now(t);
            self.arm_timer("exec-timeout", 0, TimerKind::ExecutionTimeout, fire_at_ms);
        }
    }

    /// StopExecution.
    fn stopped(&mut self, error: Option<String>, cause: Option<String>) {
        self.record(None, "ExecutionAborted", Some(detail_error(&error, &cause)));
        self.redrive_point = self.root().and_then(|r| self.freeze(r));
        self.cancel_all();
        self.status = ExecutionStatus::Aborted { error, cause };
    }

    /// The execution's TimeoutSeconds ran out.
    pub(super) fn timed_out(&mut self) {
        self.redrive_point = self.root().and_then(|r| self.freeze(r));
        self.record(
            None,
            "ExecutionTimedOut",
            Some(json!({"error": "States.Timeout", "cause": "The execution timed out."})),
        );
        self.cancel_all();
        self.status = ExecutionStatus::TimedOut { error: Some("States.Timeout".into()), cause: None };
    }

    /// Ends the execution without a resume point: only the history limit ends an execution
    /// this way, and a redrive would meet it again.
    pub(super) fn fail_execution(&mut self, f: Failure) {
        self.redrive_point = None;
        self.record(None, "ExecutionFailed", Some(detail_error(&Some(f.error.clone()), &f.cause)));
        self.cancel_all();
        self.status = ExecutionStatus::Failed { error: Some(f.error), cause: f.cause };
    }

    /// Cancels every outstanding task and timer, and stops every thread's turn.
    pub(super) fn cancel_all(&mut self) {
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

    fn root(&self) -> Option<u32> {
        self.threads.iter().find(|(_, t)| t.parent.is_none()).map(|(id, _)| *id)
    }

    /// The resume point of a live thread (and, below a Parallel/Map it waits on, of its
    /// unfinished children).
    pub(super) fn freeze(&self, tid: u32) -> Option<ResumePoint> {
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

    pub(super) fn freeze_fork(&self, fid: u32) -> Option<FrozenFork> {
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
    pub(super) fn instantiate(
        &mut self,
        p: ResumePoint,
        parent: Option<(u32, usize)>,
        silent: bool,
        interleave: bool,
    ) -> u32 {
        let ResumePoint { machine, state, input, variables, map_item, fork } = p;
        let tid = self.spawn(machine, state, input, parent, map_item, variables, silent, interleave);
        if let Some(t) = self.threads.get_mut(&tid) {
            t.resume_fork = fork;
        }
        tid
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{LAMBDA, fail_task, invokes, reload, start, timers, types};
    use super::super::{Command, Event, ExecutionStatus};

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

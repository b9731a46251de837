//! Errors: the one path every failure of a state takes — its Retriers, then its Catchers,
//! then up to the Parallel/Map or the execution — and AWS's texts for runtime failures,
//! payloads over the limits and the error objects a Catcher passes on.
//!
//! May touch: the failing thread (its phase, retry counts and variables) and the timers
//! a retry arms.

use std::cell::Cell;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::super::definition::{Catcher, Kind, State};
use super::super::path::{self, Scope};
use super::super::{Failure, MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES, json_depth, to_json_text};
use super::{Execution, Phase, Step, TimerKind, retriable, state_in};

impl Execution {
    /// Retry, then Catch, then propagate. `from_fork` marks a Parallel/Map whose branch
    /// failed: AWS writes `...StateFailed` only when the error is not retried.
    pub(super) fn handle_error(&mut self, tid: u32, failure: Failure, from_fork: bool) -> Step {
        // A frozen fork matters only if the failure leaves the state: a retry re-runs it whole.
        let frozen = self.threads.get_mut(&tid).and_then(|t| t.resume_fork.take());
        let definition = Arc::clone(&self.definition);
        let Some((t, state)) = self.threads.get(&tid).and_then(|t| Some((t, state_in(&definition, t)?))) else {
            return Step::Stop;
        };
        let raw = t.input.clone();
        let is_task = matches!(state.kind, Kind::Task { .. });
        let retriable = retriable(&state.kind);
        if retriable && self.schedule_retry(tid, state, &failure, is_task) {
            return Step::Blocked;
        }
        if from_fork {
            self.record(Some(tid), &format!("{}StateFailed", state.kind.type_name()), None);
        }
        let catcher = if retriable {
            state.catch.iter().find(|c| matches_error(&c.error_equals, &failure, is_task))
        } else {
            None
        };
        if let Some(c) = catcher {
            return self.catch(tid, state, c, &raw, &failure);
        }
        if let Some(t) = self.threads.get_mut(&tid) {
            t.resume_fork = frozen;
        }
        self.finish_thread(tid, Err(failure));
        Step::Stop
    }

    /// A thread waiting on a task, timer or fork failed there: its state's Retry/Catch
    /// decide, and the thread takes its turn again.
    pub(super) fn fail_awaiting(&mut self, tid: u32, failure: Failure, from_fork: bool) {
        self.set_phase(tid, Phase::Execute);
        self.handle_error(tid, failure, from_fork);
        self.queue.push_back(tid);
    }

    /// The first Retrier matching the failure, if it has attempts left: arms the retry
    /// timer (interval × backoff^attempts, capped, jittered) and says so.
    fn schedule_retry(&mut self, tid: u32, state: &State, failure: &Failure, is_task: bool) -> bool {
        let Some((i, r)) =
            state.retry.iter().enumerate().find(|(_, r)| matches_error(&r.error_equals, failure, is_task))
        else {
            return false;
        };
        let attempts = self.threads.get(&tid).and_then(|t| t.retry_counts.get(i).copied()).unwrap_or(0);
        if attempts >= r.max_attempts {
            return false;
        }
        let mut delay = r.interval_seconds * r.backoff_rate.powi(attempts as i32);
        if let Some(m) = r.max_delay_seconds {
            delay = delay.min(m);
        }
        if r.full_jitter {
            self.seed = self.seed.wrapping_add(1);
            let frac = (super::super::intrinsic::splitmix(self.seed) % 10_000) as f64 / 10_000.0;
            delay *= frac;
        }
        if let Some(t) = self.threads.get_mut(&tid) {
            if t.retry_counts.len() <= i {
                t.retry_counts.resize(i + 1, 0);
            }
            t.retry_counts[i] += 1;
        }
        let fire_at_ms = self.now.saturating_add((delay * 1000.0) as i64);
        let timer = self.arm_timer("retry", tid, TimerKind::Retry, fire_at_ms);
        self.set_phase(tid, Phase::AwaitRetry { timer });
        true
    }

    /// A retry's timer fired: the state runs again.
    pub(super) fn retry_due(&mut self, tid: u32) {
        if self.threads.get(&tid).is_some_and(|t| matches!(t.phase, Phase::AwaitRetry { .. })) {
            self.set_phase(tid, Phase::Execute);
            self.queue.push_back(tid);
        }
    }

    /// A Catcher took the failure: its ResultPath over the state's input, its Assign over
    /// the error object, then its Next.
    fn catch(&mut self, tid: u32, state: &State, c: &Catcher, raw: &Value, failure: &Failure) -> Step {
        let out = match path::apply_result_path(raw, c.result_path.as_deref(), error_output(failure)) {
            Ok(o) => o,
            Err(f) => return self.thread_failed(tid, f),
        };
        if let Some(a) = &c.assign {
            let vars = self.threads.get(&tid).map(|t| t.variables.clone()).unwrap_or_default();
            let ctx = self.context_for(tid, state);
            let seed = Cell::new(self.seed);
            let eo = error_output(failure);
            let scope = Scope { input: &eo, context: &ctx, variables: &vars, seed: &seed };
            if let Err(f) = self.assign(tid, Some(a), &eo, &scope) {
                return self.thread_failed(tid, f);
            }
        }
        self.set_phase(tid, Phase::Exit { output: out, next: Some(c.next.clone()) });
        Step::Continue
    }

    /// The thread fails past its state's Retry and Catch.
    pub(super) fn thread_failed(&mut self, tid: u32, f: Failure) -> Step {
        self.finish_thread(tid, Err(f));
        Step::Stop
    }

    /// Wraps runtime failures in AWS's "An error occurred while executing the state" text.
    pub(super) fn runtime(&self, tid: u32, f: Failure) -> Failure {
        if f.error != "States.Runtime" {
            return f;
        }
        let (name, entered) = self.threads.get(&tid).map(|t| (t.state.clone(), t.entered_event)).unwrap_or_default();
        let cause = f.cause.as_deref().unwrap_or("");
        Failure {
            error: f.error,
            cause: Some(format!(
                "An error occurred while executing the state '{name}' (entered at the event id #{entered}). {cause}"
            )),
        }
    }

    /// A payload's JSON text for the history, or AWS's States.DataLimitExceeded naming the
    /// thread's state; `what` is "has an input" or "returned a result".
    pub(super) fn payload_of(&self, tid: u32, value: &Value, what: &str) -> Result<String, Failure> {
        payload_text(value).map_err(|why| {
            Failure::new(
                "States.DataLimitExceeded",
                format!("The state/task '{}' {what} with {why}.", self.state_name(tid)),
            )
        })
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

/// The error object a Catcher passes on (and a failed Map iteration leaves as its result).
pub(super) fn error_output(f: &Failure) -> Value {
    let mut m = Map::new();
    m.insert("Error".into(), Value::String(f.error.clone()));
    if let Some(c) = &f.cause {
        m.insert("Cause".into(), Value::String(c.clone()));
    }
    Value::Object(m)
}

/// Whether an ErrorEquals list names the failure. `States.ALL` matches all but the
/// terminal `States.Runtime` and `States.DataLimitExceeded`; `States.TaskFailed` matches a
/// Task's failures except time-outs and those two.
fn matches_error(list: &[String], f: &Failure, task: bool) -> bool {
    list.iter().any(|e| {
        e == &f.error
            || (e == "States.ALL" && f.error != "States.Runtime" && f.error != "States.DataLimitExceeded")
            || (e == "States.TaskFailed"
                && task
                && !matches!(f.error.as_str(), "States.Timeout" | "States.Runtime" | "States.DataLimitExceeded"))
    })
}

/// The `error`/`cause` details of a failure event, each only when present.
pub(super) fn detail_error(error: &Option<String>, cause: &Option<String>) -> Value {
    let mut m = Map::new();
    if let Some(e) = error {
        m.insert("error".into(), Value::String(e.clone()));
    }
    if let Some(c) = cause {
        m.insert("cause".into(), Value::String(c.clone()));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::super::MAX_JSON_DEPTH;
    use super::super::testing::{LAMBDA, invokes, reload, start, timers, types};
    use super::super::{Event, ExecutionStatus};

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
}

//! Threads and forks: the run loop that steps threads in turn, entering a state (its
//! `...StateEntered` event) and leaving it (`...StateExited`, then the next state or the
//! thread's end), and the forks a Parallel or Map waits on — a child's end, the fork's
//! success or failure, and aborting what is left of it.
//!
//! May touch: the execution's threads, forks and queue; the history through `record`.

use serde_json::{Map, Value, json};

use super::super::{Failure, to_json_text};
use super::errors::{detail_error, error_output};
use super::{Execution, ExecutionStatus, MAX_HISTORY_EVENTS, Phase, ResumePoint, Step, Thread};

impl Execution {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn spawn(
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

    /// A fork's new child: its first event follows its owner's last one.
    pub(super) fn follow_owner(&mut self, child: u32, owner: u32) {
        let last = self.threads.get(&owner).map(|t| t.last_event).unwrap_or(0);
        self.rewind(child, last);
    }

    pub(super) fn run(&mut self) {
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

    /// A Map iteration that blocks lets the Map start its next one.
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
            Phase::Enter => self.enter(tid),
            Phase::Execute => match self.execute(tid) {
                Ok(step) => step,
                Err(f) => self.handle_error(tid, f, false),
            },
            Phase::Exit { output, next } => self.exit(tid, output, next),
            Phase::Done => Step::Stop,
            _ => Step::Blocked,
        }
    }

    /// `...StateEntered`, with the state's input.
    fn enter(&mut self, tid: u32) -> Step {
        let Some((t, s)) = self.state_of(tid) else {
            return self
                .thread_failed(tid, Failure::runtime("The state machine references a state that does not exist"));
        };
        let details = json!({"name": t.state, "input": to_json_text(&t.input), "inputDetails": {"truncated": false}});
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

    /// `...StateExited` with the state's output, then the next state or the thread's end.
    fn exit(&mut self, tid: u32, output: Value, next: Option<String>) -> Step {
        let Some((_, s)) = self.state_of(tid) else { return Step::Stop };
        let ty = s.kind.type_name();
        let text = match self.payload_of(tid, &output, "returned a result") {
            Ok(text) => text,
            Err(f) => return self.handle_error(tid, f, false),
        };
        if ty != "Fail" {
            let name = self.state_name(tid);
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
    pub(super) fn finish_thread(&mut self, tid: u32, result: Result<Value, Failure>) {
        let parent = self.threads.get(&tid).and_then(|t| t.parent);
        self.set_phase(tid, Phase::Done);
        let Some((fid, idx)) = parent else {
            self.finish_execution(tid, result);
            return;
        };
        self.child_finished(fid, idx, tid, result);
    }

    /// The root thread's end is the execution's.
    fn finish_execution(&mut self, tid: u32, result: Result<Value, Failure>) {
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

    fn child_finished(&mut self, fid: u32, idx: usize, tid: u32, result: Result<Value, Failure>) {
        let Some(f) = self.forks.get(&fid) else { return };
        if f.done {
            self.threads.remove(&tid);
            return;
        }
        let (owner, is_map, distributed) = (f.owner, f.is_map, f.distributed);
        let map_name = self.state_name(owner);
        let last = self.threads.get(&tid).map(|t| t.last_event).unwrap_or(0);
        let failed_at = if result.is_err() { self.freeze(tid) } else { None };
        self.threads.remove(&tid);
        if let Some(o) = self.threads.get_mut(&owner)
            && !distributed
        {
            o.last_event = last.max(o.last_event);
        }
        let event = if result.is_ok() { "MapIterationSucceeded" } else { "MapIterationFailed" };
        if is_map && !distributed {
            // AWS chains the next event of the Map to the iteration's last state event, not
            // to this one.
            self.record(Some(owner), event, Some(json!({"index": idx, "name": map_name})));
            self.rewind(owner, last);
        }
        match result {
            Ok(out) => {
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
                if self.tolerated(fid, idx, &failure) {
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

    /// Counts a child's failure; a Map whose ToleratedFailureCount or -Percentage still
    /// holds carries on.
    fn tolerated(&mut self, fid: u32, idx: usize, failure: &Failure) -> bool {
        let Some(f) = self.forks.get_mut(&fid) else { return false };
        f.failures += 1;
        f.active = f.active.saturating_sub(1);
        f.results[idx] = Some(error_output(failure));
        let total = f.items.len().max(1) as f64;
        let by_count = f.tolerated_count.is_some_and(|c| f.failures as u64 <= c);
        let by_pct = f.tolerated_percentage.is_some_and(|p| (f.failures as f64) * 100.0 / total <= p);
        f.is_map && (by_count || by_pct)
    }

    /// Every child succeeded: the owner's result is their outputs in order.
    pub(super) fn fork_succeeded(&mut self, fid: u32) {
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

    /// A child failed past the fork's tolerance: the others are aborted and the owner's
    /// Retry/Catch decide, with what a redrive needs kept on the owner.
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
        if let Some(t) = self.threads.get_mut(&owner) {
            t.resume_fork = frozen;
        }
        self.fail_awaiting(owner, failure, true);
    }

    /// Stops a thread (and everything below it) without further events.
    fn abort_thread(&mut self, tid: u32) {
        let Some(t) = self.threads.remove(&tid) else { return };
        match t.phase {
            Phase::AwaitTask { task } => self.drop_task(&task, true),
            Phase::AwaitTimer { timer, .. } | Phase::AwaitRetry { timer } => self.disarm_timer(timer),
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
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::super::definition::Definition;
    use super::super::testing::start;
    use super::super::{ExecutionStatus, MAX_HISTORY_EVENTS};

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
}

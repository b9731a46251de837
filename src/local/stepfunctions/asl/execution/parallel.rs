//! The Parallel state: one thread per branch, all started at once and stepping one event
//! at a time in turn (as AWS interleaves branches), their outputs collected in branch order
//! by the fork they report to. A redriven Parallel runs again only the branches that had
//! not succeeded.
//!
//! May touch: the Parallel's thread, its fork and the branch threads it spawns.

use std::collections::VecDeque;

use super::super::Failure;
use super::super::definition::State;
use super::{Execution, Fork, FrozenFork, Phase, StateInput, Step};

impl Execution {
    pub(super) fn execute_parallel(
        &mut self,
        tid: u32,
        state: &State,
        branches: &[usize],
        input: &StateInput<'_>,
    ) -> Result<Step, Failure> {
        if let Some(frozen) = self.threads.get_mut(&tid).and_then(|t| t.resume_fork.take()) {
            self.resume_parallel(tid, *frozen);
            return Ok(Step::Blocked);
        }
        let branch_input = input.parameters(state)?;
        self.record(Some(tid), "ParallelStateStarted", None);
        self.next_id += 1;
        let fid = self.next_id;
        let mut children = Vec::new();
        for (i, m) in branches.iter().enumerate() {
            let start = self.definition.machines.get(*m).map(|m| m.start_at.clone()).unwrap_or_default();
            let vars = input.scope.variables.clone();
            let c = self.spawn(*m, start, branch_input.clone(), Some((fid, i)), None, vars, false, true);
            self.follow_owner(c, tid);
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

    /// A redriven Parallel: the branches that had not succeeded resume where they stood.
    fn resume_parallel(&mut self, tid: u32, frozen: FrozenFork) {
        self.record(Some(tid), "ParallelStateStarted", None);
        self.next_id += 1;
        let fid = self.next_id;
        let FrozenFork { mut fork, pending } = frozen;
        fork.owner = tid;
        fork.active = pending.len();
        for (idx, p) in pending {
            let c = self.instantiate(p, Some((fid, idx)), false, true);
            self.follow_owner(c, tid);
            fork.children.push(c);
            self.queue.push_back(c);
        }
        let finished = fork.active == 0;
        self.forks.insert(fid, fork);
        self.set_phase(tid, Phase::AwaitFork { fork: fid });
        if finished {
            self.fork_succeeded(fid);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{LAMBDA, fail_task, invokes, start, types};
    use super::super::{Event, ExecutionStatus};

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
}

//! The Task state: Parameters, the invocation the executor carries out (a Lambda function
//! or a service integration, each with AWS's own history events), TimeoutSeconds and
//! HeartbeatSeconds as timers, and the task's outcome — its result through ResultSelector,
//! ResultPath and OutputPath, or its failure, time-out or missed heartbeat through
//! Retry/Catch.
//!
//! May touch: the execution's task table, the thread waiting on it, and its timers.

use serde_json::{Value, json};

use super::super::definition::{NumberOr, State};
use super::super::path::{self, Scope};
use super::super::{Failure, to_json_text};
use super::errors::detail_error;
use super::{Command, Execution, Phase, StateInput, Step, TaskRef, TimerKind};

impl Execution {
    pub(super) fn execute_task(
        &mut self,
        tid: u32,
        state: &State,
        resource: &str,
        timeout: Option<&NumberOr>,
        heartbeat: Option<&NumberOr>,
        input: &StateInput<'_>,
    ) -> Result<Step, Failure> {
        let params = input.parameters(state)?;
        let timeout = resolve_seconds(timeout, input.escope, "TimeoutSecondsPath")?;
        let heartbeat = resolve_seconds(heartbeat, input.escope, "HeartbeatSecondsPath")?;
        let task = self.new_id("task");
        let lambda = is_lambda(resource);
        let text = self.payload_of(tid, &params, "has an input")?;
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
        let timeout_timer = timeout.map(|secs| {
            let fire_at_ms = self.seconds_from_now(secs);
            self.arm_timer("timeout", tid, TimerKind::TaskTimeout(task.clone()), fire_at_ms)
        });
        let heartbeat_timer = heartbeat.map(|secs| {
            let fire_at_ms = self.seconds_from_now(secs);
            (self.arm_timer("heartbeat", tid, TimerKind::Heartbeat(task.clone()), fire_at_ms), secs)
        });
        self.tasks.insert(
            task.clone(),
            TaskRef { thread: tid, resource: resource.to_string(), lambda, timeout_timer, heartbeat_timer },
        );
        self.out_commands.push(Command::InvokeTask {
            id: task.clone(),
            resource: resource.to_string(),
            parameters: params,
            timeout_seconds: timeout,
            heartbeat_seconds: heartbeat,
        });
        self.set_phase(tid, Phase::AwaitTask { task });
        Ok(Step::Blocked)
    }

    pub(super) fn task_succeeded(&mut self, id: &str, output: Value) {
        let Some(tr) = self.tasks.get(id).cloned() else { return };
        self.drop_task(id, false);
        let tid = tr.thread;
        let text = match self.payload_of(tid, &output, "returned a result") {
            Ok(text) => text,
            Err(f) => return self.fail_awaiting(tid, f, false),
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

    pub(super) fn task_failed(&mut self, id: &str, f: Failure) {
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
        self.fail_awaiting(tid, f, false);
    }

    /// SendTaskHeartbeat: the heartbeat timer starts over.
    pub(super) fn task_heartbeat(&mut self, id: &str) {
        let Some(tr) = self.tasks.get(id).cloned() else { return };
        if let Some((timer, secs)) = tr.heartbeat_timer {
            self.disarm_timer(timer);
            let fire_at_ms = self.seconds_from_now(secs);
            let new = self.arm_timer("heartbeat", tr.thread, TimerKind::Heartbeat(id.to_string()), fire_at_ms);
            if let Some(t) = self.tasks.get_mut(id) {
                t.heartbeat_timer = Some((new, secs));
            }
        }
    }

    /// TimeoutSeconds ran out, or no heartbeat came in HeartbeatSeconds: States.Timeout.
    pub(super) fn task_timed_out(&mut self, tid: u32, task: &str) {
        let Some(tr) = self.tasks.get(task).cloned() else { return };
        self.drop_task(task, true);
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
        self.fail_awaiting(tid, f, false);
    }

    /// Forgets a task and its timers; `cancel` tells the executor to stop it too.
    pub(super) fn drop_task(&mut self, task: &str, cancel: bool) {
        if let Some(tr) = self.tasks.remove(task) {
            for id in tr.timeout_timer.into_iter().chain(tr.heartbeat_timer.map(|h| h.0)) {
                self.disarm_timer(id);
            }
            if cancel {
                self.out_commands.push(Command::CancelTask { id: task.to_string() });
            }
        }
    }
}

/// TimeoutSeconds/HeartbeatSeconds, or their `...Path` read from the state's input.
fn resolve_seconds(spec: Option<&NumberOr>, scope: &Scope<'_>, field: &str) -> Result<Option<u64>, Failure> {
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

fn region_of(arn: &str) -> String {
    arn.split(':').nth(3).filter(|r| !r.is_empty()).unwrap_or("us-east-1").to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::super::MAX_PAYLOAD_BYTES;
    use super::super::testing::{LAMBDA, invokes, start, timers, types};
    use super::super::{Command, Event, ExecutionStatus};

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
    fn oversized_task_result_fails_with_data_limit_exceeded() {
        let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA, "End": true}}});
        let (mut ex, _, cmds) = start(def, json!({}));
        let id = invokes(&cmds)[0].0.clone();
        ex.on(Event::TaskSucceeded { id, output: json!("x".repeat(MAX_PAYLOAD_BYTES + 1)) }, 2_000);
        assert!(
            matches!(ex.status(), ExecutionStatus::Failed { error: Some(e), .. } if e == "States.DataLimitExceeded")
        );
    }
}

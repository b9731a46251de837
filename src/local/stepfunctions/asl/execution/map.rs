//! The Map state: ItemsPath, MaxConcurrency and the tolerated-failure thresholds (literal
//! or read from the input, with AWS's errors), each item's input through ItemSelector with
//! `$$.Map.Item`, and the iterations started as threads up to MaxConcurrency at once — the
//! next when one finishes or blocks. A distributed Map's iterations write no events of
//! their own (AWS runs them as child executions). A redriven Map runs again the iterations
//! that failed or never started.
//!
//! May touch: the Map's thread, its fork and the iteration threads it spawns.

use std::collections::VecDeque;
use std::str::FromStr;

use serde_json::{Number, Value, json};

use super::super::definition::{Kind, NumberOr, State};
use super::super::path::{self, Scope};
use super::super::{Failure, to_json_text};
use super::{Execution, Fork, FrozenFork, Phase, StateInput, Step};

impl Execution {
    pub(super) fn execute_map(&mut self, tid: u32, state: &State, input: &StateInput<'_>) -> Result<Step, Failure> {
        let Kind::Map {
            items_path,
            item_selector,
            max_concurrency,
            tolerated_count,
            tolerated_percentage,
            distributed,
            ..
        } = &state.kind
        else {
            return Err(Failure::runtime("unknown state"));
        };
        if let Some(frozen) = self.threads.get_mut(&tid).and_then(|t| t.resume_fork.take()) {
            self.resume_map(tid, *frozen, *distributed);
            return Ok(Step::Blocked);
        }
        let escope = input.escope;
        let items_value = match items_path {
            Some(p) => path::query_scope(escope, p)
                .map_err(|_| Failure::runtime(format!("Invalid path '{p}' : No results for path: {p}")))?,
            None => input.effective.clone(),
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
            Some(NumberOr::Path(p)) => number_at(escope, p, "MaxConcurrencyPath", "integer", Number::as_u64)? as usize,
        };
        // AWS writes MapStateStarted once MaxConcurrency is known, before it reads the
        // tolerated-failure thresholds.
        self.record(Some(tid), "MapStateStarted", Some(json!({"length": items.len()})));
        let tcount = match tolerated_count {
            None => None,
            Some(NumberOr::Literal(v)) => v.as_u64(),
            Some(NumberOr::Path(p)) => {
                let n = number_at(escope, p, "ToleratedFailureCountPath", "integer", Number::as_i64)?;
                if n < 0 {
                    return Err(Failure::runtime("ToleratedFailureCount cannot be negative."));
                }
                Some(n as u64)
            }
        };
        let tpct = match tolerated_percentage {
            None => None,
            Some(NumberOr::Literal(v)) => v.as_f64(),
            Some(NumberOr::Path(p)) => {
                let n = number_at(escope, p, "ToleratedFailurePercentagePath", "float", Number::as_f64)?;
                if !(0.0..=100.0).contains(&n) {
                    return Err(Failure::runtime("ToleratedFailurePercentage must be between 0 and 100."));
                }
                Some(n)
            }
        };
        let inputs = item_inputs(&items, item_selector.as_ref(), input)?;
        if *distributed {
            self.map_run_started(tid);
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
        self.set_phase(tid, Phase::AwaitFork { fork: fid });
        self.fill_map(fid);
        Ok(Step::Blocked)
    }

    /// A redriven Map: its results so far stand, the iterations that had not succeeded run
    /// first, then those never started.
    fn resume_map(&mut self, tid: u32, frozen: FrozenFork, distributed: bool) {
        let FrozenFork { mut fork, pending } = frozen;
        self.record(Some(tid), "MapStateStarted", Some(json!({"length": fork.items.len()})));
        if distributed {
            self.map_run_started(tid);
        }
        self.next_id += 1;
        let fid = self.next_id;
        fork.owner = tid;
        fork.redo = pending.into();
        self.forks.insert(fid, fork);
        self.set_phase(tid, Phase::AwaitFork { fork: fid });
        self.fill_map(fid);
    }

    fn map_run_started(&mut self, tid: u32) {
        let arn = format!("{}:map-run", self.context.execution_arn.replace(":execution:", ":mapRun:"));
        self.record(Some(tid), "MapRunStarted", Some(json!({"mapRunArn": arn})));
    }

    /// Starts the next Map iteration if concurrency allows: one to run again after a
    /// redrive first, else the next never started; when none is left and none is running,
    /// the Map succeeds.
    pub(super) fn fill_map(&mut self, fid: u32) {
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
            self.iteration_started(fid, owner, i, distributed, false);
            let c = self.instantiate(point, Some((fid, i)), distributed, false);
            self.adopt_iteration(fid, owner, c);
            return;
        }
        let i = f.next_index;
        let item = f.items[i].clone();
        let Some((ot, os)) = self.state_of(owner) else { return };
        let Kind::Map { processor, .. } = &os.kind else { return };
        let processor = *processor;
        let vars = ot.variables.clone();
        let start = self.definition.machines.get(processor).map(|m| m.start_at.clone()).unwrap_or_default();
        self.iteration_started(fid, owner, i, distributed, true);
        let c = self.spawn(processor, start, item.clone(), Some((fid, i)), Some((i, item)), vars, distributed, false);
        self.adopt_iteration(fid, owner, c);
    }

    /// Counts an iteration as running (`fresh`: one never started before) and writes
    /// MapIterationStarted unless the Map is distributed.
    fn iteration_started(&mut self, fid: u32, owner: u32, index: usize, distributed: bool, fresh: bool) {
        if let Some(f) = self.forks.get_mut(&fid) {
            if fresh {
                f.next_index += 1;
            }
            f.active += 1;
        }
        if !distributed {
            let map_name = self.state_name(owner);
            self.record(Some(owner), "MapIterationStarted", Some(json!({"index": index, "name": map_name})));
        }
    }

    /// An iteration's thread joins the Map's fork and runs next.
    fn adopt_iteration(&mut self, fid: u32, owner: u32, child: u32) {
        self.follow_owner(child, owner);
        if let Some(f) = self.forks.get_mut(&fid) {
            f.children.push(child);
        }
        self.queue.push_front(child);
    }
}

/// A Map field's `...Path` value as a number — a JSON number, or a string holding one — or
/// AWS's error saying which field and what the value is not.
fn number_at<T: FromStr>(
    escope: &Scope<'_>,
    p: &str,
    field: &str,
    what: &str,
    from_number: impl Fn(&Number) -> Option<T>,
) -> Result<T, Failure> {
    let v = path::query_scope(escope, p).unwrap_or(Value::Null);
    let n = match &v {
        Value::Number(n) => from_number(n),
        Value::String(s) => s.parse::<T>().ok(),
        _ => None,
    };
    n.ok_or_else(|| {
        Failure::runtime(format!(
            "The {field} field refers to value \"{}\" which is not a valid {what}: {p}",
            v.as_str().map(str::to_string).unwrap_or_else(|| to_json_text(&v))
        ))
    })
}

/// Each item's input: ItemSelector (or legacy Parameters) with `$$.Map.Item`, else the item.
fn item_inputs(items: &[Value], item_selector: Option<&Value>, input: &StateInput<'_>) -> Result<Vec<Value>, Failure> {
    let Some(sel) = item_selector else { return Ok(items.to_vec()) };
    let scope = input.scope;
    let mut inputs = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut ctx = scope.context.clone();
        ctx["Map"] = json!({"Item": {"Index": i, "Value": item}});
        let s = Scope { input: input.effective, context: &ctx, variables: scope.variables, seed: scope.seed };
        inputs.push(path::eval_template(sel, &s)?);
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::{LAMBDA, invokes, start, types};
    use super::super::{Command, Event, ExecutionStatus};

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
}

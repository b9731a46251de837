//! The states that only move data and choose the way: Pass (Parameters or Result, then
//! Assign, ResultPath and OutputPath), Choice (the first rule that holds, else Default, else
//! States.NoChoiceMatched), Succeed, and Fail (its Error and Cause, literal or read from the
//! input).
//!
//! May touch: the thread running the state (its phase and variables).

use serde_json::Value;

use super::super::choice;
use super::super::definition::{ChoiceBranch, State, StringOr};
use super::super::path::{self, Scope};
use super::super::{Failure, to_json_text};
use super::{Execution, Phase, StateInput, Step};

impl Execution {
    pub(super) fn execute_pass(
        &mut self,
        tid: u32,
        state: &State,
        result: Option<&Value>,
        input: &StateInput<'_>,
    ) -> Result<Step, Failure> {
        let after_params = input.parameters(state)?;
        let res = result.cloned().unwrap_or(after_params);
        let scope = input.scope;
        // Assign sees the state's result, and runs before OutputPath (which may read it).
        self.assign(tid, state.assign.as_ref(), &res, scope)?;
        let vars_after = self.threads.get(&tid).map(|t| t.variables.clone()).unwrap_or_default();
        let scope = &Scope { input: scope.input, context: scope.context, variables: &vars_after, seed: scope.seed };
        let merged = path::apply_result_path(input.raw, state.result_path.as_deref(), res)?;
        let out = path::apply_io_path(&merged, &state.output_path, scope)?;
        self.set_phase(tid, Phase::Exit { output: out, next: state.next.clone() });
        Ok(Step::Continue)
    }

    pub(super) fn execute_choice(
        &mut self,
        tid: u32,
        state: &State,
        choices: &[ChoiceBranch],
        default: Option<&String>,
        input: &StateInput<'_>,
    ) -> Result<Step, Failure> {
        let mut chosen = None;
        for c in choices {
            if choice::evaluate(&c.rule, input.escope)? {
                self.assign(tid, c.assign.as_ref(), input.effective, input.scope)?;
                chosen = Some(c.next.clone());
                break;
            }
        }
        let Some(next) = chosen.or_else(|| default.cloned()) else {
            return Err(Failure::new("States.NoChoiceMatched", "No Matches!"));
        };
        self.assign(tid, state.assign.as_ref(), input.effective, input.scope)?;
        let out = path::apply_io_path(input.effective, &state.output_path, input.scope)?;
        self.set_phase(tid, Phase::Exit { output: out, next: Some(next) });
        Ok(Step::Continue)
    }

    pub(super) fn execute_succeed(&mut self, tid: u32, state: &State, input: &StateInput<'_>) -> Result<Step, Failure> {
        let out = path::apply_io_path(input.effective, &state.output_path, input.scope)?;
        self.set_phase(tid, Phase::Exit { output: out, next: None });
        Ok(Step::Continue)
    }

    /// The thread fails with the state's Error and Cause, past any Catch (a Fail state has none).
    pub(super) fn execute_fail(
        &mut self,
        tid: u32,
        error: Option<&StringOr>,
        cause: Option<&StringOr>,
        input: &StateInput<'_>,
    ) -> Result<Step, Failure> {
        let error = fail_field(error, "ErrorPath", input)?;
        let cause = fail_field(cause, "CausePath", input)?;
        Ok(self.thread_failed(tid, Failure { error: error.unwrap_or_default(), cause }))
    }
}

/// A Fail state's Error or Cause: the literal, or the text its path reads (JSON text for a
/// value that is not a string).
fn fail_field(v: Option<&StringOr>, field: &str, input: &StateInput<'_>) -> Result<Option<String>, Failure> {
    match v {
        None => Ok(None),
        Some(StringOr::Literal(s)) => Ok(Some(s.clone())),
        Some(StringOr::Path(p)) => {
            let v = path::eval_expression(p, field, input.scope).map_err(|_| {
                Failure::runtime(format!(
                    "The JSONPath '{p}' specified for the field '{field}' could not be found in the input '{}'",
                    to_json_text(input.raw)
                ))
            })?;
            match v {
                Value::String(s) => Ok(Some(s)),
                other => Ok(Some(to_json_text(&other))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::ExecutionStatus;
    use super::super::testing::{start, types};

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
    fn choice_without_match_fails_with_no_choice_matched() {
        let def = json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "D"}]}, "D": {"Type": "Succeed"}}});
        let (ex, _, _) = start(def, json!({"x": 2}));
        assert!(matches!(ex.status(), ExecutionStatus::Failed { error: Some(e), .. } if e == "States.NoChoiceMatched"));
    }
}

//! TestState's `inspectionData`: a state's input after each stage of its data flow
//! (InputPath → Parameters → result → ResultSelector → ResultPath), as AWS reports them at
//! the DEBUG and TRACE inspection levels. A stage that fails ends the list there.

use std::cell::Cell;

use serde_json::{Map, Value};

use super::definition::{Kind, State};
use super::path::{self, Scope};
use super::to_json_text;

/// The stages of `state` run on `input`; `result` is what a Task returned, if it ran.
pub fn inspection(state: &State, input: &Value, result: Option<&Value>, context: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("input".into(), Value::String(to_json_text(input)));
    let vars = Map::new();
    let seed = Cell::new(0);
    let scope = Scope { input, context, variables: &vars, seed: &seed };
    let pass_result = match &state.kind {
        Kind::Pass { result } => result.as_ref(),
        _ => None,
    };
    let has_result_stages =
        matches!(state.kind, Kind::Pass { .. } | Kind::Task { .. } | Kind::Parallel { .. } | Kind::Map { .. });
    // A Pass with a fixed Result never reads its input: AWS reports no input stages for it.
    let after_parameters = if pass_result.is_some() {
        None
    } else {
        let Ok(after_input) = path::apply_io_path(input, &state.input_path, &scope) else { return out };
        out.insert("afterInputPath".into(), Value::String(to_json_text(&after_input)));
        if !has_result_stages {
            return out;
        }
        let escope = Scope { input: &after_input, context, variables: &vars, seed: &seed };
        let after = match &state.parameters {
            Some(p) => match path::eval_template(p, &escope) {
                Ok(v) => v,
                Err(_) => return out,
            },
            None => after_input.clone(),
        };
        out.insert("afterParameters".into(), Value::String(to_json_text(&after)));
        Some(after)
    };
    let result = match (&state.kind, pass_result, result) {
        (Kind::Pass { .. }, Some(r), _) => {
            out.insert("result".into(), Value::String(to_json_text(r)));
            r.clone()
        }
        (Kind::Pass { .. }, None, _) => after_parameters.unwrap_or(Value::Null),
        (_, _, Some(r)) => {
            out.insert("result".into(), Value::String(to_json_text(r)));
            r.clone()
        }
        _ => return out,
    };
    let selected = match &state.result_selector {
        Some(sel) => {
            let s = Scope { input: &result, context, variables: &vars, seed: &seed };
            match path::eval_template(sel, &s) {
                Ok(v) => v,
                Err(_) => return out,
            }
        }
        None => result,
    };
    out.insert("afterResultSelector".into(), Value::String(to_json_text(&selected)));
    if let Ok(v) = path::apply_result_path(input, state.result_path.as_deref(), selected) {
        out.insert("afterResultPath".into(), Value::String(to_json_text(&v)));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::local::stepfunctions::asl::Definition;

    fn state(def: Value) -> State {
        let machine = json!({"StartAt": "S", "States": {"S": def}});
        let d = Definition::from_value(&machine).unwrap_or_else(|e| panic!("invalid: {e:?}"));
        d.machines[0].states["S"].clone()
    }

    #[test]
    fn pass_with_parameters_reports_every_stage() {
        let s = state(
            json!({"Type": "Pass", "InputPath": "$.a", "Parameters": {"v.$": "$.x"}, "ResultPath": "$.r", "End": true}),
        );
        let got = inspection(&s, &json!({"a": {"x": 1}}), None, &json!({}));
        assert_eq!(got["afterInputPath"], json!("{\"x\":1}"));
        assert_eq!(got["afterParameters"], json!("{\"v\":1}"));
        assert_eq!(got["afterResultSelector"], json!("{\"v\":1}"));
        assert_eq!(got["afterResultPath"], json!("{\"a\":{\"x\":1},\"r\":{\"v\":1}}"));
        assert!(!got.contains_key("result"));
    }

    #[test]
    fn task_reports_its_result_and_selector() {
        let s = state(json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:f",
            "ResultSelector": {"y.$": "$.y"}, "ResultPath": "$.out", "End": true}));
        let got = inspection(&s, &json!({"k": 1}), Some(&json!({"y": 2, "z": 3})), &json!({}));
        assert_eq!(got["result"], json!("{\"y\":2,\"z\":3}"));
        assert_eq!(got["afterResultSelector"], json!("{\"y\":2}"));
        assert_eq!(got["afterResultPath"], json!("{\"k\":1,\"out\":{\"y\":2}}"));
    }

    #[test]
    fn choice_reports_only_its_input_stages() {
        let machine = json!({"StartAt": "S", "States": {"E": {"Type": "Succeed"},
            "S": {"Type": "Choice", "Choices": [{"Variable": "$.v", "IsPresent": true, "Next": "E"}], "Default": "E"}}});
        let d = Definition::from_value(&machine).unwrap_or_else(|e| panic!("invalid: {e:?}"));
        let s = d.machines[0].states["S"].clone();
        let got = inspection(&s, &json!({"v": 1}), None, &json!({}));
        assert_eq!(got.keys().collect::<Vec<_>>(), ["input", "afterInputPath"]);
    }
}

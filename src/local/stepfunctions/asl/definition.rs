//! State machine definitions: parsed from JSON text into typed states, validated with
//! AWS's diagnostics (code, message, location). Nested state machines (Parallel branches,
//! Map processors) live in one arena, `Definition::machines`, index 0 being the top level.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::choice::{self, Rule};
use super::path::IoPath;

/// One validation finding, as ValidateStateMachineDefinition reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: String,
    pub code: String,
    pub message: String,
    pub location: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &str, message: impl Into<String>, location: &str) -> Self {
        Self {
            severity: "ERROR".into(),
            code: code.into(),
            message: message.into(),
            location: Some(location.to_string()),
        }
    }

    pub fn schema(message: impl Into<String>, location: &str) -> Self {
        Self::error("SCHEMA_VALIDATION_FAILED", message, location)
    }
}

impl std::fmt::Display for Diagnostic {
    /// The text AWS puts in an InvalidDefinition error: `CODE: message at /location`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{}: {} at {}", self.code, self.message, if loc.is_empty() { "/" } else { loc }),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Definition {
    pub comment: Option<String>,
    pub timeout_seconds: Option<u64>,
    /// `machines[0]` is the top level; Parallel and Map refer to the others by index.
    pub machines: Vec<Machine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub start_at: String,
    pub states: BTreeMap<String, State>,
}

/// A number given literally or read from the input by a `...Path` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NumberOr {
    Literal(Value),
    Path(String),
}

/// A string given literally or read by a `...Path` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StringOr {
    Literal(String),
    Path(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: f64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<f64>,
    pub full_jitter: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub result_path: Option<String>,
    pub next: String,
    pub assign: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub input_path: IoPath,
    pub output_path: IoPath,
    pub parameters: Option<Value>,
    pub result_selector: Option<Value>,
    /// `None` is `"ResultPath": null` (discard the result).
    pub result_path: Option<String>,
    pub next: Option<String>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub assign: Option<Value>,
    pub kind: Kind,
    /// Whether the state's definition mentions `$$` anywhere (its own fields, and for
    /// Parallel and Map their inner states): only then is the context object built.
    #[serde(default = "reads_context_unless_known")]
    pub reads_context: bool,
}

fn reads_context_unless_known() -> bool {
    true
}

/// Whether any string in a state's JSON mentions the context object (`$$`).
fn mentions_context(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("$$"),
        Value::Array(a) => a.iter().any(mentions_context),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains("$$") || mentions_context(v)),
        _ => false,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Wait {
    Seconds(u64),
    Timestamp(String),
    SecondsPath(String),
    TimestampPath(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceBranch {
    pub rule: Rule,
    pub next: String,
    pub assign: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Kind {
    Pass {
        result: Option<Value>,
    },
    Task {
        resource: String,
        timeout: Option<NumberOr>,
        heartbeat: Option<NumberOr>,
    },
    Choice {
        choices: Vec<ChoiceBranch>,
        default: Option<String>,
    },
    Wait(Wait),
    Succeed,
    Fail {
        error: Option<StringOr>,
        cause: Option<StringOr>,
    },
    Parallel {
        branches: Vec<usize>,
    },
    Map {
        processor: usize,
        items_path: Option<String>,
        item_selector: Option<Value>,
        max_concurrency: Option<NumberOr>,
        tolerated_count: Option<NumberOr>,
        tolerated_percentage: Option<NumberOr>,
        distributed: bool,
    },
}

impl Kind {
    /// The prefix of this state's history event types (`PassStateEntered`...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Pass { .. } => "Pass",
            Kind::Task { .. } => "Task",
            Kind::Choice { .. } => "Choice",
            Kind::Wait(_) => "Wait",
            Kind::Succeed => "Succeed",
            Kind::Fail { .. } => "Fail",
            Kind::Parallel { .. } => "Parallel",
            Kind::Map { .. } => "Map",
        }
    }
}

const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage", "Assign"];
const IO: &[&str] = &["InputPath", "OutputPath"];
const FLOW: &[&str] = &["Next", "End"];
const RESULT: &[&str] = &["Parameters", "ResultSelector", "ResultPath"];
const ERRORS: &[&str] = &["Retry", "Catch"];

fn allowed(kind: &str) -> Option<Vec<&'static str>> {
    let mut v: Vec<&'static str> = COMMON.to_vec();
    match kind {
        "Pass" => {
            v.extend(IO);
            v.extend(FLOW);
            v.extend(["Parameters", "ResultPath", "Result"]);
        }
        "Task" => {
            v.extend(IO);
            v.extend(FLOW);
            v.extend(RESULT);
            v.extend(ERRORS);
            v.extend([
                "Resource",
                "TimeoutSeconds",
                "TimeoutSecondsPath",
                "HeartbeatSeconds",
                "HeartbeatSecondsPath",
                "Credentials",
            ]);
        }
        "Choice" => {
            v.extend(IO);
            v.extend(["Choices", "Default"]);
        }
        "Wait" => {
            v.extend(IO);
            v.extend(FLOW);
            v.extend(["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]);
        }
        "Succeed" => v.extend(IO),
        "Fail" => v.extend(["Error", "ErrorPath", "Cause", "CausePath"]),
        "Parallel" => {
            v.extend(IO);
            v.extend(FLOW);
            v.extend(RESULT);
            v.extend(ERRORS);
            v.push("Branches");
        }
        "Map" => {
            v.extend(IO);
            v.extend(FLOW);
            v.extend(RESULT);
            v.extend(ERRORS);
            v.extend([
                "Iterator",
                "ItemProcessor",
                "ItemsPath",
                "ItemSelector",
                "MaxConcurrency",
                "MaxConcurrencyPath",
                "ToleratedFailureCount",
                "ToleratedFailureCountPath",
                "ToleratedFailurePercentage",
                "ToleratedFailurePercentagePath",
                "ItemReader",
                "ItemBatcher",
                "ResultWriter",
                "Label",
            ]);
        }
        _ => return None,
    }
    Some(v)
}

/// JSONata-only fields: their presence means the definition needs JSONata.
const JSONATA_FIELDS: &[&str] = &["Arguments", "Output", "Items"];

struct Parser {
    machines: Vec<Machine>,
    diags: Vec<Diagnostic>,
    all_names: BTreeSet<String>,
}

impl Definition {
    /// Parses and validates a definition; every problem found is reported.
    pub fn parse(text: &str) -> Result<Definition, Vec<Diagnostic>> {
        if text.trim().is_empty() {
            return Err(vec![Diagnostic::error("MISSING_DESCRIPTION", "The definition is empty", "/")]);
        }
        if text.len() > super::MAX_DEFINITION_BYTES {
            return Err(vec![Diagnostic::schema(
                format!("The definition is {} bytes; the maximum is {} bytes", text.len(), super::MAX_DEFINITION_BYTES),
                "/",
            )]);
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| vec![Diagnostic::error("INVALID_JSON_DESCRIPTION", format!("Invalid JSON: {e}"), "/")])?;
        Self::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<Definition, Vec<Diagnostic>> {
        if super::json_depth(value) > super::MAX_JSON_DEPTH {
            return Err(vec![Diagnostic::schema(
                format!("The definition nests deeper than {} levels", super::MAX_JSON_DEPTH),
                "/",
            )]);
        }
        let Some(obj) = value.as_object() else {
            return Err(vec![Diagnostic::schema("The definition must be a JSON object", "/")]);
        };
        let mut p = Parser { machines: Vec::new(), diags: Vec::new(), all_names: BTreeSet::new() };
        if let Some(ql) = obj.get("QueryLanguage") {
            if ql == "JSONata" {
                return Err(vec![Diagnostic::schema(
                    "JSONata is not supported yet: use QueryLanguage JSONPath",
                    "/QueryLanguage",
                )]);
            }
            if ql != "JSONPath" {
                p.diags.push(Diagnostic::schema("QueryLanguage must be JSONPath or JSONata", "/QueryLanguage"));
            }
        }
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "StartAt" | "States" | "Comment" | "Version" | "TimeoutSeconds" | "QueryLanguage"
            ) {
                p.diags.push(Diagnostic::schema(
                    format!("The field '{key}' is not supported by Step Functions"),
                    &format!("/{key}"),
                ));
            }
        }
        let timeout_seconds = match obj.get("TimeoutSeconds") {
            None => None,
            Some(v) => match v.as_u64() {
                Some(n) => Some(n),
                None => {
                    p.diags
                        .push(Diagnostic::schema("TimeoutSeconds must be a non-negative integer", "/TimeoutSeconds"));
                    None
                }
            },
        };
        p.machine(obj, "");
        if p.diags.is_empty() {
            Ok(Definition {
                comment: obj.get("Comment").and_then(Value::as_str).map(str::to_string),
                timeout_seconds,
                machines: p.machines,
            })
        } else {
            Err(p.diags)
        }
    }

    /// Validation only, for ValidateStateMachineDefinition.
    pub fn validate(text: &str) -> Vec<Diagnostic> {
        Self::parse(text).err().unwrap_or_default()
    }

    pub fn root(&self) -> &Machine {
        &self.machines[0]
    }
}

fn str_field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

impl Parser {
    /// Parses one machine (StartAt + States) and returns its arena index.
    fn machine(&mut self, obj: &Map<String, Value>, loc: &str) -> usize {
        let idx = self.machines.len();
        self.machines.push(Machine { start_at: String::new(), states: BTreeMap::new() });
        let start_at = match obj.get("StartAt") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                self.diags.push(Diagnostic::schema("StartAt must be a string", &format!("{loc}/StartAt")));
                String::new()
            }
            None => {
                self.diags.push(Diagnostic::schema(
                    "These fields are required: [StartAt]",
                    if loc.is_empty() { "/" } else { loc },
                ));
                String::new()
            }
        };
        let mut states = BTreeMap::new();
        match obj.get("States").and_then(Value::as_object) {
            Some(s) if !s.is_empty() => {
                for (name, sv) in s {
                    let sloc = format!("{loc}/States/{name}");
                    if name.is_empty() || name.chars().count() > 80 {
                        self.diags.push(Diagnostic::error(
                            "INVALID_STATE_NAME",
                            format!("State name '{name}' must be 1 to 80 characters"),
                            &sloc,
                        ));
                    }
                    if !self.all_names.insert(name.clone()) {
                        self.diags.push(Diagnostic::error(
                            "DUPLICATE_STATE_NAME",
                            format!("Duplicate State name: {name}"),
                            &sloc,
                        ));
                    }
                    if let Some(st) = self.state(sv, &sloc) {
                        states.insert(name.clone(), st);
                    }
                }
            }
            _ => self.diags.push(Diagnostic::schema(
                "These fields are required: [States]",
                if loc.is_empty() { "/" } else { loc },
            )),
        }
        // Graph checks only make sense once every state parsed; otherwise they would only
        // repeat the state's own diagnostic as missing targets and unreachable states.
        let all_parsed = obj.get("States").and_then(Value::as_object).is_some_and(|s| s.len() == states.len());
        if all_parsed && !start_at.is_empty() && !states.contains_key(&start_at) {
            self.diags.push(Diagnostic::error(
                "MISSING_TRANSITION_TARGET",
                format!("Missing 'Next' target: {start_at}"),
                &format!("{loc}/StartAt"),
            ));
        }
        if all_parsed && !states.is_empty() {
            self.check_graph(&start_at, &states, loc);
        }
        self.machines[idx] = Machine { start_at, states };
        idx
    }

    fn check_graph(&mut self, start_at: &str, states: &BTreeMap<String, State>, loc: &str) {
        let targets = |s: &State| -> Vec<(String, String)> {
            let mut t = Vec::new();
            if let Some(n) = &s.next {
                t.push((n.clone(), "Next".to_string()));
            }
            if let Kind::Choice { choices, default } = &s.kind {
                for (i, c) in choices.iter().enumerate() {
                    t.push((c.next.clone(), format!("Choices[{i}]/Next")));
                }
                if let Some(d) = default {
                    t.push((d.clone(), "Default".to_string()));
                }
            }
            for (i, c) in s.catch.iter().enumerate() {
                t.push((c.next.clone(), format!("Catch[{i}]/Next")));
            }
            t
        };
        for (name, s) in states {
            for (target, field) in targets(s) {
                if !states.contains_key(&target) {
                    self.diags.push(Diagnostic::error(
                        "MISSING_TRANSITION_TARGET",
                        format!("Missing 'Next' target: {target}"),
                        &format!("{loc}/States/{name}/{field}"),
                    ));
                }
            }
        }
        if !states.contains_key(start_at) {
            return;
        }
        let mut seen = BTreeSet::new();
        let mut stack = vec![start_at.to_string()];
        while let Some(n) = stack.pop() {
            if !seen.insert(n.clone()) {
                continue;
            }
            if let Some(s) = states.get(&n) {
                stack.extend(targets(s).into_iter().map(|(t, _)| t));
            }
        }
        for name in states.keys() {
            if !seen.contains(name) {
                self.diags.push(Diagnostic::error(
                    "UNREACHABLE_STATE",
                    format!("State '{name}' is not reachable"),
                    &format!("{loc}/States/{name}"),
                ));
            }
        }
        let terminal = states.values().any(|s| {
            matches!(s.kind, Kind::Succeed | Kind::Fail { .. })
                || (s.next.is_none() && !matches!(s.kind, Kind::Choice { .. }))
        });
        if !terminal {
            self.diags.push(Diagnostic::error(
                "MISSING_END_STATE",
                "Workflow has no terminal state",
                if loc.is_empty() { "/" } else { loc },
            ));
        }
    }

    fn state(&mut self, v: &Value, loc: &str) -> Option<State> {
        let Some(obj) = v.as_object() else {
            self.diags.push(Diagnostic::schema("A state must be a JSON object", loc));
            return None;
        };
        if obj.get("QueryLanguage").is_some_and(|q| q == "JSONata")
            || JSONATA_FIELDS.iter().any(|f| obj.contains_key(*f))
        {
            self.diags.push(Diagnostic::schema("JSONata is not supported yet: use QueryLanguage JSONPath", loc));
            return None;
        }
        let Some(ty) = str_field(obj, "Type") else {
            self.diags.push(Diagnostic::schema("These fields are required: [Type]", loc));
            return None;
        };
        let Some(fields) = allowed(ty) else {
            self.diags.push(Diagnostic::schema(format!("Unknown state type '{ty}'"), &format!("{loc}/Type")));
            return None;
        };
        for key in obj.keys() {
            if !fields.contains(&key.as_str()) {
                self.diags.push(Diagnostic::schema(
                    format!("The field '{key}' is not supported by Step Functions"),
                    &format!("{loc}/{key}"),
                ));
            }
        }
        let before = self.diags.len();
        let end = obj.get("End").and_then(Value::as_bool).unwrap_or(false);
        let next = str_field(obj, "Next").map(str::to_string);
        if obj.contains_key("Next") && next.is_none() {
            self.diags.push(Diagnostic::schema("Next must be a string", &format!("{loc}/Next")));
        }
        if fields.contains(&"Next") {
            match (next.is_some(), end) {
                (true, true) => {
                    self.diags.push(Diagnostic::schema("Only one of these fields may be specified: [Next, End]", loc))
                }
                (false, false) => {
                    self.diags.push(Diagnostic::schema("One of these fields is required: [Next, End]", loc))
                }
                _ => {}
            }
        }
        let input_path = self.io_path(obj, "InputPath", loc);
        let output_path = self.io_path(obj, "OutputPath", loc);
        let result_path = match obj.get("ResultPath") {
            None => Some("$".to_string()),
            Some(Value::Null) => None,
            Some(Value::String(s)) if super::path::parse_reference(s).is_some() => Some(s.clone()),
            Some(_) => {
                self.diags.push(Diagnostic::schema(
                    "The value for the field 'ResultPath' must be a valid reference path",
                    &format!("{loc}/ResultPath"),
                ));
                None
            }
        };
        for key in ["Parameters", "ResultSelector"] {
            if let Some(t) = obj.get(key) {
                self.template(t, &format!("{loc}/{key}"));
                if key == "ResultSelector" && !t.is_object() {
                    self.diags.push(Diagnostic::schema("ResultSelector must be an object", &format!("{loc}/{key}")));
                }
            }
        }
        if let Some(a) = obj.get("Assign") {
            if !a.is_object() {
                self.diags.push(Diagnostic::schema("Assign must be an object", &format!("{loc}/Assign")));
            } else {
                self.template(a, &format!("{loc}/Assign"));
            }
        }
        let retry = self.retriers(obj.get("Retry"), loc);
        let catch = self.catchers(obj.get("Catch"), loc);
        let kind = match ty {
            "Pass" => Kind::Pass { result: obj.get("Result").cloned() },
            "Task" => {
                let resource = match str_field(obj, "Resource") {
                    Some(r) if r.starts_with("arn:") => r.to_string(),
                    Some(r) => {
                        self.diags.push(Diagnostic::error(
                            "INVALID_RESOURCE",
                            format!("Invalid resource: {r}"),
                            &format!("{loc}/Resource"),
                        ));
                        String::new()
                    }
                    None => {
                        self.diags.push(Diagnostic::schema("These fields are required: [Resource]", loc));
                        String::new()
                    }
                };
                // Credentials (the role a Task assumes) is a payload template like Parameters.
                match obj.get("Credentials") {
                    None => {}
                    Some(c @ Value::Object(_)) => self.template(c, &format!("{loc}/Credentials")),
                    Some(_) => self.diags.push(Diagnostic::schema(
                        "The value for the field 'Credentials' must be an OBJECT",
                        &format!("{loc}/Credentials"),
                    )),
                }
                Kind::Task {
                    resource,
                    timeout: self.number_or(obj, "TimeoutSeconds", loc),
                    heartbeat: self.number_or(obj, "HeartbeatSeconds", loc),
                }
            }
            "Choice" => {
                let mut choices = Vec::new();
                match obj.get("Choices").and_then(Value::as_array) {
                    Some(items) if !items.is_empty() => {
                        for (i, c) in items.iter().enumerate() {
                            let cloc = format!("{loc}/Choices[{i}]");
                            if let Some(rule) = choice::parse_rule(c, &cloc, true, &mut self.diags) {
                                let next = str_field(c.as_object()?, "Next").unwrap_or_default().to_string();
                                choices.push(ChoiceBranch { rule, next, assign: c.get("Assign").cloned() });
                            }
                        }
                    }
                    _ => self.diags.push(Diagnostic::schema("These fields are required: [Choices]", loc)),
                }
                Kind::Choice { choices, default: str_field(obj, "Default").map(str::to_string) }
            }
            "Wait" => {
                let specs: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
                    .into_iter()
                    .filter(|k| obj.contains_key(*k))
                    .collect();
                if specs.len() != 1 {
                    self.diags.push(Diagnostic::schema(
                        "Exactly one of these fields is required: [Seconds, SecondsPath, Timestamp, TimestampPath]",
                        loc,
                    ));
                    return None;
                }
                let v = &obj[specs[0]];
                let w = match specs[0] {
                    "Seconds" => v.as_u64().map(Wait::Seconds),
                    "Timestamp" => {
                        v.as_str().filter(|s| choice::parse_timestamp(s).is_some()).map(|s| Wait::Timestamp(s.into()))
                    }
                    "SecondsPath" => v.as_str().filter(|s| s.starts_with('$')).map(|s| Wait::SecondsPath(s.into())),
                    _ => v.as_str().filter(|s| s.starts_with('$')).map(|s| Wait::TimestampPath(s.into())),
                };
                match w {
                    Some(w) => Kind::Wait(w),
                    None => {
                        self.diags.push(Diagnostic::schema(
                            format!("The value of the field '{}' is invalid", specs[0]),
                            &format!("{loc}/{}", specs[0]),
                        ));
                        return None;
                    }
                }
            }
            "Succeed" => Kind::Succeed,
            "Fail" => Kind::Fail { error: self.string_or(obj, "Error", loc), cause: self.string_or(obj, "Cause", loc) },
            "Parallel" => {
                let mut branches = Vec::new();
                match obj.get("Branches").and_then(Value::as_array) {
                    Some(items) if !items.is_empty() => {
                        for (i, b) in items.iter().enumerate() {
                            match b.as_object() {
                                Some(bo) => branches.push(self.machine(bo, &format!("{loc}/Branches[{i}]"))),
                                None => self.diags.push(Diagnostic::schema(
                                    "A branch must be an object",
                                    &format!("{loc}/Branches[{i}]"),
                                )),
                            }
                        }
                    }
                    _ => self.diags.push(Diagnostic::schema("These fields are required: [Branches]", loc)),
                }
                Kind::Parallel { branches }
            }
            "Map" => {
                let (proc_key, proc) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
                    (Some(p), None) => ("ItemProcessor", p),
                    (None, Some(p)) => ("Iterator", p),
                    (Some(_), Some(_)) => {
                        self.diags.push(Diagnostic::schema(
                            "Only one of these fields may be specified: [ItemProcessor, Iterator]",
                            loc,
                        ));
                        return None;
                    }
                    (None, None) => {
                        self.diags.push(Diagnostic::schema("These fields are required: [ItemProcessor]", loc));
                        return None;
                    }
                };
                let Some(po) = proc.as_object() else {
                    self.diags
                        .push(Diagnostic::schema("ItemProcessor must be an object", &format!("{loc}/{proc_key}")));
                    return None;
                };
                let distributed = po
                    .get("ProcessorConfig")
                    .and_then(|c| c.get("Mode"))
                    .and_then(Value::as_str)
                    .is_some_and(|m| m == "DISTRIBUTED");
                if obj.contains_key("ItemReader") || obj.contains_key("ResultWriter") || obj.contains_key("ItemBatcher")
                {
                    self.diags.push(Diagnostic::schema(
                        "ItemReader, ItemBatcher and ResultWriter are not supported by the local engine",
                        loc,
                    ));
                }
                let mut inner = po.clone();
                inner.remove("ProcessorConfig");
                let processor = self.machine(&inner, &format!("{loc}/{proc_key}"));
                if obj.contains_key("ItemSelector") && obj.contains_key("Parameters") {
                    self.diags.push(Diagnostic::schema(
                        "Only one of these fields may be specified: [ItemSelector, Parameters]",
                        loc,
                    ));
                }
                if let Some(t) = obj.get("ItemSelector") {
                    self.template(t, &format!("{loc}/ItemSelector"));
                }
                let items_path = match obj.get("ItemsPath") {
                    None => None,
                    Some(Value::String(s)) if s.starts_with('$') => Some(s.clone()),
                    Some(_) => {
                        self.diags.push(Diagnostic::schema(
                            "ItemsPath must be a valid JSONPath",
                            &format!("{loc}/ItemsPath"),
                        ));
                        None
                    }
                };
                let tolerated_percentage = self.number_or(obj, "ToleratedFailurePercentage", loc);
                if let Some(NumberOr::Literal(v)) = &tolerated_percentage
                    && !v.as_f64().is_some_and(|p| (0.0..=100.0).contains(&p))
                {
                    self.diags.push(Diagnostic::schema(
                        "ToleratedFailurePercentage must be between 0 and 100",
                        &format!("{loc}/ToleratedFailurePercentage"),
                    ));
                }
                Kind::Map {
                    processor,
                    items_path,
                    item_selector: obj.get("ItemSelector").or_else(|| obj.get("Parameters")).cloned(),
                    max_concurrency: self.number_or(obj, "MaxConcurrency", loc),
                    tolerated_count: self.number_or(obj, "ToleratedFailureCount", loc),
                    tolerated_percentage,
                    distributed,
                }
            }
            _ => return None,
        };
        if self.diags.len() > before {
            return None;
        }
        // Map's Parameters is its legacy ItemSelector, applied per item, not to the state input.
        let parameters = if ty == "Map" { None } else { obj.get("Parameters").cloned() };
        Some(State {
            input_path,
            output_path,
            parameters,
            result_selector: obj.get("ResultSelector").cloned(),
            result_path,
            next,
            retry,
            catch,
            assign: obj.get("Assign").cloned(),
            kind,
            reads_context: mentions_context(v),
        })
    }

    fn io_path(&mut self, obj: &Map<String, Value>, key: &str, loc: &str) -> IoPath {
        match obj.get(key) {
            None => IoPath::Default,
            Some(Value::Null) => IoPath::Null,
            Some(Value::String(s)) if s.starts_with('$') => IoPath::Path(s.clone()),
            Some(_) => {
                self.diags.push(Diagnostic::schema(
                    format!("The value for the field '{key}' must be a valid JSONPath"),
                    &format!("{loc}/{key}"),
                ));
                IoPath::Default
            }
        }
    }

    /// Checks a payload template: `.$` values must be paths or intrinsic calls, and a key
    /// must not appear both with and without `.$`.
    fn template(&mut self, t: &Value, loc: &str) {
        let mut stack = vec![(t, loc.to_string())];
        while let Some((v, l)) = stack.pop() {
            match v {
                Value::Object(o) => {
                    for (k, x) in o {
                        if let Some(base) = k.strip_suffix(".$") {
                            if o.contains_key(base) {
                                self.diags.push(Diagnostic::schema(
                                    format!("The field '{base}' is specified more than once"),
                                    &format!("{l}/{k}"),
                                ));
                            }
                            let ok = match x.as_str() {
                                Some(s) if s.trim_start().starts_with("States.") => {
                                    super::intrinsic::parse(s.trim()).is_ok()
                                }
                                Some(s) => s.starts_with('$'),
                                None => false,
                            };
                            if !ok {
                                self.diags.push(Diagnostic::schema(
                                    format!("The value for the field '{k}' must be a valid JSONPath or a valid intrinsic function call"),
                                    &format!("{l}/{k}"),
                                ));
                            }
                        } else {
                            stack.push((x, format!("{l}/{k}")));
                        }
                    }
                }
                Value::Array(a) => stack.extend(a.iter().enumerate().map(|(i, x)| (x, format!("{l}[{i}]")))),
                _ => {}
            }
        }
    }

    fn number_or(&mut self, obj: &Map<String, Value>, key: &str, loc: &str) -> Option<NumberOr> {
        let path_key = format!("{key}Path");
        match (obj.get(key), obj.get(&path_key)) {
            (Some(_), Some(_)) => {
                self.diags.push(Diagnostic::schema(
                    format!("Only one of these fields may be specified: [{key}, {path_key}]"),
                    loc,
                ));
                None
            }
            (Some(v), None) => {
                if !v.as_f64().is_some_and(|n| n >= 0.0) {
                    self.diags.push(Diagnostic::schema(
                        format!("The value of the field '{key}' must be a non-negative number"),
                        &format!("{loc}/{key}"),
                    ));
                }
                Some(NumberOr::Literal(v.clone()))
            }
            (None, Some(p)) => match p.as_str() {
                Some(s) if s.starts_with('$') => Some(NumberOr::Path(s.to_string())),
                _ => {
                    self.diags.push(Diagnostic::schema(
                        format!("The value for the field '{path_key}' must be a valid JSONPath"),
                        &format!("{loc}/{path_key}"),
                    ));
                    None
                }
            },
            (None, None) => None,
        }
    }

    fn string_or(&mut self, obj: &Map<String, Value>, key: &str, loc: &str) -> Option<StringOr> {
        let path_key = format!("{key}Path");
        match (obj.get(key), obj.get(&path_key)) {
            (Some(_), Some(_)) => {
                self.diags.push(Diagnostic::schema(
                    format!("Only one of these fields may be specified: [{key}, {path_key}]"),
                    loc,
                ));
                None
            }
            (Some(Value::String(s)), None) => Some(StringOr::Literal(s.clone())),
            (Some(_), None) => {
                self.diags.push(Diagnostic::schema(
                    format!("The value of the field '{key}' must be a string"),
                    &format!("{loc}/{key}"),
                ));
                None
            }
            (None, Some(Value::String(s))) if s.starts_with('$') || s.starts_with("States.") => {
                Some(StringOr::Path(s.clone()))
            }
            (None, Some(_)) => {
                self.diags.push(Diagnostic::schema(
                    format!("The value for the field '{path_key}' must be a valid JSONPath"),
                    &format!("{loc}/{path_key}"),
                ));
                None
            }
            (None, None) => None,
        }
    }

    fn error_equals(&mut self, v: Option<&Value>, loc: &str) -> Vec<String> {
        match v.and_then(Value::as_array) {
            Some(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
                let out: Vec<String> = items.iter().filter_map(|s| s.as_str().map(str::to_string)).collect();
                if out.iter().any(|e| e == "States.ALL") && out.len() > 1 {
                    self.diags.push(Diagnostic::schema(
                        "States.ALL must appear alone in ErrorEquals",
                        &format!("{loc}/ErrorEquals"),
                    ));
                }
                out
            }
            _ => {
                self.diags.push(Diagnostic::schema(
                    "ErrorEquals must be a non-empty array of strings",
                    &format!("{loc}/ErrorEquals"),
                ));
                Vec::new()
            }
        }
    }

    fn retriers(&mut self, v: Option<&Value>, loc: &str) -> Vec<Retrier> {
        let Some(v) = v else { return Vec::new() };
        let Some(items) = v.as_array() else {
            self.diags.push(Diagnostic::schema("Retry must be an array", &format!("{loc}/Retry")));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, r) in items.iter().enumerate() {
            let rloc = format!("{loc}/Retry[{i}]");
            let Some(o) = r.as_object() else {
                self.diags.push(Diagnostic::schema("A retrier must be an object", &rloc));
                continue;
            };
            for k in o.keys() {
                if !matches!(
                    k.as_str(),
                    "ErrorEquals"
                        | "IntervalSeconds"
                        | "MaxAttempts"
                        | "BackoffRate"
                        | "MaxDelaySeconds"
                        | "JitterStrategy"
                        | "Comment"
                ) {
                    self.diags.push(Diagnostic::schema(
                        format!("The field '{k}' is not supported by Step Functions"),
                        &format!("{rloc}/{k}"),
                    ));
                }
            }
            let error_equals = self.error_equals(o.get("ErrorEquals"), &rloc);
            let num = |k: &str| o.get(k).and_then(Value::as_f64);
            let interval_seconds = num("IntervalSeconds").unwrap_or(1.0);
            let max_attempts = num("MaxAttempts").unwrap_or(3.0);
            let backoff_rate = num("BackoffRate").unwrap_or(2.0);
            if interval_seconds < 1.0 || max_attempts < 0.0 || backoff_rate < 1.0 {
                self.diags.push(Diagnostic::schema(
                    "IntervalSeconds must be >= 1, MaxAttempts >= 0 and BackoffRate >= 1.0",
                    &rloc,
                ));
            }
            let full_jitter = match o.get("JitterStrategy").and_then(Value::as_str) {
                None | Some("NONE") => false,
                Some("FULL") => true,
                Some(_) => {
                    self.diags.push(Diagnostic::schema(
                        "JitterStrategy must be FULL or NONE",
                        &format!("{rloc}/JitterStrategy"),
                    ));
                    false
                }
            };
            out.push(Retrier {
                error_equals,
                interval_seconds,
                max_attempts: max_attempts.min(99_999_999.0) as u32,
                backoff_rate,
                max_delay_seconds: num("MaxDelaySeconds"),
                full_jitter,
            });
        }
        out
    }

    fn catchers(&mut self, v: Option<&Value>, loc: &str) -> Vec<Catcher> {
        let Some(v) = v else { return Vec::new() };
        let Some(items) = v.as_array() else {
            self.diags.push(Diagnostic::schema("Catch must be an array", &format!("{loc}/Catch")));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, c) in items.iter().enumerate() {
            let cloc = format!("{loc}/Catch[{i}]");
            let Some(o) = c.as_object() else {
                self.diags.push(Diagnostic::schema("A catcher must be an object", &cloc));
                continue;
            };
            for k in o.keys() {
                if !matches!(k.as_str(), "ErrorEquals" | "ResultPath" | "Next" | "Comment" | "Assign") {
                    self.diags.push(Diagnostic::schema(
                        format!("The field '{k}' is not supported by Step Functions"),
                        &format!("{cloc}/{k}"),
                    ));
                }
            }
            let error_equals = self.error_equals(o.get("ErrorEquals"), &cloc);
            let Some(next) = str_field(o, "Next") else {
                self.diags.push(Diagnostic::schema("These fields are required: [Next]", &cloc));
                continue;
            };
            let result_path = match o.get("ResultPath") {
                None => Some("$".to_string()),
                Some(Value::Null) => None,
                Some(Value::String(s)) if super::path::parse_reference(s).is_some() => Some(s.clone()),
                Some(_) => {
                    self.diags
                        .push(Diagnostic::schema("ResultPath must be a reference path", &format!("{cloc}/ResultPath")));
                    None
                }
            };
            out.push(Catcher { error_equals, result_path, next: next.to_string(), assign: o.get("Assign").cloned() });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(def: &str) -> Vec<(String, String)> {
        Definition::validate(def).into_iter().map(|d| (d.code, d.location.unwrap_or_default())).collect()
    }

    #[test]
    fn valid_definition_parses() {
        let def = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Succeed"}}}"#;
        assert!(Definition::parse(def).is_ok());
    }

    #[test]
    fn missing_next_target_is_reported_at_its_field() {
        let def = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Nope"}}}"#;
        assert!(codes(def).contains(&("MISSING_TRANSITION_TARGET".into(), "/States/A/Next".into())));
    }

    #[test]
    fn missing_start_at_is_a_schema_error() {
        let def = r#"{"States":{"A":{"Type":"Pass","End":true}}}"#;
        assert_eq!(codes(def), vec![("SCHEMA_VALIDATION_FAILED".into(), "/".into())]);
    }

    #[test]
    fn unknown_field_is_reported() {
        let def = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true,"Bogus":1}}}"#;
        assert_eq!(codes(def), vec![("SCHEMA_VALIDATION_FAILED".into(), "/States/A/Bogus".into())]);
    }

    #[test]
    fn unreachable_state_is_reported() {
        let def = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true},"B":{"Type":"Pass","End":true}}}"#;
        assert_eq!(codes(def), vec![("UNREACHABLE_STATE".into(), "/States/B".into())]);
    }

    #[test]
    fn choice_without_choices_is_reported() {
        let def = r#"{"StartAt":"A","States":{"A":{"Type":"Choice","Default":"B"},"B":{"Type":"Succeed"}}}"#;
        assert_eq!(codes(def), vec![("SCHEMA_VALIDATION_FAILED".into(), "/States/A".into())]);
    }

    #[test]
    fn jsonata_is_rejected_clearly() {
        let diags = Definition::validate(
            r#"{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#,
        );
        assert!(diags[0].message.contains("JSONata is not supported yet"));
        let diags = Definition::validate(
            r#"{"StartAt":"A","States":{"A":{"Type":"Pass","QueryLanguage":"JSONata","End":true}}}"#,
        );
        assert!(diags[0].message.contains("JSONata is not supported yet"));
    }

    #[test]
    fn invalid_json_and_oversize_and_deep_nesting_are_diagnosed() {
        assert_eq!(codes("{"), vec![("INVALID_JSON_DESCRIPTION".into(), "/".into())]);
        let big = format!(
            r#"{{"Comment":"{}","StartAt":"A","States":{{"A":{{"Type":"Succeed"}}}}}}"#,
            "x".repeat(super::super::MAX_DEFINITION_BYTES)
        );
        assert_eq!(codes(&big).len(), 1);
        let deep = format!(
            r#"{{"StartAt":"A","States":{{"A":{{"Type":"Pass","Result":{}1{},"End":true}}}}}}"#,
            "[".repeat(120),
            "]".repeat(120)
        );
        assert_eq!(codes(&deep).len(), 1);
    }

    #[test]
    fn next_into_another_branch_is_missing() {
        let def = r#"{"StartAt":"P","States":{"P":{"Type":"Parallel","Next":"F","Branches":[{"StartAt":"X","States":{"X":{"Type":"Pass","Next":"F"}}}]},"F":{"Type":"Succeed"}}}"#;
        assert!(
            codes(def).contains(&("MISSING_TRANSITION_TARGET".into(), "/States/P/Branches[0]/States/X/Next".into()))
        );
    }

    #[test]
    fn corpus_shapes_of_bad_fields() {
        let both = r#"{"StartAt":"A","States":{"A":{"Type":"Fail","Cause":"c","CausePath":"$.c"}}}"#;
        assert!(!codes(both).is_empty());
        let wait = r#"{"StartAt":"A","States":{"A":{"Type":"Wait","Seconds":1,"SecondsPath":"$.s","End":true}}}"#;
        assert!(!codes(wait).is_empty());
        let dup = r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"a":1,"a.$":"$.a"},"End":true}}}"#;
        assert!(!codes(dup).is_empty());
    }

    #[test]
    fn task_credentials_must_be_a_payload_template() {
        let def = |c: &str| {
            format!(
                r#"{{"StartAt":"X","States":{{"X":{{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Credentials":{c},"End":true}}}}}}"#
            )
        };
        assert!(Definition::parse(&def(r#"{"RoleArn.$":"$.role"}"#)).is_ok());
        assert!(Definition::parse(&def("null")).is_err());
        assert!(Definition::parse(&def(r#"{"RoleArn.$":"not a path"}"#)).is_err());
    }
}

//! JSONPath as ASL uses it. Reference paths (`$.a.b`, `$['a b'][0]`) are hand-parsed: they
//! must name exactly one node and are the only paths ResultPath may write to. Full paths
//! (wildcards, filters, slices, `..`) go through `serde_json_path` and yield the list of
//! matches, as AWS's Jayway engine does. `$$` addresses the context object and `$name` a
//! variable set by `Assign`.

use serde_json::{Map, Value};

use super::Failure;
use super::intrinsic;

/// One step of a reference path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Parses a reference path (`$`, `$.a.b`, `$['a']`, `$.a[0]`) into its segments.
pub fn parse_reference(path: &str) -> Option<Vec<Segment>> {
    let rest = path.strip_prefix('$')?;
    parse_segments(rest)
}

fn parse_segments(mut rest: &str) -> Option<Vec<Segment>> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            if key.is_empty() || key.contains(['*', '(', ')', ']', '@', '?', ',', ':', '\'', '"', ' ']) {
                return None;
            }
            out.push(Segment::Key(key.to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            if let Some(q) = r.strip_prefix('\'').or_else(|| r.strip_prefix('"')) {
                let quote = if r.starts_with('\'') { '\'' } else { '"' };
                let end = q.find(quote)?;
                let key = &q[..end];
                let after = q[end + 1..].strip_prefix(']')?;
                out.push(Segment::Key(key.to_string()));
                rest = after;
            } else {
                let end = r.find(']')?;
                let idx: usize = r[..end].trim().parse().ok()?;
                out.push(Segment::Index(idx));
                rest = &r[end + 1..];
            }
        } else {
            return None;
        }
    }
    Some(out)
}

/// Renders segments the way Jayway prints a path: `$['a']['b'][0]`.
pub fn render_segments(segs: &[Segment]) -> String {
    let mut s = String::from("$");
    for seg in segs {
        match seg {
            Segment::Key(k) => s.push_str(&format!("['{k}']")),
            Segment::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn walk<'a>(value: &'a Value, segs: &[Segment]) -> Option<&'a Value> {
    let mut cur = value;
    for seg in segs {
        cur = match (seg, cur) {
            (Segment::Key(k), Value::Object(o)) => o.get(k)?,
            (Segment::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Where a path reads from.
pub struct Scope<'a> {
    pub input: &'a Value,
    pub context: &'a Value,
    pub variables: &'a Map<String, Value>,
    /// State of the deterministic generator behind MathRandom and UUID.
    pub seed: &'a std::cell::Cell<u64>,
}

/// Why a path selected nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// The path is not valid JSONPath.
    Invalid(String),
    /// A definite path matched nothing (Jayway prints the normalised path).
    NotFound(String),
    /// `$name` names no variable.
    UnknownVariable(String),
    /// The path's `..` and unions would visit more nodes of this value than
    /// [`MAX_PATH_VISITS`]; the text says so in a sentence.
    TooCostly(String),
}

/// The most filter expressions one JSONPath may hold (see `query`).
pub const MAX_PATH_FILTERS: usize = 8;

/// The most nodes a full JSONPath may be expected to visit. `serde_json_path` materialises
/// every match of every segment, and each `..` after the first multiplies the list by the
/// size of the document (`$..*..*..*` on 100 nodes is 10^6 matches, a few more `..*` and it
/// never ends): the fuzzer found such a path hanging the interpreter. 2^25 is about half a
/// second of work and lets a single deep scan cover any payload AWS accepts.
pub const MAX_PATH_VISITS: u128 = 1 << 25;

/// Whether a path has to return a list (wildcards, filters, slices, unions, deep scan).
pub fn is_indefinite(path: &str) -> bool {
    let mut in_quote = None;
    for c in path.chars() {
        match in_quote {
            Some(q) if c == q => in_quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => in_quote = Some(c),
                '*' | '?' | ':' | ',' => return true,
                _ => {}
            },
        }
    }
    path.contains("..")
}

/// Evaluates a JSONPath (reference or full) on `value`. Definite paths return the one node;
/// indefinite ones return an array of their matches.
pub fn query(value: &Value, path: &str) -> Result<Value, PathError> {
    if let Some(segs) = parse_reference(path) {
        return walk(value, &segs).cloned().ok_or_else(|| PathError::NotFound(render_segments(&segs)));
    }
    // serde_json_path's parser backtracks on each filter it cannot close: twenty `[?(`
    // left open took libFuzzer's 30 s (tests/fuzz/README.md). No workflow needs more.
    if path.matches("[?").count() > MAX_PATH_FILTERS {
        return Err(PathError::Invalid(format!(
            "{path}: more than {MAX_PATH_FILTERS} filter expressions ('[?') in one JSONPath"
        )));
    }
    let compiled = serde_json_path::JsonPath::parse(&normalise_full_path(path))
        .map_err(|e| PathError::Invalid(format!("{path}: {e}")))?;
    let bound = visit_bound(value, path);
    if bound > MAX_PATH_VISITS {
        return Err(PathError::TooCostly(format!(
            "The JSONPath '{path}' would visit more than {MAX_PATH_VISITS} nodes of a value of {} nodes: \
             its deep scans ('..') and unions multiply; use at most one '..' on large data",
            node_count(value, u128::MAX)
        )));
    }
    let nodes = compiled.query(value).all();
    if is_indefinite(path) {
        Ok(Value::Array(nodes.into_iter().cloned().collect()))
    } else {
        match nodes.first() {
            Some(v) if nodes.len() == 1 => Ok((*v).clone()),
            _ => Err(PathError::NotFound(path.to_string())),
        }
    }
}

/// An upper bound on the nodes evaluating the full path `path` on `value` visits, from
/// the path's text: the document's size once per `..` (at least once), once more per filter
/// that itself deep-scans, times the number of selectors of each union. Hand-written because
/// `serde_json_path` keeps its parsed segments private and offers no evaluation budget.
fn visit_bound(value: &Value, path: &str) -> u128 {
    let n = node_count(value, MAX_PATH_VISITS + 1);
    let (mut scans, mut factor) = (0u32, 1u128);
    let (mut quote, mut depth) = (None, 0usize);
    // Per open bracket: its selector count and whether it is a filter that deep-scans.
    let mut brackets: Vec<(u128, bool, bool)> = Vec::new();
    let bytes = path.as_bytes();
    for (i, &c) in bytes.iter().enumerate() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            b'\'' | b'"' => quote = Some(c),
            b'.' if bytes.get(i + 1) == Some(&b'.') && (i == 0 || bytes[i - 1] != b'.') => {
                scans += 1;
                if let Some(b) = brackets.last_mut() {
                    b.2 = b.1;
                }
            }
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b'[' => brackets.push((1, bytes.get(i + 1) == Some(&b'?'), false)),
            b',' if depth == 0 => {
                if let Some(b) = brackets.last_mut() {
                    b.0 += 1;
                }
            }
            b']' => {
                if let Some((selectors, _, filter_scans)) = brackets.pop() {
                    factor = factor.saturating_mul(selectors);
                    if filter_scans {
                        factor = factor.saturating_mul(n.max(1));
                    }
                }
            }
            _ => {}
        }
    }
    let mut bound = factor;
    for _ in 0..scans.max(1) {
        bound = bound.saturating_mul(n.max(1));
    }
    bound
}

/// Nodes in `value` (itself included), counted iteratively and no further than `cap`.
fn node_count(value: &Value, cap: u128) -> u128 {
    let mut count = 0u128;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        count += 1;
        if count >= cap {
            return cap;
        }
        match v {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    count
}

/// Jayway accepts `[?(@.a)]` and `.length()` spellings RFC 9535 does not; translate the
/// common ones (parenthesised filters are already valid RFC 9535).
fn normalise_full_path(path: &str) -> String {
    path.to_string()
}

/// Reads a path in a scope: `$$...` from the context object, `$name...` from variables,
/// `$...` from the input.
pub fn query_scope(scope: &Scope<'_>, path: &str) -> Result<Value, PathError> {
    if let Some(rest) = path.strip_prefix("$$") {
        return query(scope.context, &format!("${rest}"));
    }
    if let Some((name, rest)) = split_variable(path) {
        let var = scope.variables.get(name).ok_or_else(|| PathError::UnknownVariable(name.to_string()))?;
        return query(var, &format!("${rest}"));
    }
    query(scope.input, path)
}

/// `$name.rest` -> (`name`, `.rest`) when the path names a variable.
pub fn split_variable(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix('$')?;
    let first = rest.chars().next()?;
    if !(first.is_alphabetic() || first == '_') {
        return None;
    }
    let end = rest.find(['.', '[']).unwrap_or(rest.len());
    Some((&rest[..end], &rest[end..]))
}

/// Whether a string is a path ASL accepts in a `Path` field (`$...`).
pub fn is_path(s: &str) -> bool {
    s.starts_with('$')
}

/// Applies ResultPath: `None` discards the result, `$` replaces the input, a reference path
/// writes the result into a copy of the input, creating missing objects on the way.
pub fn apply_result_path(input: &Value, result_path: Option<&str>, result: Value) -> Result<Value, Failure> {
    let Some(path) = result_path else { return Ok(input.clone()) };
    let segs = parse_reference(path)
        .ok_or_else(|| Failure::runtime(format!("Invalid ResultPath '{path}': not a reference path")))?;
    if segs.is_empty() {
        return Ok(result);
    }
    let mut out = input.clone();
    let fail = || {
        Failure::new(
            "States.ResultPathMatchFailure",
            format!("Unable to apply ResultPath \"{path}\" to input \"{}\"", super::to_json_text(input)),
        )
    };
    let mut cur = &mut out;
    let last = segs.len() - 1;
    for (i, seg) in segs.iter().enumerate() {
        match seg {
            Segment::Key(k) => {
                let obj = cur.as_object_mut().ok_or_else(fail)?;
                if i == last {
                    obj.insert(k.clone(), result);
                    return Ok(out);
                }
                cur = obj.entry(k.clone()).or_insert_with(|| Value::Object(Map::new()));
            }
            Segment::Index(idx) => {
                let arr = cur.as_array_mut().ok_or_else(fail)?;
                let slot = arr.get_mut(*idx).ok_or_else(fail)?;
                if i == last {
                    *slot = result;
                    return Ok(out);
                }
                cur = slot;
            }
        }
    }
    Ok(out)
}

/// InputPath/OutputPath: absent means `$`, `null` means `{}`.
pub fn apply_io_path(value: &Value, path: &IoPath, scope: &Scope<'_>) -> Result<Value, Failure> {
    match path {
        IoPath::Default => Ok(value.clone()),
        IoPath::Null => Ok(Value::Object(Map::new())),
        IoPath::Path(p) => {
            let s = Scope { input: value, context: scope.context, variables: scope.variables, seed: scope.seed };
            query_scope(&s, p).map_err(|e| match e {
                PathError::NotFound(norm) | PathError::Invalid(norm) => {
                    Failure::runtime(format!("Invalid path '{p}' : No results for path: {norm}"))
                }
                PathError::UnknownVariable(v) => {
                    Failure::runtime(format!("Invalid path '{p}' : undefined variable '{v}'"))
                }
                PathError::TooCostly(why) => Failure::runtime(why),
            })
        }
    }
}

/// An InputPath or OutputPath as written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum IoPath {
    Default,
    Null,
    Path(String),
}

/// Evaluates a payload template (Parameters, ResultSelector, ItemSelector, Assign): keys
/// ending in `.$` take the value of a path, context path or intrinsic function.
pub fn eval_template(template: &Value, scope: &Scope<'_>) -> Result<Value, Failure> {
    match template {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                if let Some(key) = k.strip_suffix(".$") {
                    let expr = v.as_str().ok_or_else(|| {
                        Failure::runtime(format!(
                            "The value for the field '{k}' must be a valid JSONPath or a valid intrinsic function call"
                        ))
                    })?;
                    out.insert(key.to_string(), eval_expression(expr, k, scope)?);
                } else {
                    out.insert(k.clone(), eval_template(v, scope)?);
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            items.iter().map(|v| eval_template(v, scope)).collect::<Result<Vec<_>, _>>().map(Value::Array)
        }
        other => Ok(other.clone()),
    }
}

/// One `.$` value: an intrinsic function call or a path.
pub fn eval_expression(expr: &str, field: &str, scope: &Scope<'_>) -> Result<Value, Failure> {
    let trimmed = expr.trim();
    if trimmed.starts_with("States.") {
        return intrinsic::evaluate(trimmed, scope);
    }
    query_scope(scope, trimmed).map_err(|e| match e {
        PathError::TooCostly(why) => Failure::runtime(why),
        PathError::UnknownVariable(_) | PathError::NotFound(_) | PathError::Invalid(_) => {
            let shown = if trimmed.starts_with("$$") { scope.context } else { scope.input };
            Failure::runtime(format!(
                "The JSONPath '{trimmed}' specified for the field '{field}' could not be found in the input '{}'",
                super::to_json_text(shown)
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope<'a>(input: &'a Value, ctx: &'a Value, vars: &'a Map<String, Value>) -> Scope<'a> {
        thread_local!(static SEED: &'static std::cell::Cell<u64> = Box::leak(Box::new(std::cell::Cell::new(1))));
        Scope { input, context: ctx, variables: vars, seed: SEED.with(|s| *s) }
    }

    #[test]
    fn repeated_deep_scans_are_refused_before_they_run_away() {
        // 100-node document: `$..*` is fine, nine `..*` would be 10^18 matches.
        let input = json!({"items": (0..32).map(|i| json!({"n": i, "s": "x"})).collect::<Vec<_>>()});
        assert!(matches!(query(&input, "$..n"), Ok(Value::Array(a)) if a.len() == 32));
        assert!(matches!(query(&input, "$..*..n"), Ok(Value::Array(_))), "two scans of 100 nodes are cheap");
        let runaway = "$..*..*..*..*..*..*..*..*..*";
        let Err(PathError::TooCostly(why)) = query(&input, runaway) else { panic!("refused") };
        assert!(why.contains(runaway) && why.contains("'..'"), "{why}");
        // A filter that deep-scans counts once more; quoted dots are names, not scans.
        assert!(visit_bound(&input, "$[?(@..n)]") > visit_bound(&input, "$[?(@.n)]"));
        assert_eq!(visit_bound(&input, "$['a..b']"), visit_bound(&input, "$['ab']"));
        assert_eq!(visit_bound(&input, "$.items[0,1,2]"), 3 * visit_bound(&input, "$.items[0]"));
        // The failure a state reports names the path.
        let (ctx, vars) = (json!({}), Map::new());
        let failure = eval_expression(runaway, "x.$", &scope(&input, &ctx, &vars)).expect_err("refused");
        assert_eq!(failure.error, "States.Runtime");
    }

    #[test]
    fn reference_paths_parse_dots_brackets_and_indexes() {
        assert_eq!(
            parse_reference("$.a['b c'][2]"),
            Some(vec![Segment::Key("a".into()), Segment::Key("b c".into()), Segment::Index(2)])
        );
        assert_eq!(parse_reference("$"), Some(vec![]));
        assert_eq!(parse_reference("$.a[*]"), None);
        assert_eq!(parse_reference("a.b"), None);
    }

    #[test]
    fn definite_path_missing_is_not_found_with_jayway_rendering() {
        let v = json!({"a": 1});
        assert_eq!(query(&v, "$.b"), Err(PathError::NotFound("$['b']".into())));
    }

    #[test]
    fn indefinite_paths_return_arrays() {
        let v = json!({"items": [{"n": 1}, {"n": 5}, {"n": 9}]});
        assert_eq!(query(&v, "$.items[*].n").ok(), Some(json!([1, 5, 9])));
        assert_eq!(query(&v, "$.items[?(@.n > 2)].n").ok(), Some(json!([5, 9])));
        assert_eq!(query(&v, "$..n").ok(), Some(json!([1, 5, 9])));
        assert_eq!(query(&v, "$.items[1:].n").ok(), Some(json!([5, 9])));
    }

    #[test]
    fn result_path_writes_creating_objects_and_null_discards() {
        let input = json!({"a": {"x": 1}});
        assert_eq!(
            apply_result_path(&input, Some("$.a.b.c"), json!(2)).ok(),
            Some(json!({"a": {"x": 1, "b": {"c": 2}}}))
        );
        assert_eq!(apply_result_path(&input, Some("$"), json!(2)).ok(), Some(json!(2)));
        assert_eq!(apply_result_path(&input, None, json!(2)).ok(), Some(input.clone()));
        let err = apply_result_path(&json!("s"), Some("$.a"), json!(1)).err().map(|f| f.error);
        assert_eq!(err.as_deref(), Some("States.ResultPathMatchFailure"));
    }

    #[test]
    fn templates_resolve_paths_context_and_intrinsics() {
        let input = json!({"name": "x", "n": [1, 2]});
        let ctx = json!({"Execution": {"Id": "arn"}});
        let vars = Map::new();
        let t = json!({"a.$": "$.name", "b": {"c.$": "$$.Execution.Id"}, "d.$": "States.ArrayLength($.n)", "e": [1]});
        assert_eq!(
            eval_template(&t, &scope(&input, &ctx, &vars)).ok(),
            Some(json!({"a": "x", "b": {"c": "arn"}, "d": 2, "e": [1]}))
        );
        let missing = eval_template(&json!({"v.$": "$.nope"}), &scope(&input, &ctx, &vars)).err();
        assert_eq!(missing.map(|f| f.error).as_deref(), Some("States.Runtime"));
    }

    #[test]
    fn variables_are_read_with_dollar_name() {
        let input = json!({});
        let ctx = json!({});
        let mut vars = Map::new();
        vars.insert("x".into(), json!({"y": [7]}));
        assert_eq!(query_scope(&scope(&input, &ctx, &vars), "$x.y[0]").ok(), Some(json!(7)));
    }
}

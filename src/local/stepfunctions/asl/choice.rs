//! Choice rules: parsing (with validation diagnostics) and evaluation of every comparison
//! operator, their `...Path` forms, `And`/`Or`/`Not` and the `Is...` type tests.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Failure;
use super::definition::Diagnostic;
use super::path::{PathError, Scope, query_scope};

/// A boolean expression of a Choice state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    /// `Variable` compared by `op`; `operand` is a literal, or a path when `op` ends in `Path`.
    Compare {
        variable: String,
        op: String,
        operand: Value,
    },
}

/// The operators that compare `Variable` with a literal (each also has a `...Path` form,
/// except `StringMatches`).
pub const COMPARATORS: &[&str] = &[
    "StringEquals",
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
    "StringMatches",
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
    "BooleanEquals",
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];

fn is_operator(key: &str) -> bool {
    COMPARATORS.contains(&key)
        || key
            .strip_suffix("Path")
            .is_some_and(|b| b != "StringMatches" && !b.starts_with("Is") && COMPARATORS.contains(&b))
}

/// Parses a rule; `top` rules may (and must) carry `Next`, nested ones may not.
pub fn parse_rule(v: &Value, loc: &str, top: bool, diags: &mut Vec<Diagnostic>) -> Option<Rule> {
    let Some(obj) = v.as_object() else {
        diags.push(Diagnostic::schema(format!("Choice rule must be an object at {loc}"), loc));
        return None;
    };
    for key in obj.keys() {
        let known = matches!(key.as_str(), "And" | "Or" | "Not" | "Variable" | "Comment" | "Assign" | "Output")
            || (top && key == "Next")
            || is_operator(key);
        if !known {
            diags.push(Diagnostic::schema(
                format!("The field '{key}' is not supported by Step Functions"),
                &format!("{loc}/{key}"),
            ));
        }
    }
    if top && !obj.contains_key("Next") {
        diags.push(Diagnostic::schema("These fields are required: [Next]".to_string(), loc));
    }
    let ops: Vec<&String> =
        obj.keys().filter(|k| matches!(k.as_str(), "And" | "Or" | "Not") || is_operator(k)).collect();
    if ops.len() != 1 {
        diags.push(Diagnostic::schema(
            "A choice rule must have exactly one comparison operator or And/Or/Not".to_string(),
            loc,
        ));
        return None;
    }
    let op = ops[0].as_str();
    let val = &obj[op];
    match op {
        "And" | "Or" => {
            let Some(items) = val.as_array().filter(|a| !a.is_empty()) else {
                diags.push(Diagnostic::schema(format!("{op} must be a non-empty array"), &format!("{loc}/{op}")));
                return None;
            };
            let rules: Vec<Rule> = items
                .iter()
                .enumerate()
                .filter_map(|(i, r)| parse_rule(r, &format!("{loc}/{op}[{i}]"), false, diags))
                .collect();
            (rules.len() == items.len()).then(|| if op == "And" { Rule::And(rules) } else { Rule::Or(rules) })
        }
        "Not" => parse_rule(val, &format!("{loc}/Not"), false, diags).map(|r| Rule::Not(Box::new(r))),
        _ => {
            let Some(variable) = obj.get("Variable").and_then(Value::as_str) else {
                diags.push(Diagnostic::schema("These fields are required: [Variable]".to_string(), loc));
                return None;
            };
            if !variable.starts_with('$') {
                diags.push(Diagnostic::schema(
                    format!("The value for the field 'Variable' must be a valid JSONPath: {variable}"),
                    &format!("{loc}/Variable"),
                ));
            }
            let ok = if op.ends_with("Path") {
                val.as_str().is_some_and(|s| s.starts_with('$'))
            } else if op.starts_with("String") {
                val.is_string()
            } else if op.starts_with("Numeric") {
                val.is_number()
            } else if op.starts_with("Timestamp") {
                val.as_str().is_some_and(|s| parse_timestamp(s).is_some())
            } else {
                val.is_boolean()
            };
            if !ok {
                diags.push(Diagnostic::schema(
                    format!("The value of the field '{op}' has an invalid type or format"),
                    &format!("{loc}/{op}"),
                ));
                return None;
            }
            Some(Rule::Compare { variable: variable.to_string(), op: op.to_string(), operand: val.clone() })
        }
    }
}

/// RFC 3339 timestamp -> nanoseconds since the epoch.
pub fn parse_timestamp(s: &str) -> Option<i128> {
    // ASL requires the `T` separator and an explicit offset; RFC 3339 parsing also accepts
    // a lowercase `t` and a space, which AWS rejects.
    let b = s.as_bytes();
    if b.len() < 20 || b[10] != b'T' {
        return None;
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp_nanos())
}

/// Evaluates a rule against the state's input.
pub fn evaluate(rule: &Rule, scope: &Scope<'_>) -> Result<bool, Failure> {
    match rule {
        Rule::And(rs) => {
            for r in rs {
                if !evaluate(r, scope)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Rule::Or(rs) => {
            for r in rs {
                if evaluate(r, scope)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Rule::Not(r) => Ok(!evaluate(r, scope)?),
        Rule::Compare { variable, op, operand } => compare(variable, op, operand, scope),
    }
}

fn compare(variable: &str, op: &str, operand: &Value, scope: &Scope<'_>) -> Result<bool, Failure> {
    let value = match query_scope(scope, variable) {
        Ok(v) => Some(v),
        Err(PathError::NotFound(_)) | Err(PathError::UnknownVariable(_)) => None,
        Err(PathError::Invalid(e)) => return Err(Failure::runtime(format!("Invalid path '{variable}': {e}"))),
        Err(PathError::TooCostly(why)) => return Err(Failure::runtime(why)),
    };
    if op == "IsPresent" {
        return Ok(value.is_some() == (operand == &Value::Bool(true)));
    }
    let Some(value) = value else {
        return Err(Failure::runtime(format!(
            "Invalid path '{variable}': The choice state's condition path references an invalid value."
        )));
    };
    let want = operand == &Value::Bool(true);
    match op {
        "IsNull" => return Ok(value.is_null() == want),
        "IsNumeric" => return Ok(value.is_number() == want),
        "IsString" => return Ok(value.is_string() == want),
        "IsBoolean" => return Ok(value.is_boolean() == want),
        "IsTimestamp" => return Ok(value.as_str().and_then(parse_timestamp).is_some() == want),
        _ => {}
    }
    let (base, rhs) = match op.strip_suffix("Path") {
        Some(base) => {
            let p = operand.as_str().unwrap_or("$");
            let rhs = query_scope(scope, p).map_err(|_| {
                Failure::runtime(format!(
                    "Invalid path '{p}': The choice state's condition path references an invalid value."
                ))
            })?;
            (base, rhs)
        }
        None => (op, operand.clone()),
    };
    use std::cmp::Ordering;
    let ord_ok = |o: Ordering, kind: &str| match kind {
        "Equals" => o == Ordering::Equal,
        "LessThan" => o == Ordering::Less,
        "GreaterThan" => o == Ordering::Greater,
        "LessThanEquals" => o != Ordering::Greater,
        "GreaterThanEquals" => o != Ordering::Less,
        _ => false,
    };
    if base == "StringMatches" {
        return Ok(match (value.as_str(), rhs.as_str()) {
            (Some(s), Some(p)) => string_matches(s, p),
            _ => false,
        });
    }
    if let Some(kind) = base.strip_prefix("String") {
        return Ok(match (value.as_str(), rhs.as_str()) {
            (Some(a), Some(b)) => ord_ok(a.cmp(b), kind),
            _ => false,
        });
    }
    if let Some(kind) = base.strip_prefix("Numeric") {
        return Ok(match (value.as_f64().filter(|_| value.is_number()), rhs.as_f64().filter(|_| rhs.is_number())) {
            (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(|o| ord_ok(o, kind)),
            _ => false,
        });
    }
    if let Some(kind) = base.strip_prefix("Timestamp") {
        return Ok(match (value.as_str().and_then(parse_timestamp), rhs.as_str().and_then(parse_timestamp)) {
            (Some(a), Some(b)) => ord_ok(a.cmp(&b), kind),
            _ => false,
        });
    }
    if base == "BooleanEquals" {
        return Ok(match (value.as_bool(), rhs.as_bool()) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        });
    }
    Err(Failure::runtime(format!("Unsupported choice operator '{op}'")))
}

/// `*` matches any run of characters; `\*` and `\\` are literal.
pub fn string_matches(s: &str, pattern: &str) -> bool {
    #[derive(PartialEq)]
    enum Tok {
        Star,
        Ch(char),
    }
    let mut toks = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => toks.push(Tok::Ch(it.next().unwrap_or('\\'))),
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Ch(c)),
        }
    }
    let text: Vec<char> = s.chars().collect();
    // Iterative wildcard match with backtracking to the last star.
    let (mut ti, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < text.len() {
        if pi < toks.len() && toks[pi] == Tok::Ch(text[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < toks.len() && toks[pi] == Tok::Star {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < toks.len() && toks[pi] == Tok::Star {
        pi += 1;
    }
    pi == toks.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};
    use std::cell::Cell;

    fn eval(rule: Value, input: Value) -> Result<bool, Failure> {
        let mut diags = Vec::new();
        let rule = parse_rule(&rule, "/Choices[0]", false, &mut diags)
            .ok_or_else(|| Failure::runtime(format!("{diags:?}")))?;
        let (ctx, vars, seed) = (json!({}), Map::new(), Cell::new(0));
        evaluate(&rule, &Scope { input: &input, context: &ctx, variables: &vars, seed: &seed })
    }

    #[test]
    fn comparisons_with_literals_and_paths() {
        assert_eq!(eval(json!({"Variable": "$.n", "NumericGreaterThan": 2}), json!({"n": 3})).ok(), Some(true));
        assert_eq!(eval(json!({"Variable": "$.n", "NumericEquals": 3}), json!({"n": 3.0})).ok(), Some(true));
        assert_eq!(eval(json!({"Variable": "$.n", "NumericEquals": 3}), json!({"n": "3"})).ok(), Some(false));
        assert_eq!(
            eval(json!({"Variable": "$.a", "StringLessThanEqualsPath": "$.b"}), json!({"a": "x", "b": "y"})).ok(),
            Some(true)
        );
        assert_eq!(eval(json!({"Variable": "$.b", "BooleanEquals": false}), json!({"b": false})).ok(), Some(true));
        assert_eq!(
            eval(
                json!({"Variable": "$.t", "TimestampLessThan": "2020-01-01T00:00:00Z"}),
                json!({"t": "2019-12-31T23:00:00-00:30"})
            )
            .ok(),
            Some(true)
        );
    }

    #[test]
    fn type_tests_and_presence() {
        assert_eq!(eval(json!({"Variable": "$.x", "IsPresent": false}), json!({})).ok(), Some(true));
        assert_eq!(eval(json!({"Variable": "$.x", "IsNull": true}), json!({"x": null})).ok(), Some(true));
        assert_eq!(
            eval(json!({"Variable": "$.x", "IsTimestamp": true}), json!({"x": "2016-03-14T01:59:00Z"})).ok(),
            Some(true)
        );
        assert_eq!(
            eval(json!({"Variable": "$.x", "IsTimestamp": true}), json!({"x": "2016-03-14 01:59:00Z"})).ok(),
            Some(false)
        );
        let missing = eval(json!({"Variable": "$.x", "IsNull": true}), json!({})).err().map(|f| f.error);
        assert_eq!(missing.as_deref(), Some("States.Runtime"));
    }

    #[test]
    fn boolean_combinators() {
        let rule = json!({"And": [{"Variable": "$.a", "IsPresent": true}, {"Not": {"Variable": "$.a", "StringEquals": "no"}}]});
        assert_eq!(eval(rule.clone(), json!({"a": "yes"})).ok(), Some(true));
        assert_eq!(eval(rule, json!({"a": "no"})).ok(), Some(false));
        assert_eq!(
            eval(
                json!({"Or": [{"Variable": "$.a", "IsNull": true}, {"Variable": "$.a", "IsString": true}]}),
                json!({"a": 1})
            )
            .ok(),
            Some(false)
        );
    }

    #[test]
    fn string_matches_wildcards_and_escapes() {
        assert!(string_matches("log-2024.txt", "log-*.txt"));
        assert!(string_matches("a*b", "a\\*b"));
        assert!(!string_matches("axb", "a\\*b"));
        assert!(string_matches("", "*"));
        assert!(!string_matches("abc", "*d*"));
    }

    #[test]
    fn invalid_rules_produce_diagnostics() {
        let mut diags = Vec::new();
        assert!(parse_rule(&json!({"Variable": "$.a", "NumericEquals": "x"}), "/X", false, &mut diags).is_none());
        assert!(parse_rule(&json!({"Variable": "$.a"}), "/Y", false, &mut diags).is_none());
        assert_eq!(diags.len(), 2);
    }
}

//! The parameters DynamoDB had before expressions: `Expected` with `ConditionalOperator`,
//! `AttributeUpdates`, `KeyConditions`, `QueryFilter`/`ScanFilter` and `AttributesToGet`.
//!
//! Each is translated into the trees the expression parser produces (`expr::Cond`,
//! `expr::Update`, projection paths), so one evaluator runs both. The translation is
//! exact: every legacy comparison operator has an expression with the same meaning
//! (`NE` is `<>`, true when the attribute is missing; `NOT_CONTAINS` is `NOT contains(…)`;
//! `NULL` is `attribute_not_exists`), and `ADD` of a list, which no update expression
//! has, is `SET a = list_append(if_not_exists(a, []), v)`. Requests that mix these with
//! expression parameters are refused with AWS's message.

use serde_json::{Map, Value as Json};

use super::expr::{CmpOp, Cond, Operand, Path, PathElem, SetValue, UpdOperand, Update};
use super::value::AttrValue;
use super::{constraint, constraint_errors, enum_errors};
use crate::local::protocol::ApiError;

/// AWS's limit on an attribute name outside keys (64 KiB less one byte).
pub(super) const MAX_ATTRIBUTE_NAME: usize = 65535;

const OPERATORS: [&str; 13] = [
    "EQ",
    "NE",
    "IN",
    "LE",
    "LT",
    "GE",
    "GT",
    "BETWEEN",
    "NOT_NULL",
    "NULL",
    "CONTAINS",
    "NOT_CONTAINS",
    "BEGINS_WITH",
];

fn invalid(msg: impl std::fmt::Display) -> ApiError {
    ApiError::validation(format!("One or more parameter values were invalid: {msg}"))
}

/// AWS refuses a request that uses both kinds of parameters. `expressions` and `legacy`
/// list each parameter's name and whether the request has it.
pub(super) fn refuse_mixing(expressions: &[(&str, bool)], legacy: &[(&str, bool)]) -> Result<(), ApiError> {
    let names = |params: &[(&str, bool)]| -> Vec<String> {
        params.iter().filter(|(_, present)| *present).map(|(n, _)| n.to_string()).collect()
    };
    let (exprs, olds) = (names(expressions), names(legacy));
    if !exprs.is_empty() && !olds.is_empty() {
        return Err(ApiError::validation(format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
            olds.join(", "),
            exprs.join(", ")
        )));
    }
    Ok(())
}

/// An attribute name's length, as AWS limits it everywhere a name appears.
pub(super) fn check_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::validation("One or more parameter values were invalid: Empty attribute name"));
    }
    if name.len() > MAX_ATTRIBUTE_NAME {
        return Err(invalid(format!(
            "Attribute name is too large, must be less than {} bytes",
            MAX_ATTRIBUTE_NAME + 1
        )));
    }
    Ok(())
}

/// AttributesToGet: at least one name, no name twice; the projection paths it stands for.
pub(super) fn attributes_to_get(attrs: Vec<String>) -> Result<Vec<Path>, ApiError> {
    if attrs.is_empty() {
        constraint_errors(vec![constraint(
            Some("[]"),
            "attributesToGet",
            "Member must have length greater than or equal to 1",
        )])?;
    }
    for (i, a) in attrs.iter().enumerate() {
        check_name(a)?;
        if attrs[..i].contains(a) {
            return Err(invalid(format!("Duplicate value in attribute name: {a}")));
        }
    }
    Ok(attrs.into_iter().map(|a| vec![PathElem::Attr(a)]).collect())
}

fn path(attr: &str) -> Operand {
    Operand::Path(vec![PathElem::Attr(attr.to_string())])
}

fn values(list: &[Json]) -> Result<Vec<AttrValue>, ApiError> {
    list.iter().map(|v| AttrValue::from_json(v).map_err(ApiError::from)).collect()
}

/// One `ComparisonOperator` with its `AttributeValueList` on `attr`, as a condition.
/// `typed` applies the type rules of KeyConditions and filters (Expected has none).
fn comparison(attr: &str, op: &str, vals: Vec<AttrValue>, typed: bool) -> Result<Cond, ApiError> {
    let count_ok = match op {
        "NULL" | "NOT_NULL" => vals.is_empty(),
        "IN" => !vals.is_empty(),
        "BETWEEN" => vals.len() == 2,
        _ => vals.len() == 1,
    };
    if !count_ok {
        return Err(invalid(format!("Invalid number of argument(s) for the {op} ComparisonOperator")));
    }
    if let Some(first) = vals.first()
        && vals.iter().any(|v| v.type_name() != first.type_name())
    {
        return Err(invalid("AttributeValues inside AttributeValueList must be of same type"));
    }
    if typed {
        let allowed: &[&str] = match op {
            "EQ" | "NE" => &["S", "N", "B", "SS", "NS", "BS"],
            "BEGINS_WITH" => &["S", "B"],
            _ => &["S", "N", "B"],
        };
        if let Some(v) = vals.iter().find(|v| !allowed.contains(&v.type_name())) {
            return Err(invalid(format!(
                "ComparisonOperator {op} is not valid for {} AttributeValue type",
                v.type_name()
            )));
        }
    }
    if op == "BETWEEN" && vals[0].partial_order(&vals[1]) == Some(std::cmp::Ordering::Greater) {
        return Err(ApiError::validation(
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
        ));
    }
    let mut ops: Vec<Operand> = vals.into_iter().map(Operand::Value).collect();
    if op == "IN" {
        return Ok(Cond::In(path(attr), ops));
    }
    let mut next = || ops.remove(0);
    let cmp = |o: CmpOp, v: Operand| Cond::Cmp(o, path(attr), v);
    Ok(match op {
        "EQ" => cmp(CmpOp::Eq, next()),
        "NE" => cmp(CmpOp::Ne, next()),
        "LT" => cmp(CmpOp::Lt, next()),
        "LE" => cmp(CmpOp::Le, next()),
        "GT" => cmp(CmpOp::Gt, next()),
        "GE" => cmp(CmpOp::Ge, next()),
        "NOT_NULL" => Cond::Exists(vec![PathElem::Attr(attr.to_string())]),
        "NULL" => Cond::NotExists(vec![PathElem::Attr(attr.to_string())]),
        "CONTAINS" => Cond::Contains(path(attr), next()),
        "NOT_CONTAINS" => Cond::Not(Box::new(Cond::Contains(path(attr), next()))),
        "BEGINS_WITH" => Cond::BeginsWith(path(attr), next()),
        _ => {
            let lo = next();
            Cond::Between(path(attr), lo, next())
        }
    })
}

fn combine(conds: Vec<Cond>, or: bool) -> Option<Cond> {
    conds
        .into_iter()
        .reduce(|a, b| if or { Cond::Or(Box::new(a), Box::new(b)) } else { Cond::And(Box::new(a), Box::new(b)) })
}

fn conditional_operator(op: Option<&str>) -> Result<bool, ApiError> {
    constraint_errors(enum_errors(op, "conditionalOperator", &["AND", "OR"]))?;
    Ok(op == Some("OR"))
}

fn object<'a>(v: &'a Json, field: &str) -> Result<&'a Map<String, Json>, ApiError> {
    v.as_object().ok_or_else(|| ApiError::serialization(format!("Unexpected value for {field}: expected an object")))
}

/// `Expected` (with `ConditionalOperator`) as a condition on the stored item.
pub(super) fn expected(expected: Option<&Map<String, Json>>, op: Option<&str>) -> Result<Option<Cond>, ApiError> {
    let or = conditional_operator(op)?;
    let Some(expected) = expected else { return Ok(None) };
    let mut conds = Vec::new();
    for (attr, spec) in expected {
        check_name(attr)?;
        let spec = object(spec, "Expected")?;
        let value = spec.get("Value").filter(|v| !v.is_null());
        let list = spec.get("AttributeValueList").filter(|v| !v.is_null());
        let exists = spec.get("Exists").filter(|v| !v.is_null());
        let operator = spec.get("ComparisonOperator").filter(|v| !v.is_null());
        if value.is_some() && list.is_some() {
            return Err(invalid(format!("Value and AttributeValueList cannot be used together for Attribute: {attr}")));
        }
        if let Some(operator) = operator {
            let operator = operator.as_str().unwrap_or_default();
            constraint_errors(enum_errors(
                Some(operator),
                &format!("expected.{attr}.member.comparisonOperator"),
                &OPERATORS,
            ))?;
            if exists.is_some() {
                return Err(invalid(format!(
                    "Exists and ComparisonOperator cannot be used together for Attribute: {attr}"
                )));
            }
            let vals = match (value, list) {
                (Some(v), _) => values(std::slice::from_ref(v))?,
                (_, Some(l)) => values(l.as_array().map(Vec::as_slice).unwrap_or_default())?,
                _ if !matches!(operator, "NULL" | "NOT_NULL") => {
                    return Err(invalid(format!(
                        "Value or AttributeValueList must be used with ComparisonOperator: {operator} for Attribute: {attr}"
                    )));
                }
                _ => Vec::new(),
            };
            conds.push(comparison(attr, operator, vals, false)?);
        } else if list.is_some() {
            return Err(invalid(format!(
                "AttributeValueList can only be used with a ComparisonOperator for Attribute: {attr}"
            )));
        } else {
            let exists_flag = exists.and_then(Json::as_bool);
            match (exists_flag.unwrap_or(true), value) {
                (true, Some(v)) => {
                    conds.push(Cond::Cmp(CmpOp::Eq, path(attr), Operand::Value(AttrValue::from_json(v)?)))
                }
                (true, None) => {
                    let shown = exists_flag.map_or("null".to_string(), |e| e.to_string());
                    return Err(invalid(format!(
                        "Value must be provided when Exists is {shown} for Attribute: {attr}"
                    )));
                }
                (false, Some(_)) => {
                    return Err(invalid(format!("Value cannot be used when Exists is false for Attribute: {attr}")));
                }
                (false, None) => conds.push(Cond::NotExists(vec![PathElem::Attr(attr.clone())])),
            }
        }
    }
    Ok(combine(conds, or))
}

/// A `Condition` map (QueryFilter, ScanFilter, KeyConditions): attribute → operator and values.
fn conditions(map: &Map<String, Json>, field: &str) -> Result<Vec<(String, String, Vec<AttrValue>)>, ApiError> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (attr, spec) in map {
        let spec = object(spec, field)?;
        match spec.get("ComparisonOperator").and_then(Json::as_str) {
            None => errors.push(constraint(
                None,
                &format!("{field}.{attr}.member.comparisonOperator"),
                "Member must not be null",
            )),
            Some(op) => {
                errors.extend(enum_errors(Some(op), &format!("{field}.{attr}.member.comparisonOperator"), &OPERATORS));
                let list =
                    spec.get("AttributeValueList").and_then(Json::as_array).map(Vec::as_slice).unwrap_or_default();
                out.push((attr.clone(), op.to_string(), values(list)?));
            }
        }
    }
    constraint_errors(errors)?;
    for (attr, _, _) in &out {
        check_name(attr)?;
    }
    Ok(out)
}

/// QueryFilter or ScanFilter (with ConditionalOperator) as a filter condition.
pub(super) fn filter(map: Option<&Map<String, Json>>, field: &str, op: Option<&str>) -> Result<Option<Cond>, ApiError> {
    let or = conditional_operator(op)?;
    let Some(map) = map else { return Ok(None) };
    let mut conds = Vec::new();
    for (attr, op, vals) in conditions(map, field)? {
        conds.push(comparison(&attr, &op, vals, true)?);
    }
    Ok(combine(conds, or))
}

/// KeyConditions as the key condition a KeyConditionExpression would give.
pub(super) fn key_conditions(map: &Map<String, Json>) -> Result<Cond, ApiError> {
    let mut conds = Vec::new();
    for (attr, op, vals) in conditions(map, "keyConditions")? {
        if matches!(op.as_str(), "NULL" | "NOT_NULL" | "NE" | "CONTAINS" | "NOT_CONTAINS" | "IN") {
            return Err(ApiError::validation("Attempted conditional constraint is not an indexable operation"));
        }
        conds.push(comparison(&attr, &op, vals, true)?);
    }
    combine(conds, false).ok_or_else(|| ApiError::validation("Conditions can be of length 1 or 2 only"))
}

/// AttributeUpdates as an update: PUT sets, DELETE removes (or takes elements out of a
/// set), ADD adds to a number or set, or appends to a list.
pub(super) fn attribute_updates(map: &Map<String, Json>) -> Result<Update, ApiError> {
    let mut update = Update::default();
    for (attr, spec) in map {
        check_name(attr)?;
        let spec = object(spec, "AttributeUpdates")?;
        let action = spec.get("Action").and_then(Json::as_str).unwrap_or("PUT");
        constraint_errors(enum_errors(
            Some(action),
            &format!("attributeUpdates.{attr}.member.action"),
            &["ADD", "PUT", "DELETE"],
        ))?;
        let value = spec.get("Value").filter(|v| !v.is_null()).map(AttrValue::from_json).transpose()?;
        let p: Path = vec![PathElem::Attr(attr.clone())];
        match (action, value) {
            ("DELETE", None) => update.remove.push(p),
            (_, None) => return Err(invalid("Only DELETE action is allowed when no attribute value is specified")),
            ("PUT", Some(v)) => update.set.push((p, SetValue::Operand(UpdOperand::Value(v)))),
            ("DELETE", Some(v)) => {
                if !matches!(v, AttrValue::Ss(_) | AttrValue::Ns(_) | AttrValue::Bs(_)) {
                    return Err(invalid(format!(
                        "DELETE action with value is not supported for the type {}",
                        v.type_name()
                    )));
                }
                update.delete.push((p, v));
            }
            (_, Some(AttrValue::L(items))) => {
                let existing =
                    UpdOperand::IfNotExists(p.clone(), Box::new(UpdOperand::Value(AttrValue::L(Vec::new()))));
                let appended =
                    UpdOperand::ListAppend(Box::new(existing), Box::new(UpdOperand::Value(AttrValue::L(items))));
                update.set.push((p, SetValue::Operand(appended)));
            }
            (_, Some(v)) => {
                if !matches!(v, AttrValue::N(_) | AttrValue::Ss(_) | AttrValue::Ns(_) | AttrValue::Bs(_)) {
                    return Err(invalid(format!("ADD action is not supported for the type {}", v.type_name())));
                }
                update.add.push((p, v));
            }
        }
    }
    Ok(update)
}

#[cfg(test)]
mod tests {
    use super::super::eval::{apply_update, eval};
    use super::super::value::{Item, item_from_json, item_to_json};
    use super::*;
    use serde_json::json;

    fn item(v: Json) -> Item {
        item_from_json(v.as_object().unwrap()).unwrap()
    }

    fn map(v: Json) -> Map<String, Json> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn expected_and_filters_mean_what_their_expressions_mean() {
        let it = item(json!({"a": {"N": "5"}, "s": {"S": "hello"}, "ss": {"SS": ["x"]}}));
        let holds = |e: Json, op: Option<&str>| eval(&expected(Some(&map(e)), op).unwrap().unwrap(), &it);
        assert!(holds(json!({"a": {"Value": {"N": "5"}}}), None));
        assert!(holds(json!({"gone": {"Exists": false}}), None));
        assert!(!holds(json!({"a": {"Exists": false}}), None));
        assert!(holds(json!({"gone": {"ComparisonOperator": "NE", "AttributeValueList": [{"N": "1"}]}}), None));
        assert!(holds(
            json!({"gone": {"ComparisonOperator": "NOT_CONTAINS", "AttributeValueList": [{"S": "q"}]}}),
            None
        ));
        assert!(holds(json!({"ss": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"S": "x"}]}}), None));
        let either = json!({"a": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "9"}]},
            "s": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "he"}]}});
        assert!(holds(either.clone(), Some("OR")));
        assert!(!holds(either, Some("AND")));
        let f = filter(
            Some(&map(json!({"a": {"ComparisonOperator": "BETWEEN",
            "AttributeValueList": [{"N": "1"}, {"N": "5"}]}}))),
            "scanFilter",
            None,
        );
        assert!(eval(&f.unwrap().unwrap(), &it));
        let err = filter(
            Some(&map(json!({"a": {"ComparisonOperator": "LT",
            "AttributeValueList": [{"SS": ["x"]}]}}))),
            "scanFilter",
            None,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "One or more parameter values were invalid: ComparisonOperator LT is not valid for SS AttributeValue type"
        );
    }

    #[test]
    fn attribute_updates_put_add_and_delete() {
        let it = item(json!({"n": {"N": "1"}, "ss": {"SS": ["a", "b"]}, "gone": {"S": "x"}}));
        let u = attribute_updates(&map(json!({
            "n": {"Action": "ADD", "Value": {"N": "2"}},
            "ss": {"Action": "DELETE", "Value": {"SS": ["a"]}},
            "gone": {"Action": "DELETE"},
            "l": {"Action": "ADD", "Value": {"L": [{"S": "first"}]}},
            "p": {"Value": {"BOOL": true}}
        })))
        .unwrap();
        let new = apply_update(&u, &it).unwrap();
        assert_eq!(
            item_to_json(&new),
            json!({"n": {"N": "3"}, "ss": {"SS": ["b"]}, "l": {"L": [{"S": "first"}]}, "p": {"BOOL": true}})
        );
        let err = attribute_updates(&map(json!({"x": {"Action": "DELETE", "Value": {"N": "1"}}}))).unwrap_err();
        assert!(err.message.ends_with("DELETE action with value is not supported for the type N"), "{}", err.message);
    }
}

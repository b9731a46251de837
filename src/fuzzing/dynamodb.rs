//! DynamoDB expressions: condition, filter, key condition, update and projection, parsed
//! with a fixed set of placeholders and then evaluated on, or applied to, a stored item.

use std::collections::HashMap;

use serde_json::json;

use super::{Outcome, text};
use crate::local::dynamodb::eval;
use crate::local::dynamodb::expr::{self, ExprKind, Placeholders};
use crate::local::dynamodb::value::{AttrValue, Item, item_from_json};

fn placeholders() -> Placeholders {
    let names = [("#n", "Username"), ("#a", "attrs"), ("#l", "list"), ("#k", "key with spaces")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let values: HashMap<String, AttrValue> = [
        (":s", json!({"S": "user_a"})),
        (":n", json!({"N": "42"})),
        (":big", json!({"N": "9.9999999999999999999999999999999999999E+125"})),
        (":b", json!({"B": "AAEC"})),
        (":t", json!({"BOOL": true})),
        (":null", json!({"NULL": true})),
        (":l", json!({"L": [{"S": "x"}, {"N": "1"}]})),
        (":m", json!({"M": {"x": {"N": "1"}}})),
        (":ss", json!({"SS": ["a", "b"]})),
        (":ns", json!({"NS": ["1", "2"]})),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), AttrValue::from_json(&v).expect("a valid placeholder value")))
    .collect();
    Placeholders::new(names, values)
}

fn item() -> Item {
    let item = json!({
        "Username": {"S": "user_a"},
        "n": {"N": "7"},
        "attrs": {"M": {"x": {"N": "1"}, "tags": {"SS": ["a"]}}},
        "list": {"L": [{"S": "x"}, {"L": [{"N": "1"}]}]},
        "ns": {"NS": ["1", "3"]},
    });
    item_from_json(item.as_object().expect("an object")).expect("a valid item")
}

/// Bytes: one expression, tried as each kind of expression the API takes.
pub fn dynamodb_expression(data: &[u8]) -> Outcome {
    let src = text(data);
    let item = item();
    let mut accepted = false;
    for kind in [ExprKind::Condition, ExprKind::Filter, ExprKind::KeyCondition] {
        if let Ok(cond) = expr::parse_condition(&src, kind, &mut placeholders()) {
            let _ = eval::eval(&cond, &item);
            accepted = true;
        }
    }
    if let Ok(update) = expr::parse_update(&src, &mut placeholders()) {
        let _ = eval::apply_update(&update, &item);
        accepted = true;
    }
    if let Ok(paths) = expr::parse_projection(&src, &mut placeholders()) {
        let _ = eval::project(&item, &paths);
        accepted = true;
    }
    if accepted { Outcome::Accepted } else { Outcome::Refused }
}

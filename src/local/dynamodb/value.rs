//! Attribute values: parsed from and written as DynamoDB JSON (`{"S": "x"}`), validated
//! as AWS validates them, compared and sized as DynamoDB does.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Map, Value as Json};

use super::number::Number;
use crate::local::protocol::ApiError;

/// Lists and maps may nest 32 levels deep.
const MAX_NESTING: usize = 32;

#[derive(Debug, Clone)]
pub enum AttrValue {
    S(String),
    N(Number),
    B(Vec<u8>),
    Bool(bool),
    Null,
    L(Vec<AttrValue>),
    M(BTreeMap<String, AttrValue>),
    Ss(Vec<String>),
    Ns(Vec<Number>),
    Bs(Vec<Vec<u8>>),
}

pub type Item = BTreeMap<String, AttrValue>;

/// Why a value is not a valid attribute value: the JSON is the wrong shape
/// (SerializationException) or a value breaks DynamoDB's rules (ValidationException).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ValueError {
    #[error("{0}")]
    Serialization(String),
    #[error("{0}")]
    Validation(String),
}

impl From<ValueError> for ApiError {
    fn from(e: ValueError) -> Self {
        match e {
            ValueError::Serialization(m) => ApiError::serialization(m),
            ValueError::Validation(m) => ApiError::validation(m),
        }
    }
}

fn invalid(msg: impl Into<String>) -> ValueError {
    ValueError::Validation(msg.into())
}

fn serialization(msg: impl Into<String>) -> ValueError {
    ValueError::Serialization(msg.into())
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl PartialEq for AttrValue {
    /// DynamoDB equality: numbers numerically, sets regardless of order.
    fn eq(&self, other: &Self) -> bool {
        use AttrValue::*;
        fn same_set<T: PartialEq>(a: &[T], b: &[T]) -> bool {
            a.len() == b.len() && a.iter().all(|x| b.contains(x))
        }
        match (self, other) {
            (S(a), S(b)) => a == b,
            (N(a), N(b)) => a == b,
            (B(a), B(b)) => a == b,
            (Bool(a), Bool(b)) => a == b,
            (Null, Null) => true,
            (L(a), L(b)) => a == b,
            (M(a), M(b)) => a == b,
            (Ss(a), Ss(b)) => same_set(a, b),
            (Ns(a), Ns(b)) => same_set(a, b),
            (Bs(a), Bs(b)) => same_set(a, b),
            _ => false,
        }
    }
}

impl AttrValue {
    pub fn type_name(&self) -> &'static str {
        match self {
            AttrValue::S(_) => "S",
            AttrValue::N(_) => "N",
            AttrValue::B(_) => "B",
            AttrValue::Bool(_) => "BOOL",
            AttrValue::Null => "NULL",
            AttrValue::L(_) => "L",
            AttrValue::M(_) => "M",
            AttrValue::Ss(_) => "SS",
            AttrValue::Ns(_) => "NS",
            AttrValue::Bs(_) => "BS",
        }
    }

    /// Parses one attribute value in DynamoDB JSON.
    pub fn from_json(json: &Json) -> Result<Self, ValueError> {
        Self::from_json_at(json, 0)
    }

    fn from_json_at(json: &Json, depth: usize) -> Result<Self, ValueError> {
        if depth > MAX_NESTING {
            return Err(invalid("Nesting Levels have exceeded supported limits"));
        }
        let Json::Object(obj) = json else {
            return Err(serialization("Unexpected value type in payload: an AttributeValue must be an object"));
        };
        const TYPES: [&str; 10] = ["S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"];
        // null members are absent, as the AWS JSON parser treats them.
        let present: Vec<(&String, &Json)> =
            obj.iter().filter(|(k, v)| TYPES.contains(&k.as_str()) && !v.is_null()).collect();
        let (ty, v) = match present.as_slice() {
            [] => {
                return Err(invalid(
                    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
                ));
            }
            [one] => *one,
            _ => {
                return Err(invalid(
                    "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                ));
            }
        };
        let str_of = |v: &Json| -> Result<String, ValueError> {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| serialization(format!("Unexpected value for {ty}: expected a string")))
        };
        let list_of = |v: &Json| -> Result<Vec<Json>, ValueError> {
            v.as_array().cloned().ok_or_else(|| serialization(format!("Expected list or null for {ty}")))
        };
        Ok(match ty.as_str() {
            "S" => AttrValue::S(str_of(v)?),
            "N" => AttrValue::N(parse_number(&str_of(v)?)?),
            "B" => AttrValue::B(parse_binary(&str_of(v)?)?),
            "BOOL" => AttrValue::Bool(
                v.as_bool().ok_or_else(|| serialization("Unexpected value for BOOL: expected a boolean"))?,
            ),
            "NULL" => match v.as_bool() {
                Some(true) => AttrValue::Null,
                Some(false) => {
                    return Err(invalid(
                        "One or more parameter values were invalid: Null attribute value types must have the value of true",
                    ));
                }
                None => return Err(serialization("Unexpected value for NULL: expected a boolean")),
            },
            "L" => {
                AttrValue::L(list_of(v)?.iter().map(|e| Self::from_json_at(e, depth + 1)).collect::<Result<_, _>>()?)
            }
            "M" => {
                let m = v.as_object().ok_or_else(|| serialization("Expected map or null for M"))?;
                let mut out = BTreeMap::new();
                for (k, e) in m {
                    out.insert(k.clone(), Self::from_json_at(e, depth + 1)?);
                }
                AttrValue::M(out)
            }
            "SS" => {
                let items: Vec<String> = list_of(v)?.iter().map(str_of).collect::<Result<_, _>>()?;
                if items.is_empty() {
                    return Err(invalid("One or more parameter values were invalid: An string set  may not be empty"));
                }
                check_duplicates(&items, |s| s.clone())?;
                AttrValue::Ss(items)
            }
            "NS" => {
                let raw: Vec<String> = list_of(v)?.iter().map(str_of).collect::<Result<_, _>>()?;
                if raw.is_empty() {
                    return Err(invalid("One or more parameter values were invalid: An number set  may not be empty"));
                }
                let items: Vec<Number> = raw.iter().map(|s| parse_number(s)).collect::<Result<_, _>>()?;
                check_duplicates(&items, |n| n.to_string())?;
                AttrValue::Ns(items)
            }
            "BS" => {
                let raw: Vec<String> = list_of(v)?.iter().map(str_of).collect::<Result<_, _>>()?;
                if raw.is_empty() {
                    return Err(invalid("One or more parameter values were invalid: Binary sets should not be empty"));
                }
                let items: Vec<Vec<u8>> = raw.iter().map(|s| parse_binary(s)).collect::<Result<_, _>>()?;
                check_duplicates(&items, |b| b64().encode(b))?;
                AttrValue::Bs(items)
            }
            other => return Err(serialization(format!("Unknown AttributeValue type {other}"))),
        })
    }

    pub fn to_json(&self) -> Json {
        let mut obj = Map::new();
        let (k, v) = match self {
            AttrValue::S(s) => ("S", Json::String(s.clone())),
            AttrValue::N(n) => ("N", Json::String(n.to_string())),
            AttrValue::B(b) => ("B", Json::String(b64().encode(b))),
            AttrValue::Bool(b) => ("BOOL", Json::Bool(*b)),
            AttrValue::Null => ("NULL", Json::Bool(true)),
            AttrValue::L(l) => ("L", Json::Array(l.iter().map(AttrValue::to_json).collect())),
            AttrValue::M(m) => ("M", Json::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())),
            AttrValue::Ss(s) => ("SS", Json::Array(s.iter().cloned().map(Json::String).collect())),
            AttrValue::Ns(s) => ("NS", Json::Array(s.iter().map(|n| Json::String(n.to_string())).collect())),
            AttrValue::Bs(s) => ("BS", Json::Array(s.iter().map(|b| Json::String(b64().encode(b))).collect())),
        };
        obj.insert(k.to_string(), v);
        Json::Object(obj)
    }

    /// The value's share of an item's size, as DynamoDB counts it.
    pub fn size(&self) -> usize {
        let number_size = |n: &Number| n.significant_digits().div_ceil(2) + 1;
        match self {
            AttrValue::S(s) => s.len(),
            AttrValue::N(n) => number_size(n),
            AttrValue::B(b) => b.len(),
            AttrValue::Bool(_) | AttrValue::Null => 1,
            AttrValue::L(l) => 3 + l.iter().map(|v| v.size() + 1).sum::<usize>(),
            AttrValue::M(m) => 3 + m.iter().map(|(k, v)| k.len() + v.size() + 1).sum::<usize>(),
            AttrValue::Ss(s) => s.iter().map(String::len).sum(),
            AttrValue::Ns(s) => s.iter().map(number_size).sum(),
            AttrValue::Bs(s) => s.iter().map(Vec::len).sum(),
        }
    }

    /// Bytes whose bytewise order is DynamoDB's order for a key value (S, N, B).
    pub fn sort_key(&self) -> Option<Vec<u8>> {
        match self {
            AttrValue::S(s) => Some(s.as_bytes().to_vec()),
            AttrValue::B(b) => Some(b.clone()),
            AttrValue::N(n) => Some(n.sort_key()),
            _ => None,
        }
    }

    /// `<`, `<=`, `>`, `>=` apply only to two values of one scalar type S, N or B.
    pub fn partial_order(&self, other: &AttrValue) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (AttrValue::S(a), AttrValue::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (AttrValue::N(a), AttrValue::N(b)) => Some(a.cmp(b)),
            (AttrValue::B(a), AttrValue::B(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// How AWS prints a value in error messages, e.g. `{N:5}`.
    pub fn describe(&self) -> String {
        let inner = match self {
            AttrValue::S(s) => s.clone(),
            AttrValue::N(n) => n.to_string(),
            AttrValue::B(b) => b64().encode(b),
            AttrValue::Bool(b) => b.to_string(),
            AttrValue::Null => "true".into(),
            other => other.to_json().to_string(),
        };
        format!("{{{}:{}}}", self.type_name(), inner)
    }
}

fn parse_number(s: &str) -> Result<Number, ValueError> {
    Number::parse(s).map_err(|e| invalid(e.to_string()))
}

fn parse_binary(s: &str) -> Result<Vec<u8>, ValueError> {
    b64().decode(s).map_err(|e| serialization(format!("'{s}' can not be converted to a Blob: {e}")))
}

fn check_duplicates<T>(items: &[T], show: impl Fn(&T) -> String) -> Result<(), ValueError> {
    let mut seen = std::collections::HashSet::new();
    for item in items {
        if !seen.insert(show(item)) {
            let all: Vec<String> = items.iter().map(&show).collect();
            return Err(invalid(format!(
                "One or more parameter values were invalid: Input collection [{}] contains duplicates.",
                all.join(", ")
            )));
        }
    }
    Ok(())
}

/// Parses an attribute map (an item, a key, ExpressionAttributeValues).
pub fn item_from_json(map: &Map<String, Json>) -> Result<Item, ValueError> {
    let mut item = Item::new();
    for (k, v) in map {
        item.insert(k.clone(), AttrValue::from_json(v)?);
    }
    Ok(item)
}

pub fn item_to_json(item: &Item) -> Json {
    Json::Object(item.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

/// An item's size: attribute names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Json) -> Result<AttrValue, ValueError> {
        AttrValue::from_json(&v)
    }

    #[test]
    fn round_trips_every_type() {
        let all = json!({"M": {
            "s": {"S": "x"}, "n": {"N": "1.5"}, "b": {"B": "AAEC"}, "t": {"BOOL": true}, "z": {"NULL": true},
            "l": {"L": [{"S": "a"}, {"N": "2"}]}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]},
            "bs": {"BS": ["AA==", "AQ=="]}
        }});
        let v = parse(all.clone()).unwrap();
        assert_eq!(v.to_json(), all);
    }

    #[test]
    fn rejects_invalid_values_with_aws_messages() {
        let msg = |v: Json| match parse(v) {
            Err(ValueError::Validation(m)) => m,
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert!(msg(json!({})).starts_with("Supplied AttributeValue is empty"));
        assert!(msg(json!({"S": "a", "N": "1"})).starts_with("Supplied AttributeValue has more than one datatypes"));
        assert!(msg(json!({"SS": []})).contains("may not be empty"));
        assert!(msg(json!({"SS": ["a", "a"]})).contains("contains duplicates"));
        assert!(msg(json!({"NS": ["1", "1.0"]})).contains("contains duplicates"));
        assert!(msg(json!({"NULL": false})).contains("Null attribute value types must have the value of true"));
        assert!(msg(json!({"N": "1E200"})).starts_with("Number overflow"));
        assert!(matches!(parse(json!({"S": 5})), Err(ValueError::Serialization(_))));
        assert!(matches!(parse(json!({"B": "!!"})), Err(ValueError::Serialization(_))));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut v = json!({"S": "leaf"});
        for _ in 0..40 {
            v = json!({"L": [v]});
        }
        assert!(matches!(parse(v), Err(ValueError::Validation(m)) if m.contains("Nesting Levels")));
    }

    #[test]
    fn sets_compare_regardless_of_order() {
        assert_eq!(parse(json!({"SS": ["a", "b"]})).unwrap(), parse(json!({"SS": ["b", "a"]})).unwrap());
        assert_ne!(parse(json!({"SS": ["a"]})).unwrap(), parse(json!({"S": "a"})).unwrap());
    }
}

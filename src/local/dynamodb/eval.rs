//! Evaluating parsed expressions against items: conditions and filters, update actions,
//! projections.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::expr::{CmpOp, Cond, Operand, Path, PathElem, SetValue, UpdOperand, Update};
use super::number::Number;
use super::value::{AttrValue, Item};
use crate::local::protocol::ApiError;

/// The value at `path` in `item`, if there is one.
pub fn get<'a>(item: &'a Item, path: &Path) -> Option<&'a AttrValue> {
    let (PathElem::Attr(first), rest) = path.split_first()? else { return None };
    let mut cur = item.get(first)?;
    for elem in rest {
        cur = match (elem, cur) {
            (PathElem::Attr(name), AttrValue::M(m)) => m.get(name)?,
            (PathElem::Index(i), AttrValue::L(l)) => l.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn operand<'a>(op: &'a Operand, item: &'a Item) -> Option<Cow<'a, AttrValue>> {
    match op {
        Operand::Path(p) => get(item, p).map(Cow::Borrowed),
        Operand::Value(v) => Some(Cow::Borrowed(v)),
        Operand::Size(inner) => {
            let len = match operand(inner, item)?.as_ref() {
                AttrValue::S(s) => s.len(),
                AttrValue::B(b) => b.len(),
                AttrValue::L(l) => l.len(),
                AttrValue::M(m) => m.len(),
                AttrValue::Ss(s) => s.len(),
                AttrValue::Ns(s) => s.len(),
                AttrValue::Bs(s) => s.len(),
                AttrValue::N(_) | AttrValue::Bool(_) | AttrValue::Null => return None,
            };
            Some(Cow::Owned(AttrValue::N(Number::from_u64(len as u64))))
        }
    }
}

/// Whether `item` (empty when there is no item) satisfies `cond`.
pub fn eval(cond: &Cond, item: &Item) -> bool {
    use std::cmp::Ordering::*;
    match cond {
        Cond::Cmp(op, a, b) => {
            let (a, b) = (operand(a, item), operand(b, item));
            match op {
                CmpOp::Eq => matches!((&a, &b), (Some(x), Some(y)) if x == y),
                CmpOp::Ne => !matches!((&a, &b), (Some(x), Some(y)) if x == y),
                _ => {
                    let Some(ord) = a.zip(b).and_then(|(x, y)| x.partial_order(&y)) else { return false };
                    match op {
                        CmpOp::Lt => ord == Less,
                        CmpOp::Le => ord != Greater,
                        CmpOp::Gt => ord == Greater,
                        _ => ord != Less,
                    }
                }
            }
        }
        Cond::Between(x, lo, hi) => {
            let (Some(x), Some(lo), Some(hi)) = (operand(x, item), operand(lo, item), operand(hi, item)) else {
                return false;
            };
            matches!(x.partial_order(&lo), Some(Greater | Equal)) && matches!(x.partial_order(&hi), Some(Less | Equal))
        }
        Cond::In(x, list) => {
            let Some(x) = operand(x, item) else { return false };
            list.iter().any(|o| operand(o, item).is_some_and(|v| *v == *x))
        }
        Cond::Exists(p) => get(item, p).is_some(),
        Cond::NotExists(p) => get(item, p).is_none(),
        Cond::AttrType(x, t) => match (operand(x, item), operand(t, item)) {
            (Some(v), Some(t)) => matches!(t.as_ref(), AttrValue::S(name) if name == v.type_name()),
            _ => false,
        },
        Cond::BeginsWith(x, prefix) => match (operand(x, item).as_deref(), operand(prefix, item).as_deref()) {
            (Some(AttrValue::S(s)), Some(AttrValue::S(p))) => s.starts_with(p.as_str()),
            (Some(AttrValue::B(s)), Some(AttrValue::B(p))) => s.starts_with(p),
            _ => false,
        },
        Cond::Contains(x, needle) => match (operand(x, item).as_deref(), operand(needle, item).as_deref()) {
            (Some(AttrValue::S(s)), Some(AttrValue::S(n))) => s.contains(n.as_str()),
            (Some(AttrValue::B(s)), Some(AttrValue::B(n))) => n.is_empty() || s.windows(n.len()).any(|w| w == n),
            (Some(AttrValue::Ss(s)), Some(AttrValue::S(n))) => s.contains(n),
            (Some(AttrValue::Ns(s)), Some(AttrValue::N(n))) => s.contains(n),
            (Some(AttrValue::Bs(s)), Some(AttrValue::B(n))) => s.contains(n),
            (Some(AttrValue::L(l)), Some(n)) => l.contains(n),
            _ => false,
        },
        Cond::And(a, b) => eval(a, item) && eval(b, item),
        Cond::Or(a, b) => eval(a, item) || eval(b, item),
        Cond::Not(a) => !eval(a, item),
    }
}

fn wrong_type() -> ApiError {
    ApiError::validation("An operand in the update expression has an incorrect data type")
}

fn missing_attribute() -> ApiError {
    ApiError::validation("The provided expression refers to an attribute that does not exist in the item")
}

fn invalid_path() -> ApiError {
    ApiError::validation("The document path provided in the update expression is invalid for update")
}

fn number_error(e: super::number::NumberError) -> ApiError {
    ApiError::validation(e.to_string())
}

fn upd_operand(op: &UpdOperand, item: &Item) -> Result<AttrValue, ApiError> {
    match op {
        UpdOperand::Path(p) => get(item, p).cloned().ok_or_else(missing_attribute),
        UpdOperand::Value(v) => Ok(v.clone()),
        UpdOperand::IfNotExists(p, default) => match get(item, p) {
            Some(v) => Ok(v.clone()),
            None => upd_operand(default, item),
        },
        UpdOperand::ListAppend(a, b) => match (upd_operand(a, item)?, upd_operand(b, item)?) {
            (AttrValue::L(mut x), AttrValue::L(y)) => {
                x.extend(y);
                Ok(AttrValue::L(x))
            }
            _ => Err(wrong_type()),
        },
        UpdOperand::Nested(v) => set_value(v, item),
    }
}

fn set_value(v: &SetValue, item: &Item) -> Result<AttrValue, ApiError> {
    match v {
        SetValue::Operand(op) => upd_operand(op, item),
        SetValue::Plus(a, b) | SetValue::Minus(a, b) => {
            let (AttrValue::N(x), AttrValue::N(y)) = (upd_operand(a, item)?, upd_operand(b, item)?) else {
                return Err(wrong_type());
            };
            let r = if matches!(v, SetValue::Plus(..)) { x.add(&y) } else { x.sub(&y) };
            r.map(AttrValue::N).map_err(number_error)
        }
    }
}

/// The container that holds the last element of `path`, created nowhere: updates may only
/// write into maps and lists that exist.
fn parent_mut<'a>(item: &'a mut Item, path: &Path) -> Option<&'a mut AttrValue> {
    let (PathElem::Attr(first), rest) = path.split_first()? else { return None };
    let mut cur = item.get_mut(first)?;
    for elem in &rest[..rest.len().saturating_sub(1)] {
        cur = match (elem, cur) {
            (PathElem::Attr(name), AttrValue::M(m)) => m.get_mut(name)?,
            (PathElem::Index(i), AttrValue::L(l)) => l.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn set_path(item: &mut Item, path: &Path, value: AttrValue) -> Result<(), ApiError> {
    if let [PathElem::Attr(name)] = path.as_slice() {
        item.insert(name.clone(), value);
        return Ok(());
    }
    let last = path.last().ok_or_else(invalid_path)?;
    match (parent_mut(item, path).ok_or_else(invalid_path)?, last) {
        (AttrValue::M(m), PathElem::Attr(name)) => {
            m.insert(name.clone(), value);
        }
        (AttrValue::L(l), PathElem::Index(i)) => {
            // Past the end appends, as DynamoDB does.
            if *i < l.len() {
                l[*i] = value;
            } else {
                l.push(value);
            }
        }
        _ => return Err(invalid_path()),
    }
    Ok(())
}

/// Removes what `path` names. A missing leaf is no error, but its container must exist
/// and be of the kind the path says (a map for `.name`, a list for `[i]`), as for SET.
fn remove_path(item: &mut Item, path: &Path) -> Result<(), ApiError> {
    if let [PathElem::Attr(name)] = path.as_slice() {
        item.remove(name);
        return Ok(());
    }
    let last = path.last().ok_or_else(invalid_path)?;
    match (parent_mut(item, path).ok_or_else(invalid_path)?, last) {
        (AttrValue::M(m), PathElem::Attr(name)) => {
            m.remove(name);
        }
        (AttrValue::L(l), PathElem::Index(i)) => {
            if *i < l.len() {
                l.remove(*i);
            }
        }
        _ => return Err(invalid_path()),
    }
    Ok(())
}

fn union<T: PartialEq + Clone>(mut a: Vec<T>, b: &[T]) -> Vec<T> {
    for x in b {
        if !a.contains(x) {
            a.push(x.clone());
        }
    }
    a
}

fn difference<T: PartialEq>(a: Vec<T>, b: &[T]) -> Vec<T> {
    a.into_iter().filter(|x| !b.contains(x)).collect()
}

/// Applies an update to `old` (the stored item, or just the key for a new item). Every
/// SET value is computed from the item as it was before the update, as in DynamoDB.
pub fn apply_update(update: &Update, old: &Item) -> Result<Item, ApiError> {
    let values: Vec<AttrValue> = update.set.iter().map(|(_, v)| set_value(v, old)).collect::<Result<_, _>>()?;
    let mut new = old.clone();
    // Paths of one update never overlap, so their order matters only for elements set
    // past the end of one list: DynamoDB appends those in index order.
    let mut sets: Vec<(&Path, AttrValue)> = update.set.iter().map(|(p, _)| p).zip(values).collect();
    sets.sort_by(|a, b| a.0.cmp(b.0));
    for (path, value) in sets {
        set_path(&mut new, path, value)?;
    }
    // Remove later list elements first, so every index refers to the original list.
    let mut removals: Vec<&Path> = update.remove.iter().collect();
    removals.sort_by(|a, b| b.cmp(a));
    for path in removals {
        remove_path(&mut new, path)?;
    }
    for (path, value) in &update.add {
        let merged = match (get(&new, path), value) {
            (None, v) => v.clone(),
            (Some(AttrValue::N(x)), AttrValue::N(y)) => AttrValue::N(x.add(y).map_err(number_error)?),
            (Some(AttrValue::Ss(x)), AttrValue::Ss(y)) => AttrValue::Ss(union(x.clone(), y)),
            (Some(AttrValue::Ns(x)), AttrValue::Ns(y)) => AttrValue::Ns(union(x.clone(), y)),
            (Some(AttrValue::Bs(x)), AttrValue::Bs(y)) => AttrValue::Bs(union(x.clone(), y)),
            _ => return Err(wrong_type()),
        };
        set_path(&mut new, path, merged)?;
    }
    for (path, value) in &update.delete {
        let remaining = match (get(&new, path), value) {
            (None, _) => continue,
            (Some(AttrValue::Ss(x)), AttrValue::Ss(y)) => {
                let r = difference(x.clone(), y);
                (!r.is_empty()).then_some(AttrValue::Ss(r))
            }
            (Some(AttrValue::Ns(x)), AttrValue::Ns(y)) => {
                let r = difference(x.clone(), y);
                (!r.is_empty()).then_some(AttrValue::Ns(r))
            }
            (Some(AttrValue::Bs(x)), AttrValue::Bs(y)) => {
                let r = difference(x.clone(), y);
                (!r.is_empty()).then_some(AttrValue::Bs(r))
            }
            _ => return Err(wrong_type()),
        };
        match remaining {
            Some(v) => set_path(&mut new, path, v)?,
            // A set left empty disappears: DynamoDB has no empty sets.
            None => remove_path(&mut new, path)?,
        }
    }
    Ok(new)
}

/// A partial document being assembled by a projection.
enum Node {
    Leaf(AttrValue),
    Map(BTreeMap<String, Node>),
    List(BTreeMap<usize, Node>),
}

impl Node {
    fn into_value(self) -> AttrValue {
        match self {
            Node::Leaf(v) => v,
            Node::Map(m) => AttrValue::M(m.into_iter().map(|(k, n)| (k, n.into_value())).collect()),
            // Projected list elements are returned in order, without gaps.
            Node::List(l) => AttrValue::L(l.into_values().map(Node::into_value).collect()),
        }
    }
}

/// The parts of `item` named by `paths`, nested as in the item.
pub fn project(item: &Item, paths: &[Path]) -> Item {
    let mut root: BTreeMap<String, Node> = BTreeMap::new();
    for path in paths {
        let Some(value) = get(item, path) else { continue };
        let Some((PathElem::Attr(first), rest)) = path.split_first() else { continue };
        if rest.is_empty() {
            root.insert(first.clone(), Node::Leaf(value.clone()));
            continue;
        }
        let mut node = root.entry(first.clone()).or_insert_with(|| match rest[0] {
            PathElem::Attr(_) => Node::Map(BTreeMap::new()),
            PathElem::Index(_) => Node::List(BTreeMap::new()),
        });
        for (i, elem) in rest.iter().enumerate() {
            let fresh = || match rest.get(i + 1) {
                None => Node::Leaf(value.clone()),
                Some(PathElem::Attr(_)) => Node::Map(BTreeMap::new()),
                Some(PathElem::Index(_)) => Node::List(BTreeMap::new()),
            };
            node = match (node, elem) {
                (Node::Map(m), PathElem::Attr(k)) => m.entry(k.clone()).or_insert_with(fresh),
                (Node::List(l), PathElem::Index(ix)) => l.entry(*ix).or_insert_with(fresh),
                // Paths of one projection cannot overlap (the parser refuses that), so a
                // leaf is never extended.
                _ => break,
            };
        }
    }
    root.into_iter().map(|(k, n)| (k, n.into_value())).collect()
}

#[cfg(test)]
mod tests {
    use super::super::expr::{ExprKind, Placeholders, parse_condition, parse_projection, parse_update};
    use super::super::value::{item_from_json, item_to_json};
    use super::*;
    use serde_json::json;

    fn item(v: serde_json::Value) -> Item {
        item_from_json(v.as_object().unwrap()).unwrap()
    }

    fn ph(values: serde_json::Value) -> Placeholders {
        let values = item(values).into_iter().collect();
        Placeholders::new(Default::default(), values)
    }

    fn check(src: &str, values: serde_json::Value, it: &Item) -> bool {
        eval(&parse_condition(src, ExprKind::Condition, &mut ph(values)).unwrap(), it)
    }

    #[test]
    fn conditions_evaluate_like_dynamodb() {
        let it = item(json!({"pk": {"S": "u1"}, "n": {"N": "10"}, "s": {"S": "hello"}, "ss": {"SS": ["a", "b"]},
            "l": {"L": [{"N": "1"}, {"S": "x"}]}, "m": {"M": {"k": {"BOOL": true}}}}));
        assert!(check("n = :v", json!({":v": {"N": "10.0"}}), &it));
        assert!(check("n > :v", json!({":v": {"N": "9.5"}}), &it));
        assert!(!check("n > :v", json!({":v": {"S": "9"}}), &it));
        assert!(check("absent <> :v", json!({":v": {"N": "1"}}), &it));
        assert!(check("n BETWEEN :a AND :b", json!({":a": {"N": "10"}, ":b": {"N": "11"}}), &it));
        assert!(check("s IN (:a, :b)", json!({":a": {"S": "x"}, ":b": {"S": "hello"}}), &it));
        assert!(check("begins_with(s, :p) AND contains(s, :q)", json!({":p": {"S": "he"}, ":q": {"S": "ll"}}), &it));
        assert!(check("contains(ss, :a) AND contains(l, :x)", json!({":a": {"S": "a"}, ":x": {"S": "x"}}), &it));
        assert!(check("size(l) = :two AND size(s) = :five", json!({":two": {"N": "2"}, ":five": {"N": "5"}}), &it));
        assert!(check("attribute_type(m.k, :t)", json!({":t": {"S": "BOOL"}}), &it));
        assert!(check(
            "attribute_exists(l[1]) AND attribute_not_exists(l[2]) AND attribute_not_exists(absent)",
            json!({}),
            &it
        ));
        assert!(check("NOT (n < :v OR s = :v)", json!({":v": {"N": "1"}}), &it));
        assert!(!check("attribute_exists(pk)", json!({}), &Item::new()));
    }

    fn update(src: &str, values: serde_json::Value, it: &Item) -> Result<Item, ApiError> {
        let u = parse_update(src, &mut ph(values)).unwrap();
        apply_update(&u, it)
    }

    #[test]
    fn updates_apply_set_remove_add_delete() {
        let it = item(json!({"pk": {"S": "u"}, "n": {"N": "1"}, "l": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]},
            "tags": {"SS": ["a", "b"]}, "m": {"M": {}}, "r": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]}}));
        let new = update(
            "SET n = n + :one, l = list_append(l, :more), c = if_not_exists(c, :zero), m.k = :one \
             REMOVE r[0], r[2] ADD labels :c, cnt :one DELETE tags :a",
            json!({":one": {"N": "1"}, ":more": {"L": [{"N": "4"}]}, ":zero": {"N": "0"}, ":c": {"SS": ["c"]},
                ":a": {"SS": ["a"]}}),
            &it,
        )
        .unwrap();
        assert_eq!(
            item_to_json(&new),
            json!({"pk": {"S": "u"}, "n": {"N": "2"},
                "tags": {"SS": ["b"]}, "labels": {"SS": ["c"]}, "m": {"M": {"k": {"N": "1"}}}, "c": {"N": "0"}, "cnt": {"N": "1"},
                "l": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}, {"N": "4"}]}, "r": {"L": [{"N": "2"}]}})
        );
    }

    #[test]
    fn update_errors_leave_nothing_half_done() {
        let it = item(json!({"s": {"S": "x"}}));
        let err = update("SET s = s + :one", json!({":one": {"N": "1"}}), &it).unwrap_err();
        assert_eq!(err.message, "An operand in the update expression has an incorrect data type");
        let err = update("SET a = b", json!({}), &it).unwrap_err();
        assert!(err.message.contains("does not exist in the item"));
        let err = update("SET a.b = :one", json!({":one": {"N": "1"}}), &it).unwrap_err();
        assert!(err.message.contains("document path provided in the update expression is invalid"));
        let err = update("DELETE tags :a", json!({":a": {"SS": ["a"]}}), &item(json!({"tags": {"NS": ["1"]}})));
        assert!(err.is_err());
    }

    #[test]
    fn deleting_every_element_removes_the_set() {
        let it = item(json!({"tags": {"SS": ["a"]}}));
        let new = update("DELETE tags :a", json!({":a": {"SS": ["a"]}}), &it).unwrap();
        assert!(new.is_empty());
    }

    #[test]
    fn projection_keeps_only_named_paths() {
        let it = item(json!({"a": {"S": "x"}, "b": {"M": {"c": {"N": "1"}, "d": {"N": "2"}}},
            "l": {"L": [{"S": "0"}, {"S": "1"}, {"S": "2"}]}}));
        let paths = parse_projection("b.c, l[2], l[0], nope", &mut Placeholders::default()).unwrap();
        assert_eq!(
            item_to_json(&project(&it, &paths)),
            json!({"b": {"M": {"c": {"N": "1"}}}, "l": {"L": [{"S": "0"}, {"S": "2"}]}})
        );
    }
}

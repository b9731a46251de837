//! Query and Scan: read in key order from SQLite, evaluate up to Limit items (or 1 MB),
//! filter, project, and hand back the last evaluated key when more remain.

use std::collections::HashMap;

use rusqlite::types::Value as SqlValue;
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use super::eval::{eval, project};
use super::expr::{self, CmpOp, Cond, ExprKind, Operand, Path, PathElem};
use super::items::projection;
use super::value::{AttrValue, Item};
use super::{
    DynamoDb, TableMeta, constraint, constraint_errors, decode_item, enum_errors, item_json, parse_item, placeholders,
    refuse_legacy, require_table, sql, table_name,
};
use crate::local::protocol::ApiError;

/// DynamoDB stops a page after reading 1 MB.
const MAX_PAGE_BYTES: i64 = 1024 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct QueryInput {
    table_name: Option<String>,
    index_name: Option<String>,
    key_condition_expression: Option<String>,
    filter_expression: Option<String>,
    projection_expression: Option<String>,
    expression_attribute_names: Option<HashMap<String, String>>,
    expression_attribute_values: Option<Map<String, Json>>,
    limit: Option<i64>,
    exclusive_start_key: Option<Map<String, Json>>,
    scan_index_forward: Option<bool>,
    select: Option<String>,
    attributes_to_get: Option<Vec<String>>,
    key_conditions: Option<Json>,
    query_filter: Option<Json>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ScanInput {
    table_name: Option<String>,
    index_name: Option<String>,
    filter_expression: Option<String>,
    projection_expression: Option<String>,
    expression_attribute_names: Option<HashMap<String, String>>,
    expression_attribute_values: Option<Map<String, Json>>,
    limit: Option<i64>,
    exclusive_start_key: Option<Map<String, Json>>,
    select: Option<String>,
    attributes_to_get: Option<Vec<String>>,
    scan_filter: Option<Json>,
    segment: Option<i64>,
    total_segments: Option<i64>,
}

/// What a page reads: the request's limits, filter and projection.
struct PageSpec {
    limit: Option<i64>,
    filter: Option<Cond>,
    projection: Option<Vec<Path>>,
    count_only: bool,
}

fn common_checks(limit: Option<i64>, select: Option<&str>, index: Option<&str>) -> Result<bool, ApiError> {
    let mut errors = Vec::new();
    if let Some(n) = limit
        && n < 1
    {
        errors.push(constraint(Some(&n.to_string()), "limit", "Member must have value greater than or equal to 1"));
    }
    errors.extend(enum_errors(
        select,
        "select",
        &["SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES"],
    ));
    constraint_errors(errors)?;
    if let Some(index) = index {
        return Err(ApiError::validation(format!("The table does not have the specified index: {index}")));
    }
    if select == Some("ALL_PROJECTED_ATTRIBUTES") {
        return Err(ApiError::validation("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"));
    }
    Ok(select == Some("COUNT"))
}

/// Top-level attribute names a condition reads.
fn condition_attrs(cond: &Cond, out: &mut Vec<String>) {
    let mut op = |o: &Operand| {
        let mut o = o;
        while let Operand::Size(inner) = o {
            o = inner;
        }
        if let Operand::Path(p) = o
            && let Some(PathElem::Attr(a)) = p.first()
        {
            out.push(a.clone());
        }
    };
    match cond {
        Cond::Cmp(_, a, b) | Cond::AttrType(a, b) | Cond::BeginsWith(a, b) | Cond::Contains(a, b) => {
            op(a);
            op(b);
        }
        Cond::Between(a, b, c) => {
            op(a);
            op(b);
            op(c);
        }
        Cond::In(a, list) => {
            op(a);
            list.iter().for_each(op);
        }
        Cond::Exists(p) | Cond::NotExists(p) => {
            if let Some(PathElem::Attr(a)) = p.first() {
                out.push(a.clone());
            }
        }
        Cond::And(a, b) | Cond::Or(a, b) => {
            condition_attrs(a, out);
            condition_attrs(b, out);
        }
        Cond::Not(a) => condition_attrs(a, out),
    }
}

pub(super) async fn query(db: &DynamoDb, input: QueryInput) -> Result<Json, ApiError> {
    let name = table_name(input.table_name)?;
    let count_only = common_checks(input.limit, input.select.as_deref(), input.index_name.as_deref())?;
    refuse_legacy(&[("KeyConditions", input.key_conditions.is_some()), ("QueryFilter", input.query_filter.is_some())])?;
    let Some(key_src) = input.key_condition_expression else {
        return Err(ApiError::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        ));
    };
    let has_projection = input.projection_expression.is_some();
    let mut ph = placeholders(input.expression_attribute_names.clone(), input.expression_attribute_values, true)?;
    let key_cond = expr::parse_condition(&key_src, ExprKind::KeyCondition, &mut ph)?;
    let filter =
        input.filter_expression.as_deref().map(|f| expr::parse_condition(f, ExprKind::Filter, &mut ph)).transpose()?;
    let paths = match &input.projection_expression {
        Some(p) => Some(expr::parse_projection(p, &mut ph)?),
        None => None,
    };
    ph.check_all_used()?;
    let projection = match paths {
        Some(p) => Some(p),
        None => projection(None, None, input.attributes_to_get)?,
    };
    if count_only && (has_projection || projection.is_some()) {
        return Err(ApiError::validation(
            "Cannot specify the ProjectionExpression when choosing to get only the Count",
        ));
    }
    let start = input.exclusive_start_key.as_ref().map(parse_item).transpose()?;
    let spec = PageSpec { limit: input.limit, filter, projection, count_only };
    let forward = input.scan_index_forward.unwrap_or(true);
    db.db(move |conn| {
        let meta = require_table(conn, &name)?;
        let (hash, range) = key_condition(&key_cond, &meta)?;
        if let Some(filter) = &spec.filter {
            let mut attrs = Vec::new();
            condition_attrs(filter, &mut attrs);
            if let Some(k) = attrs.iter().find(|a| meta.is_key(a)) {
                return Err(ApiError::validation(format!(
                    "Filter Expression can only contain non-primary key attributes: Primary key attribute: {k}"
                )));
            }
        }
        let mut sql_text = String::from("SELECT item, size FROM ddb_items WHERE table_name = ?1 AND hash_key = ?2");
        let mut params = vec![SqlValue::Text(name.clone()), SqlValue::Blob(hash.clone())];
        let bound = |op: &str, v: Vec<u8>, sql_text: &mut String, params: &mut Vec<SqlValue>| {
            params.push(SqlValue::Blob(v));
            sql_text.push_str(&format!(" AND range_key {op} ?{}", params.len()));
        };
        match range {
            RangeCond::All => {}
            RangeCond::Cmp(op, v) => {
                let op = match op {
                    CmpOp::Eq => "=",
                    CmpOp::Lt => "<",
                    CmpOp::Le => "<=",
                    CmpOp::Gt => ">",
                    _ => ">=",
                };
                bound(op, v, &mut sql_text, &mut params);
            }
            RangeCond::Between(lo, hi) => {
                bound(">=", lo, &mut sql_text, &mut params);
                bound("<=", hi, &mut sql_text, &mut params);
            }
            RangeCond::BeginsWith(prefix) => {
                if let Some(upper) = prefix_successor(&prefix) {
                    bound("<", upper, &mut sql_text, &mut params);
                }
                bound(">=", prefix, &mut sql_text, &mut params);
            }
        }
        if let Some(start) = &start {
            let key = meta.key_of_request(start).map_err(|e| invalid_start_key(&e))?;
            if key.hash != hash {
                return Err(ApiError::validation(
                    "The provided starting key is outside query boundaries based on provided conditions",
                ));
            }
            bound(if forward { ">" } else { "<" }, key.range, &mut sql_text, &mut params);
        }
        sql_text.push_str(if forward { " ORDER BY range_key ASC" } else { " ORDER BY range_key DESC" });
        read_page(conn, &meta, &sql_text, params, &spec, |_| true)
    })
    .await
}

pub(super) async fn scan(db: &DynamoDb, input: ScanInput) -> Result<Json, ApiError> {
    let name = table_name(input.table_name)?;
    let count_only = common_checks(input.limit, input.select.as_deref(), input.index_name.as_deref())?;
    refuse_legacy(&[("ScanFilter", input.scan_filter.is_some())])?;
    let segments = match (input.segment, input.total_segments) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(ApiError::validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ));
        }
        (None, Some(_)) => {
            return Err(ApiError::validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ));
        }
        (Some(s), Some(t)) => {
            let mut errors = Vec::new();
            if !(1..=1_000_000).contains(&t) {
                errors.push(constraint(
                    Some(&t.to_string()),
                    "totalSegments",
                    "Member must have value between 1 and 1000000",
                ));
            }
            if !(0..=999_999).contains(&s) {
                errors.push(constraint(Some(&s.to_string()), "segment", "Member must have value between 0 and 999999"));
            }
            constraint_errors(errors)?;
            if s >= t {
                return Err(ApiError::validation(format!(
                    "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {s} is not less than TotalSegments: {t}"
                )));
            }
            Some((s as u64, t as u64))
        }
    };
    let has_expression = input.filter_expression.is_some() || input.projection_expression.is_some();
    let mut ph = placeholders(input.expression_attribute_names, input.expression_attribute_values, has_expression)?;
    let filter =
        input.filter_expression.as_deref().map(|f| expr::parse_condition(f, ExprKind::Filter, &mut ph)).transpose()?;
    let paths = input.projection_expression.as_deref().map(|p| expr::parse_projection(p, &mut ph)).transpose()?;
    ph.check_all_used()?;
    let projection = match paths {
        Some(p) => Some(p),
        None => projection(None, None, input.attributes_to_get)?,
    };
    if count_only && projection.is_some() {
        return Err(ApiError::validation(
            "Cannot specify the ProjectionExpression when choosing to get only the Count",
        ));
    }
    let start = input.exclusive_start_key.as_ref().map(parse_item).transpose()?;
    let spec = PageSpec { limit: input.limit, filter, projection, count_only };
    db.db(move |conn| {
        let meta = require_table(conn, &name)?;
        let mut sql_text = String::from("SELECT item, size, hash_key FROM ddb_items WHERE table_name = ?1");
        let mut params = vec![SqlValue::Text(name.clone())];
        if let Some(start) = &start {
            let key = meta.key_of_request(start).map_err(|e| invalid_start_key(&e))?;
            params.push(SqlValue::Blob(key.hash));
            params.push(SqlValue::Blob(key.range));
            sql_text.push_str(" AND (hash_key, range_key) > (?2, ?3)");
        }
        sql_text.push_str(" ORDER BY hash_key, range_key");
        read_page(conn, &meta, &sql_text, params, &spec, |hash_key| match segments {
            None => true,
            Some((segment, total)) => fnv1a(hash_key) % total == segment,
        })
    })
    .await
}

fn invalid_start_key(e: &ApiError) -> ApiError {
    ApiError::validation(format!("The provided starting key is invalid: {}", e.message))
}

/// A stable hash of the partition key, to split a parallel scan into segments.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

/// The smallest byte string greater than every string starting with `prefix`.
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xff {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// Runs `sql_text` and reads one page of results from it.
fn read_page(
    conn: &rusqlite::Connection,
    meta: &TableMeta,
    sql_text: &str,
    params: Vec<SqlValue>,
    spec: &PageSpec,
    in_segment: impl Fn(&[u8]) -> bool,
) -> Result<Json, ApiError> {
    let mut stmt = conn.prepare(sql_text).map_err(sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(sql)?;
    let mut items = Vec::new();
    let (mut count, mut scanned, mut bytes) = (0i64, 0i64, 0i64);
    let mut last: Option<Item> = None;
    let mut more = false;
    while let Some(row) = rows.next().map_err(sql)? {
        if let Ok(hash_key) = row.get_ref(2).and_then(|v| Ok(v.as_blob()?.to_vec()))
            && !in_segment(&hash_key)
        {
            continue;
        }
        let full = spec.limit.is_some_and(|l| scanned >= l) || bytes >= MAX_PAGE_BYTES;
        if full {
            more = true;
            break;
        }
        let text: String = row.get(0).map_err(sql)?;
        let size: i64 = row.get(1).map_err(sql)?;
        let item = decode_item(&text)?;
        scanned += 1;
        bytes += size;
        if spec.filter.as_ref().is_none_or(|f| eval(f, &item)) {
            count += 1;
            if !spec.count_only {
                let out = match &spec.projection {
                    Some(paths) => project(&item, paths),
                    None => item.clone(),
                };
                items.push(item_json(&out));
            }
        }
        last = Some(item);
    }
    let mut out = json!({"Count": count, "ScannedCount": scanned});
    if !spec.count_only {
        out["Items"] = Json::Array(items);
    }
    if more && let Some(last) = last {
        out["LastEvaluatedKey"] = item_json(&meta.key_item(&last));
    }
    Ok(out)
}

enum RangeCond {
    All,
    Cmp(CmpOp, Vec<u8>),
    Between(Vec<u8>, Vec<u8>),
    BeginsWith(Vec<u8>),
}

fn unsupported() -> ApiError {
    ApiError::validation("Query key condition not supported")
}

/// The attribute a key-condition operand names (top-level only) or its value.
fn key_operand(op: &Operand) -> Result<Result<&str, &AttrValue>, ApiError> {
    match op {
        Operand::Path(p) => match p.as_slice() {
            [PathElem::Attr(a)] => Ok(Ok(a.as_str())),
            _ => Err(unsupported()),
        },
        Operand::Value(v) => Ok(Err(v)),
        Operand::Size(_) => Err(unsupported()),
    }
}

/// Turns a KeyConditionExpression into the partition key and a sort-key range.
fn key_condition(cond: &Cond, meta: &TableMeta) -> Result<(Vec<u8>, RangeCond), ApiError> {
    fn conjuncts<'a>(c: &'a Cond, out: &mut Vec<&'a Cond>) {
        match c {
            Cond::And(a, b) => {
                conjuncts(a, out);
                conjuncts(b, out);
            }
            other => out.push(other),
        }
    }
    let mut parts = Vec::new();
    conjuncts(cond, &mut parts);
    if parts.len() > 2 {
        return Err(ApiError::validation("Conditions can be of length 1 or 2 only"));
    }
    let mut hash: Option<Vec<u8>> = None;
    let mut range = RangeCond::All;
    let mut range_seen = false;
    for part in parts {
        // (attribute, condition on it, values)
        let (attr, rc_values, build): (&str, Vec<&AttrValue>, Box<dyn Fn(Vec<Vec<u8>>) -> RangeCond>) = match part {
            Cond::Cmp(op, a, b) => {
                let (attr, value, op) = match (key_operand(a)?, key_operand(b)?) {
                    (Ok(attr), Err(v)) => (attr, v, *op),
                    (Err(v), Ok(attr)) => (attr, v, flip(*op)),
                    _ => return Err(unsupported()),
                };
                if op == CmpOp::Ne {
                    return Err(unsupported());
                }
                (attr, vec![value], Box::new(move |mut v| RangeCond::Cmp(op, v.remove(0))))
            }
            Cond::Between(a, lo, hi) => match (key_operand(a)?, key_operand(lo)?, key_operand(hi)?) {
                (Ok(attr), Err(lo), Err(hi)) => {
                    (attr, vec![lo, hi], Box::new(|mut v| RangeCond::Between(v.remove(0), v.remove(0))))
                }
                _ => return Err(unsupported()),
            },
            Cond::BeginsWith(a, p) => match (key_operand(a)?, key_operand(p)?) {
                (Ok(attr), Err(p)) => (attr, vec![p], Box::new(|mut v| RangeCond::BeginsWith(v.remove(0)))),
                _ => return Err(unsupported()),
            },
            _ => return Err(unsupported()),
        };
        let key = if attr == meta.hash.name {
            &meta.hash
        } else if let Some(r) = meta.range.as_ref().filter(|r| r.name == attr) {
            r
        } else {
            let missing = if hash.is_none() && !matches!(part, Cond::Cmp(CmpOp::Eq, ..)) {
                &meta.hash.name
            } else {
                meta.range.as_ref().map_or(&meta.hash.name, |r| &r.name)
            };
            return Err(ApiError::validation(format!("Query condition missed key schema element: {missing}")));
        };
        if matches!(part, Cond::BeginsWith(..)) && key.ty == "N" {
            return Err(ApiError::validation(
                "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
            ));
        }
        let mut encoded = Vec::new();
        for v in rc_values {
            if v.type_name() != key.ty {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: Condition parameter type does not match schema type",
                ));
            }
            encoded.push(v.sort_key().unwrap_or_default());
        }
        let rc = build(encoded);
        if key.name == meta.hash.name {
            match rc {
                RangeCond::Cmp(CmpOp::Eq, v) if hash.is_none() => hash = Some(v),
                _ => return Err(unsupported()),
            }
        } else {
            if range_seen {
                return Err(unsupported());
            }
            range_seen = true;
            range = rc;
        }
    }
    let hash = hash.ok_or_else(|| {
        ApiError::validation(format!("Query condition missed key schema element: {}", meta.hash.name))
    })?;
    Ok((hash, range))
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_successor;

    #[test]
    fn prefix_successor_bounds_every_extension() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[0x61, 0xff]), Some(vec![0x62]));
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
    }
}

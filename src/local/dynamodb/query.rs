//! Query and Scan, of a table or of one of its secondary indexes: read in key order from
//! SQLite, evaluate up to Limit items (or 1 MB), filter, project, and hand back the last
//! evaluated key when more remain.

use std::collections::HashMap;

use rusqlite::types::Value as SqlValue;
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use super::eval::{eval, project};
use super::expr::{self, CmpOp, Cond, ExprKind, Operand, Path, PathElem};
use super::indexes::{self, IndexMeta};
use super::items::projection;
use super::legacy;
use super::value::{AttrValue, Item};
use super::{
    DynamoDb, KeySchema, StoredKey, TableMeta, constraint, constraint_errors, decode_item, enum_errors, item_json,
    key_part, load_item, parse_item, placeholders, require_table, sql, table_name,
};
use crate::local::protocol::ApiError;

/// DynamoDB stops a page after reading 1 MB.
const MAX_PAGE_BYTES: i64 = 1024 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct QueryInput {
    key_condition_expression: Option<String>,
    key_conditions: Option<Map<String, Json>>,
    scan_index_forward: Option<bool>,
    query_filter: Option<Map<String, Json>>,
    #[serde(flatten)]
    read: ReadParams,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ScanInput {
    scan_filter: Option<Map<String, Json>>,
    segment: Option<i64>,
    total_segments: Option<i64>,
    #[serde(flatten)]
    read: ReadParams,
}

/// What Query and Scan share: the table or index, the filter and projection (expressions
/// or the older QueryFilter/ScanFilter and AttributesToGet), Select, Limit and the start.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ReadParams {
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
    consistent_read: Option<bool>,
    conditional_operator: Option<String>,
}

/// A Query's key condition as sent: the expression or the older KeyConditions.
struct KeyParams {
    expression: Option<String>,
    conditions: Option<Map<String, Json>>,
}

/// A read's parameters, checked and parsed.
struct ParsedRead {
    table: String,
    index: Option<String>,
    consistent: bool,
    select: Select,
    spec: PageSpec,
    start: Option<Item>,
    /// Query's key condition.
    key: Option<Cond>,
}

impl ReadParams {
    /// `key` is Query's key condition (None for Scan); `older_filter` names QueryFilter or
    /// ScanFilter and carries it.
    fn parse(
        self,
        key: Option<KeyParams>,
        older_filter: (&str, Option<&Map<String, Json>>),
    ) -> Result<ParsedRead, ApiError> {
        let table = table_name(self.table_name)?;
        let mut errors = Vec::new();
        limit_errors(self.limit, &mut errors);
        constraint_errors(errors)?;
        let (filter_field, filter_map) = older_filter;
        let key_expression = key.as_ref().and_then(|k| k.expression.as_deref());
        let mut expressions = vec![
            ("ProjectionExpression", self.projection_expression.is_some()),
            ("FilterExpression", self.filter_expression.is_some()),
        ];
        let mut older = vec![
            ("AttributesToGet", self.attributes_to_get.is_some()),
            (if key.is_some() { "QueryFilter" } else { "ScanFilter" }, filter_map.is_some()),
            ("ConditionalOperator", self.conditional_operator.is_some()),
        ];
        if let Some(k) = &key {
            // KeyConditions may come with the other expressions (AWS allows that one mix).
            expressions.push(("KeyConditionExpression", key_expression.is_some()));
            older.push(("KeyConditions", k.conditions.is_some() && key_expression.is_some()));
        }
        legacy::refuse_mixing(&expressions, &older)?;
        let chosen = select(
            self.select.as_deref(),
            projection_param(self.projection_expression.is_some(), self.attributes_to_get.is_some()),
            key.is_some(),
        )?;
        if let Some(k) = &key
            && k.conditions.is_none()
            && k.expression.is_none()
        {
            return Err(ApiError::validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
            ));
        }
        let has_expression =
            key_expression.is_some() || self.filter_expression.is_some() || self.projection_expression.is_some();
        let mut ph = placeholders(self.expression_attribute_names, self.expression_attribute_values, has_expression)?;
        let key_cond = match &key {
            Some(KeyParams { expression: Some(src), .. }) => {
                Some(expr::parse_condition(src, ExprKind::KeyCondition, &mut ph)?)
            }
            Some(KeyParams { conditions: Some(kc), .. }) => Some(legacy::key_conditions(kc)?),
            _ => None,
        };
        let filter = match &self.filter_expression {
            Some(f) => Some(expr::parse_condition(f, ExprKind::Filter, &mut ph)?),
            None => legacy::filter(filter_map, filter_field, self.conditional_operator.as_deref())?,
        };
        let paths = self.projection_expression.as_deref().map(|p| expr::parse_projection(p, &mut ph)).transpose()?;
        ph.check_all_used()?;
        let projection = match paths {
            Some(p) => Some(p),
            None => projection(None, None, self.attributes_to_get)?,
        };
        let start = self.exclusive_start_key.as_ref().map(parse_item).transpose()?;
        Ok(ParsedRead {
            table,
            index: self.index_name,
            consistent: self.consistent_read.unwrap_or(false),
            select: chosen,
            spec: PageSpec { limit: self.limit, filter, projection, count_only: chosen == Select::Count },
            start,
            key: key_cond,
        })
    }
}

/// What a read returns of each item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Select {
    /// No Select and no projection: the whole item from a table, the projection from an index.
    Default,
    All,
    Projected,
    Specific,
    Count,
}

/// What a page reads: the request's limits, filter and projection.
struct PageSpec {
    limit: Option<i64>,
    filter: Option<Cond>,
    projection: Option<Vec<Path>>,
    count_only: bool,
}

fn limit_errors(limit: Option<i64>, errors: &mut Vec<String>) {
    if let Some(n) = limit
        && n < 1
    {
        errors.push(constraint(Some(&n.to_string()), "limit", "Member must have value greater than or equal to 1"));
    }
}

/// Select against the projection parameter the request used (`ProjectionExpression` or
/// `AttributesToGet`), with AWS's messages. Query wraps the SPECIFIC_ATTRIBUTES one in
/// the framework's envelope and Scan does not, as AWS does.
fn select(select: Option<&str>, projection_param: Option<&str>, query: bool) -> Result<Select, ApiError> {
    let mut errors = Vec::new();
    errors.extend(enum_errors(
        select,
        "select",
        &["SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES"],
    ));
    constraint_errors(errors)?;
    let chosen = match select {
        None if projection_param.is_some() => Select::Specific,
        None => Select::Default,
        Some("ALL_ATTRIBUTES") => Select::All,
        Some("ALL_PROJECTED_ATTRIBUTES") => Select::Projected,
        Some("COUNT") => Select::Count,
        _ => Select::Specific,
    };
    match (chosen, projection_param) {
        (Select::Specific, None) => {
            let msg =
                "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES";
            Err(ApiError::validation(if query {
                format!("1 validation error detected: {msg}")
            } else {
                msg.to_string()
            }))
        }
        (Select::Specific | Select::Default, _) => Ok(chosen),
        (_, Some(param)) => {
            let what = match chosen {
                Select::Count => "only the Count",
                Select::All => "ALL_ATTRIBUTES",
                _ => "ALL_PROJECTED_ATTRIBUTES",
            };
            Err(ApiError::validation(format!("Cannot specify the {param} when choosing to get {what}")))
        }
        (_, None) => Ok(chosen),
    }
}

fn projection_param(expression: bool, attributes_to_get: bool) -> Option<&'static str> {
    if expression {
        Some("ProjectionExpression")
    } else if attributes_to_get {
        Some("AttributesToGet")
    } else {
        None
    }
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

/// Where a read goes: the table, or one of its indexes.
struct Source<'a> {
    meta: &'a TableMeta,
    index: Option<&'a IndexMeta>,
    /// A local index read that needs attributes it does not project reads them from the
    /// table, as DynamoDB fetches them.
    fetch: bool,
    /// Select=ALL_ATTRIBUTES: fetched items are returned whole, not as projected.
    whole: bool,
}

impl<'a> Source<'a> {
    fn open(
        meta: &'a TableMeta,
        index_name: Option<&str>,
        consistent: bool,
        select: Select,
        spec: &PageSpec,
    ) -> Result<Self, ApiError> {
        let Some(index_name) = index_name else {
            if select == Select::Projected {
                return Err(ApiError::validation(
                    "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
                ));
            }
            return Ok(Self { meta, index: None, fetch: false, whole: true });
        };
        let index = meta.index(index_name).ok_or_else(|| {
            ApiError::validation(format!("The table does not have the specified index: {index_name}"))
        })?;
        if index.global && consistent {
            return Err(ApiError::validation("Consistent reads are not supported on global secondary indexes"));
        }
        let mut needed: Vec<String> = Vec::new();
        if let Some(f) = &spec.filter {
            condition_attrs(f, &mut needed);
        }
        for p in spec.projection.iter().flatten() {
            if let Some(PathElem::Attr(a)) = p.first() {
                needed.push(a.clone());
            }
        }
        let partial = index.projection != "ALL";
        if index.global && partial && select == Select::All {
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
                index.name
            )));
        }
        let fetch =
            !index.global && partial && (select == Select::All || needed.iter().any(|a| !index.projects(meta, a)));
        Ok(Self { meta, index: Some(index), fetch, whole: select == Select::All })
    }

    fn schema(&self) -> KeySchema<'a> {
        self.index.map_or(self.meta.schema(), |i| i.schema())
    }

    /// The attributes of LastEvaluatedKey: the table's key, then the index's.
    fn key_names(&self) -> Vec<String> {
        indexes::key_names(self.meta, self.index.map(std::slice::from_ref).unwrap_or_default())
    }

    /// ExclusiveStartKey as stored: the index key (empty on a table) and the table key.
    fn start(&self, start: &Item) -> Result<(Vec<u8>, Vec<u8>, StoredKey), ApiError> {
        let invalid =
            |e: &ApiError| ApiError::validation(format!("The provided starting key is invalid: {}", e.message));
        let Some(index) = self.index else {
            let key = self.meta.key_of_request(start).map_err(|e| invalid(&e))?;
            return Ok((Vec::new(), Vec::new(), key));
        };
        let mismatch = ApiError::validation("The provided key element does not match the schema");
        if start.len() != self.key_names().len() {
            return Err(invalid(&mismatch));
        }
        let table_key: Item =
            self.meta.keys().filter_map(|k| start.get(&k.name).map(|v| (k.name.clone(), v.clone()))).collect();
        let key = self.meta.key_of_request(&table_key).map_err(|e| invalid(&e))?;
        let mut parts = Vec::new();
        for (i, k) in index.schema().keys().enumerate() {
            match start.get(&k.name) {
                Some(v) if v.type_name() == k.ty => parts.push(key_part(k, v, i == 0).map_err(|e| invalid(&e))?),
                _ => return Err(invalid(&mismatch)),
            }
        }
        let hash = parts.remove(0);
        Ok((hash, parts.pop().unwrap_or_default(), key))
    }

    /// The SELECT of a read, its first parameters, and how its rows are ordered.
    fn select_sql(&self) -> (String, Vec<SqlValue>, &'static [&'static str]) {
        match self.index {
            None => (
                "SELECT item, size, hash_key FROM ddb_items WHERE table_name = ?1".into(),
                vec![SqlValue::Text(self.meta.name.clone())],
                &["hash_key", "range_key"],
            ),
            Some(index) => (
                "SELECT item, size, hash_key, table_hash, table_range FROM ddb_index_items WHERE table_name = ?1 AND index_name = ?2".into(),
                vec![SqlValue::Text(self.meta.name.clone()), SqlValue::Text(index.name.clone())],
                &["hash_key", "range_key", "table_hash", "table_range"],
            ),
        }
    }
}

/// A filter may not name the key attributes of what is read.
fn check_filter_keys(filter: Option<&Cond>, schema: KeySchema, legacy: bool) -> Result<(), ApiError> {
    let Some(filter) = filter else { return Ok(()) };
    let mut attrs = Vec::new();
    condition_attrs(filter, &mut attrs);
    if let Some(k) = attrs.iter().find(|a| schema.is_key(a)) {
        let what = if legacy { "QueryFilter" } else { "Filter Expression" };
        return Err(ApiError::validation(format!(
            "{what} can only contain non-primary key attributes: Primary key attribute: {k}"
        )));
    }
    Ok(())
}

pub(super) async fn query(db: &DynamoDb, input: QueryInput) -> Result<Json, ApiError> {
    let key = KeyParams { expression: input.key_condition_expression, conditions: input.key_conditions };
    let legacy_filter = input.query_filter.is_some();
    let read = input.read.parse(Some(key), ("queryFilter", input.query_filter.as_ref()))?;
    let forward = input.scan_index_forward.unwrap_or(true);
    let ParsedRead { table, index, consistent, select, spec, start, key } = read;
    let key_cond = key.expect("a Query's key condition is parsed");
    db.db(move |conn| {
        let meta = require_table(conn, &table)?;
        let source = Source::open(&meta, index.as_deref(), consistent, select, &spec)?;
        let (hash, range) = key_condition(&key_cond, source.schema())?;
        check_filter_keys(spec.filter.as_ref(), source.schema(), legacy_filter)?;
        let (mut sql_text, mut params, order) = source.select_sql();
        params.push(SqlValue::Blob(hash.clone()));
        sql_text.push_str(&format!(" AND hash_key = ?{}", params.len()));
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
            let (index_hash, index_range, key) = source.start(start)?;
            let start_hash = if source.index.is_some() { &index_hash } else { &key.hash };
            if *start_hash != hash {
                return Err(ApiError::validation(
                    "The provided starting key is outside query boundaries based on provided conditions",
                ));
            }
            // Rows after the start key within the partition, in the read's direction.
            let after: Vec<Vec<u8>> = match source.index {
                None => vec![key.range],
                Some(_) => vec![index_range, key.hash, key.range],
            };
            past_start(&mut sql_text, &mut params, &order[1..], if forward { ">" } else { "<" }, after);
        }
        let direction = if forward { "ASC" } else { "DESC" };
        let ordering: Vec<String> = order[1..].iter().map(|c| format!("{c} {direction}")).collect();
        sql_text.push_str(&format!(" ORDER BY {}", ordering.join(", ")));
        read_page(conn, &source, &sql_text, params, &spec, |_| true)
    })
    .await
}

fn segments(segment: Option<i64>, total: Option<i64>) -> Result<Option<(u64, u64)>, ApiError> {
    match (segment, total) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(ApiError::validation(
            "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
        )),
        (None, Some(_)) => Err(ApiError::validation(
            "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
        )),
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
            Ok(Some((s as u64, t as u64)))
        }
    }
}

pub(super) async fn scan(db: &DynamoDb, input: ScanInput) -> Result<Json, ApiError> {
    let read = input.read.parse(None, ("scanFilter", input.scan_filter.as_ref()))?;
    let segments = segments(input.segment, input.total_segments)?;
    let ParsedRead { table, index, consistent, select, spec, start, .. } = read;
    db.db(move |conn| {
        let meta = require_table(conn, &table)?;
        let source = Source::open(&meta, index.as_deref(), consistent, select, &spec)?;
        let in_segment = |hash_key: &[u8]| match segments {
            None => true,
            Some((segment, total)) => fnv1a(hash_key) % total == segment,
        };
        let (mut sql_text, mut params, order) = source.select_sql();
        if let Some(start) = &start {
            let (index_hash, index_range, key) = source.start(start)?;
            let after: Vec<Vec<u8>> = match source.index {
                None => vec![key.hash, key.range],
                Some(_) => vec![index_hash, index_range, key.hash, key.range],
            };
            if !in_segment(&after[0]) {
                return Err(ApiError::validation(
                    "The provided Exclusive start key does not map to the provided Segment and TotalSegments values.",
                ));
            }
            past_start(&mut sql_text, &mut params, order, ">", after);
        }
        sql_text.push_str(&format!(" ORDER BY {}", order.join(", ")));
        read_page(conn, &source, &sql_text, params, &spec, in_segment)
    })
    .await
}

/// Restricts a read to rows strictly past the start key: `AND (columns) op (start…)`,
/// compared as SQLite row values, so a page continues exactly after the last one.
fn past_start(sql_text: &mut String, params: &mut Vec<SqlValue>, columns: &[&str], op: &str, start: Vec<Vec<u8>>) {
    let first = params.len() + 1;
    let marks: Vec<String> = (first..first + start.len()).map(|i| format!("?{i}")).collect();
    params.extend(start.into_iter().map(SqlValue::Blob));
    sql_text.push_str(&format!(" AND ({}) {op} ({})", columns.join(", "), marks.join(", ")));
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

/// Runs `sql_text` (columns: item, size, hash key and, on an index, the table key) and
/// reads one page of results from it.
fn read_page(
    conn: &rusqlite::Connection,
    source: &Source,
    sql_text: &str,
    params: Vec<SqlValue>,
    spec: &PageSpec,
    in_segment: impl Fn(&[u8]) -> bool,
) -> Result<Json, ApiError> {
    let mut stmt = conn.prepare(sql_text).map_err(sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(sql)?;
    let key_names = source.key_names();
    let mut items = Vec::new();
    let (mut count, mut scanned, mut bytes) = (0i64, 0i64, 0i64);
    let mut last: Option<Item> = None;
    let mut more = false;
    while let Some(row) = rows.next().map_err(sql)? {
        let hash_key: Vec<u8> = row.get(2).map_err(sql)?;
        if !in_segment(&hash_key) {
            continue;
        }
        let full = spec.limit.is_some_and(|l| scanned >= l) || bytes >= MAX_PAGE_BYTES;
        if full {
            more = true;
            break;
        }
        let text: String = row.get(0).map_err(sql)?;
        let size: i64 = row.get(1).map_err(sql)?;
        let stored = decode_item(&text)?;
        let mut item = None;
        if source.fetch {
            let key = StoredKey { hash: row.get(3).map_err(sql)?, range: row.get(4).map_err(sql)? };
            item = load_item(conn, &source.meta.name, &key)?;
        }
        let item = item.unwrap_or_else(|| stored.clone());
        scanned += 1;
        bytes += size;
        if spec.filter.as_ref().is_none_or(|f| eval(f, &item)) {
            count += 1;
            if !spec.count_only {
                let out = match &spec.projection {
                    Some(paths) => project(&item, paths),
                    None if source.whole => item.clone(),
                    None => stored,
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
        let key: Item = key_names.iter().filter_map(|k| last.get(k).map(|v| (k.clone(), v.clone()))).collect();
        out["LastEvaluatedKey"] = item_json(&key);
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
fn key_condition(cond: &Cond, meta: KeySchema) -> Result<(Vec<u8>, RangeCond), ApiError> {
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
            meta.hash
        } else if let Some(r) = meta.range.filter(|r| r.name == attr) {
            r
        } else {
            let missing = if hash.is_none() && !matches!(part, Cond::Cmp(CmpOp::Eq, ..)) {
                &meta.hash.name
            } else {
                meta.range.map_or(&meta.hash.name, |r| &r.name)
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

//! Global and local secondary indexes: their definitions (validated with CreateTable's and
//! UpdateTable's rules and messages), DescribeTable's view of them, and the index entries.
//!
//! An index entry is the item's projection (ALL, KEYS_ONLY or INCLUDE) stored in
//! `ddb_index_items` under the index key followed by the table key, so an index reads in
//! its key order and pages continue strictly after the last entry returned. Entries are
//! rewritten by [`replace_entries`] in the transaction of the item write itself. An item
//! without every key attribute of an index is not in it (a sparse index); an item whose
//! index key has the wrong type is refused on write, and skipped by the back-fill of a
//! global index added to a table that already holds items (as DynamoDB does).
//!
//! This room touches only `ddb_index_items` (and reads `ddb_items` to back-fill).

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use super::value::{AttrValue, Item, item_size, item_to_json};
use super::{KeyAttr, KeySchema, StoredKey, TableMeta, constraint, decode_item, enum_errors, key_part, sql};
use crate::local::protocol::ApiError;

/// AWS's per-table limits.
const MAX_GSIS: usize = 20;
const MAX_LSIS: usize = 5;
/// Projected non-key attributes summed over all of a table's indexes.
const MAX_PROJECTED_ATTRIBUTES: usize = 100;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct IndexMeta {
    pub name: String,
    pub global: bool,
    pub hash: KeyAttr,
    pub range: Option<KeyAttr>,
    /// ALL, KEYS_ONLY or INCLUDE.
    pub projection: String,
    /// INCLUDE's NonKeyAttributes.
    pub non_key: Vec<String>,
    /// A global index's own throughput (0 on an on-demand table).
    pub read_capacity: i64,
    pub write_capacity: i64,
}

impl IndexMeta {
    pub fn schema(&self) -> KeySchema<'_> {
        KeySchema { hash: &self.hash, range: self.range.as_ref() }
    }

    /// Whether the index holds attribute `name` of its items.
    pub fn projects(&self, table: &TableMeta, name: &str) -> bool {
        self.projection == "ALL"
            || table.is_key(name)
            || self.schema().is_key(name)
            || self.non_key.iter().any(|a| a == name)
    }

    fn project(&self, table: &TableMeta, item: &Item) -> Item {
        if self.projection == "ALL" {
            return item.clone();
        }
        item.iter().filter(|(k, _)| self.projects(table, k)).map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// Writes check index keys strictly; the back-fill of a new index skips what a write would refuse.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Write,
    Backfill,
}

/// One item's entry in one index.
pub(super) struct Entry {
    index: String,
    hash: Vec<u8>,
    range: Vec<u8>,
    item: Item,
}

/// An index key as stored: the encoded hash and range values.
type EncodedKey = (Vec<u8>, Vec<u8>);

/// The encoded index key of `item`, `None` when the item is not in the index.
fn index_key(index: &IndexMeta, item: &Item, mode: Mode) -> Result<Option<EncodedKey>, ApiError> {
    let mut parts = Vec::new();
    let mut missing = false;
    for (i, key) in index.schema().keys().enumerate() {
        let Some(v) = item.get(&key.name) else {
            missing = true;
            continue;
        };
        if v.type_name() != key.ty {
            if mode == Mode::Backfill {
                return Ok(None);
            }
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                key.name,
                key.ty,
                v.type_name(),
                index.name
            )));
        }
        let empty = matches!(v, AttrValue::S(s) if s.is_empty()) || matches!(v, AttrValue::B(b) if b.is_empty());
        if empty {
            if mode == Mode::Backfill {
                return Ok(None);
            }
            return Err(ApiError::validation(format!(
                "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {} value. IndexName: {}, IndexKey: {}",
                if key.ty == "S" { "string" } else { "binary" },
                index.name,
                key.name
            )));
        }
        match key_part(key, v, i == 0) {
            Ok(bytes) => parts.push(bytes),
            Err(_) if mode == Mode::Backfill => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    if missing {
        return Ok(None);
    }
    let hash = parts.remove(0);
    Ok(Some((hash, parts.pop().unwrap_or_default())))
}

/// The entries `item` has in the table's indexes.
pub(super) fn entries(meta: &TableMeta, item: &Item, mode: Mode) -> Result<Vec<Entry>, ApiError> {
    let mut out = Vec::new();
    for index in &meta.indexes {
        if let Some((hash, range)) = index_key(index, item, mode)? {
            out.push(Entry { index: index.name.clone(), hash, range, item: index.project(meta, item) });
        }
    }
    Ok(out)
}

fn insert_entry(conn: &Connection, table: &str, key: &StoredKey, e: &Entry) -> Result<(), ApiError> {
    conn.execute(
        "INSERT OR REPLACE INTO ddb_index_items
             (table_name, index_name, hash_key, range_key, table_hash, table_range, item, size)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        rusqlite::params![
            table,
            e.index,
            e.hash,
            e.range,
            key.hash,
            key.range,
            item_to_json(&e.item).to_string(),
            item_size(&e.item) as i64
        ],
    )
    .map_err(sql)?;
    Ok(())
}

/// Replaces every index entry of the item at `key` with `entries` (none: the item is gone).
pub(super) fn replace_entries(
    conn: &Connection,
    meta: &TableMeta,
    key: &StoredKey,
    entries: &[Entry],
) -> Result<(), ApiError> {
    if meta.indexes.is_empty() {
        return Ok(());
    }
    conn.execute(
        "DELETE FROM ddb_index_items WHERE table_name = ?1 AND table_hash = ?2 AND table_range = ?3",
        rusqlite::params![meta.name, key.hash, key.range],
    )
    .map_err(sql)?;
    for e in entries {
        insert_entry(conn, &meta.name, key, e)?;
    }
    Ok(())
}

/// Fills a new global index from the items already in the table (in the caller's transaction).
pub(super) fn backfill(conn: &Connection, meta: &TableMeta, index: &IndexMeta) -> Result<(), ApiError> {
    let mut stmt =
        conn.prepare("SELECT hash_key, range_key, item FROM ddb_items WHERE table_name = ?1").map_err(sql)?;
    let mut rows = stmt.query([&meta.name]).map_err(sql)?;
    while let Some(row) = rows.next().map_err(sql)? {
        let key = StoredKey { hash: row.get(0).map_err(sql)?, range: row.get(1).map_err(sql)? };
        let item = decode_item(&row.get::<_, String>(2).map_err(sql)?)?;
        if let Some((hash, range)) = index_key(index, &item, Mode::Backfill)? {
            let entry = Entry { index: index.name.clone(), hash, range, item: index.project(meta, &item) };
            insert_entry(conn, &meta.name, &key, &entry)?;
        }
    }
    Ok(())
}

/// Removes an index's entries (UpdateTable's Delete).
pub(super) fn drop_entries(conn: &Connection, table: &str, index: &str) -> Result<(), ApiError> {
    conn.execute("DELETE FROM ddb_index_items WHERE table_name = ?1 AND index_name = ?2", [table, index])
        .map_err(sql)?;
    Ok(())
}

/// DescribeTable's GlobalSecondaryIndexes and LocalSecondaryIndexes (absent when empty, as on AWS).
pub(super) fn describe(conn: &Connection, meta: &TableMeta, table_arn: &str, desc: &mut Json) -> Result<(), ApiError> {
    let mut globals = Vec::new();
    let mut locals = Vec::new();
    for index in &meta.indexes {
        let (count, size): (i64, i64) = conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM ddb_index_items WHERE table_name = ?1 AND index_name = ?2",
                [&meta.name, &index.name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sql)?;
        let key_schema: Vec<Json> = index
            .schema()
            .keys()
            .zip(["HASH", "RANGE"])
            .map(|(k, t)| json!({"AttributeName": k.name, "KeyType": t}))
            .collect();
        let mut projection = json!({"ProjectionType": index.projection});
        if !index.non_key.is_empty() {
            projection["NonKeyAttributes"] = json!(index.non_key);
        }
        let mut d = json!({
            "IndexName": index.name,
            "KeySchema": key_schema,
            "Projection": projection,
            "IndexSizeBytes": size,
            "ItemCount": count,
            "IndexArn": format!("{table_arn}/index/{}", index.name),
        });
        if index.global {
            // Built in the transaction that created it, so always ACTIVE and never backfilling.
            d["IndexStatus"] = json!("ACTIVE");
            d["ProvisionedThroughput"] = json!({
                "NumberOfDecreasesToday": 0,
                "ReadCapacityUnits": index.read_capacity,
                "WriteCapacityUnits": index.write_capacity,
            });
            globals.push(d);
        } else {
            locals.push(d);
        }
    }
    if !globals.is_empty() {
        desc["GlobalSecondaryIndexes"] = Json::Array(globals);
    }
    if !locals.is_empty() {
        desc["LocalSecondaryIndexes"] = Json::Array(locals);
    }
    Ok(())
}

// ---- definitions ----

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeySchemaInput {
    pub attribute_name: Option<String>,
    pub key_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ThroughputInput {
    pub read_capacity_units: Option<i64>,
    pub write_capacity_units: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ProjectionInput {
    projection_type: Option<String>,
    non_key_attributes: Option<Vec<String>>,
}

/// A GlobalSecondaryIndex or LocalSecondaryIndex of CreateTable, or UpdateTable's Create.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IndexInput {
    index_name: Option<String>,
    key_schema: Option<Vec<KeySchemaInput>>,
    projection: Option<ProjectionInput>,
    provisioned_throughput: Option<ThroughputInput>,
}

impl IndexInput {
    pub fn name(&self) -> &str {
        self.index_name.as_deref().unwrap_or_default()
    }
}

/// A key attribute's name: present, 1 to 255 bytes (AWS's limit for key names).
pub(super) fn key_name_errors(name: Option<&str>, field: &str, errors: &mut Vec<String>) {
    let rule = match name {
        None => "Member must not be null",
        Some(n) if n.len() > 255 => "Member must have length less than or equal to 255",
        Some("") => "Member must have length greater than or equal to 1",
        Some(_) => return,
    };
    errors.push(constraint(name, field, rule));
}

/// Key names as long as AWS allows and key types of the enum.
pub(super) fn key_schema_errors(schema: &[KeySchemaInput], field: &str, errors: &mut Vec<String>) {
    for (i, k) in schema.iter().enumerate() {
        let f = format!("{field}.{}.member", i + 1);
        key_name_errors(k.attribute_name.as_deref(), &format!("{f}.attributeName"), errors);
        match &k.key_type {
            None => errors.push(constraint(None, &format!("{f}.keyType"), "Member must not be null")),
            Some(t) => errors.extend(enum_errors(Some(t), &format!("{f}.keyType"), &["HASH", "RANGE"])),
        }
    }
}

pub(super) fn throughput_errors(t: &ThroughputInput, field: &str, errors: &mut Vec<String>) {
    for (v, f) in [(t.read_capacity_units, "readCapacityUnits"), (t.write_capacity_units, "writeCapacityUnits")] {
        let f = format!("{field}.{f}");
        match v {
            None => errors.push(constraint(None, &f, "Member must not be null")),
            Some(n) if n < 1 => {
                errors.push(constraint(Some(&n.to_string()), &f, "Member must have value greater than or equal to 1"))
            }
            _ => {}
        }
    }
}

/// The framework-level checks of one index definition (`globalSecondaryIndexes.1.member…`).
pub(super) fn input_errors(index: &IndexInput, field: &str, errors: &mut Vec<String>) {
    match index.index_name.as_deref() {
        None => errors.push(constraint(None, &format!("{field}.indexName"), "Member must not be null")),
        Some(name) => errors.extend(super::table_name_errors(Some(name), &format!("{field}.indexName"))),
    }
    match &index.key_schema {
        None => errors.push(constraint(None, &format!("{field}.keySchema"), "Member must not be null")),
        Some(ks) => {
            if ks.is_empty() || ks.len() > 2 {
                let rule = if ks.is_empty() {
                    "Member must have length greater than or equal to 1"
                } else {
                    "Member must have length less than or equal to 2"
                };
                errors.push(constraint(Some(&ks.len().to_string()), &format!("{field}.keySchema"), rule));
            }
            key_schema_errors(ks, &format!("{field}.keySchema"), errors);
        }
    }
    match &index.projection {
        None => errors.push(constraint(None, &format!("{field}.projection"), "Member must not be null")),
        Some(p) => {
            errors.extend(enum_errors(
                p.projection_type.as_deref(),
                &format!("{field}.projection.projectionType"),
                &["ALL", "INCLUDE", "KEYS_ONLY"],
            ));
            if let Some(attrs) = &p.non_key_attributes {
                if attrs.is_empty() {
                    errors.push(constraint(
                        Some("[]"),
                        &format!("{field}.projection.nonKeyAttributes"),
                        "Member must have length greater than or equal to 1",
                    ));
                }
                if attrs.len() > 20 {
                    errors.push(constraint(
                        Some(&format!("[{}]", attrs.join(", "))),
                        &format!("{field}.projection.nonKeyAttributes"),
                        "Member must have length less than or equal to 20",
                    ));
                }
            }
        }
    }
    if let Some(t) = &index.provisioned_throughput {
        throughput_errors(t, &format!("{field}.provisionedThroughput"), errors);
    }
}

fn invalid(msg: impl std::fmt::Display) -> ApiError {
    ApiError::validation(format!("One or more parameter values were invalid: {msg}"))
}

/// One index definition checked against the table (the definitions it may use, the
/// billing mode), after [`input_errors`] passed.
pub(super) fn define(
    input: &IndexInput,
    global: bool,
    table: &TableMeta,
    definitions: &[KeyAttr],
) -> Result<IndexMeta, ApiError> {
    let ks = input.key_schema.as_deref().unwrap_or_default();
    let name = input.name().to_string();
    let key_names: Vec<&str> = ks.iter().map(|k| k.attribute_name.as_deref().unwrap_or_default()).collect();
    let find = |n: &str| definitions.iter().find(|d| d.name == n).cloned();
    if key_names.iter().any(|k| find(k).is_none()) {
        let defs: Vec<&str> = definitions.iter().map(|d| d.name.as_str()).collect();
        return Err(invalid(format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            key_names.join(", "),
            defs.join(", ")
        )));
    }
    if ks.len() == 2 && key_names[0] == key_names[1] {
        return Err(ApiError::validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ));
    }
    if ks[0].key_type.as_deref() != Some("HASH") {
        return Err(ApiError::validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type"));
    }
    if ks.len() == 2 && ks[1].key_type.as_deref() != Some("RANGE") {
        return Err(ApiError::validation("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"));
    }
    if !global {
        if ks.len() != 2 {
            return Err(invalid(format!("Index KeySchema does not have a range key for index: {name}")));
        }
        if key_names[0] != table.hash.name {
            return Err(invalid(format!(
                "Index KeySchema does not have the same leading hash key as table KeySchema for index: {name}. index hash key: {}, table hash key: {}",
                key_names[0], table.hash.name
            )));
        }
    }
    let projection = input.projection.as_ref().expect("checked by input_errors");
    let Some(projection_type) = projection.projection_type.clone() else {
        return Err(invalid("Unknown ProjectionType: null"));
    };
    let non_key = projection.non_key_attributes.clone().unwrap_or_default();
    if projection.non_key_attributes.is_some() && projection_type != "INCLUDE" {
        return Err(invalid(format!("ProjectionType is {projection_type}, but NonKeyAttributes is specified")));
    }
    if projection_type == "INCLUDE" && non_key.is_empty() {
        return Err(invalid("ProjectionType is INCLUDE, but NonKeyAttributes is not specified"));
    }
    if let Some(dup) = non_key.iter().enumerate().find(|(i, a)| non_key[..*i].contains(a)).map(|(_, a)| a) {
        return Err(invalid(format!("Duplicate non-key attribute name: {dup}")));
    }
    let (read, write) = match (&*table.billing_mode, &input.provisioned_throughput) {
        ("PAY_PER_REQUEST", Some(_)) if global => {
            return Err(invalid(format!(
                "ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
            )));
        }
        ("PROVISIONED", None) if global => {
            return Err(invalid(format!("ProvisionedThroughput must be specified for index: {name}")));
        }
        (_, Some(t)) if global => (t.read_capacity_units.unwrap_or(1), t.write_capacity_units.unwrap_or(1)),
        _ => (0, 0),
    };
    Ok(IndexMeta {
        name,
        global,
        hash: find(key_names[0]).expect("checked above"),
        range: key_names.get(1).and_then(|n| find(n)),
        projection: projection_type,
        non_key,
        read_capacity: read,
        write_capacity: write,
    })
}

/// CreateTable's GlobalSecondaryIndexes and LocalSecondaryIndexes, checked in AWS's order.
pub(super) fn define_all(
    table: &TableMeta,
    definitions: &[KeyAttr],
    globals: Option<&[IndexInput]>,
    locals: Option<&[IndexInput]>,
) -> Result<Vec<IndexMeta>, ApiError> {
    let mut out: Vec<IndexMeta> = Vec::new();
    let add = |index: IndexMeta, out: &mut Vec<IndexMeta>| {
        if out.iter().any(|i| i.name == index.name) {
            return Err(invalid(format!("Duplicate index name: {}", index.name)));
        }
        out.push(index);
        Ok(())
    };
    if let Some(locals) = locals {
        if locals.is_empty() {
            return Err(invalid("List of LocalSecondaryIndexes is empty"));
        }
        if table.range.is_none() {
            return Err(invalid(
                "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ));
        }
        for input in locals {
            add(define(input, false, table, definitions)?, &mut out)?;
        }
        if locals.len() > MAX_LSIS {
            return Err(invalid(format!("Number of LocalSecondaryIndexes exceeds per-table limit of {MAX_LSIS}")));
        }
    }
    if let Some(globals) = globals {
        if globals.is_empty() {
            return Err(invalid("List of GlobalSecondaryIndexes is empty"));
        }
        for input in globals {
            add(define(input, true, table, definitions)?, &mut out)?;
        }
        if globals.len() > MAX_GSIS {
            return Err(invalid(format!("GlobalSecondaryIndex count exceeds the per-table limit of {MAX_GSIS}")));
        }
    }
    check_projected_total(&out)?;
    Ok(out)
}

pub(super) fn check_projected_total(indexes: &[IndexMeta]) -> Result<(), ApiError> {
    let total: usize = indexes.iter().map(|i| i.non_key.len()).sum();
    if total > MAX_PROJECTED_ATTRIBUTES {
        return Err(invalid(format!(
            "The number of projected attributes in all secondary indexes exceeds the per-table limit of {MAX_PROJECTED_ATTRIBUTES}"
        )));
    }
    Ok(())
}

/// Every attribute the table's and its indexes' key schemas use, in order, without repeats.
pub(super) fn key_names(table: &TableMeta, indexes: &[IndexMeta]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for k in table.keys().chain(indexes.iter().flat_map(|i| i.schema().keys())) {
        if !names.contains(&k.name) {
            names.push(k.name.clone());
        }
    }
    names
}

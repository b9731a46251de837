//! DynamoDB (awsJson1_0, `X-Amz-Target: DynamoDB_20120810.<Operation>`), backed by the
//! local cloud's SQLite database.
//!
//! Storage: `ddb_tables` holds each table's schema as JSON; `ddb_items` holds items keyed
//! by (table, hash key, range key), where the keys are encoded so SQLite's bytewise BLOB
//! order is DynamoDB's order (numbers numerically, strings and binary bytewise). Query
//! and Scan therefore read in key order straight from the primary-key index, and
//! pagination continues strictly after the last key returned: it cannot skip or repeat.
//! Every write is one SQLite transaction that reads the current item, checks the
//! condition and writes, so a condition and its write are atomic. Secondary indexes
//! (`indexes.rs`) keep projected copies of items in `ddb_index_items`, written in that same
//! transaction, so an index never disagrees with its table, even across kill -9.
//!
//! This module may touch only the `ddb_` tables of the store.

mod api;
pub(crate) mod eval;
pub(crate) mod expr;
mod indexes;
mod items;
mod legacy;
mod number;
mod query;
mod reserved;
mod tables;
pub(crate) mod value;

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use http::Request;
use hyper::body::Incoming;
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::LocalCloudError;
use super::protocol::{ApiError, Protocol, Response};
use super::service::{Declaration, Gate, MIB, Mark, Service, Wiring};
use super::storage::{StorageError, Store};
use expr::Placeholders;
use value::{AttrValue, Item};

/// The largest item DynamoDB stores.
const MAX_ITEM_SIZE: usize = 400 * 1024;

pub struct DynamoDb {
    store: Store,
}

impl DynamoDb {
    pub fn new(store: Store) -> Result<Self, StorageError> {
        store.call_blocking(|conn| {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS ddb_tables (
                     name TEXT PRIMARY KEY,
                     meta TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS ddb_items (
                     table_name TEXT NOT NULL,
                     hash_key BLOB NOT NULL,
                     range_key BLOB NOT NULL,
                     item TEXT NOT NULL,
                     size INTEGER NOT NULL,
                     PRIMARY KEY (table_name, hash_key, range_key)
                 ) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS ddb_index_items (
                     table_name TEXT NOT NULL,
                     index_name TEXT NOT NULL,
                     hash_key BLOB NOT NULL,
                     range_key BLOB NOT NULL,
                     table_hash BLOB NOT NULL,
                     table_range BLOB NOT NULL,
                     item TEXT NOT NULL,
                     size INTEGER NOT NULL,
                     PRIMARY KEY (table_name, index_name, hash_key, range_key, table_hash, table_range)
                 ) WITHOUT ROWID;
                 CREATE INDEX IF NOT EXISTS ddb_index_items_by_item
                     ON ddb_index_items (table_name, table_hash, table_range);",
            )?;
            Ok(())
        })?;
        Ok(Self { store })
    }

    /// Runs `f` on the database on a blocking thread.
    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.store.call(move |conn| Ok(f(conn))).await?
    }
}

/// Starts DynamoDB: its tables in the store (see `registry.rs`).
pub fn start(wiring: &mut Wiring) -> BoxFuture<'_, Result<Arc<dyn Service>, LocalCloudError>> {
    Box::pin(async move { Ok(Arc::new(DynamoDb::new(wiring.store.clone())?) as Arc<dyn Service>) })
}

const DECLARATION: Declaration = Declaration {
    signing_names: &["dynamodb"],
    protocol: Protocol::AwsJson10,
    max_body: 16 * MIB,
    unsigned: Mark::Target("DynamoDB_"),
    routes: &[],
};

impl Service for DynamoDb {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn serve<'a>(&'a self, req: Request<Incoming>, gate: &'a Gate) -> BoxFuture<'a, Response> {
        gate.verified(self, req, |req| self.handle(req))
    }
}

fn sql(e: rusqlite::Error) -> ApiError {
    ApiError::from(StorageError::from(e))
}

fn not_found() -> ApiError {
    ApiError::bad_request("ResourceNotFoundException", "Requested resource not found")
}

/// The failed condition's error; with ReturnValuesOnConditionCheckFailure=ALL_OLD it
/// carries the item as it is (AWS puts it in the error's `Item` member).
fn conditional_check_failed(old: Option<&Item>) -> ApiError {
    let mut e = ApiError::bad_request("ConditionalCheckFailedException", "The conditional request failed");
    if let Some(item) = old {
        e.extra = Some(Box::new(Map::from_iter([("Item".to_string(), item_json(item))])));
    }
    e
}

/// AWS's framework-level validation message: "N validation error(s) detected: …".
fn constraint_errors(errors: Vec<String>) -> Result<(), ApiError> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(ApiError::validation(format!("1 validation error detected: {}", errors[0]))),
        n => Err(ApiError::validation(format!("{n} validation errors detected: {}", errors.join("; ")))),
    }
}

fn constraint(value: Option<&str>, field: &str, rule: &str) -> String {
    let shown = value.map_or("null".to_string(), |v| format!("'{v}'"));
    format!("Value {shown} at '{field}' failed to satisfy constraint: {rule}")
}

fn table_name_errors(name: Option<&str>, field: &str) -> Vec<String> {
    let Some(name) = name else {
        return vec![constraint(None, field, "Member must not be null")];
    };
    let mut errors = Vec::new();
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) || name.is_empty() {
        errors.push(constraint(Some(name), field, "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"));
    }
    if name.chars().count() < 3 {
        errors.push(constraint(Some(name), field, "Member must have length greater than or equal to 3"));
    }
    if name.chars().count() > 255 {
        errors.push(constraint(Some(name), field, "Member must have length less than or equal to 255"));
    }
    errors
}

/// A valid table name, or AWS's validation error for it.
fn table_name(name: Option<String>) -> Result<String, ApiError> {
    constraint_errors(table_name_errors(name.as_deref(), "tableName"))?;
    Ok(name.unwrap_or_default())
}

fn enum_errors(value: Option<&str>, field: &str, allowed: &[&str]) -> Vec<String> {
    match value {
        Some(v) if !allowed.contains(&v) => {
            vec![constraint(Some(v), field, &format!("Member must satisfy enum value set: [{}]", allowed.join(", ")))]
        }
        _ => Vec::new(),
    }
}

fn parse_item(map: &Map<String, Json>) -> Result<Item, ApiError> {
    Ok(value::item_from_json(map)?)
}

/// The request's placeholders, validated as AWS validates them.
fn placeholders(
    names: Option<HashMap<String, String>>,
    values: Option<Map<String, Json>>,
    has_expression: bool,
) -> Result<Placeholders, ApiError> {
    if let Some(names) = &names {
        if !has_expression {
            return Err(ApiError::validation("ExpressionAttributeNames can only be specified when using expressions"));
        }
        if names.is_empty() {
            return Err(ApiError::validation("ExpressionAttributeNames must not be empty"));
        }
        for name in names.values().filter(|n| n.len() > legacy::MAX_ATTRIBUTE_NAME) {
            legacy::check_name(name)?;
        }
    }
    let mut parsed = HashMap::new();
    if let Some(values) = &values {
        if !has_expression {
            return Err(ApiError::validation("ExpressionAttributeValues can only be specified when using expressions"));
        }
        if values.is_empty() {
            return Err(ApiError::validation("ExpressionAttributeValues must not be empty"));
        }
        for (k, v) in values {
            let v = AttrValue::from_json(v).map_err(|e| {
                ApiError::validation(format!("ExpressionAttributeValues contains invalid value: {e} for key {k}"))
            })?;
            parsed.insert(k.clone(), v);
        }
    }
    Ok(Placeholders::new(names.unwrap_or_default(), parsed))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyAttr {
    name: String,
    /// S, N or B.
    ty: String,
}

/// A table's schema and settings as stored in `ddb_tables.meta`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TableMeta {
    name: String,
    hash: KeyAttr,
    range: Option<KeyAttr>,
    attribute_definitions: Vec<KeyAttr>,
    billing_mode: String,
    read_capacity: i64,
    write_capacity: i64,
    /// Seconds since the epoch.
    created: f64,
    table_id: String,
    /// Global and local secondary indexes, in the order they were defined.
    #[serde(default)]
    indexes: Vec<indexes::IndexMeta>,
}

/// The key schema a read works on: the table's or an index's.
#[derive(Clone, Copy)]
struct KeySchema<'a> {
    hash: &'a KeyAttr,
    range: Option<&'a KeyAttr>,
}

impl<'a> KeySchema<'a> {
    fn keys(self) -> impl Iterator<Item = &'a KeyAttr> {
        std::iter::once(self.hash).chain(self.range)
    }

    fn is_key(self, name: &str) -> bool {
        self.keys().any(|k| k.name == name)
    }
}

/// A primary key as stored: the encoded hash and range values (range empty when the
/// table has no sort key).
#[derive(Debug, Clone, PartialEq, Eq)]
struct StoredKey {
    hash: Vec<u8>,
    range: Vec<u8>,
}

impl TableMeta {
    fn keys(&self) -> impl Iterator<Item = &KeyAttr> {
        std::iter::once(&self.hash).chain(self.range.as_ref())
    }

    fn schema(&self) -> KeySchema<'_> {
        KeySchema { hash: &self.hash, range: self.range.as_ref() }
    }

    fn index(&self, name: &str) -> Option<&indexes::IndexMeta> {
        self.indexes.iter().find(|i| i.name == name)
    }

    fn is_key(&self, name: &str) -> bool {
        self.keys().any(|k| k.name == name)
    }

    /// The key of an item being written (PutItem's rules and messages).
    fn key_of_item(&self, item: &Item) -> Result<StoredKey, ApiError> {
        let mut parts = Vec::new();
        for (i, key) in self.keys().enumerate() {
            let Some(v) = item.get(&key.name) else {
                return Err(ApiError::validation(format!(
                    "One or more parameter values were invalid: Missing the key {} in the item",
                    key.name
                )));
            };
            if v.type_name() != key.ty {
                return Err(ApiError::validation(format!(
                    "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
                    key.name,
                    key.ty,
                    v.type_name()
                )));
            }
            parts.push(key_part(key, v, i == 0)?);
        }
        Ok(StoredKey { hash: parts.remove(0), range: parts.pop().unwrap_or_default() })
    }

    /// The key named by a request's `Key` (exactly the key attributes, of their types).
    fn key_of_request(&self, key: &Item) -> Result<StoredKey, ApiError> {
        let mismatch = || ApiError::validation("The provided key element does not match the schema");
        if key.len() != self.keys().count() {
            return Err(mismatch());
        }
        let mut parts = Vec::new();
        for (i, attr) in self.keys().enumerate() {
            let v = key.get(&attr.name).ok_or_else(mismatch)?;
            if v.type_name() != attr.ty {
                return Err(mismatch());
            }
            parts.push(key_part(attr, v, i == 0)?);
        }
        Ok(StoredKey { hash: parts.remove(0), range: parts.pop().unwrap_or_default() })
    }
}

fn key_part(key: &KeyAttr, v: &AttrValue, is_hash: bool) -> Result<Vec<u8>, ApiError> {
    let bytes = v.sort_key().unwrap_or_default();
    match v {
        AttrValue::S(s) if s.is_empty() => {
            return Err(ApiError::validation(format!(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {}",
                key.name
            )));
        }
        AttrValue::B(b) if b.is_empty() => {
            return Err(ApiError::validation(format!(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty binary value. Key: {}",
                key.name
            )));
        }
        AttrValue::S(_) | AttrValue::B(_) => {
            if is_hash && bytes.len() > 2048 {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes",
                ));
            }
            if !is_hash && bytes.len() > 1024 {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
                ));
            }
        }
        _ => {}
    }
    Ok(bytes)
}

fn load_table(conn: &Connection, name: &str) -> Result<Option<TableMeta>, ApiError> {
    let meta: Option<String> =
        conn.query_row("SELECT meta FROM ddb_tables WHERE name = ?1", [name], |r| r.get(0)).optional().map_err(sql)?;
    meta.map(|m| serde_json::from_str(&m).map_err(|e| ApiError::internal(format!("corrupt table metadata: {e}"))))
        .transpose()
}

fn require_table(conn: &Connection, name: &str) -> Result<TableMeta, ApiError> {
    load_table(conn, name)?.ok_or_else(not_found)
}

fn decode_item(text: &str) -> Result<Item, ApiError> {
    let map: Map<String, Json> =
        serde_json::from_str(text).map_err(|e| ApiError::internal(format!("corrupt stored item: {e}")))?;
    value::item_from_json(&map).map_err(|e| ApiError::internal(format!("corrupt stored item: {e}")))
}

fn load_item(conn: &Connection, table: &str, key: &StoredKey) -> Result<Option<Item>, ApiError> {
    let text: Option<String> = conn
        .query_row(
            "SELECT item FROM ddb_items WHERE table_name = ?1 AND hash_key = ?2 AND range_key = ?3",
            rusqlite::params![table, key.hash, key.range],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql)?;
    text.map(|t| decode_item(&t)).transpose()
}

/// Writes `item` and its index entries; refused (before anything is written) when the
/// item breaks an index's key rules. Callers run it inside their write's transaction.
fn store_item(conn: &Connection, meta: &TableMeta, key: &StoredKey, item: &Item) -> Result<(), ApiError> {
    let entries = indexes::entries(meta, item, indexes::Mode::Write)?;
    let text = value::item_to_json(item).to_string();
    conn.execute(
        "INSERT OR REPLACE INTO ddb_items (table_name, hash_key, range_key, item, size) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![meta.name, key.hash, key.range, text, value::item_size(item) as i64],
    )
    .map_err(sql)?;
    indexes::replace_entries(conn, meta, key, &entries)
}

/// Deletes an item and its index entries.
fn delete_stored_item(conn: &Connection, meta: &TableMeta, key: &StoredKey) -> Result<(), ApiError> {
    conn.execute(
        "DELETE FROM ddb_items WHERE table_name = ?1 AND hash_key = ?2 AND range_key = ?3",
        rusqlite::params![meta.name, key.hash, key.range],
    )
    .map_err(sql)?;
    indexes::replace_entries(conn, meta, key, &[])
}

fn item_json(item: &Item) -> Json {
    value::item_to_json(item)
}

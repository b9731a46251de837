//! PutItem, GetItem, DeleteItem, UpdateItem, BatchWriteItem, BatchGetItem.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use super::eval::{apply_update, eval, project};
use super::expr::{self, Cond, ExprKind, Path, PathElem, Placeholders, Update};
use super::legacy;
use super::value::{Item, item_size};
use super::{
    DynamoDb, MAX_ITEM_SIZE, StoredKey, conditional_check_failed, constraint, constraint_errors, delete_stored_item,
    enum_errors, item_json, load_item, load_table, not_found, parse_item, placeholders, require_table, sql, store_item,
    table_name, table_name_errors,
};
use crate::local::protocol::ApiError;

const RETURN_VALUES: [&str; 5] = ["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutItemInput {
    table_name: Option<String>,
    item: Option<Map<String, Json>>,
    #[serde(flatten)]
    write: WriteParams,
}

/// What PutItem, DeleteItem and UpdateItem share: the condition (ConditionExpression or
/// the older Expected), the placeholders and what to return.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct WriteParams {
    condition_expression: Option<String>,
    expression_attribute_names: Option<HashMap<String, String>>,
    expression_attribute_values: Option<Map<String, Json>>,
    return_values: Option<String>,
    return_values_on_condition_check_failure: Option<String>,
    expected: Option<Map<String, Json>>,
    conditional_operator: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct GetItemInput {
    table_name: Option<String>,
    key: Option<Map<String, Json>>,
    projection_expression: Option<String>,
    expression_attribute_names: Option<HashMap<String, String>>,
    attributes_to_get: Option<Vec<String>>,
    #[allow(dead_code)] // every read is consistent here; accepted as AWS accepts it
    consistent_read: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeleteItemInput {
    table_name: Option<String>,
    key: Option<Map<String, Json>>,
    #[serde(flatten)]
    write: WriteParams,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateItemInput {
    table_name: Option<String>,
    key: Option<Map<String, Json>>,
    update_expression: Option<String>,
    attribute_updates: Option<Map<String, Json>>,
    #[serde(flatten)]
    write: WriteParams,
}

/// The parts of a request shared by the single-item writes.
fn required_map(map: Option<Map<String, Json>>, field: &str) -> Result<Map<String, Json>, ApiError> {
    map.ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: {}",
            constraint(None, field, "Member must not be null")
        ))
    })
}

fn return_values(rv: Option<String>, allowed: &[&str]) -> Result<String, ApiError> {
    constraint_errors(enum_errors(rv.as_deref(), "returnValues", &RETURN_VALUES))?;
    let rv = rv.unwrap_or_else(|| "NONE".into());
    if !allowed.contains(&rv.as_str()) {
        return Err(ApiError::validation("Return values set to invalid value"));
    }
    Ok(rv)
}

/// The condition of a single-item write: its ConditionExpression, or the legacy Expected
/// (never both).
fn condition(
    src: Option<&str>,
    expected: Option<&Map<String, Json>>,
    conditional_operator: Option<&str>,
    ph: &mut Placeholders,
) -> Result<Option<Cond>, ApiError> {
    match src {
        Some(s) => expr::parse_condition(s, ExprKind::Condition, ph).map(Some),
        None => legacy::expected(expected, conditional_operator),
    }
}

/// A write's parameters, checked: what to return, whether a failed condition returns the
/// item, the condition, and UpdateItem's update (parsed with the same placeholders).
struct ParsedWrite {
    return_values: String,
    return_old: bool,
    cond: Option<Cond>,
    update: Option<Update>,
}

impl WriteParams {
    fn parse(
        self,
        allowed: &[&str],
        update_expression: Option<&str>,
        attribute_updates: Option<&Map<String, Json>>,
    ) -> Result<ParsedWrite, ApiError> {
        let mut expressions = vec![("ConditionExpression", self.condition_expression.is_some())];
        let mut older =
            vec![("Expected", self.expected.is_some()), ("ConditionalOperator", self.conditional_operator.is_some())];
        if update_expression.is_some() || attribute_updates.is_some() {
            expressions.insert(0, ("UpdateExpression", update_expression.is_some()));
            older.insert(0, ("AttributeUpdates", attribute_updates.is_some()));
        }
        legacy::refuse_mixing(&expressions, &older)?;
        let return_values = return_values(self.return_values, allowed)?;
        let return_old = old_on_failure(self.return_values_on_condition_check_failure.as_deref())?;
        let mut ph = placeholders(
            self.expression_attribute_names,
            self.expression_attribute_values,
            self.condition_expression.is_some() || update_expression.is_some(),
        )?;
        let update = match (update_expression, attribute_updates) {
            (Some(u), _) => Some(expr::parse_update(u, &mut ph)?),
            (None, Some(au)) => Some(legacy::attribute_updates(au)?),
            (None, None) => None,
        };
        let cond = condition(
            self.condition_expression.as_deref(),
            self.expected.as_ref(),
            self.conditional_operator.as_deref(),
            &mut ph,
        )?;
        ph.check_all_used()?;
        Ok(ParsedWrite { return_values, return_old, cond, update })
    }
}

/// Whether a failed condition returns the item (ReturnValuesOnConditionCheckFailure=ALL_OLD).
fn old_on_failure(rv: Option<&str>) -> Result<bool, ApiError> {
    constraint_errors(enum_errors(rv, "returnValuesOnConditionCheckFailure", &["ALL_OLD", "NONE"]))?;
    Ok(rv == Some("ALL_OLD"))
}

/// Checks a write's condition against the stored item (empty when there is none).
fn check_condition(cond: Option<&Cond>, old: Option<&Item>, return_old: bool) -> Result<(), ApiError> {
    if let Some(cond) = cond
        && !eval(cond, old.unwrap_or(&Item::new()))
    {
        return Err(conditional_check_failed(old.filter(|_| return_old)));
    }
    Ok(())
}

fn attributes(out: Option<Item>) -> Json {
    match out {
        Some(item) if !item.is_empty() => json!({"Attributes": item_json(&item)}),
        _ => json!({}),
    }
}

fn check_size(item: &Item, msg: &str) -> Result<(), ApiError> {
    if item_size(item) > MAX_ITEM_SIZE {
        return Err(ApiError::validation(msg));
    }
    Ok(())
}

pub(super) async fn put_item(db: &DynamoDb, input: PutItemInput) -> Result<Json, ApiError> {
    let name = table_name(input.table_name)?;
    let item = parse_item(&required_map(input.item, "item")?)?;
    for attr in item.keys() {
        legacy::check_name(attr)?;
    }
    let ParsedWrite { return_values: rv, return_old, cond, .. } =
        input.write.parse(&["NONE", "ALL_OLD"], None, None)?;
    check_size(&item, "Item size has exceeded the maximum allowed size")?;
    db.db(move |conn| {
        let tx = conn.transaction().map_err(sql)?;
        let meta = require_table(&tx, &name)?;
        let key = meta.key_of_item(&item)?;
        let old = load_item(&tx, &name, &key)?;
        check_condition(cond.as_ref(), old.as_ref(), return_old)?;
        store_item(&tx, &meta, &key, &item)?;
        tx.commit().map_err(sql)?;
        Ok(attributes(if rv == "ALL_OLD" { old } else { None }))
    })
    .await
}

pub(super) async fn get_item(db: &DynamoDb, input: GetItemInput) -> Result<Json, ApiError> {
    let name = table_name(input.table_name)?;
    let key = parse_item(&required_map(input.key, "key")?)?;
    let projection =
        projection(input.projection_expression, input.expression_attribute_names, input.attributes_to_get)?;
    db.db(move |conn| {
        let meta = require_table(conn, &name)?;
        let key = meta.key_of_request(&key)?;
        let item = load_item(conn, &name, &key)?;
        Ok(match item {
            Some(item) => {
                let item = match &projection {
                    Some(paths) => project(&item, paths),
                    None => item,
                };
                json!({"Item": item_json(&item)})
            }
            None => json!({}),
        })
    })
    .await
}

/// ProjectionExpression (or the legacy AttributesToGet, a list of top-level names).
pub(super) fn projection(
    expression: Option<String>,
    names: Option<HashMap<String, String>>,
    attributes_to_get: Option<Vec<String>>,
) -> Result<Option<Vec<Path>>, ApiError> {
    if expression.is_some() && attributes_to_get.is_some() {
        return Err(ApiError::validation(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
        ));
    }
    if let Some(attrs) = attributes_to_get {
        return legacy::attributes_to_get(attrs).map(Some);
    }
    let mut ph = placeholders(names, None, expression.is_some())?;
    let paths = expression.map(|e| expr::parse_projection(&e, &mut ph)).transpose()?;
    ph.check_all_used()?;
    Ok(paths)
}

pub(super) async fn delete_item(db: &DynamoDb, input: DeleteItemInput) -> Result<Json, ApiError> {
    let name = table_name(input.table_name)?;
    let key = parse_item(&required_map(input.key, "key")?)?;
    let ParsedWrite { return_values: rv, return_old, cond, .. } =
        input.write.parse(&["NONE", "ALL_OLD"], None, None)?;
    db.db(move |conn| {
        let tx = conn.transaction().map_err(sql)?;
        let meta = require_table(&tx, &name)?;
        let key = meta.key_of_request(&key)?;
        let old = load_item(&tx, &name, &key)?;
        check_condition(cond.as_ref(), old.as_ref(), return_old)?;
        if old.is_some() {
            delete_stored_item(&tx, &meta, &key)?;
        }
        tx.commit().map_err(sql)?;
        Ok(attributes(if rv == "ALL_OLD" { old } else { None }))
    })
    .await
}

pub(super) async fn update_item(db: &DynamoDb, input: UpdateItemInput) -> Result<Json, ApiError> {
    let name = table_name(input.table_name)?;
    let key = parse_item(&required_map(input.key, "key")?)?;
    let ParsedWrite { return_values: rv, return_old, cond, update } =
        input.write.parse(&RETURN_VALUES, input.update_expression.as_deref(), input.attribute_updates.as_ref())?;
    let update = update.unwrap_or_default();
    for path in update.paths() {
        if let Some(PathElem::Attr(first)) = path.first() {
            legacy::check_name(first)?;
        }
    }
    db.db(move |conn| {
        let tx = conn.transaction().map_err(sql)?;
        let meta = require_table(&tx, &name)?;
        let stored_key = meta.key_of_request(&key)?;
        for path in update.paths() {
            if let Some(PathElem::Attr(first)) = path.first()
                && meta.is_key(first)
            {
                return Err(ApiError::validation(format!(
                    "One or more parameter values were invalid: Cannot update attribute {first}. This attribute is part of the key"
                )));
            }
        }
        let old = load_item(&tx, &name, &stored_key)?;
        check_condition(cond.as_ref(), old.as_ref(), return_old)?;
        // Only removing (REMOVE, or DELETE from a set) from an item that is not there
        // creates nothing, as in DynamoDB; an update with no action at all creates the key.
        let removes_only = !update.remove.is_empty() || !update.delete.is_empty();
        if old.is_none() && removes_only && update.set.is_empty() && update.add.is_empty() {
            tx.commit().map_err(sql)?;
            return Ok(json!({}));
        }
        let base = old.clone().unwrap_or_else(|| key.clone());
        let new = apply_update(&update, &base)?;
        check_size(&new, "Item size to update has exceeded the maximum allowed size")?;
        store_item(&tx, &meta, &stored_key, &new)?;
        tx.commit().map_err(sql)?;
        let paths: Vec<Path> = update.paths().into_iter().cloned().collect();
        Ok(attributes(match rv.as_str() {
            "ALL_OLD" => old,
            "ALL_NEW" => Some(new),
            "UPDATED_OLD" => old.map(|o| project(&o, &paths)),
            "UPDATED_NEW" => Some(project(&new, &paths)),
            _ => None,
        }))
    })
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BatchWriteItemInput {
    request_items: Option<HashMap<String, Vec<WriteRequest>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct WriteRequest {
    put_request: Option<PutRequest>,
    delete_request: Option<DeleteRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PutRequest {
    item: Option<Map<String, Json>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeleteRequest {
    key: Option<Map<String, Json>>,
}

enum Write {
    Put(Item),
    Delete(Item),
}

fn check_request_items(tables: &[&String], count: usize, max: usize) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    for t in tables {
        errors.extend(table_name_errors(Some(t), "requestItems.key"));
    }
    constraint_errors(errors)?;
    if tables.is_empty() {
        return Err(ApiError::validation(format!(
            "1 validation error detected: {}",
            constraint(Some("{}"), "requestItems", "Member must have length greater than or equal to 1")
        )));
    }
    if count > max {
        return Err(ApiError::validation(format!(
            "Too many items requested for the {}Item call",
            if max == 25 { "BatchWrite" } else { "BatchGet" }
        )));
    }
    Ok(())
}

/// All the writes of a batch are applied in one transaction: none or all.
pub(super) async fn batch_write_item(db: &DynamoDb, input: BatchWriteItemInput) -> Result<Json, ApiError> {
    let request_items = required_request_items(input.request_items)?;
    let tables: Vec<&String> = request_items.keys().collect();
    check_request_items(&tables, request_items.values().map(Vec::len).sum(), 25)?;
    let mut writes: Vec<(String, Write)> = Vec::new();
    for (table, requests) in &request_items {
        for r in requests {
            let w = match (&r.put_request, &r.delete_request) {
                (Some(p), None) => {
                    let item = parse_item(&required_map(p.item.clone(), "item")?)?;
                    for attr in item.keys() {
                        legacy::check_name(attr)?;
                    }
                    Write::Put(item)
                }
                (None, Some(d)) => Write::Delete(parse_item(&required_map(d.key.clone(), "key")?)?),
                _ => {
                    return Err(ApiError::validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                    ));
                }
            };
            if let Write::Put(item) = &w {
                check_size(item, "Item size has exceeded the maximum allowed size")?;
            }
            writes.push((table.clone(), w));
        }
    }
    db.db(move |conn| {
        let tx = conn.transaction().map_err(sql)?;
        let mut seen: Vec<(String, StoredKey)> = Vec::new();
        let mut resolved = Vec::new();
        for (table, w) in &writes {
            let meta = load_table(&tx, table)?.ok_or_else(not_found)?;
            let key = match w {
                Write::Put(item) => meta.key_of_item(item)?,
                Write::Delete(key) => meta.key_of_request(key)?,
            };
            if seen.iter().any(|(t, k)| t == table && *k == key) {
                return Err(ApiError::validation("Provided list of item keys contains duplicates"));
            }
            seen.push((table.clone(), key.clone()));
            resolved.push((meta, key, w));
        }
        for (meta, key, w) in resolved {
            match w {
                Write::Put(item) => store_item(&tx, &meta, &key, item)?,
                Write::Delete(_) => delete_stored_item(&tx, &meta, &key)?,
            }
        }
        tx.commit().map_err(sql)?;
        Ok(json!({"UnprocessedItems": {}}))
    })
    .await
}

fn required_request_items<T>(items: Option<HashMap<String, T>>) -> Result<HashMap<String, T>, ApiError> {
    items.ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: {}",
            constraint(None, "requestItems", "Member must not be null")
        ))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BatchGetItemInput {
    request_items: Option<HashMap<String, KeysAndAttributes>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeysAndAttributes {
    keys: Option<Vec<Map<String, Json>>>,
    projection_expression: Option<String>,
    expression_attribute_names: Option<HashMap<String, String>>,
    attributes_to_get: Option<Vec<String>>,
}

pub(super) async fn batch_get_item(db: &DynamoDb, input: BatchGetItemInput) -> Result<Json, ApiError> {
    let request_items = required_request_items(input.request_items)?;
    let tables: Vec<&String> = request_items.keys().collect();
    let count = request_items.values().map(|k| k.keys.as_ref().map_or(0, Vec::len)).sum();
    check_request_items(&tables, count, 100)?;
    let mut requests = Vec::new();
    for (table, ka) in request_items {
        let keys: Vec<Item> = ka.keys.unwrap_or_default().iter().map(parse_item).collect::<Result<_, _>>()?;
        if keys.is_empty() {
            return Err(ApiError::validation(format!(
                "1 validation error detected: {}",
                constraint(
                    Some("[]"),
                    &format!("requestItems.{table}.member.keys"),
                    "Member must have length greater than or equal to 1"
                )
            )));
        }
        let paths = projection(ka.projection_expression, ka.expression_attribute_names, ka.attributes_to_get)?;
        requests.push((table, keys, paths));
    }
    db.db(move |conn| {
        let mut responses = Map::new();
        for (table, keys, paths) in &requests {
            let meta = load_table(conn, table)?.ok_or_else(not_found)?;
            let mut found = Vec::new();
            let mut seen = Vec::new();
            for key in keys {
                let stored = meta.key_of_request(key)?;
                if seen.contains(&stored) {
                    return Err(ApiError::validation("Provided list of item keys contains duplicates"));
                }
                seen.push(stored.clone());
                if let Some(item) = load_item(conn, table, &stored)? {
                    let item = match paths {
                        Some(p) => project(&item, p),
                        None => item,
                    };
                    found.push(item_json(&item));
                }
            }
            responses.insert(table.clone(), Json::Array(found));
        }
        Ok(json!({"Responses": responses, "UnprocessedKeys": {}}))
    })
    .await
}

//! CreateTable, DescribeTable, ListTables, DeleteTable, UpdateTable.

use rusqlite::{Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use super::indexes::{self, IndexInput, KeySchemaInput as KeySchemaElement, ThroughputInput as Throughput};
use super::{
    DynamoDb, KeyAttr, TableMeta, constraint, constraint_errors, enum_errors, not_found, require_table, sql,
    table_name, table_name_errors,
};
use crate::local::protocol::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AttributeDefinition {
    attribute_name: Option<String>,
    attribute_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateTableInput {
    table_name: Option<String>,
    key_schema: Option<Vec<KeySchemaElement>>,
    attribute_definitions: Option<Vec<AttributeDefinition>>,
    billing_mode: Option<String>,
    provisioned_throughput: Option<Throughput>,
    global_secondary_indexes: Option<Vec<IndexInput>>,
    local_secondary_indexes: Option<Vec<IndexInput>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TableNameInput {
    table_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListTablesInput {
    exclusive_start_table_name: Option<String>,
    limit: Option<i64>,
}

fn arn(region: &str, name: &str) -> String {
    format!("arn:aws:dynamodb:{region}:000000000000:table/{name}")
}

/// The TableDescription structure AWS returns.
fn describe(conn: &Connection, meta: &TableMeta, region: &str, status: &str) -> Result<Json, ApiError> {
    let (item_count, size) = counts(conn, &meta.name)?;
    let key_schema: Vec<Json> =
        meta.keys().zip(["HASH", "RANGE"]).map(|(k, t)| json!({"AttributeName": k.name, "KeyType": t})).collect();
    let definitions: Vec<Json> =
        meta.attribute_definitions.iter().map(|d| json!({"AttributeName": d.name, "AttributeType": d.ty})).collect();
    let mut desc = json!({
        "TableName": meta.name,
        "TableStatus": status,
        "KeySchema": key_schema,
        "AttributeDefinitions": definitions,
        "CreationDateTime": meta.created,
        "ProvisionedThroughput": {
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": meta.read_capacity,
            "WriteCapacityUnits": meta.write_capacity,
        },
        "TableSizeBytes": size,
        "ItemCount": item_count,
        "TableArn": arn(region, &meta.name),
        "TableId": meta.table_id,
        "DeletionProtectionEnabled": false,
    });
    if meta.billing_mode == "PAY_PER_REQUEST" {
        desc["BillingModeSummary"] = json!({
            "BillingMode": "PAY_PER_REQUEST",
            "LastUpdateToPayPerRequestDateTime": meta.created,
        });
    }
    indexes::describe(conn, meta, &arn(region, &meta.name), &mut desc)?;
    Ok(desc)
}

fn counts(conn: &Connection, table: &str) -> Result<(i64, i64), ApiError> {
    conn.query_row("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM ddb_items WHERE table_name = ?1", [table], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .map_err(sql)
}

fn validate_create(input: CreateTableInput) -> Result<TableMeta, ApiError> {
    let mut errors = table_name_errors(input.table_name.as_deref(), "tableName");
    if input.attribute_definitions.is_none() {
        errors.push(constraint(None, "attributeDefinitions", "Member must not be null"));
    }
    match &input.key_schema {
        None => errors.push(constraint(None, "keySchema", "Member must not be null")),
        Some(ks) => {
            if ks.is_empty() {
                errors.push(constraint(Some("[]"), "keySchema", "Member must have length greater than or equal to 1"));
            }
            if ks.len() > 2 {
                errors.push(format!(
                    "Value '{}' at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2",
                    ks.len()
                ));
            }
            indexes::key_schema_errors(ks, "keySchema", &mut errors);
        }
    }
    attribute_definition_errors(input.attribute_definitions.as_deref().unwrap_or_default(), &mut errors);
    errors.extend(enum_errors(input.billing_mode.as_deref(), "billingMode", &["PROVISIONED", "PAY_PER_REQUEST"]));
    if let Some(t) = &input.provisioned_throughput {
        indexes::throughput_errors(t, "provisionedThroughput", &mut errors);
    }
    for (list, field) in [
        (&input.global_secondary_indexes, "globalSecondaryIndexes"),
        (&input.local_secondary_indexes, "localSecondaryIndexes"),
    ] {
        for (i, index) in list.iter().flatten().enumerate() {
            indexes::input_errors(index, &format!("{field}.{}.member", i + 1), &mut errors);
        }
    }
    constraint_errors(errors)?;

    let has_indexes = input.global_secondary_indexes.is_some() || input.local_secondary_indexes.is_some();
    let key_schema = input.key_schema.unwrap_or_default();
    let definitions: Vec<KeyAttr> = input
        .attribute_definitions
        .unwrap_or_default()
        .into_iter()
        .map(|d| KeyAttr { name: d.attribute_name.unwrap_or_default(), ty: d.attribute_type.unwrap_or_default() })
        .collect();
    let invalid = |m: &str| Err(ApiError::validation(m.to_string()));
    if key_schema[0].key_type.as_deref() != Some("HASH") {
        return invalid("Invalid KeySchema: The first KeySchemaElement is not a HASH key type");
    }
    if key_schema.len() == 2 {
        if key_schema[1].key_type.as_deref() != Some("RANGE") {
            return invalid("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type");
        }
        if key_schema[0].attribute_name == key_schema[1].attribute_name {
            return invalid("Both the Hash Key and the Range Key element in the KeySchema have the same name");
        }
    }
    let key_names: Vec<String> = key_schema.iter().map(|k| k.attribute_name.clone().unwrap_or_default()).collect();
    let def_names: Vec<&str> = definitions.iter().map(|d| d.name.as_str()).collect();
    if key_names.iter().any(|k| !def_names.contains(&k.as_str())) {
        return Err(ApiError::validation(format!(
            "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            key_names.join(", "),
            def_names.join(", ")
        )));
    }
    if !has_indexes && definitions.len() != key_names.len() {
        return invalid(
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        );
    }
    let billing_mode = input.billing_mode.unwrap_or_else(|| "PROVISIONED".into());
    let (read, write) = match (&*billing_mode, &input.provisioned_throughput) {
        ("PROVISIONED", None) => {
            return invalid(
                "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
            );
        }
        ("PROVISIONED", Some(t)) => (t.read_capacity_units.unwrap_or(1), t.write_capacity_units.unwrap_or(1)),
        (_, Some(_)) => {
            return invalid(
                "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            );
        }
        (_, None) => (0, 0),
    };
    let find = |name: &str| definitions.iter().find(|d| d.name == name).cloned();
    let hash = find(&key_names[0]).ok_or_else(not_found)?;
    let range = key_names.get(1).and_then(|n| find(n));
    let created = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9;
    let created = (created * 1000.0).round() / 1000.0;
    let mut meta = TableMeta {
        name: input.table_name.unwrap_or_default(),
        hash,
        range,
        attribute_definitions: definitions,
        billing_mode,
        read_capacity: read,
        write_capacity: write,
        created,
        table_id: uuid::Uuid::new_v4().to_string(),
        indexes: Vec::new(),
    };
    meta.indexes = indexes::define_all(
        &meta,
        &meta.attribute_definitions,
        input.global_secondary_indexes.as_deref(),
        input.local_secondary_indexes.as_deref(),
    )?;
    check_definitions_used(&meta.attribute_definitions, &indexes::key_names(&meta, &meta.indexes))?;
    Ok(meta)
}

/// Attribute definitions name key attributes, so their names obey the key name rules.
fn attribute_definition_errors(definitions: &[AttributeDefinition], errors: &mut Vec<String>) {
    for (i, d) in definitions.iter().enumerate() {
        let field = format!("attributeDefinitions.{}.member", i + 1);
        indexes::key_name_errors(d.attribute_name.as_deref(), &format!("{field}.attributeName"), errors);
        match &d.attribute_type {
            None => errors.push(constraint(None, &format!("{field}.attributeType"), "Member must not be null")),
            Some(t) => errors.extend(enum_errors(Some(t), &format!("{field}.attributeType"), &["B", "N", "S"])),
        }
    }
}

/// AWS refuses definitions of attributes no key schema uses.
fn check_definitions_used(definitions: &[KeyAttr], used: &[String]) -> Result<(), ApiError> {
    if definitions.iter().all(|d| used.contains(&d.name)) {
        return Ok(());
    }
    let mut defs: Vec<&str> = definitions.iter().map(|d| d.name.as_str()).collect();
    let mut keys: Vec<&str> = used.iter().map(String::as_str).collect();
    defs.sort_unstable();
    keys.sort_unstable();
    Err(ApiError::validation(format!(
        "One or more parameter values were invalid: Some AttributeDefinitions are not used. AttributeDefinitions: [{}], keys used: [{}]",
        defs.join(", "),
        keys.join(", ")
    )))
}

pub(super) async fn create_table(db: &DynamoDb, input: CreateTableInput, region: &str) -> Result<Json, ApiError> {
    let meta = validate_create(input)?;
    let region = region.to_string();
    db.db(move |conn| {
        let text = serde_json::to_string(&meta).map_err(|e| ApiError::internal(e.to_string()))?;
        let tx = conn.transaction().map_err(sql)?;
        let exists: Option<i64> = tx
            .query_row("SELECT 1 FROM ddb_tables WHERE name = ?1", [&meta.name], |r| r.get(0))
            .optional()
            .map_err(sql)?;
        if exists.is_some() {
            return Err(ApiError::bad_request(
                "ResourceInUseException",
                format!("Table already exists: {}", meta.name),
            ));
        }
        tx.execute("INSERT INTO ddb_tables (name, meta) VALUES (?1, ?2)", [&meta.name, &text]).map_err(sql)?;
        // The table is usable at once, so it is reported ACTIVE rather than CREATING.
        let desc = describe(&tx, &meta, &region, "ACTIVE")?;
        tx.commit().map_err(sql)?;
        Ok(json!({"TableDescription": desc}))
    })
    .await
}

fn table_not_found(name: &str) -> ApiError {
    ApiError::bad_request("ResourceNotFoundException", format!("Requested resource not found: Table: {name} not found"))
}

pub(super) async fn describe_table(db: &DynamoDb, input: TableNameInput, region: &str) -> Result<Json, ApiError> {
    let name = table_name(input.table_name)?;
    let region = region.to_string();
    db.db(move |conn| {
        let meta = require_table(conn, &name).map_err(|_| table_not_found(&name))?;
        Ok(json!({"Table": describe(conn, &meta, &region, "ACTIVE")?}))
    })
    .await
}

pub(super) async fn delete_table(db: &DynamoDb, input: TableNameInput, region: &str) -> Result<Json, ApiError> {
    let name = table_name(input.table_name)?;
    let region = region.to_string();
    db.db(move |conn| {
        let tx = conn.transaction().map_err(sql)?;
        let meta = require_table(&tx, &name).map_err(|_| table_not_found(&name))?;
        let desc = describe(&tx, &meta, &region, "DELETING")?;
        tx.execute("DELETE FROM ddb_items WHERE table_name = ?1", [&name]).map_err(sql)?;
        tx.execute("DELETE FROM ddb_index_items WHERE table_name = ?1", [&name]).map_err(sql)?;
        tx.execute("DELETE FROM ddb_tables WHERE name = ?1", [&name]).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(json!({"TableDescription": desc}))
    })
    .await
}

pub(super) async fn list_tables(db: &DynamoDb, input: ListTablesInput) -> Result<Json, ApiError> {
    let mut errors = Vec::new();
    if let Some(start) = input.exclusive_start_table_name.as_deref() {
        errors.extend(table_name_errors(Some(start), "exclusiveStartTableName"));
    }
    match input.limit {
        Some(n) if n < 1 => {
            errors.push(constraint(Some(&n.to_string()), "limit", "Member must have value greater than or equal to 1"))
        }
        Some(n) if n > 100 => {
            errors.push(constraint(Some(&n.to_string()), "limit", "Member must have value less than or equal to 100"))
        }
        _ => {}
    }
    constraint_errors(errors)?;
    let limit = input.limit.unwrap_or(100);
    let start = input.exclusive_start_table_name.unwrap_or_default();
    db.db(move |conn| {
        let mut stmt =
            conn.prepare("SELECT name FROM ddb_tables WHERE name > ?1 ORDER BY name LIMIT ?2").map_err(sql)?;
        let mut names: Vec<String> = stmt
            .query_map(rusqlite::params![start, limit + 1], |r| r.get(0))
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        let more = names.len() as i64 > limit;
        names.truncate(limit as usize);
        let mut out = json!({"TableNames": names});
        if more {
            out["LastEvaluatedTableName"] = json!(names.last());
        }
        Ok(out)
    })
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateTableInput {
    table_name: Option<String>,
    attribute_definitions: Option<Vec<AttributeDefinition>>,
    billing_mode: Option<String>,
    provisioned_throughput: Option<Throughput>,
    global_secondary_index_updates: Option<Vec<IndexUpdate>>,
    /// Everything else UpdateTable takes (streams, SSE, replicas, table class, …).
    #[serde(flatten)]
    other: Map<String, Json>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IndexUpdate {
    create: Option<IndexInput>,
    update: Option<IndexThroughputUpdate>,
    delete: Option<IndexRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IndexThroughputUpdate {
    index_name: Option<String>,
    provisioned_throughput: Option<Throughput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct IndexRef {
    index_name: Option<String>,
}

fn index_not_found(name: &str) -> ApiError {
    ApiError::bad_request("ResourceNotFoundException", format!("Requested resource not found: Index: {name} not found"))
}

fn invalid(msg: impl std::fmt::Display) -> ApiError {
    ApiError::validation(format!("One or more parameter values were invalid: {msg}"))
}

/// Checks an UpdateTable request that needs no table: constraints, the unsupported
/// parameters, and the shape of GlobalSecondaryIndexUpdates.
fn validate_update(input: &UpdateTableInput) -> Result<(), ApiError> {
    let mut errors = table_name_errors(input.table_name.as_deref(), "tableName");
    attribute_definition_errors(input.attribute_definitions.as_deref().unwrap_or_default(), &mut errors);
    errors.extend(enum_errors(input.billing_mode.as_deref(), "billingMode", &["PROVISIONED", "PAY_PER_REQUEST"]));
    if let Some(t) = &input.provisioned_throughput {
        indexes::throughput_errors(t, "provisionedThroughput", &mut errors);
    }
    for (i, u) in input.global_secondary_index_updates.iter().flatten().enumerate() {
        let field = format!("globalSecondaryIndexUpdates.{}.member", i + 1);
        if let Some(c) = &u.create {
            indexes::input_errors(c, &format!("{field}.create"), &mut errors);
        }
        if let Some(up) = &u.update {
            match &up.provisioned_throughput {
                None => errors.push(constraint(
                    None,
                    &format!("{field}.update.provisionedThroughput"),
                    "Member must not be null",
                )),
                Some(t) => indexes::throughput_errors(t, &format!("{field}.update.provisionedThroughput"), &mut errors),
            }
        }
    }
    constraint_errors(errors)?;
    // What the local DynamoDB does not model is refused by name rather than ignored.
    if let Some(param) = input.other.iter().find(|(_, v)| !v.is_null()).map(|(k, _)| k) {
        return Err(ApiError::validation(format!(
            "UpdateTable parameter {param} is not supported by the local DynamoDB; it changes the billing mode, provisioned throughput and global secondary indexes only"
        )));
    }
    let updates = input.global_secondary_index_updates.as_deref().unwrap_or_default();
    if input.provisioned_throughput.is_none() && input.billing_mode.is_none() && updates.is_empty() {
        return Err(ApiError::validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
        ));
    }
    let mut names: Vec<&str> = Vec::new();
    for u in updates {
        let name = match (&u.create, &u.update, &u.delete) {
            (Some(c), None, None) => c.name(),
            (None, Some(up), None) => up.index_name.as_deref().unwrap_or_default(),
            (None, None, Some(d)) => d.index_name.as_deref().unwrap_or_default(),
            (None, None, None) => {
                return Err(invalid(
                    "One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null",
                ));
            }
            _ => {
                return Err(invalid(
                    "Only one of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete can be specified",
                ));
            }
        };
        if names.contains(&name) {
            return Err(invalid(format!(
                "Only one global secondary index update per index is allowed simultaneously. Index: {name}"
            )));
        }
        names.push(name);
    }
    if updates.iter().filter(|u| u.create.is_some() || u.delete.is_some()).count() > 1 {
        return Err(ApiError::bad_request(
            "LimitExceededException",
            "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
        ));
    }
    Ok(())
}

/// The billing mode and throughput part of UpdateTable, applied to `meta`.
fn update_capacity(meta: &mut TableMeta, input: &UpdateTableInput) -> Result<(), ApiError> {
    let mode = input.billing_mode.clone().unwrap_or_else(|| meta.billing_mode.clone());
    let switching = mode != meta.billing_mode;
    if input.provisioned_throughput.is_some() && mode == "PAY_PER_REQUEST" {
        return Err(invalid(
            "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        ));
    }
    let updated_gsis: Vec<&IndexThroughputUpdate> =
        input.global_secondary_index_updates.iter().flatten().filter_map(|u| u.update.as_ref()).collect();
    if mode == "PROVISIONED" && switching {
        if input.provisioned_throughput.is_none() {
            return Err(invalid("ProvisionedThroughput must be specified when BillingMode is PROVISIONED"));
        }
        let missing: Vec<&str> = meta
            .indexes
            .iter()
            .filter(|i| i.global && !updated_gsis.iter().any(|u| u.index_name.as_deref() == Some(i.name.as_str())))
            .map(|i| i.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(invalid(format!("ProvisionedThroughput must be specified for index: {}", missing.join(","))));
        }
    }
    if let Some(t) = &input.provisioned_throughput {
        let (read, write) = (t.read_capacity_units.unwrap_or(1), t.write_capacity_units.unwrap_or(1));
        if !switching && read == meta.read_capacity && write == meta.write_capacity {
            return Err(ApiError::validation(format!(
                "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: {}. Requested ReadCapacityUnits: {read}. Current WriteCapacityUnits provisioned for the table: {}. Requested WriteCapacityUnits: {write}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
                meta.read_capacity, meta.write_capacity
            )));
        }
        meta.read_capacity = read;
        meta.write_capacity = write;
    }
    for u in updated_gsis {
        let name = u.index_name.as_deref().unwrap_or_default();
        if mode == "PAY_PER_REQUEST" {
            return Err(invalid(format!(
                "ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
            )));
        }
        let index =
            meta.indexes.iter_mut().find(|i| i.global && i.name == name).ok_or_else(|| index_not_found(name))?;
        if let Some(t) = &u.provisioned_throughput {
            index.read_capacity = t.read_capacity_units.unwrap_or(1);
            index.write_capacity = t.write_capacity_units.unwrap_or(1);
        }
    }
    if mode == "PAY_PER_REQUEST" {
        meta.read_capacity = 0;
        meta.write_capacity = 0;
        for index in meta.indexes.iter_mut().filter(|i| i.global) {
            index.read_capacity = 0;
            index.write_capacity = 0;
        }
    }
    meta.billing_mode = mode;
    Ok(())
}

/// UpdateTable's Create: the new index is defined against the table's attribute
/// definitions plus the request's, and back-filled in the same transaction.
fn create_index(
    conn: &Connection,
    meta: &mut TableMeta,
    input: &UpdateTableInput,
    create: &IndexInput,
) -> Result<(), ApiError> {
    if meta.index(create.name()).is_some() {
        return Err(invalid(format!("Index already exists: {}", create.name())));
    }
    if meta.indexes.iter().filter(|i| i.global).count() >= 20 {
        return Err(invalid("GlobalSecondaryIndex count exceeds the per-table limit of 20"));
    }
    let mut definitions = meta.attribute_definitions.clone();
    for d in input.attribute_definitions.iter().flatten() {
        let new = KeyAttr {
            name: d.attribute_name.clone().unwrap_or_default(),
            ty: d.attribute_type.clone().unwrap_or_default(),
        };
        match definitions.iter().find(|e| e.name == new.name) {
            Some(existing) if existing.ty != new.ty => {
                return Err(invalid(format!(
                    "Attributes cannot be redefined. Please check that your attribute has the same type as previously defined. Attribute: {}, existing type: {}, new type: {}",
                    new.name, existing.ty, new.ty
                )));
            }
            Some(_) => {}
            None => definitions.push(new),
        }
    }
    let index = indexes::define(create, true, meta, &definitions)?;
    let mut all = meta.indexes.clone();
    all.push(index.clone());
    indexes::check_projected_total(&all)?;
    indexes::backfill(conn, meta, &index)?;
    meta.indexes = all;
    // Keep only the definitions some key uses; the request may repeat existing ones.
    let used = indexes::key_names(meta, &meta.indexes);
    meta.attribute_definitions = definitions.into_iter().filter(|d| used.contains(&d.name)).collect();
    Ok(())
}

pub(super) async fn update_table(db: &DynamoDb, input: UpdateTableInput, region: &str) -> Result<Json, ApiError> {
    validate_update(&input)?;
    let name = input.table_name.clone().unwrap_or_default();
    let region = region.to_string();
    db.db(move |conn| {
        let tx = conn.transaction().map_err(sql)?;
        let mut meta = require_table(&tx, &name).map_err(|_| table_not_found(&name))?;
        update_capacity(&mut meta, &input)?;
        for u in input.global_secondary_index_updates.iter().flatten() {
            if let Some(create) = &u.create {
                create_index(&tx, &mut meta, &input, create)?;
            }
            if let Some(delete) = &u.delete {
                let index_name = delete.index_name.as_deref().unwrap_or_default();
                let pos = meta
                    .indexes
                    .iter()
                    .position(|i| i.global && i.name == index_name)
                    .ok_or_else(|| index_not_found(index_name))?;
                meta.indexes.remove(pos);
                indexes::drop_entries(&tx, &name, index_name)?;
                let used = indexes::key_names(&meta, &meta.indexes);
                meta.attribute_definitions.retain(|d| used.contains(&d.name));
            }
        }
        let text = serde_json::to_string(&meta).map_err(|e| ApiError::internal(e.to_string()))?;
        tx.execute("UPDATE ddb_tables SET meta = ?2 WHERE name = ?1", [&name, &text]).map_err(sql)?;
        // Applied and back-filled before the answer, so the table is ACTIVE again already.
        let desc = describe(&tx, &meta, &region, "ACTIVE")?;
        tx.commit().map_err(sql)?;
        Ok(json!({"TableDescription": desc}))
    })
    .await
}

//! CreateTable, DescribeTable, ListTables, DeleteTable.

use rusqlite::{Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::{
    DynamoDb, KeyAttr, TableMeta, constraint, constraint_errors, enum_errors, not_found, require_table, sql,
    table_name, table_name_errors,
};
use crate::local::protocol::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct KeySchemaElement {
    attribute_name: Option<String>,
    key_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AttributeDefinition {
    attribute_name: Option<String>,
    attribute_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Throughput {
    read_capacity_units: Option<i64>,
    write_capacity_units: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateTableInput {
    table_name: Option<String>,
    key_schema: Option<Vec<KeySchemaElement>>,
    attribute_definitions: Option<Vec<AttributeDefinition>>,
    billing_mode: Option<String>,
    provisioned_throughput: Option<Throughput>,
    global_secondary_indexes: Option<Json>,
    local_secondary_indexes: Option<Json>,
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
fn describe(meta: &TableMeta, region: &str, status: &str, item_count: i64, size: i64) -> Json {
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
    desc
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
            for (i, k) in ks.iter().enumerate() {
                let field = format!("keySchema.{}.member", i + 1);
                if k.attribute_name.is_none() {
                    errors.push(constraint(None, &format!("{field}.attributeName"), "Member must not be null"));
                }
                match &k.key_type {
                    None => errors.push(constraint(None, &format!("{field}.keyType"), "Member must not be null")),
                    Some(t) => errors.extend(enum_errors(Some(t), &format!("{field}.keyType"), &["HASH", "RANGE"])),
                }
            }
        }
    }
    for (i, d) in input.attribute_definitions.iter().flatten().enumerate() {
        let field = format!("attributeDefinitions.{}.member", i + 1);
        if d.attribute_name.is_none() {
            errors.push(constraint(None, &format!("{field}.attributeName"), "Member must not be null"));
        }
        match &d.attribute_type {
            None => errors.push(constraint(None, &format!("{field}.attributeType"), "Member must not be null")),
            Some(t) => errors.extend(enum_errors(Some(t), &format!("{field}.attributeType"), &["B", "N", "S"])),
        }
    }
    errors.extend(enum_errors(input.billing_mode.as_deref(), "billingMode", &["PROVISIONED", "PAY_PER_REQUEST"]));
    if let Some(t) = &input.provisioned_throughput {
        for (v, field) in [
            (t.read_capacity_units, "provisionedThroughput.readCapacityUnits"),
            (t.write_capacity_units, "provisionedThroughput.writeCapacityUnits"),
        ] {
            match v {
                None => errors.push(constraint(None, field, "Member must not be null")),
                Some(n) if n < 1 => errors.push(constraint(
                    Some(&n.to_string()),
                    field,
                    "Member must have value greater than or equal to 1",
                )),
                _ => {}
            }
        }
    }
    constraint_errors(errors)?;

    if input.global_secondary_indexes.is_some() || input.local_secondary_indexes.is_some() {
        return Err(ApiError::validation(
            "Secondary indexes are not supported by the local DynamoDB; create the table without them",
        ));
    }
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
    if definitions.len() != key_names.len() {
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
    Ok(TableMeta {
        name: input.table_name.unwrap_or_default(),
        hash,
        range,
        attribute_definitions: definitions,
        billing_mode,
        read_capacity: read,
        write_capacity: write,
        created,
        table_id: uuid::Uuid::new_v4().to_string(),
    })
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
        tx.commit().map_err(sql)?;
        // The table is usable at once, so it is reported ACTIVE rather than CREATING.
        Ok(json!({"TableDescription": describe(&meta, &region, "ACTIVE", 0, 0)}))
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
        let (count, size) = counts(conn, &name)?;
        Ok(json!({"Table": describe(&meta, &region, "ACTIVE", count, size)}))
    })
    .await
}

pub(super) async fn delete_table(db: &DynamoDb, input: TableNameInput, region: &str) -> Result<Json, ApiError> {
    let name = table_name(input.table_name)?;
    let region = region.to_string();
    db.db(move |conn| {
        let tx = conn.transaction().map_err(sql)?;
        let meta = require_table(&tx, &name).map_err(|_| table_not_found(&name))?;
        let (count, size) = counts(&tx, &name)?;
        tx.execute("DELETE FROM ddb_items WHERE table_name = ?1", [&name]).map_err(sql)?;
        tx.execute("DELETE FROM ddb_tables WHERE name = ?1", [&name]).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(json!({"TableDescription": describe(&meta, &region, "DELETING", count, size)}))
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

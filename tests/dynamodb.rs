//! DynamoDB through the real `aws-sdk-dynamodb` client: tables, items, expressions,
//! pagination, conditions, bad inputs (each with AWS's error code, and nothing changed)
//! and durability across a restart.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeAction, AttributeDefinition, AttributeValue as Av, AttributeValueUpdate, BillingMode, ComparisonOperator,
    Condition, ConditionalOperator, CreateGlobalSecondaryIndexAction, DeleteGlobalSecondaryIndexAction,
    ExpectedAttributeValue, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ProvisionedThroughput, PutRequest, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, Select, WriteRequest,
};

use crate::common::{TestCloud, unsigned_post};

/// The error of a call that must fail, whatever the operation (to list refusals together).
trait Refused {
    fn refused(self) -> aws_sdk_dynamodb::error::ErrorMetadata;
}

impl<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug> Refused
    for Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>
{
    fn refused(self) -> aws_sdk_dynamodb::error::ErrorMetadata {
        let err = self.expect_err("the call must be refused");
        assert!(matches!(err, aws_sdk_dynamodb::error::SdkError::ServiceError(_)), "not an answer: {err:?}");
        err.meta().clone()
    }
}

/// Each error has `code` and a message containing its text.
fn assert_refusals<E: ProvideErrorMetadata>(code_wanted: &str, cases: impl IntoIterator<Item = (E, &'static str)>) {
    for (err, expected) in cases {
        assert_eq!(code(&err), code_wanted, "{expected}");
        assert!(msg(&err).contains(expected), "{expected}: {}", msg(&err));
    }
}

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<no code>").to_string()
}

fn msg<E: ProvideErrorMetadata>(e: &E) -> String {
    e.message().unwrap_or("").to_string()
}

fn s(v: &str) -> Av {
    Av::S(v.to_string())
}

fn n(v: &str) -> Av {
    Av::N(v.to_string())
}

/// The workshop's rider table: partition key `Username` (S).
async fn rider_table(c: &Client, name: &str) {
    c.create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("Username")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("Username").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create rider table");
}

/// A table with a string partition key `pk` and a numeric sort key `sk`.
async fn sorted_table(c: &Client, name: &str) {
    c.create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("sk").attribute_type(ScalarAttributeType::N).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .key_schema(KeySchemaElement::builder().attribute_name("sk").key_type(KeyType::Range).build().unwrap())
        .provisioned_throughput(
            ProvisionedThroughput::builder().read_capacity_units(5).write_capacity_units(5).build().unwrap(),
        )
        .send()
        .await
        .expect("create sorted table");
}

async fn get(c: &Client, table: &str, key: &[(&str, Av)]) -> Option<HashMap<String, Av>> {
    let mut req = c.get_item().table_name(table).consistent_read(true);
    for (k, v) in key {
        req = req.key(*k, v.clone());
    }
    req.send().await.expect("get item").item
}

async fn rider(c: &Client, table: &str, user: &str) -> Option<HashMap<String, Av>> {
    get(c, table, &[("Username", s(user))]).await
}

#[tokio::test]
async fn create_describe_list_and_delete_tables() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    let created = c
        .create_table()
        .table_name("Riders")
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("Username")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("Username").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let desc = created.table_description.unwrap();
    assert_eq!(desc.table_name(), Some("Riders"));
    assert_eq!(desc.table_arn(), Some("arn:aws:dynamodb:us-east-1:000000000000:table/Riders"));
    sorted_table(c, "Events").await;

    c.put_item().table_name("Riders").item("Username", s("a")).send().await.unwrap();
    let table = c.describe_table().table_name("Riders").send().await.unwrap().table.unwrap();
    assert_eq!(table.table_status().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(table.item_count(), Some(1));
    assert!(table.creation_date_time().is_some());
    assert_eq!(table.key_schema().len(), 1);
    assert_eq!(table.key_schema()[0].attribute_name(), "Username");
    assert_eq!(
        table.billing_mode_summary().and_then(|b| b.billing_mode()).map(|b| b.as_str()),
        Some("PAY_PER_REQUEST")
    );
    let events = c.describe_table().table_name("Events").send().await.unwrap().table.unwrap();
    assert_eq!(events.key_schema()[1].key_type().as_str(), "RANGE");
    assert_eq!(events.provisioned_throughput().and_then(|p| p.read_capacity_units()), Some(5));

    let names = c.list_tables().send().await.unwrap().table_names.unwrap();
    assert_eq!(names, vec!["Events", "Riders"]);

    let deleted = c.delete_table().table_name("Riders").send().await.unwrap();
    assert_eq!(deleted.table_description.unwrap().table_status().map(|s| s.as_str()), Some("DELETING"));
    let err = c.describe_table().table_name("Riders").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "ResourceNotFoundException");
    assert_eq!(c.list_tables().send().await.unwrap().table_names.unwrap(), vec!["Events"]);
    // A re-created table starts empty: its items went with it.
    rider_table(c, "Riders").await;
    assert!(rider(c, "Riders", "a").await.is_none());
}

#[tokio::test]
async fn list_tables_pages_with_limit_and_start_name() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    for name in ["t-c", "t-a", "t-e", "t-b", "t-d"] {
        rider_table(c, name).await;
    }
    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = c.list_tables().limit(2).set_exclusive_start_table_name(start.clone()).send().await.unwrap();
        pages += 1;
        seen.extend(out.table_names.unwrap_or_default());
        start = out.last_evaluated_table_name;
        if start.is_none() {
            break;
        }
    }
    assert_eq!(seen, vec!["t-a", "t-b", "t-c", "t-d", "t-e"]);
    assert_eq!(pages, 3);
    // The SDK's own paginator walks the same pages.
    let all: Vec<String> = c
        .list_tables()
        .limit(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(all.len(), 5);
}

#[tokio::test]
async fn create_table_twice_is_resource_in_use() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "Riders").await;
    c.put_item().table_name("Riders").item("Username", s("kept")).send().await.unwrap();
    let err = c
        .create_table()
        .table_name("Riders")
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("x").attribute_type(ScalarAttributeType::N).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("x").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "ResourceInUseException");
    assert_eq!(msg(&err), "Table already exists: Riders");
    // The first table and its item are untouched.
    let table = c.describe_table().table_name("Riders").send().await.unwrap().table.unwrap();
    assert_eq!(table.key_schema()[0].attribute_name(), "Username");
    assert!(rider(c, "Riders", "kept").await.is_some());
}

#[tokio::test]
async fn invalid_table_names_are_validation_errors_and_create_nothing() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    let long = "x".repeat(256);
    for bad in ["ab", "has space", "slash/name", long.as_str()] {
        let err = c
            .create_table()
            .table_name(bad)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("k")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(KeySchemaElement::builder().attribute_name("k").key_type(KeyType::Hash).build().unwrap())
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(code(&err), "ValidationException", "{bad}");
        assert!(msg(&err).contains("at 'tableName' failed to satisfy constraint"), "{}", msg(&err));
    }
    let err = c.get_item().table_name("a").key("k", s("v")).send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "ValidationException");
    assert!(msg(&err).contains("Member must have length greater than or equal to 3"));
    assert!(c.list_tables().send().await.unwrap().table_names.unwrap().is_empty());
}

#[tokio::test]
async fn invalid_key_schema_is_refused() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    // A key attribute with no definition.
    let err = c
        .create_table()
        .table_name("Bad")
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("other")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("k").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "ValidationException");
    assert!(msg(&err).contains("Some index key attributes are not defined in AttributeDefinitions"));
    // PROVISIONED (the default) needs throughput.
    let err = c
        .create_table()
        .table_name("Bad")
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("k").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("k").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "ValidationException");
    assert!(msg(&err).contains("ReadCapacityUnits and WriteCapacityUnits must both be specified"));
    assert!(c.list_tables().send().await.unwrap().table_names.unwrap().is_empty());
}

#[tokio::test]
async fn unknown_table_is_resource_not_found_for_every_operation() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    let e = c.describe_table().table_name("Nope").send().await.unwrap_err().into_service_error();
    assert_eq!(
        (code(&e), msg(&e)),
        ("ResourceNotFoundException".into(), "Requested resource not found: Table: Nope not found".into())
    );
    let e = c.delete_table().table_name("Nope").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = c.put_item().table_name("Nope").item("k", s("v")).send().await.unwrap_err().into_service_error();
    assert_eq!((code(&e), msg(&e)), ("ResourceNotFoundException".into(), "Requested resource not found".into()));
    let e = c.get_item().table_name("Nope").key("k", s("v")).send().await.unwrap_err().into_service_error();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = c.delete_item().table_name("Nope").key("k", s("v")).send().await.unwrap_err().into_service_error();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = c
        .update_item()
        .table_name("Nope")
        .key("k", s("v"))
        .update_expression("SET a = :v")
        .expression_attribute_values(":v", s("x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = c
        .query()
        .table_name("Nope")
        .key_condition_expression("k = :v")
        .expression_attribute_values(":v", s("x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = c.scan().table_name("Nope").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&e), "ResourceNotFoundException");
    assert!(c.list_tables().send().await.unwrap().table_names.unwrap().is_empty());
}

#[tokio::test]
async fn every_attribute_type_round_trips_with_numbers_normalised() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "Riders").await;
    let item: HashMap<String, Av> = [
        ("Username", s("user_a")),
        ("s", s("héllo")),
        ("n", n("1.50")),
        ("big", n("12345678901234567890123456789012345678")),
        ("tiny", n("-1E-130")),
        ("exp", n("1E2")),
        ("b", Av::B(Blob::new(vec![0u8, 1, 2, 255]))),
        ("t", Av::Bool(true)),
        ("z", Av::Null(true)),
        ("l", Av::L(vec![s("x"), n("2"), Av::L(vec![])])),
        ("m", Av::M([("inner".to_string(), Av::M([("deep".to_string(), n("3"))].into()))].into())),
        ("ss", Av::Ss(vec!["b".into(), "a".into()])),
        ("ns", Av::Ns(vec!["1".into(), "2.50".into()])),
        ("bs", Av::Bs(vec![Blob::new(vec![1u8]), Blob::new(vec![2u8])])),
        ("empty", s("")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    c.put_item().table_name("Riders").set_item(Some(item.clone())).send().await.unwrap();
    let got = rider(c, "Riders", "user_a").await.unwrap();
    assert_eq!(got.len(), item.len());
    assert_eq!(got["n"], n("1.5"));
    assert_eq!(got["exp"], n("100"));
    assert_eq!(got["big"], n("12345678901234567890123456789012345678"));
    assert_eq!(got["tiny"], n(&format!("-0.{}1", "0".repeat(129))));
    assert_eq!(got["b"], Av::B(Blob::new(vec![0u8, 1, 2, 255])));
    for k in ["s", "t", "z", "l", "m", "empty"] {
        assert_eq!(got[k], item[k], "{k}");
    }
    let mut ss = got["ss"].as_ss().unwrap().clone();
    ss.sort();
    assert_eq!(ss, vec!["a", "b"]);
    let mut ns = got["ns"].as_ns().unwrap().clone();
    ns.sort();
    assert_eq!(ns, vec!["1", "2.5"]);
    assert_eq!(got["bs"].as_bs().unwrap().len(), 2);
}

#[tokio::test]
async fn invalid_values_are_refused_and_nothing_is_stored() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "Riders").await;
    let cases: Vec<(Av, &str)> = vec![
        (n("1E126"), "Number overflow"),
        (n("1E-131"), "Number underflow"),
        (n("123456789012345678901234567890123456789"), "38 significant digits"),
        (n("abc"), "cannot be converted to a numeric value"),
        (Av::Ss(vec![]), "may not be empty"),
        (Av::Ss(vec!["a".into(), "a".into()]), "contains duplicates"),
        (Av::Ns(vec!["1".into(), "1.0".into()]), "contains duplicates"),
    ];
    for (value, expected) in cases {
        let err = c
            .put_item()
            .table_name("Riders")
            .item("Username", s("u"))
            .item("v", value.clone())
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(code(&err), "ValidationException", "{value:?}");
        assert!(msg(&err).contains(expected), "{value:?}: {}", msg(&err));
    }
    let big = "x".repeat(400 * 1024);
    let err = c.put_item().table_name("Riders").item("Username", s("u")).item("v", s(&big)).send().await.unwrap_err();
    let err = err.into_service_error();
    assert_eq!(code(&err), "ValidationException");
    assert_eq!(msg(&err), "Item size has exceeded the maximum allowed size");
    assert!(rider(c, "Riders", "u").await.is_none());
}

#[tokio::test]
async fn rider_put_with_attribute_not_exists_fails_the_second_time() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "rider-photos").await;
    let put = |face: &str| {
        c.put_item()
            .table_name("rider-photos")
            .item("Username", s("user_a"))
            .item("faceId", s(face))
            .item("s3bucket", s("photos"))
            .item("s3key", s("1_happy_face.jpg"))
            .item("thumbnail", Av::M([("s3key".to_string(), s("resized-1_happy_face.jpg"))].into()))
            .condition_expression("attribute_not_exists(Username)")
            .send()
    };
    put("face-1").await.expect("first registration succeeds");
    let err = put("face-2").await.unwrap_err().into_service_error();
    assert!(err.is_conditional_check_failed_exception());
    assert_eq!(code(&err), "ConditionalCheckFailedException");
    assert_eq!(msg(&err), "The conditional request failed");
    let stored = rider(c, "rider-photos", "user_a").await.unwrap();
    assert_eq!(stored["faceId"], s("face-1"), "the failed put changed nothing");
}

#[tokio::test]
async fn put_returns_old_values_and_delete_removes() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "Riders").await;
    let out = c
        .put_item()
        .table_name("Riders")
        .item("Username", s("a"))
        .item("v", n("1"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert!(out.attributes.is_none());
    let out = c
        .put_item()
        .table_name("Riders")
        .item("Username", s("a"))
        .item("v", n("2"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(out.attributes.unwrap()["v"], n("1"));
    let err = c
        .put_item()
        .table_name("Riders")
        .item("Username", s("a"))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "ValidationException");

    let out = c
        .delete_item()
        .table_name("Riders")
        .key("Username", s("a"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(out.attributes.unwrap()["v"], n("2"));
    assert!(rider(c, "Riders", "a").await.is_none());
    // Deleting what is not there succeeds and returns nothing.
    let out = c
        .delete_item()
        .table_name("Riders")
        .key("Username", s("a"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert!(out.attributes.is_none());
}

#[tokio::test]
async fn conditions_that_pass_and_fail_on_put_update_delete() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "Riders").await;
    c.put_item()
        .table_name("Riders")
        .item("Username", s("a"))
        .item("age", n("30"))
        .item("name", s("Alice"))
        .item("tags", Av::Ss(vec!["x".into(), "y".into()]))
        .item("pic", Av::B(Blob::new(b"\x89PNG".to_vec())))
        .send()
        .await
        .unwrap();
    let passing = [
        "attribute_exists(Username)",
        "age = :thirty",
        "age BETWEEN :twenty AND :thirty",
        "age IN (:twenty, :thirty)",
        "#n <> :bob AND begins_with(#n, :al)",
        "contains(tags, :x) AND size(tags) = :two",
        "attribute_type(age, :N) AND NOT attribute_exists(absent)",
        "(age < :twenty OR age > :twenty) AND size(#n) >= :two",
        "begins_with(pic, :png)",
    ];
    let failing = [
        "attribute_not_exists(Username)",
        "age < :twenty",
        "age BETWEEN :over AND :forty",
        "#n = :bob",
        "contains(tags, :z)",
        "attribute_type(age, :S)",
        "NOT (age = :thirty)",
        "size(tags) > :two OR begins_with(#n, :bob)",
    ];
    let values: HashMap<String, Av> = [
        (":twenty", n("20")),
        (":thirty", n("30.0")),
        (":over", n("31")),
        (":forty", n("40")),
        (":bob", s("Bob")),
        (":al", s("Al")),
        (":x", s("x")),
        (":z", s("z")),
        (":two", n("2")),
        (":N", s("N")),
        (":S", s("S")),
        (":png", Av::B(Blob::new(b"\x89P".to_vec()))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (i, cond) in passing.iter().chain(failing.iter()).enumerate() {
        let before = rider(c, "Riders", "a").await.unwrap();
        let used = |c: &str| -> Option<HashMap<String, Av>> {
            let m: HashMap<String, Av> =
                values.iter().filter(|(k, _)| c.contains(k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
            (!m.is_empty()).then_some(m)
        };
        let names = cond.contains("#n").then(|| HashMap::from([("#n".to_string(), "name".to_string())]));
        // UpdateItem with the condition: passes → a marker is set; fails → nothing changes.
        let result = c
            .update_item()
            .table_name("Riders")
            .key("Username", s("a"))
            .update_expression("SET marker = :m")
            .condition_expression(*cond)
            .set_expression_attribute_names(names.clone())
            .set_expression_attribute_values(Some({
                let mut v = used(cond).unwrap_or_default();
                v.insert(":m".into(), n(&i.to_string()));
                v
            }))
            .send()
            .await;
        let after = rider(c, "Riders", "a").await.unwrap();
        if i < passing.len() {
            result.unwrap_or_else(|e| panic!("{cond} should pass: {:?}", e.into_service_error()));
            assert_eq!(after["marker"], n(&i.to_string()), "{cond}");
        } else {
            let err = result.unwrap_err().into_service_error();
            assert_eq!(code(&err), "ConditionalCheckFailedException", "{cond}");
            assert_eq!(after, before, "a failed update condition changed the item: {cond}");
            // Put and Delete with the same failing condition change nothing either.
            let err = c
                .put_item()
                .table_name("Riders")
                .item("Username", s("a"))
                .condition_expression(*cond)
                .set_expression_attribute_names(names.clone())
                .set_expression_attribute_values(used(cond))
                .send()
                .await
                .unwrap_err()
                .into_service_error();
            assert_eq!(code(&err), "ConditionalCheckFailedException", "put {cond}");
            let err = c
                .delete_item()
                .table_name("Riders")
                .key("Username", s("a"))
                .condition_expression(*cond)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(used(cond))
                .send()
                .await
                .unwrap_err()
                .into_service_error();
            assert_eq!(code(&err), "ConditionalCheckFailedException", "delete {cond}");
            let now = rider(c, "Riders", "a").await.unwrap();
            assert_eq!(now, after, "a failed condition changed the item: {cond}");
        }
    }
    // A passing delete condition deletes.
    c.delete_item()
        .table_name("Riders")
        .key("Username", s("a"))
        .condition_expression("age = :a")
        .expression_attribute_values(":a", n("30"))
        .send()
        .await
        .unwrap();
    assert!(rider(c, "Riders", "a").await.is_none());
}

#[tokio::test]
async fn update_item_set_remove_add_delete_and_return_values() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "Riders").await;
    // UpdateItem on a missing item creates it.
    let out = c
        .update_item()
        .table_name("Riders")
        .key("Username", s("u"))
        .update_expression("SET visits = :one, history = :empty, profile = :profile ADD tags :ab")
        .expression_attribute_values(":one", n("1"))
        .expression_attribute_values(":empty", Av::L(vec![]))
        .expression_attribute_values(":profile", Av::M([("city".to_string(), s("Seoul"))].into()))
        .expression_attribute_values(":ab", Av::Ss(vec!["a".into(), "b".into()]))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    let all_new = out.attributes.unwrap();
    assert_eq!(all_new["visits"], n("1"));
    assert_eq!(all_new["Username"], s("u"));

    let out = c
        .update_item()
        .table_name("Riders")
        .key("Username", s("u"))
        .update_expression(
            "SET visits = visits + :one, history = list_append(history, :h), nick = if_not_exists(nick, :nick), \
             profile.city = :busan, score = :half - :one REMOVE gone ADD rides :five, labels :c DELETE tags :a",
        )
        .expression_attribute_values(":one", n("1"))
        .expression_attribute_values(":h", Av::L(vec![s("ride-1")]))
        .expression_attribute_values(":nick", s("speedy"))
        .expression_attribute_values(":busan", s("Busan"))
        .expression_attribute_values(":half", n("0.5"))
        .expression_attribute_values(":five", n("5"))
        .expression_attribute_values(":c", Av::Ss(vec!["c".into()]))
        .expression_attribute_values(":a", Av::Ss(vec!["a".into()]))
        .return_values(ReturnValue::UpdatedOld)
        .send()
        .await
        .unwrap();
    let old = out.attributes.unwrap();
    assert_eq!(old["visits"], n("1"));
    assert_eq!(old["profile"], Av::M([("city".to_string(), s("Seoul"))].into()));
    assert!(!old.contains_key("nick"), "nick did not exist before");

    let item = rider(c, "Riders", "u").await.unwrap();
    assert_eq!(item["visits"], n("2"));
    assert_eq!(item["history"], Av::L(vec![s("ride-1")]));
    assert_eq!(item["nick"], s("speedy"));
    assert_eq!(item["profile"], Av::M([("city".to_string(), s("Busan"))].into()));
    assert_eq!(item["score"], n("-0.5"));
    assert_eq!(item["rides"], n("5"));
    assert_eq!(item["tags"], Av::Ss(vec!["b".into()]));
    assert_eq!(item["labels"], Av::Ss(vec!["c".into()]));

    let out = c
        .update_item()
        .table_name("Riders")
        .key("Username", s("u"))
        .update_expression("SET nick = if_not_exists(nick, :other) ADD rides :minus REMOVE history")
        .expression_attribute_values(":other", s("ignored"))
        .expression_attribute_values(":minus", n("-7.25"))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .unwrap();
    let new = out.attributes.unwrap();
    assert_eq!(new["nick"], s("speedy"));
    assert_eq!(new["rides"], n("-2.25"));
    assert!(!new.contains_key("history"));
    let out = c
        .update_item()
        .table_name("Riders")
        .key("Username", s("u"))
        .update_expression("DELETE tags :bc")
        .expression_attribute_values(":bc", Av::Ss(vec!["b".into(), "c".into()]))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert!(out.attributes.unwrap().contains_key("tags"));
    assert!(!rider(c, "Riders", "u").await.unwrap().contains_key("tags"), "an emptied set disappears");
}

#[tokio::test]
async fn update_errors_change_nothing() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "Riders").await;
    c.put_item()
        .table_name("Riders")
        .item("Username", s("u"))
        .item("name", s("x"))
        .item("n", n("1"))
        .send()
        .await
        .unwrap();
    let before = rider(c, "Riders", "u").await.unwrap();
    let cases: Vec<(&str, Vec<(&str, Av)>, &str)> = vec![
        (
            "SET #nm = #nm + :one",
            vec![(":one", n("1"))],
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "SET Username = :v",
            vec![(":v", s("other"))],
            "Cannot update attribute Username. This attribute is part of the key",
        ),
        (
            "SET a = absent + :one",
            vec![(":one", n("1"))],
            "The provided expression refers to an attribute that does not exist in the item",
        ),
        ("SET n = :one REMOVE n", vec![(":one", n("1"))], "Two document paths overlap with each other"),
        ("SET n =", vec![], "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"=\""),
        (
            "SET n = :undefined",
            vec![(":one", n("1"))],
            "An expression attribute value used in expression is not defined; attribute value: :undefined",
        ),
        (
            "SET n = :one",
            vec![(":one", n("1")), (":extra", n("2"))],
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:extra}",
        ),
        (
            "ADD n :s",
            vec![(":s", s("x"))],
            "Incorrect operand type for operator or function; operator: ADD, operand type: STRING",
        ),
        ("SET name = :one", vec![(":one", n("1"))], "Attribute name is a reserved keyword; reserved keyword: name"),
        ("SET n = n + :big", vec![(":big", n("9.9999999999999999999999999999999999999E125"))], ""),
        (
            "SET a.b = :one",
            vec![(":one", n("1"))],
            "The document path provided in the update expression is invalid for update",
        ),
    ];
    for (expr, values, expected) in cases {
        let mut req = c.update_item().table_name("Riders").key("Username", s("u")).update_expression(expr);
        if expr.contains("#nm") {
            req = req.expression_attribute_names("#nm", "name");
        }
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        let result = req.send().await;
        if expected.is_empty() {
            // 1 + 9.99…E125 still fits: the sum is representable.
            if let Err(e) = result {
                assert_eq!(code(&e.into_service_error()), "ValidationException");
            }
            c.put_item().set_table_name(Some("Riders".into())).set_item(Some(before.clone())).send().await.unwrap();
            continue;
        }
        let err = result.unwrap_err().into_service_error();
        assert_eq!(code(&err), "ValidationException", "{expr}");
        assert!(msg(&err).contains(expected), "{expr}: {}", msg(&err));
        assert_eq!(rider(c, "Riders", "u").await.unwrap(), before, "{expr} changed the item");
    }
}

#[tokio::test]
async fn get_item_projection_and_missing_item() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "Riders").await;
    c.put_item()
        .table_name("Riders")
        .item("Username", s("u"))
        .item("a", s("1"))
        .item("m", Av::M([("x".to_string(), n("1")), ("y".to_string(), n("2"))].into()))
        .item("l", Av::L(vec![s("l0"), s("l1"), s("l2")]))
        .send()
        .await
        .unwrap();
    let out = c
        .get_item()
        .table_name("Riders")
        .key("Username", s("u"))
        .projection_expression("#a, m.y, l[2]")
        .expression_attribute_names("#a", "a")
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out["a"], s("1"));
    assert_eq!(out["m"], Av::M([("y".to_string(), n("2"))].into()));
    assert_eq!(out["l"], Av::L(vec![s("l2")]));
    let none = c.get_item().table_name("Riders").key("Username", s("nobody")).send().await.unwrap();
    assert!(none.item.is_none());
}

#[tokio::test]
async fn missing_key_and_wrong_key_type_are_validation_errors() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "Riders").await;
    let err = c.put_item().table_name("Riders").item("name", s("x")).send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "ValidationException");
    assert_eq!(msg(&err), "One or more parameter values were invalid: Missing the key Username in the item");
    let err = c.put_item().table_name("Riders").item("Username", n("1")).send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "ValidationException");
    assert_eq!(
        msg(&err),
        "One or more parameter values were invalid: Type mismatch for key Username expected: S actual: N"
    );
    let err = c.put_item().table_name("Riders").item("Username", s("")).send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "ValidationException");
    assert!(msg(&err).contains("cannot contain an empty string value. Key: Username"));
    let err = c.get_item().table_name("Riders").key("Username", n("1")).send().await.unwrap_err().into_service_error();
    assert_eq!(
        (code(&err), msg(&err)),
        ("ValidationException".into(), "The provided key element does not match the schema".into())
    );
    let err = c
        .get_item()
        .table_name("Riders")
        .key("Username", s("a"))
        .key("extra", s("b"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(msg(&err), "The provided key element does not match the schema");
    let err = c.delete_item().table_name("Riders").key("Other", s("a")).send().await.unwrap_err().into_service_error();
    assert_eq!(msg(&err), "The provided key element does not match the schema");
    let scan = c.scan().table_name("Riders").send().await.unwrap();
    assert_eq!(scan.count, 0, "no bad input stored anything");
}

#[tokio::test]
async fn bad_expression_syntax_is_a_validation_error() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "Riders").await;
    let err = c
        .put_item()
        .table_name("Riders")
        .item("Username", s("u"))
        .condition_expression("attribute_not_exists(Username) AND")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "ValidationException");
    assert_eq!(msg(&err), "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"AND\"");
    let err = c
        .scan()
        .table_name("Riders")
        .filter_expression("a = = :v")
        .expression_attribute_values(":v", s("x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(msg(&err), "Invalid FilterExpression: Syntax error; token: \"=\", near: \"= =\"");
    let err = c
        .get_item()
        .table_name("Riders")
        .key("Username", s("u"))
        .projection_expression("a,,b")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(msg(&err), "Invalid ProjectionExpression: Syntax error; token: \",\", near: \",,\"");
    let deep = format!("{}a = :v{}", "(".repeat(500), ")".repeat(500));
    let err = c
        .scan()
        .table_name("Riders")
        .filter_expression(deep)
        .expression_attribute_values(":v", s("x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "ValidationException");
    let err = c
        .put_item()
        .table_name("Riders")
        .item("Username", s("u"))
        .expression_attribute_values(":v", s("x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(msg(&err), "ExpressionAttributeValues can only be specified when using expressions");
    assert!(rider(c, "Riders", "u").await.is_none());
}

#[tokio::test]
async fn malformed_json_is_a_serialization_error_and_unknown_target_unknown_operation() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "Riders").await;
    // A signed request whose body is not JSON: sign with the SDK's own signer by sending
    // through a raw client is not possible, so use the SDK with a customised body.
    let err = c
        .put_item()
        .table_name("Riders")
        .item("Username", s("u"))
        .customize()
        .mutate_request(|req| {
            let body: &str = "{\"TableName\": \"Riders\", \"Item\": ";
            req.headers_mut().insert("content-length", body.len().to_string());
            *req.body_mut() = aws_smithy_types::body::SdkBody::from(body);
        })
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "SerializationException");
    let err = c
        .put_item()
        .table_name("Riders")
        .item("Username", s("u"))
        .customize()
        .mutate_request(|req| {
            let body: &str = "{\"TableName\": \"Riders\", \"Item\": {\"Username\": {\"S\": 5}}}";
            req.headers_mut().insert("content-length", body.len().to_string());
            *req.body_mut() = aws_smithy_types::body::SdkBody::from(body);
        })
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "SerializationException");
    let err = c
        .list_tables()
        .customize()
        .mutate_request(|req| {
            req.headers_mut().insert("x-amz-target", "DynamoDB_20120810.FlyToTheMoon");
        })
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "UnknownOperationException");
    assert!(rider(c, "Riders", "u").await.is_none());
    // Unsigned requests never reach the service.
    let (status, _, body) = unsigned_post(
        &cloud.endpoint,
        "/",
        &[("x-amz-target", "DynamoDB_20120810.PutItem"), ("content-type", "application/x-amz-json-1.0")],
        r#"{"TableName":"Riders","Item":{"Username":{"S":"u"}}}"#,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(rider(c, "Riders", "u").await.is_none());
}

async fn seed_events(c: &Client, table: &str, pk: &str, count: usize) {
    for i in 0..count {
        c.put_item()
            .table_name(table)
            .item("pk", s(pk))
            .item("sk", n(&format!("{}", i as f64 - 5.5)))
            .item("kind", s(if i % 2 == 0 { "even" } else { "odd" }))
            .send()
            .await
            .unwrap();
    }
}

fn sks(items: &[HashMap<String, Av>]) -> Vec<String> {
    items.iter().map(|i| i["sk"].as_n().unwrap().clone()).collect()
}

#[tokio::test]
async fn query_orders_numbers_numerically_and_supports_every_key_operator() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    sorted_table(c, "Events").await;
    seed_events(c, "Events", "p", 12).await; // sk = -5.5, -4.5, …, 5.5
    seed_events(c, "Events", "other", 3).await;
    let q = |cond: &str, vals: Vec<(&str, Av)>| {
        let mut r =
            c.query().table_name("Events").key_condition_expression(cond).expression_attribute_values(":p", s("p"));
        for (k, v) in vals {
            r = r.expression_attribute_values(k, v);
        }
        r
    };
    let all = q("pk = :p", vec![]).send().await.unwrap();
    assert_eq!(
        sks(all.items()),
        ["-5.5", "-4.5", "-3.5", "-2.5", "-1.5", "-0.5", "0.5", "1.5", "2.5", "3.5", "4.5", "5.5"]
    );
    let desc = q("pk = :p", vec![]).scan_index_forward(false).send().await.unwrap();
    assert_eq!(sks(desc.items())[0], "5.5");
    let cases: Vec<(&str, Vec<(&str, Av)>, Vec<&str>)> = vec![
        ("pk = :p AND sk = :v", vec![(":v", n("0.50"))], vec!["0.5"]),
        ("pk = :p AND sk < :v", vec![(":v", n("-3.5"))], vec!["-5.5", "-4.5"]),
        ("pk = :p AND sk <= :v", vec![(":v", n("-3.5"))], vec!["-5.5", "-4.5", "-3.5"]),
        ("pk = :p AND sk > :v", vec![(":v", n("3.5"))], vec!["4.5", "5.5"]),
        ("sk >= :v AND pk = :p", vec![(":v", n("4.5"))], vec!["4.5", "5.5"]),
        ("pk = :p AND sk BETWEEN :a AND :b", vec![(":a", n("-1")), (":b", n("1.5"))], vec!["-0.5", "0.5", "1.5"]),
        (":v < sk AND pk = :p", vec![(":v", n("4.5"))], vec!["5.5"]),
    ];
    for (cond, vals, expected) in cases {
        let out = q(cond, vals).send().await.unwrap();
        assert_eq!(sks(out.items()), expected, "{cond}");
    }
    let filtered = q("pk = :p AND sk > :z", vec![(":z", n("0")), (":k", s("even"))])
        .filter_expression("kind = :k")
        .send()
        .await
        .unwrap();
    assert_eq!(filtered.count, 3);
    assert_eq!(filtered.scanned_count, 6);
    let counted = q("pk = :p", vec![]).select(Select::Count).send().await.unwrap();
    assert_eq!(counted.count, 12);
    assert!(counted.items.is_none() || counted.items().is_empty());
}

#[tokio::test]
async fn query_begins_with_on_string_sort_keys_orders_bytewise() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    c.create_table()
        .table_name("Photos")
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("user")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("key")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("user").key_type(KeyType::Hash).build().unwrap())
        .key_schema(KeySchemaElement::builder().attribute_name("key").key_type(KeyType::Range).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    for k in ["photo#2", "photo#10", "Photo#1", "photo", "thumb#1", "photo#\u{00e9}"] {
        c.put_item().table_name("Photos").item("user", s("u")).item("key", s(k)).send().await.unwrap();
    }
    let out = c
        .query()
        .table_name("Photos")
        .key_condition_expression("#u = :u AND begins_with(#k, :p)")
        .expression_attribute_names("#u", "user")
        .expression_attribute_names("#k", "key")
        .expression_attribute_values(":u", s("u"))
        .expression_attribute_values(":p", s("photo#"))
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = out.items().iter().map(|i| i["key"].as_s().unwrap().as_str()).collect();
    assert_eq!(keys, ["photo#10", "photo#2", "photo#\u{00e9}"]);
}

#[tokio::test]
async fn query_key_condition_errors() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    sorted_table(c, "Events").await;
    let cases: Vec<(&str, Vec<(&str, Av)>, &str)> = vec![
        ("sk = :v", vec![(":v", n("1"))], "Query condition missed key schema element: pk"),
        (
            "pk = :v",
            vec![(":v", n("1"))],
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ),
        ("pk = :p OR sk = :v", vec![(":p", s("p")), (":v", n("1"))], "Query key condition not supported"),
        ("pk = :p AND begins_with(sk, :v)", vec![(":p", s("p")), (":v", n("1"))], "operand type: N"),
        (
            "pk = :p AND nonkey = :v",
            vec![(":p", s("p")), (":v", n("1"))],
            "Query condition missed key schema element: sk",
        ),
    ];
    for (cond, vals, expected) in cases {
        let mut r = c.query().table_name("Events").key_condition_expression(cond);
        for (k, v) in vals {
            r = r.expression_attribute_values(k, v);
        }
        let err = r.send().await.unwrap_err().into_service_error();
        assert_eq!(code(&err), "ValidationException", "{cond}");
        assert!(msg(&err).contains(expected), "{cond}: {}", msg(&err));
    }
}

#[tokio::test]
async fn query_pagination_visits_every_item_once_in_both_directions() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    sorted_table(c, "Events").await;
    seed_events(c, "Events", "p", 11).await;
    for forward in [true, false] {
        let mut seen = Vec::new();
        let mut start = None;
        let mut pages = 0;
        loop {
            let out = c
                .query()
                .table_name("Events")
                .key_condition_expression("pk = :p")
                .expression_attribute_values(":p", s("p"))
                .limit(3)
                .scan_index_forward(forward)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            pages += 1;
            assert!(out.items().len() <= 3);
            seen.extend(sks(out.items()));
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        assert_eq!(pages, 4);
        let mut expected: Vec<String> = (0..11).map(|i| format!("{}", i as f64 - 5.5)).collect();
        if !forward {
            expected.reverse();
        }
        assert_eq!(seen, expected, "forward={forward}");
    }
    // With a filter, Limit counts evaluated items and pages may come back empty.
    let mut matched = 0;
    let mut start = None;
    loop {
        let out = c
            .query()
            .table_name("Events")
            .key_condition_expression("pk = :p")
            .filter_expression("kind = :k")
            .expression_attribute_values(":p", s("p"))
            .expression_attribute_values(":k", s("odd"))
            .limit(4)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        matched += out.count;
        start = out.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    assert_eq!(matched, 5);
}

#[tokio::test]
async fn scan_pagination_never_skips_or_repeats_even_with_writes_between_pages() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "Riders").await;
    for i in 0..25 {
        c.put_item()
            .table_name("Riders")
            .item("Username", s(&format!("user{i:02}")))
            .item("i", n(&i.to_string()))
            .send()
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut start = None;
    let mut first_page = true;
    loop {
        let out = c.scan().table_name("Riders").limit(7).set_exclusive_start_key(start).send().await.unwrap();
        seen.extend(out.items().iter().map(|i| i["Username"].as_s().unwrap().clone()));
        if first_page {
            // Overwriting an item already returned must not bring it back.
            c.put_item().table_name("Riders").item("Username", s(&seen[0])).item("i", n("100")).send().await.unwrap();
            first_page = false;
        }
        start = out.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(seen.len(), 25);
    assert_eq!(unique.len(), 25);

    let filtered = c
        .scan()
        .table_name("Riders")
        .filter_expression("i < :ten")
        .projection_expression("Username")
        .expression_attribute_values(":ten", n("10"))
        .send()
        .await
        .unwrap();
    assert_eq!(filtered.count, 9, "user00 was rewritten to 100");
    assert_eq!(filtered.scanned_count, 25);
    assert!(filtered.items().iter().all(|i| i.len() == 1 && i.contains_key("Username")));
    let counted = c.scan().table_name("Riders").select(Select::Count).send().await.unwrap();
    assert_eq!(counted.count, 25);
    // The SDK's paginator agrees.
    let pages: Vec<_> = c.scan().table_name("Riders").limit(10).into_paginator().send().collect::<Vec<_>>().await;
    assert_eq!(pages.len(), 3);
    assert_eq!(pages.into_iter().map(|p| p.unwrap().count).sum::<i32>(), 25);
}

#[tokio::test]
async fn batch_write_and_batch_get() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "Riders").await;
    let puts: Vec<WriteRequest> = (0..5)
        .map(|i| {
            WriteRequest::builder()
                .put_request(PutRequest::builder().item("Username", s(&format!("b{i}"))).build().unwrap())
                .build()
        })
        .collect();
    let out = c.batch_write_item().request_items("Riders", puts).send().await.unwrap();
    assert!(out.unprocessed_items().is_none_or(|u| u.is_empty()));
    let keys = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
        .keys(HashMap::from([("Username".to_string(), s("b1"))]))
        .keys(HashMap::from([("Username".to_string(), s("b3"))]))
        .keys(HashMap::from([("Username".to_string(), s("nobody"))]))
        .build()
        .unwrap();
    let got = c.batch_get_item().request_items("Riders", keys).send().await.unwrap();
    assert_eq!(got.responses().unwrap()["Riders"].len(), 2);
}

#[tokio::test]
async fn items_survive_a_restart() {
    let cloud = TestCloud::start().await;
    rider_table(&cloud.clients.dynamodb, "Riders").await;
    cloud
        .clients
        .dynamodb
        .put_item()
        .table_name("Riders")
        .item("Username", s("durable"))
        .item("n", n("42.0"))
        .send()
        .await
        .unwrap();
    let cloud = cloud.restart().await;
    let got = rider(&cloud.clients.dynamodb, "Riders", "durable").await.expect("item survives the restart");
    assert_eq!(got["n"], n("42"));
    let table = cloud.clients.dynamodb.describe_table().table_name("Riders").send().await.unwrap().table.unwrap();
    assert_eq!(table.item_count(), Some(1));
}

// ---------------------------------------------------------------------------------------
// Secondary indexes

fn def(name: &str, ty: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder().attribute_name(name).attribute_type(ty).build().unwrap()
}

fn key(name: &str, ty: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(ty).build().unwrap()
}

fn projection(ty: ProjectionType, non_key: &[&str]) -> Projection {
    let mut p = Projection::builder().projection_type(ty);
    for a in non_key {
        p = p.non_key_attributes(*a);
    }
    p.build()
}

fn gsi(name: &str, keys: &[(&str, KeyType)], p: Projection) -> GlobalSecondaryIndex {
    let mut b = GlobalSecondaryIndex::builder().index_name(name).projection(p);
    for (k, t) in keys {
        b = b.key_schema(key(k, t.clone()));
    }
    b.build().unwrap()
}

fn lsi(name: &str, range: &str, p: Projection) -> LocalSecondaryIndex {
    LocalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key("rider", KeyType::Hash))
        .key_schema(key(range, KeyType::Range))
        .projection(p)
        .build()
        .unwrap()
}

/// `Rides`: rider (S) + ride (N); GSI `by_city` (city, fare) projecting `note`; GSI
/// `by_driver` (driver) KEYS_ONLY; LSI `by_fare` (rider, fare) KEYS_ONLY.
async fn rides_table(c: &Client) {
    c.create_table()
        .table_name("Rides")
        .attribute_definitions(def("rider", ScalarAttributeType::S))
        .attribute_definitions(def("ride", ScalarAttributeType::N))
        .attribute_definitions(def("city", ScalarAttributeType::S))
        .attribute_definitions(def("fare", ScalarAttributeType::N))
        .attribute_definitions(def("driver", ScalarAttributeType::S))
        .key_schema(key("rider", KeyType::Hash))
        .key_schema(key("ride", KeyType::Range))
        .global_secondary_indexes(gsi(
            "by_city",
            &[("city", KeyType::Hash), ("fare", KeyType::Range)],
            projection(ProjectionType::Include, &["note"]),
        ))
        .global_secondary_indexes(gsi(
            "by_driver",
            &[("driver", KeyType::Hash)],
            projection(ProjectionType::KeysOnly, &[]),
        ))
        .local_secondary_indexes(lsi("by_fare", "fare", projection(ProjectionType::KeysOnly, &[])))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create the Rides table with its indexes");
}

async fn put_ride(c: &Client, rider: &str, ride: u32, city: Option<&str>, fare: u32, driver: &str) {
    let mut req = c
        .put_item()
        .table_name("Rides")
        .item("rider", s(rider))
        .item("ride", n(&ride.to_string()))
        .item("fare", n(&fare.to_string()))
        .item("driver", s(driver))
        .item("note", s(&format!("note {rider}/{ride}")))
        .item("secret", s("not projected"));
    if let Some(city) = city {
        req = req.item("city", s(city));
    }
    req.send().await.expect("put a ride");
}

fn strs(items: &[HashMap<String, Av>], attr: &str) -> Vec<String> {
    items.iter().map(|i| i[attr].as_s().or_else(|_| i[attr].as_n()).unwrap().clone()).collect()
}

/// Query of `index` with `condition` and its values; panics on an error.
async fn index_query(
    c: &Client,
    table: &str,
    index: &str,
    condition: &str,
    values: &[(&str, Av)],
) -> aws_sdk_dynamodb::operation::query::QueryOutput {
    let mut req = c.query().table_name(table).index_name(index).key_condition_expression(condition);
    for (k, v) in values {
        req = req.expression_attribute_values(*k, v.clone());
    }
    req.send().await.unwrap_or_else(|e| panic!("query {index} {condition}: {e:?}"))
}

#[tokio::test]
async fn secondary_indexes_are_created_described_and_read() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rides_table(c).await;
    for (rider, ride, city, fare, driver) in [
        ("ann", 1, Some("Paris"), 30, "d1"),
        ("ann", 2, Some("Paris"), 10, "d2"),
        ("bob", 1, Some("Paris"), 20, "d1"),
        ("bob", 2, Some("Oslo"), 15, "d1"),
        ("cat", 1, None, 5, "d3"),
    ] {
        put_ride(c, rider, ride, city, fare, driver).await;
    }
    let table = c.describe_table().table_name("Rides").send().await.unwrap().table.unwrap();
    let gsis = table.global_secondary_indexes();
    assert_eq!(gsis.len(), 2);
    let by_city = gsis.iter().find(|g| g.index_name() == Some("by_city")).unwrap();
    assert_eq!(by_city.index_status().map(|s| s.as_str()), Some("ACTIVE"));
    assert_eq!(by_city.item_count(), Some(4), "the ride without a city is not in the index");
    assert_eq!(by_city.index_arn(), Some("arn:aws:dynamodb:us-east-1:000000000000:table/Rides/index/by_city"));
    assert_eq!(by_city.projection().unwrap().non_key_attributes(), ["note"]);
    assert_eq!(by_city.key_schema()[1].attribute_name(), "fare");
    let lsis = table.local_secondary_indexes();
    assert_eq!(lsis.len(), 1);
    assert_eq!(lsis[0].item_count(), Some(5), "every ride has a fare");

    // Query on the GSI: in fare order, only the projected attributes.
    let out =
        index_query(c, "Rides", "by_city", "city = :c AND fare >= :f", &[(":c", s("Paris")), (":f", n("15"))]).await;
    assert_eq!(strs(out.items(), "fare"), ["20", "30"]);
    let first = &out.items()[0];
    let mut attrs: Vec<&String> = first.keys().collect();
    attrs.sort();
    assert_eq!(attrs, ["city", "fare", "note", "ride", "rider"], "INCLUDE projects the keys and note only");

    // Paging through an index: every entry once, LastEvaluatedKey with table and index keys.
    let mut seen = Vec::new();
    let mut start = None;
    loop {
        let page = c
            .query()
            .table_name("Rides")
            .index_name("by_city")
            .key_condition_expression("city = :c")
            .expression_attribute_values(":c", s("Paris"))
            .scan_index_forward(false)
            .limit(1)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        seen.extend(strs(page.items(), "fare"));
        start = page.last_evaluated_key;
        if let Some(k) = &start {
            let mut names: Vec<&String> = k.keys().collect();
            names.sort();
            assert_eq!(names, ["city", "fare", "ride", "rider"]);
        } else {
            break;
        }
    }
    assert_eq!(seen, ["30", "20", "10"]);

    let scan = c.scan().table_name("Rides").index_name("by_driver").send().await.unwrap();
    assert_eq!(scan.count, 5);
    assert!(scan.items().iter().all(|i| i.len() == 3), "KEYS_ONLY: rider, ride and driver");
    // The LSI fetches what it does not project from the table.
    let local = c
        .query()
        .table_name("Rides")
        .index_name("by_fare")
        .key_condition_expression("rider = :r")
        .expression_attribute_values(":r", s("ann"))
        .select(Select::AllAttributes)
        .send()
        .await
        .unwrap();
    assert_eq!(strs(local.items(), "fare"), ["10", "30"]);
    assert_eq!(local.items()[0]["secret"], s("not projected"));

    // Writes keep the indexes in step: an update moving the key, a removal, a delete.
    c.update_item()
        .table_name("Rides")
        .key("rider", s("bob"))
        .key("ride", n("2"))
        .update_expression("SET city = :c")
        .expression_attribute_values(":c", s("Paris"))
        .send()
        .await
        .unwrap();
    c.update_item()
        .table_name("Rides")
        .key("rider", s("ann"))
        .key("ride", n("1"))
        .update_expression("REMOVE city")
        .send()
        .await
        .unwrap();
    c.delete_item().table_name("Rides").key("rider", s("ann")).key("ride", n("2")).send().await.unwrap();
    let paris = index_query(c, "Rides", "by_city", "city = :c", &[(":c", s("Paris"))]).await;
    assert_eq!(strs(paris.items(), "fare"), ["15", "20"]);
    let oslo = index_query(c, "Rides", "by_city", "city = :c", &[(":c", s("Oslo"))]).await;
    assert_eq!(oslo.count, 0);
    let batch: Vec<WriteRequest> = vec![
        WriteRequest::builder()
            .put_request(
                PutRequest::builder()
                    .item("rider", s("dan"))
                    .item("ride", n("1"))
                    .item("city", s("Oslo"))
                    .item("fare", n("7"))
                    .build()
                    .unwrap(),
            )
            .build(),
    ];
    c.batch_write_item().request_items("Rides", batch).send().await.unwrap();
    let oslo = index_query(c, "Rides", "by_city", "city = :c", &[(":c", s("Oslo"))]).await;
    assert_eq!(strs(oslo.items(), "rider"), ["dan"]);
}

#[tokio::test]
async fn index_reads_and_writes_are_refused_as_aws_refuses_them() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rides_table(c).await;
    put_ride(c, "ann", 1, Some("Paris"), 30, "d1").await;
    let query = || {
        c.query()
            .table_name("Rides")
            .index_name("by_city")
            .key_condition_expression("city = :c")
            .expression_attribute_values(":c", s("Paris"))
    };
    let cases = [
        (
            query().consistent_read(true).send().await.unwrap_err(),
            "Consistent reads are not supported on global secondary indexes",
        ),
        (
            query().select(Select::AllAttributes).send().await.unwrap_err(),
            "Select type ALL_ATTRIBUTES is not supported for global secondary index by_city because its projection type is not ALL",
        ),
        (query().index_name("nope").send().await.unwrap_err(), "The table does not have the specified index: nope"),
        (
            c.query()
                .table_name("Rides")
                .index_name("by_city")
                .key_condition_expression("rider = :c")
                .expression_attribute_values(":c", s("ann"))
                .send()
                .await
                .unwrap_err(),
            "Query condition missed key schema element",
        ),
        (
            query()
                .exclusive_start_key("rider", s("ann"))
                .exclusive_start_key("ride", n("1"))
                .send()
                .await
                .unwrap_err(),
            "The provided starting key is invalid",
        ),
    ];
    for (err, expected) in cases {
        let err = err.into_service_error();
        assert_eq!(code(&err), "ValidationException", "{expected}");
        assert!(msg(&err).contains(expected), "{expected}: {}", msg(&err));
    }
    let err = c
        .query()
        .table_name("NoSuchTable")
        .index_name("by_city")
        .key_condition_expression("city = :c")
        .expression_attribute_values(":c", s("Paris"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "ResourceNotFoundException");
    // An index key of the wrong type, or empty, is refused and nothing is written.
    for bad in [n("3"), s("")] {
        let err = c
            .put_item()
            .table_name("Rides")
            .item("rider", s("eve"))
            .item("ride", n("1"))
            .item("city", bad)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(code(&err), "ValidationException");
        assert!(msg(&err).contains("IndexName: by_city"), "{}", msg(&err));
    }
    assert!(get(c, "Rides", &[("rider", s("eve")), ("ride", n("1"))]).await.is_none());
}

#[tokio::test]
async fn invalid_index_definitions_are_refused_and_create_nothing() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    let all = || projection(ProjectionType::All, &[]);
    let base = || {
        c.create_table()
            .table_name("Bad")
            .attribute_definitions(def("rider", ScalarAttributeType::S))
            .attribute_definitions(def("ride", ScalarAttributeType::N))
            .attribute_definitions(def("city", ScalarAttributeType::S))
            .key_schema(key("rider", KeyType::Hash))
            .key_schema(key("ride", KeyType::Range))
            .billing_mode(BillingMode::PayPerRequest)
    };
    let city_gsi = |name: &str| gsi(name, &[("city", KeyType::Hash)], all());
    let mut six = base();
    for i in 0..6 {
        six = six.local_secondary_indexes(lsi(&format!("lsi{i}"), "city", all()));
    }
    let mut many = base();
    for i in 0..21 {
        many = many.global_secondary_indexes(city_gsi(&format!("gsi{i}")));
    }
    let cases = vec![
        (
            c.create_table()
                .table_name("Bad")
                .attribute_definitions(def("rider", ScalarAttributeType::S))
                .attribute_definitions(def("city", ScalarAttributeType::S))
                .key_schema(key("rider", KeyType::Hash))
                .local_secondary_indexes(lsi("lsi", "city", all()))
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await,
            "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
        ),
        (
            base()
                .local_secondary_indexes(
                    LocalSecondaryIndex::builder()
                        .index_name("lsi")
                        .key_schema(key("city", KeyType::Hash))
                        .key_schema(key("ride", KeyType::Range))
                        .projection(all())
                        .build()
                        .unwrap(),
                )
                .send()
                .await,
            "Index KeySchema does not have the same leading hash key as table KeySchema for index: lsi",
        ),
        (six.send().await, "Number of LocalSecondaryIndexes exceeds per-table limit of 5"),
        (many.send().await, "GlobalSecondaryIndex count exceeds the per-table limit of 20"),
        (
            base()
                .global_secondary_indexes(gsi(
                    "gsi",
                    &[("city", KeyType::Hash)],
                    projection(ProjectionType::Include, &[]),
                ))
                .send()
                .await,
            "ProjectionType is INCLUDE, but NonKeyAttributes is not specified",
        ),
        (
            base()
                .global_secondary_indexes(gsi(
                    "gsi",
                    &[("city", KeyType::Hash)],
                    projection(ProjectionType::KeysOnly, &["x"]),
                ))
                .send()
                .await,
            "ProjectionType is KEYS_ONLY, but NonKeyAttributes is specified",
        ),
        (
            base().global_secondary_indexes(gsi("gsi", &[("nodef", KeyType::Hash)], all())).send().await,
            "Some index key attributes are not defined in AttributeDefinitions",
        ),
        (
            base()
                .attribute_definitions(def("extra", ScalarAttributeType::S))
                .global_secondary_indexes(city_gsi("gsi"))
                .send()
                .await,
            "Some AttributeDefinitions are not used. AttributeDefinitions: [city, extra, ride, rider], keys used: [city, ride, rider]",
        ),
        (
            base().global_secondary_indexes(city_gsi("gsi")).global_secondary_indexes(city_gsi("gsi")).send().await,
            "Duplicate index name: gsi",
        ),
        (
            base()
                .global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name("gsi")
                        .key_schema(key("city", KeyType::Hash))
                        .projection(all())
                        .provisioned_throughput(
                            ProvisionedThroughput::builder()
                                .read_capacity_units(1)
                                .write_capacity_units(1)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .send()
                .await,
            "ProvisionedThroughput should not be specified for index: gsi when BillingMode is PAY_PER_REQUEST",
        ),
        (
            base()
                .billing_mode(BillingMode::Provisioned)
                .provisioned_throughput(
                    ProvisionedThroughput::builder().read_capacity_units(1).write_capacity_units(1).build().unwrap(),
                )
                .global_secondary_indexes(city_gsi("gsi"))
                .send()
                .await,
            "ProvisionedThroughput must be specified for index: gsi",
        ),
        (
            c.create_table()
                .table_name("Bad")
                .attribute_definitions(def(&"k".repeat(256), ScalarAttributeType::S))
                .key_schema(key(&"k".repeat(256), KeyType::Hash))
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await,
            "Member must have length less than or equal to 255",
        ),
    ];
    for (result, expected) in cases {
        let err = result.unwrap_err().into_service_error();
        assert_eq!(code(&err), "ValidationException", "{expected}");
        assert!(msg(&err).contains(expected), "{expected}: {}", msg(&err));
    }
    let tables = c.list_tables().send().await.unwrap();
    assert!(tables.table_names().is_empty(), "{:?}", tables.table_names());
}

#[tokio::test]
async fn update_table_adds_a_backfilled_gsi_and_deletes_it() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    sorted_table(c, "Events").await;
    for i in 0..30 {
        let mut put =
            c.put_item().table_name("Events").item("pk", s(&format!("p{}", i % 3))).item("sk", n(&i.to_string()));
        // Every third item has no kind, and one a kind of the wrong type: neither is indexed.
        match i % 3 {
            0 => {}
            1 => put = put.item("kind", s(if i % 2 == 0 { "even" } else { "odd" })),
            _ => put = put.item("kind", if i == 2 { n("2") } else { s("two") }),
        }
        put.send().await.unwrap();
    }
    let create = |name: &str| {
        GlobalSecondaryIndexUpdate::builder()
            .create(
                CreateGlobalSecondaryIndexAction::builder()
                    .index_name(name)
                    .key_schema(key("kind", KeyType::Hash))
                    .key_schema(key("sk", KeyType::Range))
                    .projection(projection(ProjectionType::All, &[]))
                    .provisioned_throughput(
                        ProvisionedThroughput::builder()
                            .read_capacity_units(2)
                            .write_capacity_units(2)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let updated = c
        .update_table()
        .table_name("Events")
        .attribute_definitions(def("kind", ScalarAttributeType::S))
        .global_secondary_index_updates(create("by_kind"))
        .send()
        .await
        .unwrap()
        .table_description
        .unwrap();
    let index = &updated.global_secondary_indexes()[0];
    assert_eq!(index.index_name(), Some("by_kind"));
    assert_eq!(index.item_count(), Some(19), "10 odd/even + 9 'two'; the numeric kind is skipped");
    let two = index_query(c, "Events", "by_kind", "kind = :k AND sk < :s", &[(":k", s("two")), (":s", n("12"))]).await;
    assert_eq!(strs(two.items(), "sk"), ["5", "8", "11"]);
    // Now that the index exists, a kind of the wrong type is refused.
    let err = c
        .put_item()
        .table_name("Events")
        .item("pk", s("x"))
        .item("sk", n("1"))
        .item("kind", n("1"))
        .send()
        .await
        .unwrap_err();
    assert!(msg(&err.into_service_error()).contains("Type mismatch for Index Key kind"));

    let errors = [
        (
            c.update_table()
                .table_name("Events")
                .attribute_definitions(def("kind", ScalarAttributeType::S))
                .global_secondary_index_updates(create("by_kind"))
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
            "ValidationException",
            "already exists",
        ),
        (
            c.update_table()
                .table_name("Events")
                .attribute_definitions(def("kind", ScalarAttributeType::S))
                .global_secondary_index_updates(create("idx1"))
                .global_secondary_index_updates(create("idx2"))
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
            "LimitExceededException",
            "Only 1 online index can be created or deleted simultaneously per table",
        ),
        (
            c.update_table().table_name("Events").send().await.unwrap_err().into_service_error(),
            "ValidationException",
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates",
        ),
        (
            c.update_table()
                .table_name("Events")
                .stream_specification(
                    aws_sdk_dynamodb::types::StreamSpecification::builder().stream_enabled(true).build().unwrap(),
                )
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
            "ValidationException",
            "StreamSpecification is not supported",
        ),
        (
            c.update_table()
                .table_name("Events")
                .global_secondary_index_updates(
                    GlobalSecondaryIndexUpdate::builder()
                        .delete(DeleteGlobalSecondaryIndexAction::builder().index_name("nope").build().unwrap())
                        .build(),
                )
                .send()
                .await
                .unwrap_err()
                .into_service_error(),
            "ResourceNotFoundException",
            "nope",
        ),
    ];
    for (err, expected_code, expected) in errors {
        assert_eq!(code(&err), expected_code, "{expected}");
        assert!(msg(&err).contains(expected), "{expected}: {}", msg(&err));
    }

    // Throughput and billing mode.
    let err = c
        .update_table()
        .table_name("Events")
        .provisioned_throughput(
            ProvisionedThroughput::builder().read_capacity_units(5).write_capacity_units(5).build().unwrap(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(msg(&err).contains("The provisioned throughput for the table will not change"), "{}", msg(&err));
    let on_demand = c
        .update_table()
        .table_name("Events")
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap()
        .table_description
        .unwrap();
    assert_eq!(on_demand.billing_mode_summary().and_then(|b| b.billing_mode()), Some(&BillingMode::PayPerRequest));
    assert_eq!(on_demand.provisioned_throughput().and_then(|p| p.read_capacity_units()), Some(0));

    // Deleting the index removes it and its entries; reads of it are refused.
    let deleted = c
        .update_table()
        .table_name("Events")
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .delete(DeleteGlobalSecondaryIndexAction::builder().index_name("by_kind").build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap()
        .table_description
        .unwrap();
    assert!(deleted.global_secondary_indexes().is_empty());
    assert_eq!(deleted.attribute_definitions().len(), 2, "kind is no longer a key anywhere");
    let err = c.scan().table_name("Events").index_name("by_kind").send().await.unwrap_err().into_service_error();
    assert!(msg(&err).contains("The table does not have the specified index: by_kind"));
    c.put_item().table_name("Events").item("pk", s("x")).item("sk", n("1")).item("kind", n("1")).send().await.unwrap();
}

#[tokio::test]
async fn index_entries_survive_a_restart_with_their_items() {
    let cloud = TestCloud::start().await;
    rides_table(&cloud.clients.dynamodb).await;
    put_ride(&cloud.clients.dynamodb, "ann", 1, Some("Rome"), 12, "d9").await;
    let cloud = cloud.restart().await;
    let c = &cloud.clients.dynamodb;
    let out = index_query(c, "Rides", "by_city", "city = :c", &[(":c", s("Rome"))]).await;
    assert_eq!(strs(out.items(), "rider"), ["ann"]);
}

// ---------------------------------------------------------------------------------------
// The older (pre-expression) parameters

fn cond(op: ComparisonOperator, values: &[Av]) -> Condition {
    Condition::builder().comparison_operator(op).set_attribute_value_list(Some(values.to_vec())).build().unwrap()
}

fn update(action: AttributeAction, value: Option<Av>) -> AttributeValueUpdate {
    AttributeValueUpdate::builder().action(action).set_value(value).build()
}

#[tokio::test]
async fn legacy_parameters_work_like_their_expressions() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    sorted_table(c, "Events").await;
    let absent = ExpectedAttributeValue::builder().exists(false).build();
    for i in 1..=5 {
        c.put_item()
            .table_name("Events")
            .item("pk", s("p"))
            .item("sk", n(&i.to_string()))
            .item("kind", s(if i % 2 == 0 { "even" } else { "odd" }))
            .expected("pk", absent.clone())
            .send()
            .await
            .unwrap();
    }
    let err = c
        .put_item()
        .table_name("Events")
        .item("pk", s("p"))
        .item("sk", n("1"))
        .expected("pk", absent.clone())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "ConditionalCheckFailedException");

    // AttributeUpdates: PUT, ADD to a number, a set and a list, DELETE of set elements and of an attribute.
    let key = [("pk", s("p")), ("sk", n("1"))];
    let upd = || c.update_item().table_name("Events").key("pk", s("p")).key("sk", n("1"));
    upd()
        .attribute_updates("note", update(AttributeAction::Put, Some(s("hello"))))
        .attribute_updates("count", update(AttributeAction::Add, Some(n("2"))))
        .attribute_updates("tags", update(AttributeAction::Add, Some(Av::Ss(vec!["a".into(), "b".into()]))))
        .attribute_updates("log", update(AttributeAction::Add, Some(Av::L(vec![s("x")]))))
        .send()
        .await
        .unwrap();
    let out = upd()
        .attribute_updates("count", update(AttributeAction::Add, Some(n("3"))))
        .attribute_updates("tags", update(AttributeAction::Delete, Some(Av::Ss(vec!["a".into()]))))
        .attribute_updates("log", update(AttributeAction::Add, Some(Av::L(vec![s("y")]))))
        .attribute_updates("kind", update(AttributeAction::Delete, None))
        .expected("note", ExpectedAttributeValue::builder().value(s("hello")).build())
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    let item = out.attributes.unwrap();
    assert_eq!(item["count"], n("5"));
    assert_eq!(item["tags"], Av::Ss(vec!["b".into()]));
    assert_eq!(item["log"], Av::L(vec![s("x"), s("y")]));
    assert!(!item.contains_key("kind"));
    assert_eq!(get(c, "Events", &key).await.unwrap()["note"], s("hello"));

    // Expected with ComparisonOperator and ConditionalOperator OR.
    let failing = ExpectedAttributeValue::builder()
        .comparison_operator(ComparisonOperator::Gt)
        .attribute_value_list(n("10"))
        .build();
    let passing = ExpectedAttributeValue::builder()
        .comparison_operator(ComparisonOperator::BeginsWith)
        .attribute_value_list(s("he"))
        .build();
    upd()
        .attribute_updates("or", update(AttributeAction::Put, Some(s("ok"))))
        .expected("count", failing.clone())
        .expected("note", passing)
        .conditional_operator(ConditionalOperator::Or)
        .send()
        .await
        .unwrap();
    let err = upd()
        .attribute_updates("and", update(AttributeAction::Put, Some(s("no"))))
        .expected("count", failing)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "ConditionalCheckFailedException");

    // Query with KeyConditions and QueryFilter; Scan with ScanFilter; AttributesToGet.
    let q = c
        .query()
        .table_name("Events")
        .key_conditions("pk", cond(ComparisonOperator::Eq, &[s("p")]))
        .key_conditions("sk", cond(ComparisonOperator::Between, &[n("2"), n("5")]))
        .query_filter("kind", cond(ComparisonOperator::Eq, &[s("odd")]))
        .attributes_to_get("sk")
        .send()
        .await
        .unwrap();
    assert_eq!(sks(q.items()), ["3", "5"]);
    assert!(q.items().iter().all(|i| i.len() == 1));
    let scanned = c
        .scan()
        .table_name("Events")
        .scan_filter("kind", cond(ComparisonOperator::NotNull, &[]))
        .scan_filter("sk", cond(ComparisonOperator::In, &[n("1"), n("4")]))
        .send()
        .await
        .unwrap();
    assert_eq!(scanned.count, 1, "sk 1 lost its kind above; sk 4 has one");
    let got = c
        .get_item()
        .table_name("Events")
        .key("pk", s("p"))
        .key("sk", n("1"))
        .attributes_to_get("note")
        .attributes_to_get("or")
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(got.len(), 2);

    // AWS's refusals: mixing, and legacy-specific rules.
    let refusals = [
        (
            c.query()
                .table_name("Events")
                .key_condition_expression("pk = :p")
                .expression_attribute_values(":p", s("p"))
                .query_filter("kind", cond(ComparisonOperator::Eq, &[s("odd")]))
                .send()
                .await
                .refused(),
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {QueryFilter} Expression parameters: {KeyConditionExpression}",
        ),
        (
            c.query()
                .table_name("Events")
                .key_conditions("pk", cond(ComparisonOperator::Ne, &[s("p")]))
                .send()
                .await
                .refused(),
            "Attempted conditional constraint is not an indexable operation",
        ),
        (
            upd()
                .update_expression("SET a = :v")
                .expression_attribute_values(":v", s("x"))
                .attribute_updates("b", update(AttributeAction::Put, Some(s("y"))))
                .send()
                .await
                .refused(),
            "Non-expression parameters: {AttributeUpdates} Expression parameters: {UpdateExpression}",
        ),
        (
            upd().attribute_updates("b", update(AttributeAction::Put, None)).send().await.refused(),
            "Only DELETE action is allowed when no attribute value is specified",
        ),
        (
            upd().attribute_updates("b", update(AttributeAction::Add, Some(s("y")))).send().await.refused(),
            "ADD action is not supported for the type S",
        ),
        (
            upd()
                .attribute_updates("b", update(AttributeAction::Put, Some(s("y"))))
                .expected("b", ExpectedAttributeValue::builder().exists(true).build())
                .send()
                .await
                .refused(),
            "Value must be provided when Exists is true for Attribute: b",
        ),
        (
            c.scan()
                .table_name("Events")
                .scan_filter("sk", cond(ComparisonOperator::Between, &[n("5"), n("1")]))
                .send()
                .await
                .refused(),
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
        ),
    ];
    assert_refusals("ValidationException", refusals);
    assert!(!get(c, "Events", &key).await.unwrap().contains_key("b"), "the refused updates wrote nothing");
}

// ---------------------------------------------------------------------------------------
// Update rules and request validation

#[tokio::test]
async fn update_item_remove_rules_and_list_appends_follow_dynamodb() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "Riders").await;
    // REMOVE (or a set DELETE) alone on a missing item creates nothing.
    c.update_item()
        .table_name("Riders")
        .key("Username", s("ghost"))
        .update_expression("REMOVE a, b.c")
        .send()
        .await
        .unwrap();
    assert!(rider(c, "Riders", "ghost").await.is_none());
    // An update with no action at all does create the key, as on AWS.
    c.update_item().table_name("Riders").key("Username", s("bare")).send().await.unwrap();
    assert!(rider(c, "Riders", "bare").await.is_some());

    c.put_item()
        .table_name("Riders")
        .item("Username", s("u"))
        .item("txt", s("text"))
        .item("mp", Av::M(HashMap::from([("k".to_string(), n("1"))])))
        .item("lst", Av::L(vec![s("one"), s("two"), s("three")]))
        .send()
        .await
        .unwrap();
    for expression in ["REMOVE txt.c", "REMOVE mp[0]", "REMOVE txt[0]", "REMOVE nothere.c"] {
        let err = c
            .update_item()
            .table_name("Riders")
            .key("Username", s("u"))
            .update_expression(expression)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(code(&err), "ValidationException", "{expression}");
        assert_eq!(
            msg(&err),
            "The document path provided in the update expression is invalid for update",
            "{expression}"
        );
    }
    // A missing leaf in an existing container is no error.
    c.update_item()
        .table_name("Riders")
        .key("Username", s("u"))
        .update_expression("REMOVE mp.nope, lst[9]")
        .send()
        .await
        .unwrap();
    // Elements set past the end of a list are appended in index order.
    c.update_item()
        .table_name("Riders")
        .key("Username", s("u"))
        .update_expression("SET lst[84] = :a, lst[37] = :b, lst[17] = :c, lst[50] = :d")
        .expression_attribute_values(":a", s("a1"))
        .expression_attribute_values(":b", s("a2"))
        .expression_attribute_values(":c", s("a3"))
        .expression_attribute_values(":d", s("a4"))
        .send()
        .await
        .unwrap();
    let got = rider(c, "Riders", "u").await.unwrap();
    let list: Vec<&str> = got["lst"].as_l().unwrap().iter().map(|v| v.as_s().unwrap().as_str()).collect();
    assert_eq!(list, ["one", "two", "three", "a3", "a2", "a4", "a1"]);
    assert_eq!(got["txt"], s("text"), "the refused updates changed nothing");
}

#[tokio::test]
async fn a_failed_condition_returns_the_item_when_asked() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "Riders").await;
    c.put_item().table_name("Riders").item("Username", s("a")).item("faceId", s("f1")).send().await.unwrap();
    let err = c
        .put_item()
        .table_name("Riders")
        .item("Username", s("a"))
        .condition_expression("attribute_not_exists(Username)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_conditional_check_failed_exception());
    let aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(failed) = err else {
        unreachable!()
    };
    assert_eq!(failed.item().unwrap()["faceId"], s("f1"));
    let err = c
        .update_item()
        .table_name("Riders")
        .key("Username", s("a"))
        .update_expression("SET x = :v")
        .condition_expression("faceId = :v")
        .expression_attribute_values(":v", s("other"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(failed) = err else {
        panic!("expected a failed condition: {err:?}")
    };
    assert!(failed.item().is_none(), "without ALL_OLD the item is not returned");
    let err = c
        .delete_item()
        .table_name("Riders")
        .key("Username", s("a"))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::from("EVERYTHING"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "ValidationException");
    assert!(msg(&err).contains("returnValuesOnConditionCheckFailure"), "{}", msg(&err));
}

#[tokio::test]
async fn requests_aws_refuses_are_refused() {
    let cloud = TestCloud::start().await;
    let c = &cloud.clients.dynamodb;
    rider_table(c, "Riders").await;
    for i in 0..20 {
        c.put_item().table_name("Riders").item("Username", s(&format!("u{i}"))).send().await.unwrap();
    }
    let long_name = "n".repeat(65536);
    // The segment of a start key: the one its partition key hashes to is allowed.
    let start = HashMap::from([("Username".to_string(), s("u1"))]);
    let mut wrong_segment = None;
    for segment in 0..4 {
        let r = c
            .scan()
            .table_name("Riders")
            .segment(segment)
            .total_segments(4)
            .set_exclusive_start_key(Some(start.clone()))
            .send()
            .await;
        if let Err(e) = r {
            wrong_segment = Some(e.into_service_error().meta().clone());
        }
    }
    let cases = [
        (
            c.get_item()
                .table_name("Riders")
                .key("Username", s("u1"))
                .attributes_to_get("a")
                .attributes_to_get("a")
                .send()
                .await
                .refused(),
            "One or more parameter values were invalid: Duplicate value in attribute name: a",
        ),
        (
            c.scan().table_name("Riders").set_attributes_to_get(Some(vec![])).send().await.refused(),
            "Member must have length greater than or equal to 1",
        ),
        (
            c.scan().table_name("Riders").select(Select::SpecificAttributes).send().await.refused(),
            "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
        ),
        (
            c.query()
                .table_name("Riders")
                .key_condition_expression("Username = :u")
                .expression_attribute_values(":u", s("u1"))
                .select(Select::SpecificAttributes)
                .send()
                .await
                .refused(),
            "1 validation error detected: Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
        ),
        (
            c.scan()
                .table_name("Riders")
                .projection_expression("Username")
                .attributes_to_get("Username")
                .send()
                .await
                .refused(),
            "Can not use both expression and non-expression parameters in the same request",
        ),
        (
            c.scan()
                .table_name("Riders")
                .select(Select::AllAttributes)
                .attributes_to_get("Username")
                .send()
                .await
                .refused(),
            "Cannot specify the AttributesToGet when choosing to get ALL_ATTRIBUTES",
        ),
        (
            wrong_segment.expect("three of four segments refuse the start key"),
            "The provided Exclusive start key does not map to the provided Segment and TotalSegments values.",
        ),
        (
            c.put_item()
                .table_name("Riders")
                .item("Username", s("big"))
                .item(&long_name, s("x"))
                .send()
                .await
                .refused(),
            "Attribute name is too large, must be less than 65536 bytes",
        ),
        (
            c.update_item()
                .table_name("Riders")
                .key("Username", s("u1"))
                .update_expression("SET #n = :v")
                .expression_attribute_names("#n", &long_name)
                .expression_attribute_values(":v", s("x"))
                .send()
                .await
                .refused(),
            "Attribute name is too large, must be less than 65536 bytes",
        ),
        (
            c.put_item()
                .table_name("Riders")
                .item("Username", s("u1"))
                .condition_expression("((attribute_not_exists(Username)))")
                .send()
                .await
                .refused(),
            "Invalid ConditionExpression: The expression has redundant parentheses;",
        ),
    ];
    assert_refusals("ValidationException", cases);
    assert!(rider(c, "Riders", "big").await.is_none());
    // One pair of parentheses around a condition, or around part of one, is fine.
    c.put_item()
        .table_name("Riders")
        .item("Username", s("paren"))
        .condition_expression("((attribute_not_exists(Username)) AND (attribute_not_exists(x)))")
        .send()
        .await
        .unwrap();
}

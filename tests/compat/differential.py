"""The moto differential script: one boto3 run of S3, DynamoDB and Step Functions (pure
states) operations against ENDPOINT, printed as one JSON document that `tests/compat.rs`
compares between moto's server and `wildrydes serve`.

Every step is recorded as {"step": NAME, "status": HTTP status, "response": ...} or
{"step": NAME, "status": ..., "error": {"code": ..., "message": ...}}. Things that are
generated and differ by nature are masked here, so that what is left is behaviour: times,
request ids, opaque tokens, owner ids and the account and region inside ARNs.

Usage: python differential.py ENDPOINT ACCESS_KEY SECRET_KEY [moto]
("moto" first switches on moto's execution of state machines, which is off by default.)
"""

import datetime
import json
import re
import sys
import time
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

ENDPOINT, KEY, SECRET = sys.argv[1], sys.argv[2], sys.argv[3]
KW = dict(endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET)
NO_RETRY = Config(retries={"max_attempts": 0}, s3={"addressing_style": "path"}, inject_host_prefix=False)
ROLE = "arn:aws:iam::123456789012:role/DiffRole"

# Values that are generated and legitimately differ between two servers (and two AWS runs).
MASKED_KEYS = {
    "RequestId", "HostId", "ContinuationToken", "NextContinuationToken", "nextToken",
    "TableId", "Owner", "revisionId", "LastModified", "redriveDate",
    "UploadId", "NextUploadIdMarker", "Initiator",
}
ARN = re.compile(r"arn:aws:([a-z0-9-]+):[a-z0-9-]*:\d{12}:")

records = []


def norm(value, key=None):
    if key in MASKED_KEYS:
        return "<masked>"
    if isinstance(value, (datetime.datetime, datetime.date)):
        return "<time>"
    if isinstance(value, dict):
        return {k: norm(v, k) for k, v in sorted(value.items()) if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [norm(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str) and value[:1] in "{[":
        # JSON text (execution input and output, history details, definitions): compared as
        # JSON, so that spacing and key order do not count.
        try:
            return {"<json>": norm(json.loads(value))}
        except ValueError:
            pass
    if isinstance(value, str):
        return ARN.sub(r"arn:aws:\1:<region>:<account>:", value)
    return value


def step(label, call, *args, **kwargs):
    """Runs one call and records its masked response or error; returns the raw response."""
    try:
        try:
            resp = call(*args, **kwargs)
        except ConnectionClosedError as e:
            # A kept-alive connection closed under the request, before any answer (seen about
            # once in six runs, from one of the two servers): the call is made once more on a
            # new connection, as every SDK's retry does; API errors are never retried here.
            print(f"{label}: {e}; retried once", file=sys.stderr)
            resp = call(*args, **kwargs)
    except ClientError as e:
        err = e.response.get("Error", {})
        records.append({
            "step": label,
            "status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
            "error": norm({"code": err.get("Code"), "message": err.get("Message")}),
        })
        return None
    status = resp.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if "Body" in resp and hasattr(resp["Body"], "read"):
        resp = dict(resp, Body=resp["Body"].read())
    records.append({"step": label, "status": status, "response": norm(resp)})
    return resp


def s3_steps():
    s3 = boto3.client("s3", config=NO_RETRY, **KW)
    b = "diff-bucket"
    step("s3.create_bucket", s3.create_bucket, Bucket=b)
    step("s3.head_bucket", s3.head_bucket, Bucket=b)
    step("s3.head_bucket.missing", s3.head_bucket, Bucket="diff-missing")
    step("s3.list_buckets", s3.list_buckets)
    for key, body in [("a/1.txt", b"one"), ("a/2.txt", b"two!"), ("a/sub/3.txt", b"three"), ("b/4.txt", b"4"),
                      ("top.txt", b"top")]:
        step(f"s3.put_object {key}", s3.put_object, Bucket=b, Key=key, Body=body, ContentType="text/plain",
             Metadata={"rider": "user_a"})
    step("s3.get_object", s3.get_object, Bucket=b, Key="a/1.txt")
    step("s3.get_object.range", s3.get_object, Bucket=b, Key="a/2.txt", Range="bytes=1-2")
    step("s3.head_object", s3.head_object, Bucket=b, Key="a/2.txt")
    step("s3.head_object.missing", s3.head_object, Bucket=b, Key="nope")
    step("s3.get_object.NoSuchKey", s3.get_object, Bucket=b, Key="nope")
    step("s3.get_object.NoSuchBucket", s3.get_object, Bucket="diff-missing", Key="a/1.txt")
    step("s3.put_object.NoSuchBucket", s3.put_object, Bucket="diff-missing", Key="k", Body=b"x")
    step("s3.list_objects_v2", s3.list_objects_v2, Bucket=b)
    step("s3.list_objects_v2.prefix", s3.list_objects_v2, Bucket=b, Prefix="a/")
    step("s3.list_objects_v2.delimiter", s3.list_objects_v2, Bucket=b, Delimiter="/")
    step("s3.list_objects_v2.prefix+delimiter", s3.list_objects_v2, Bucket=b, Prefix="a/", Delimiter="/")
    page = step("s3.list_objects_v2.page1", s3.list_objects_v2, Bucket=b, MaxKeys=2)
    if page and page.get("NextContinuationToken"):
        step("s3.list_objects_v2.page2", s3.list_objects_v2, Bucket=b, MaxKeys=2,
             ContinuationToken=page["NextContinuationToken"])
    step("s3.list_objects_v2.start_after", s3.list_objects_v2, Bucket=b, StartAfter="a/sub/3.txt")
    step("s3.list_objects_v2.NoSuchBucket", s3.list_objects_v2, Bucket="diff-missing")
    step("s3.copy_object", s3.copy_object, Bucket=b, Key="copy.txt", CopySource={"Bucket": b, "Key": "a/1.txt"})
    step("s3.get_object.copy", s3.get_object, Bucket=b, Key="copy.txt")
    step("s3.copy_object.NoSuchKey", s3.copy_object, Bucket=b, Key="copy2.txt",
         CopySource={"Bucket": b, "Key": "nope"})
    step("s3.delete_bucket.BucketNotEmpty", s3.delete_bucket, Bucket=b)
    step("s3.delete_object", s3.delete_object, Bucket=b, Key="top.txt")
    step("s3.delete_object.missing", s3.delete_object, Bucket=b, Key="top.txt")
    step("s3.delete_objects", s3.delete_objects, Bucket=b,
         Delete={"Objects": [{"Key": "a/1.txt"}, {"Key": "a/2.txt"}, {"Key": "never-there"}]})
    step("s3.delete_objects.quiet", s3.delete_objects, Bucket=b,
         Delete={"Objects": [{"Key": "a/sub/3.txt"}, {"Key": "b/4.txt"}, {"Key": "copy.txt"}], "Quiet": True})
    step("s3.list_objects_v2.empty", s3.list_objects_v2, Bucket=b)
    step("s3.delete_bucket", s3.delete_bucket, Bucket=b)
    step("s3.delete_bucket.NoSuchBucket", s3.delete_bucket, Bucket=b)


def s3_multipart_steps():
    s3 = boto3.client("s3", config=NO_RETRY, **KW)
    b = "diff-multipart"
    step("s3mp.create_bucket", s3.create_bucket, Bucket=b)
    created = step("s3mp.create_multipart_upload", s3.create_multipart_upload, Bucket=b, Key="big.bin",
                   ContentType="application/octet-stream", Metadata={"rider": "user_a"})
    upload = dict(Bucket=b, Key="big.bin", UploadId=created["UploadId"] if created else "none")
    first = step("s3mp.upload_part 1", s3.upload_part, PartNumber=1, Body=b"a" * (5 * 1024 * 1024), **upload)
    last = step("s3mp.upload_part 2", s3.upload_part, PartNumber=2, Body=b"tail", **upload)
    step("s3mp.upload_part.part_number_10001", s3.upload_part, PartNumber=10001, Body=b"x", **upload)
    step("s3mp.upload_part.NoSuchUpload", s3.upload_part, Bucket=b, Key="big.bin", UploadId="no-such-upload",
         PartNumber=1, Body=b"x")
    step("s3mp.list_parts", s3.list_parts, **upload)
    step("s3mp.list_parts.max_parts", s3.list_parts, MaxParts=1, **upload)
    step("s3mp.list_multipart_uploads", s3.list_multipart_uploads, Bucket=b)
    parts = [{"PartNumber": n, "ETag": r["ETag"]} for n, r in ((1, first), (2, last)) if r]
    step("s3mp.complete.InvalidPartOrder", s3.complete_multipart_upload,
         MultipartUpload={"Parts": list(reversed(parts))}, **upload)
    step("s3mp.complete.InvalidPart", s3.complete_multipart_upload,
         MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]}, **upload)
    step("s3mp.complete", s3.complete_multipart_upload, MultipartUpload={"Parts": parts}, **upload)
    step("s3mp.head_object", s3.head_object, Bucket=b, Key="big.bin")
    step("s3mp.list_parts.NoSuchUpload", s3.list_parts, **upload)
    small = step("s3mp.create_multipart_upload small", s3.create_multipart_upload, Bucket=b, Key="small.bin")
    small_upload = dict(Bucket=b, Key="small.bin", UploadId=small["UploadId"] if small else "none")
    small_parts = []
    for n in (1, 2):
        r = step(f"s3mp.upload_part small {n}", s3.upload_part, PartNumber=n, Body=b"small", **small_upload)
        if r:
            small_parts.append({"PartNumber": n, "ETag": r["ETag"]})
    step("s3mp.complete.EntityTooSmall", s3.complete_multipart_upload,
         MultipartUpload={"Parts": small_parts}, **small_upload)
    step("s3mp.abort_multipart_upload", s3.abort_multipart_upload, **small_upload)
    step("s3mp.abort_multipart_upload.NoSuchUpload", s3.abort_multipart_upload, **small_upload)
    step("s3mp.list_multipart_uploads.empty", s3.list_multipart_uploads, Bucket=b)

    step("s3tag.put_object", s3.put_object, Bucket=b, Key="tagged.txt", Body=b"t", Tagging="a=1&b=two%20words")
    step("s3tag.get_object_tagging", s3.get_object_tagging, Bucket=b, Key="tagged.txt")
    step("s3tag.get_object", s3.get_object, Bucket=b, Key="tagged.txt")
    step("s3tag.put_object_tagging", s3.put_object_tagging, Bucket=b, Key="tagged.txt",
         Tagging={"TagSet": [{"Key": "status", "Value": "checked"}]})
    step("s3tag.get_object_tagging.replaced", s3.get_object_tagging, Bucket=b, Key="tagged.txt")
    step("s3tag.put_object_tagging.eleven", s3.put_object_tagging, Bucket=b, Key="tagged.txt",
         Tagging={"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]})
    step("s3tag.put_object_tagging.long_key", s3.put_object_tagging, Bucket=b, Key="tagged.txt",
         Tagging={"TagSet": [{"Key": "k" * 129, "Value": "v"}]})
    step("s3tag.put_object_tagging.long_value", s3.put_object_tagging, Bucket=b, Key="tagged.txt",
         Tagging={"TagSet": [{"Key": "k", "Value": "v" * 257}]})
    step("s3tag.copy_object", s3.copy_object, Bucket=b, Key="copied.txt",
         CopySource={"Bucket": b, "Key": "tagged.txt"})
    step("s3tag.get_object_tagging.copied", s3.get_object_tagging, Bucket=b, Key="copied.txt")
    step("s3tag.copy_object.replace", s3.copy_object, Bucket=b, Key="replaced.txt",
         CopySource={"Bucket": b, "Key": "tagged.txt"}, TaggingDirective="REPLACE", Tagging="c=3")
    step("s3tag.get_object_tagging.replace", s3.get_object_tagging, Bucket=b, Key="replaced.txt")
    step("s3tag.delete_object_tagging", s3.delete_object_tagging, Bucket=b, Key="tagged.txt")
    step("s3tag.get_object_tagging.deleted", s3.get_object_tagging, Bucket=b, Key="tagged.txt")
    step("s3tag.get_object_tagging.NoSuchKey", s3.get_object_tagging, Bucket=b, Key="nope")
    for key in ("big.bin", "tagged.txt", "copied.txt", "replaced.txt"):
        s3.delete_object(Bucket=b, Key=key)
    step("s3mp.delete_bucket", s3.delete_bucket, Bucket=b)


def ddb_steps():
    ddb = boto3.client("dynamodb", config=NO_RETRY, **KW)
    t = "diff-rides"
    schema = dict(
        TableName=t,
        KeySchema=[{"AttributeName": "rider", "KeyType": "HASH"}, {"AttributeName": "ride", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "rider", "AttributeType": "S"},
                              {"AttributeName": "ride", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    step("ddb.create_table", ddb.create_table, **schema)
    step("ddb.create_table.ResourceInUse", ddb.create_table, **schema)
    step("ddb.describe_table", ddb.describe_table, TableName=t)
    step("ddb.describe_table.missing", ddb.describe_table, TableName="diff-missing")
    for ride in range(1, 6):
        step(f"ddb.put_item {ride}", ddb.put_item, TableName=t,
             Item={"rider": {"S": "user_a"}, "ride": {"N": str(ride)}, "km": {"N": f"{ride}.50"},
                   "tags": {"SS": ["x", "y"]}, "done": {"BOOL": ride % 2 == 0}})
    step("ddb.put_item other", ddb.put_item, TableName=t, Item={"rider": {"S": "user_b"}, "ride": {"N": "1"}})
    step("ddb.put_item.condition_failed", ddb.put_item, TableName=t,
         Item={"rider": {"S": "user_a"}, "ride": {"N": "1"}}, ConditionExpression="attribute_not_exists(rider)")
    step("ddb.put_item.return_old", ddb.put_item, TableName=t, ReturnValues="ALL_OLD",
         Item={"rider": {"S": "user_b"}, "ride": {"N": "1"}, "km": {"N": "7"}})
    step("ddb.put_item.missing_key", ddb.put_item, TableName=t, Item={"rider": {"S": "user_c"}})
    step("ddb.put_item.wrong_key_type", ddb.put_item, TableName=t, Item={"rider": {"S": "user_c"}, "ride": {"S": "1"}})
    step("ddb.put_item.ResourceNotFound", ddb.put_item, TableName="diff-missing", Item={"rider": {"S": "x"}})
    step("ddb.get_item", ddb.get_item, TableName=t, Key={"rider": {"S": "user_a"}, "ride": {"N": "2"}})
    step("ddb.get_item.absent", ddb.get_item, TableName=t, Key={"rider": {"S": "user_z"}, "ride": {"N": "2"}})
    step("ddb.get_item.projection", ddb.get_item, TableName=t, Key={"rider": {"S": "user_a"}, "ride": {"N": "2"}},
         ProjectionExpression="km, #d", ExpressionAttributeNames={"#d": "done"})
    step("ddb.update_item", ddb.update_item, TableName=t, Key={"rider": {"S": "user_a"}, "ride": {"N": "3"}},
         UpdateExpression="SET km = km + :d, note = :n ADD visits :one REMOVE done",
         ExpressionAttributeValues={":d": {"N": "1"}, ":n": {"S": "fast"}, ":one": {"N": "1"}},
         ReturnValues="ALL_NEW")
    step("ddb.update_item.updated_old", ddb.update_item, TableName=t,
         Key={"rider": {"S": "user_a"}, "ride": {"N": "3"}}, UpdateExpression="SET note = :n",
         ExpressionAttributeValues={":n": {"S": "slow"}}, ReturnValues="UPDATED_OLD")
    step("ddb.update_item.condition_failed", ddb.update_item, TableName=t,
         Key={"rider": {"S": "user_a"}, "ride": {"N": "3"}}, UpdateExpression="SET note = :n",
         ConditionExpression="note = :other",
         ExpressionAttributeValues={":n": {"S": "x"}, ":other": {"S": "nope"}})
    step("ddb.update_item.creates", ddb.update_item, TableName=t, Key={"rider": {"S": "user_c"}, "ride": {"N": "9"}},
         UpdateExpression="SET km = :k", ExpressionAttributeValues={":k": {"N": "0"}}, ReturnValues="ALL_NEW")
    step("ddb.update_item.bad_expression", ddb.update_item, TableName=t,
         Key={"rider": {"S": "user_a"}, "ride": {"N": "3"}}, UpdateExpression="SET = :n",
         ExpressionAttributeValues={":n": {"S": "x"}})
    step("ddb.query", ddb.query, TableName=t, KeyConditionExpression="rider = :r AND ride BETWEEN :lo AND :hi",
         ExpressionAttributeValues={":r": {"S": "user_a"}, ":lo": {"N": "2"}, ":hi": {"N": "4"}})
    step("ddb.query.reverse_limit", ddb.query, TableName=t, KeyConditionExpression="rider = :r",
         ExpressionAttributeValues={":r": {"S": "user_a"}}, ScanIndexForward=False, Limit=2)
    step("ddb.query.filter", ddb.query, TableName=t, KeyConditionExpression="rider = :r",
         FilterExpression="done = :t", ExpressionAttributeValues={":r": {"S": "user_a"}, ":t": {"BOOL": True}})
    step("ddb.query.count", ddb.query, TableName=t, KeyConditionExpression="rider = :r",
         ExpressionAttributeValues={":r": {"S": "user_a"}}, Select="COUNT")
    step("ddb.query.no_key_condition", ddb.query, TableName=t, KeyConditionExpression="km = :k",
         ExpressionAttributeValues={":k": {"N": "1"}})
    scan = ddb.scan(TableName=t)
    records.append({"step": "ddb.scan (sorted)", "status": 200, "response": norm(
        dict(scan, Items=sorted(scan["Items"], key=lambda i: json.dumps(i, sort_keys=True))))})
    step("ddb.scan.filter_count", ddb.scan, TableName=t, FilterExpression="km > :k",
         ExpressionAttributeValues={":k": {"N": "3"}}, Select="COUNT")
    step("ddb.delete_item", ddb.delete_item, TableName=t, Key={"rider": {"S": "user_a"}, "ride": {"N": "1"}},
         ReturnValues="ALL_OLD")
    step("ddb.delete_item.absent", ddb.delete_item, TableName=t, Key={"rider": {"S": "user_a"}, "ride": {"N": "1"}},
         ReturnValues="ALL_OLD")
    step("ddb.delete_item.condition_failed", ddb.delete_item, TableName=t,
         Key={"rider": {"S": "user_a"}, "ride": {"N": "2"}}, ConditionExpression="attribute_not_exists(km)")
    step("ddb.delete_table", ddb.delete_table, TableName=t)
    step("ddb.get_item.ResourceNotFound", ddb.get_item, TableName=t, Key={"rider": {"S": "user_a"}, "ride": {"N": "2"}})
    ddb_index_steps(ddb)


def ddb_index_steps(ddb):
    """Secondary indexes: CreateTable with a GSI and an LSI, reads of them, UpdateTable."""
    t = "diff-trips"
    step("ddb.gsi.create_table", ddb.create_table, TableName=t, BillingMode="PAY_PER_REQUEST",
         KeySchema=[{"AttributeName": "rider", "KeyType": "HASH"}, {"AttributeName": "ride", "KeyType": "RANGE"}],
         AttributeDefinitions=[{"AttributeName": "rider", "AttributeType": "S"},
                               {"AttributeName": "ride", "AttributeType": "N"},
                               {"AttributeName": "city", "AttributeType": "S"},
                               {"AttributeName": "fare", "AttributeType": "N"}],
         GlobalSecondaryIndexes=[{"IndexName": "by_city",
                                  "KeySchema": [{"AttributeName": "city", "KeyType": "HASH"},
                                                {"AttributeName": "fare", "KeyType": "RANGE"}],
                                  "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["note"]}}],
         LocalSecondaryIndexes=[{"IndexName": "by_fare",
                                 "KeySchema": [{"AttributeName": "rider", "KeyType": "HASH"},
                                               {"AttributeName": "fare", "KeyType": "RANGE"}],
                                 "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    rides = [("user_a", 1, "Paris", 30, "bike"), ("user_a", 2, "Oslo", 10, "taxi"),
             ("user_b", 1, "Paris", 20, "bike"), ("user_b", 2, None, 5, "bike")]
    for rider, ride, city, fare, kind in rides:
        item = {"rider": {"S": rider}, "ride": {"N": str(ride)}, "fare": {"N": str(fare)},
                "kind": {"S": kind}, "note": {"S": f"{rider} {ride}"}}
        if city:
            item["city"] = {"S": city}
        step(f"ddb.gsi.put_item {rider} {ride}", ddb.put_item, TableName=t, Item=item)
    step("ddb.gsi.describe_table", ddb.describe_table, TableName=t)
    step("ddb.gsi.query", ddb.query, TableName=t, IndexName="by_city", KeyConditionExpression="city = :c",
         ExpressionAttributeValues={":c": {"S": "Paris"}})
    step("ddb.gsi.query.range_desc", ddb.query, TableName=t, IndexName="by_city",
         KeyConditionExpression="city = :c AND fare > :f", ScanIndexForward=False,
         ExpressionAttributeValues={":c": {"S": "Paris"}, ":f": {"N": "1"}})
    step("ddb.gsi.query.page", ddb.query, TableName=t, IndexName="by_city", KeyConditionExpression="city = :c",
         ExpressionAttributeValues={":c": {"S": "Paris"}}, Limit=1)
    step("ddb.gsi.query.lsi", ddb.query, TableName=t, IndexName="by_fare", KeyConditionExpression="rider = :r",
         ExpressionAttributeValues={":r": {"S": "user_a"}})
    scan = ddb.scan(TableName=t, IndexName="by_city")
    records.append({"step": "ddb.gsi.scan (sorted)", "status": 200, "response": norm(
        dict(scan, Items=sorted(scan["Items"], key=lambda i: json.dumps(i, sort_keys=True))))})
    step("ddb.gsi.query.missing_index", ddb.query, TableName=t, IndexName="nope", KeyConditionExpression="city = :c",
         ExpressionAttributeValues={":c": {"S": "Paris"}})
    step("ddb.gsi.query.consistent_read", ddb.query, TableName=t, IndexName="by_city", ConsistentRead=True,
         KeyConditionExpression="city = :c", ExpressionAttributeValues={":c": {"S": "Paris"}})
    step("ddb.gsi.query.missing_table", ddb.query, TableName="diff-missing", IndexName="by_city",
         KeyConditionExpression="city = :c", ExpressionAttributeValues={":c": {"S": "Paris"}})
    step("ddb.gsi.update_table.create", ddb.update_table, TableName=t,
         AttributeDefinitions=[{"AttributeName": "kind", "AttributeType": "S"}],
         GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": "by_kind",
                                                  "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                                                  "Projection": {"ProjectionType": "ALL"}}}])
    deadline = time.time() + 30
    while time.time() < deadline:
        indexes = ddb.describe_table(TableName=t)["Table"].get("GlobalSecondaryIndexes", [])
        if all(i.get("IndexStatus") == "ACTIVE" for i in indexes):
            break
        time.sleep(0.1)
    kinds = ddb.query(TableName=t, IndexName="by_kind", KeyConditionExpression="kind = :k",
                      ExpressionAttributeValues={":k": {"S": "bike"}})
    records.append({"step": "ddb.gsi.query.backfilled (sorted)", "status": 200, "response": norm(
        dict(kinds, Items=sorted(kinds["Items"], key=lambda i: json.dumps(i, sort_keys=True))))})
    step("ddb.gsi.update_table.delete", ddb.update_table, TableName=t,
         GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_kind"}}])
    step("ddb.gsi.delete_table", ddb.delete_table, TableName=t)


PURE = {
    "Comment": "pure states only",
    "StartAt": "Prepare",
    "States": {
        "Prepare": {
            "Type": "Pass",
            "Parameters": {"greeting.$": "States.Format('hello {}', $.name)", "n.$": "$.n",
                           "both.$": "States.Array($.n, $.name)"},
            "ResultPath": "$.prepared",
            "Next": "Decide",
        },
        "Decide": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "TooMany"},
                {"And": [{"Variable": "$.name", "IsPresent": True}, {"Variable": "$.name", "StringEquals": "a"}],
                 "Next": "Done"},
            ],
            "Default": "Shape",
        },
        "Shape": {"Type": "Pass", "Result": {"shaped": True}, "ResultPath": "$.extra", "OutputPath": "$.prepared",
                  "Next": "Done"},
        "TooMany": {"Type": "Fail", "Error": "TooMany", "Cause": "n is above 10"},
        "Done": {"Type": "Succeed"},
    },
}


def sfn_steps():
    sfn = boto3.client("stepfunctions", config=NO_RETRY, **KW)
    definition = json.dumps(PURE)
    created = step("sfn.create_state_machine", sfn.create_state_machine, name="diff-pure", definition=definition,
                   roleArn=ROLE)
    if not created:
        return
    arn = created["stateMachineArn"]
    step("sfn.create_state_machine.same_again", sfn.create_state_machine, name="diff-pure", definition=definition,
         roleArn=ROLE)
    changed = json.loads(definition)
    changed["Comment"] = "changed"
    step("sfn.create_state_machine.StateMachineAlreadyExists", sfn.create_state_machine, name="diff-pure",
         definition=json.dumps(changed), roleArn=ROLE)
    step("sfn.create_state_machine.InvalidDefinition", sfn.create_state_machine, name="diff-bad",
         definition=json.dumps({"StartAt": "Missing", "States": {"A": {"Type": "Pass", "End": True}}}), roleArn=ROLE)
    step("sfn.create_state_machine.InvalidName", sfn.create_state_machine, name="bad name?",
         definition=definition, roleArn=ROLE)
    step("sfn.describe_state_machine", sfn.describe_state_machine, stateMachineArn=arn)
    step("sfn.describe_state_machine.StateMachineDoesNotExist", sfn.describe_state_machine,
         stateMachineArn=arn.replace("diff-pure", "diff-missing"))
    step("sfn.describe_state_machine.InvalidArn", sfn.describe_state_machine, stateMachineArn="not-an-arn")
    step("sfn.list_state_machines", sfn.list_state_machines)
    runs = {"ok": {"name": "a", "n": 1}, "shaped": {"name": "b", "n": 2}, "fails": {"name": "c", "n": 11}}
    execs = {}
    for run, data in runs.items():
        started = step(f"sfn.start_execution {run}", sfn.start_execution, stateMachineArn=arn, name=run,
                       input=json.dumps(data))
        if started:
            execs[run] = started["executionArn"]
    step("sfn.start_execution.ExecutionAlreadyExists", sfn.start_execution, stateMachineArn=arn, name="ok",
         input=json.dumps({"other": True}))
    step("sfn.start_execution.InvalidExecutionInput", sfn.start_execution, stateMachineArn=arn, name="bad-input",
         input="{not json")
    step("sfn.start_execution.StateMachineDoesNotExist", sfn.start_execution,
         stateMachineArn=arn.replace("diff-pure", "diff-missing"), input="{}")
    deadline = time.time() + 60
    for run, e in execs.items():
        while time.time() < deadline and sfn.describe_execution(executionArn=e)["status"] == "RUNNING":
            time.sleep(0.05)
        step(f"sfn.describe_execution {run}", sfn.describe_execution, executionArn=e)
        step(f"sfn.get_execution_history {run}", sfn.get_execution_history, executionArn=e)
    if "ok" in execs:
        step("sfn.get_execution_history.reverse_page", sfn.get_execution_history, executionArn=execs["ok"],
             reverseOrder=True, maxResults=2)
        step("sfn.describe_state_machine_for_execution", sfn.describe_state_machine_for_execution,
             executionArn=execs["ok"])
    step("sfn.describe_execution.ExecutionDoesNotExist", sfn.describe_execution,
         executionArn=arn.replace(":stateMachine:", ":execution:") + ":never-started")
    listed = sfn.list_executions(stateMachineArn=arn)
    records.append({"step": "sfn.list_executions (sorted)", "status": 200, "response": norm(
        dict(listed, executions=sorted(listed["executions"], key=lambda e: e["name"])))})
    step("sfn.list_executions.FAILED", sfn.list_executions, stateMachineArn=arn, statusFilter="FAILED")
    step("sfn.delete_state_machine", sfn.delete_state_machine, stateMachineArn=arn)


if sys.argv[4:] == ["moto"]:
    urllib.request.urlopen(urllib.request.Request(
        ENDPOINT + "/moto-api/config", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode())).read()
for part in (s3_steps, s3_multipart_steps, ddb_steps, sfn_steps):
    part()
print(json.dumps(records, indent=1, sort_keys=True))

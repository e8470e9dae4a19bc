#!/usr/bin/env python3
"""Checks tools/stack/moto_server.py's DynamoDB and SQS changes.

SQS: messages received in batches, most deleted by DeleteMessageBatch (with an unknown handle
in the batch, which must fail alone), the rest made visible again and received anew; at the
end every message was received, the queue is empty, a handle deleted twice is accepted and an
unknown one is refused; the queue's counts stay exact and a delayed message waits.

DynamoDB, against moto's own Scan:

Starts the wrapper on a free port, then runs a seeded random sequence of PutItem, UpdateItem
(setting, changing and removing the index key), DeleteItem, and transactions that succeed or
are cancelled by a failed condition. After every step, each Query (on the table by partition,
on the index by its key, forwards and backwards, with and without a page limit) must return
exactly the items a full Scan says match: the same as moto's unpatched Query would.

IAM: a principal registered with POST /_zoom/iam is allowed exactly its statements, as AWS
decides them (DynamoDB per item of a transaction and against the index a Query names, SQS over
the JSON and the query protocol, S3 path- and virtual-host-style, presigned URLs, DeleteObjects
per key, a test's stand-in resource as the resource it stands in for); each denial has the shape
the SDKs parse as AccessDenied; other keys are unrestricted; every decision is in the audit log.

Meter: through a real boto3 client, writes and reads of known sizes are charged exactly the
capacity units DynamoDB's rules give (index writes included), a failed conditional write 1 WRU,
a transaction twice its items' units; ReturnConsumedCapacity answers the same numbers as
GET /_zoom/meter; requests are counted per principal, service and operation; the largest item
is reported by /_zoom/meter/items; the transaction-conflict fault cancels with
TransactionConflict and applies nothing, the throttle fault answers as DynamoDB throttles.
"""

import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = "check-moto"
PARTITIONS = [f"P#{i}" for i in range(4)]
INDEX_KEYS = [f"ACCOUNT#{i}" for i in range(3)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port, audit):
    server = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "moto_server.py"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=None if os.environ.get("CHECK_MOTO_DEBUG") else subprocess.DEVNULL,
        env={**os.environ, "ZOOM_IAM_AUDIT_LOG": audit},
    )
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            return server
        except Exception:
            if time.time() > deadline:
                server.kill()
                sys.exit("check_moto: the wrapper did not start")
            time.sleep(0.2)


def pages(call, **kwargs):
    items = []
    while True:
        answer = call(**kwargs)
        items.extend(answer["Items"])
        if "LastEvaluatedKey" not in answer:
            return items
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def ident(item):
    return (item["pk"]["S"], item["sk"]["S"])


def check(db, step):
    everything = pages(db.scan, TableName=TABLE)
    for forward, limit in ((True, None), (False, 2)):
        extra = {"ScanIndexForward": forward, **({"Limit": limit} if limit else {})}
        for pk in PARTITIONS:
            got = [ident(i) for i in pages(
                db.query, TableName=TABLE, KeyConditionExpression="pk = :v",
                ExpressionAttributeValues={":v": {"S": pk}}, **extra)]
            want = sorted((ident(i) for i in everything if i["pk"]["S"] == pk), reverse=not forward)
            assert got == want, f"step {step}: table query {pk} {extra}: {got} != {want}"
            for condition, values, keep in (
                ("begins_with(sk, :a)", {":a": "S#1"}, lambda sk: sk.startswith("S#1")),
                ("sk BETWEEN :a AND :b", {":a": "S#2", ":b": "S#5"}, lambda sk: "S#2" <= sk <= "S#5"),
                ("sk > :a", {":a": "S#4"}, lambda sk: sk > "S#4"),
            ):
                got = [ident(i) for i in pages(
                    db.query, TableName=TABLE, KeyConditionExpression=f"pk = :v AND {condition}",
                    ExpressionAttributeValues={":v": {"S": pk}, **{k: {"S": v} for k, v in values.items()}},
                    **extra)]
                wanted = [k for k in want if keep(k[1])]
                assert got == wanted, f"step {step}: table query {pk} {condition} {extra}: {got} != {wanted}"
        for key in INDEX_KEYS:
            got = [ident(i) for i in pages(
                db.query, TableName=TABLE, IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :v",
                ExpressionAttributeValues={":v": {"S": key}}, **extra)]
            matching = [i for i in everything if i.get("gsi1pk", {}).get("S") == key and "gsi1sk" in i]
            want = [ident(i) for i in sorted(
                matching, key=lambda i: (i["gsi1sk"]["S"], ident(i)), reverse=not forward)]
            assert got == want, f"step {step}: index query {key} {extra}: {got} != {want}"


def check_sqs(port):
    sqs = boto3.client("sqs", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    url = sqs.create_queue(QueueName="check-moto")["QueueUrl"]
    sent = {sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")["MessageId"] for i in range(60)}
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "60", counts
    # A delayed message is not received before its delay (a queue of its own).
    later = sqs.create_queue(QueueName="check-moto-delayed")["QueueUrl"]
    sqs.send_message(QueueUrl=later, MessageBody="later", DelaySeconds=2)
    assert sqs.get_queue_attributes(QueueUrl=later, AttributeNames=["ApproximateNumberOfMessagesDelayed"])[
        "Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    assert not sqs.receive_message(QueueUrl=later).get("Messages"), "received before its delay"
    time.sleep(2.2)
    assert sqs.receive_message(QueueUrl=later).get("Messages"), "not received after its delay"
    received, deleted, handles = set(), set(), []
    for _ in range(100):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
        if not got:
            break
        received.update(m["MessageId"] for m in got)
        keep = [m for m in got if m["MessageId"] not in deleted and hash(m["MessageId"]) % 3 == 0
                and m["MessageId"] not in {h[0] for h in handles}]
        drop = [m for m in got if m not in keep]
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(drop)]
        answer = sqs.delete_message_batch(
            QueueUrl=url, Entries=entries + [{"Id": "unknown", "ReceiptHandle": "not-a-receipt-handle"}])
        assert len(answer.get("Successful", [])) == len(entries), answer
        assert [f["Id"] for f in answer.get("Failed", [])] == ["unknown"], answer
        deleted.update(m["MessageId"] for m in drop)
        handles.extend((m["MessageId"], m["ReceiptHandle"]) for m in drop)
        for m in keep:  # back to the queue, to be received (and deleted) again
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
            handles.append((m["MessageId"], None))
        in_flight = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
        assert in_flight["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "0", in_flight
    assert received == sent, f"received {len(received)} of {len(sent)}"
    assert deleted == sent, f"deleted {len(deleted)} of {len(sent)}"
    assert not sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"), "queue not empty"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=next(h for _, h in handles if h))  # again: accepted
    try:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-receipt-handle")
        raise AssertionError("an unknown receipt handle was accepted")
    except ClientError as error:
        assert "ReceiptHandleIsInvalid" in str(error), error
    print(f"check_moto: SQS {len(sent)} messages received, deleted once each, queue empty")


def denied(call, status):
    """Asserts `call` fails as AWS's implicit deny does (the code the SDKs parse, the status)."""
    try:
        call()
    except ClientError as error:
        code = error.response["Error"]["Code"]
        assert code in ("AccessDenied", "AccessDeniedException", "403"), error.response
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status, error.response
        return
    raise AssertionError("allowed, but the principal has no grant for it")


def check_iam(port, audit):
    endpoint = f"http://127.0.0.1:{port}"

    def clients(key):
        return [boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                             aws_access_key_id=key, aws_secret_access_key="secret")
                for service in ("dynamodb", "sqs", "s3")]

    db, sqs, s3 = clients("test")
    table, bucket = "check-iam", "check-iam-bucket"
    db.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "gsi1pk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "gsi1", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"}]}])
    table_arn = db.describe_table(TableName=table)["Table"]["TableArn"]
    queues = {name: sqs.create_queue(QueueName=name)["QueueUrl"]
              for name in ("check-iam-q", "check-iam-q-own-1", "check-iam-other")}
    queue_arn = sqs.get_queue_attributes(QueueUrl=queues["check-iam-q"], AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="other/x", Body=b"x")
    registration = {
        "principals": {"fn": {"statements": [
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:ConditionCheckItem",
                                           "dynamodb:BatchWriteItem"], "Resource": [table_arn]},
            {"Effect": "Allow", "Action": ["dynamodb:Query"], "Resource": [f"{table_arn}/index/gsi1"]},
            {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [queue_arn]},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
                                           "s3:DeleteObject"], "Resource": [f"arn:aws:s3:::{bucket}/tenants/*"]},
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [f"arn:aws:s3:::{bucket}"]},
        ]}},
        "stand_ins": [table_arn, queue_arn, f"arn:aws:s3:::{bucket}"],
    }
    request = urllib.request.Request(f"{endpoint}/_zoom/iam", data=json.dumps(registration).encode(), method="POST")
    urllib.request.urlopen(request, timeout=10)
    db, sqs, s3 = clients("fn")

    # DynamoDB: the action on the table, or on the index a Query names; transactions per item.
    item = {"pk": {"S": "a"}, "gsi1pk": {"S": "g"}}
    db.put_item(TableName=table, Item=item)
    db.get_item(TableName=table, Key={"pk": {"S": "a"}})
    denied(lambda: db.update_item(TableName=table, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v",
                                  ExpressionAttributeValues={":v": {"S": "1"}}), 400)
    db.query(TableName=table, IndexName="gsi1", KeyConditionExpression="gsi1pk = :g",
             ExpressionAttributeValues={":g": {"S": "g"}})
    denied(lambda: db.query(TableName=table, KeyConditionExpression="pk = :a",
                            ExpressionAttributeValues={":a": {"S": "a"}}), 400)
    db.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": {"pk": {"S": "b"}}}},
        {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "a"}},
                            "ConditionExpression": "attribute_exists(pk)"}}])
    denied(lambda: db.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": {"pk": {"S": "c"}}}},
        {"Update": {"TableName": table, "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"S": "1"}}}}]), 400)
    assert "Item" not in db.get_item(TableName=table, Key={"pk": {"S": "c"}}), "a denied transaction wrote"
    db.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": {"pk": {"S": "d"}}}}]})
    denied(lambda: db.describe_table(TableName=table), 400)
    # A stand-in (`<name>-<suffix>`) is checked as the resource it stands in for.
    denied(lambda: db.get_item(TableName="other-table", Key={"pk": {"S": "a"}}), 400)
    try:
        db.get_item(TableName=f"{table}-own-1", Key={"pk": {"S": "a"}})
        raise AssertionError("a missing stand-in table was found")
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ResourceNotFoundException", error.response

    # SQS, JSON protocol (boto3) and query protocol (signed by hand).
    sqs.send_message(QueueUrl=queues["check-iam-q"], MessageBody="m")
    sqs.send_message(QueueUrl=queues["check-iam-q-own-1"], MessageBody="m")
    sqs.send_message_batch(QueueUrl=queues["check-iam-q"], Entries=[{"Id": "1", "MessageBody": "m"}])
    denied(lambda: sqs.send_message(QueueUrl=queues["check-iam-other"], MessageBody="m"), 400)
    denied(lambda: sqs.receive_message(QueueUrl=queues["check-iam-q"]), 400)

    def query_protocol(queue):
        body = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": queues[queue], "MessageBody": "m",
                                       "Version": "2012-11-05"})
        aws = AWSRequest(method="POST", url=f"{endpoint}/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        SigV4Auth(Credentials("fn", "secret"), "sqs", "us-east-1").add_auth(aws)
        try:
            with urllib.request.urlopen(urllib.request.Request(
                    aws.url, data=body.encode(), headers=dict(aws.headers), method="POST"), timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    assert query_protocol("check-iam-q")[0] == 200
    status, body = query_protocol("check-iam-other")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body, (status, body)

    # S3: object actions on the key, bucket actions on the bucket, presigned and virtual-host.
    s3.put_object(Bucket=bucket, Key="tenants/a", Body=b"a")
    assert s3.get_object(Bucket=bucket, Key="tenants/a")["Body"].read() == b"a"
    s3.head_object(Bucket=bucket, Key="tenants/a")
    denied(lambda: s3.put_object(Bucket=bucket, Key="other/a", Body=b"a"), 403)
    denied(lambda: s3.head_object(Bucket=bucket, Key="other/x"), 403)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="tenants/big")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="tenants/big", UploadId=upload, PartNumber=1, Body=b"p" * 10)
    denied(lambda: s3.list_parts(Bucket=bucket, Key="tenants/big", UploadId=upload), 403)
    s3.complete_multipart_upload(Bucket=bucket, Key="tenants/big", UploadId=upload, MultipartUpload={
        "Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
    s3.abort_multipart_upload(Bucket=bucket, Key="tenants/big",
                              UploadId=s3.create_multipart_upload(Bucket=bucket, Key="tenants/big")["UploadId"])
    s3.list_objects_v2(Bucket=bucket)
    denied(lambda: s3.list_object_versions(Bucket=bucket), 403)
    denied(lambda: s3.list_multipart_uploads(Bucket=bucket), 403)
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "tenants/a"}, {"Key": "other/x"}]})
    assert [d["Key"] for d in answer.get("Deleted", [])] == ["tenants/a"], answer
    assert [(e["Key"], e["Code"]) for e in answer.get("Errors", [])] == [("other/x", "AccessDenied")], answer
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "other/x"}]})
    assert not answer.get("Deleted") and answer["Errors"][0]["Code"] == "AccessDenied", answer
    s3.put_object(Bucket=bucket, Key="tenants/p", Body=b"p")
    s3v4 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="fn",
                        aws_secret_access_key="secret", config=Config(signature_version="s3v4"))
    for presigner in (s3, s3v4):  # SigV2 (AWSAccessKeyId) and SigV4 (X-Amz-Credential) URLs
        with urllib.request.urlopen(presigner.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": "tenants/p"}), timeout=10) as got:
            assert got.read() == b"p"
        try:
            urllib.request.urlopen(presigner.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": "other/x"}), timeout=10)
            raise AssertionError("a presigned URL outside the grant was served")
        except urllib.error.HTTPError as error:
            assert error.code == 403 and b"<Code>AccessDenied</Code>" in error.read()
    authorization = "AWS4-HMAC-SHA256 Credential=fn/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
    for key, want in (("tenants/p", 200), ("other/x", 403)):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", f"/{key}", headers={"Host": f"{bucket}.s3.amazonaws.com",
                                                      "Authorization": authorization,
                                                      "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
        assert connection.getresponse().status == want, f"virtual-host GET {key}"
        connection.close()

    # Any other key is unrestricted, and is not audited.
    clients("test")[0].update_item(TableName=table, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v",
                                   ExpressionAttributeValues={":v": {"S": "1"}})
    with open(audit, encoding="utf-8") as handle:
        decisions = [json.loads(line) for line in handle]
    assert {d["principal"] for d in decisions} == {"fn"}, decisions
    assert any(d["action"] == "dynamodb:UpdateItem" and not d["allowed"] for d in decisions)
    assert any(d["action"] == "dynamodb:ConditionCheckItem" and d["allowed"] for d in decisions)
    assert any(d.get("as") == queue_arn and d["allowed"] for d in decisions), "the stand-in queue"
    print(f"check_moto: IAM {len(decisions)} decisions, {sum(not d['allowed'] for d in decisions)} denials as "
          "AWS answers them, other keys unrestricted")


def admin(port, path, body=None):
    """GET (or POST `body`) one of the wrapper's /_zoom/ endpoints, as JSON."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                     method="GET" if body is None else "POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def check_meter(port):
    endpoint = f"http://127.0.0.1:{port}"
    once = Config(retries={"total_max_attempts": 1})
    db = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="meter-fn",
                      aws_secret_access_key="secret", config=once)
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="meter-fn",
                       aws_secret_access_key="secret")
    table = "check-meter"
    db.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "gsi1pk", "gsi1sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "gsi1", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"},
                                               {"AttributeName": "gsi1sk", "KeyType": "RANGE"}]}])
    queue = sqs.create_queue(QueueName="check-meter")["QueueUrl"]
    admin(port, "/_zoom/meter/reset", {})

    def item(pk, sk, size, **extra):
        """An item of exactly `size` bytes by DynamoDB's rules (names + UTF-8 values)."""
        fixed = 2 + len(pk) + 2 + len(sk) + 1 + sum(len(k) + len(v) for k, v in extra.items())
        return {"pk": {"S": pk}, "sk": {"S": sk}, "d": {"S": "x" * (size - fixed)},
                **{k: {"S": v} for k, v in extra.items()}}

    def key(pk, sk):
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    expected = {}  # operation -> [wru, rru]

    def charged(operation, answer, wru=0.0, rru=0.0, detail="TOTAL"):
        got = answer["ConsumedCapacity"]
        got = got if isinstance(got, list) else [got]
        total = sum(c["CapacityUnits"] for c in got)
        assert total == wru + rru, f"{operation}: ConsumedCapacity {got}, expected {wru} WRU + {rru} RRU"
        for c in got:
            assert c["TableName"] == table, c
            if detail == "INDEXES":
                assert "Table" in c, c
        mine = expected.setdefault(operation, [0.0, 0.0])
        mine[0] += wru
        mine[1] += rru
        return got

    def failing(call, code):
        try:
            call()
        except ClientError as error:
            assert error.response["Error"]["Code"] == code, error.response
            return error
        raise AssertionError(f"expected {code}")

    # Writes: 1,510 bytes = 2 WRU; replaced by 700 bytes: still the larger, 2; 5,000 bytes: 5.
    charged("PutItem", db.put_item(TableName=table, Item=item("A", "1", 1510), ReturnConsumedCapacity="TOTAL"), wru=2)
    charged("PutItem", db.put_item(TableName=table, Item=item("A", "1", 700), ReturnConsumedCapacity="TOTAL"), wru=2)
    charged("PutItem", db.put_item(TableName=table, Item=item("A", "2", 5000), ReturnConsumedCapacity="TOTAL"), wru=5)
    charged("UpdateItem", db.update_item(TableName=table, Key=key("A", "1"), UpdateExpression="SET e = :e",
                                         ExpressionAttributeValues={":e": {"S": "y" * 1000}},
                                         ReturnConsumedCapacity="TOTAL"), wru=2)  # 700 -> 1,701 bytes
    # Reads: 5,000 bytes strongly consistent 2 RRU, eventually 1; a missing item 0.5.
    charged("GetItem", db.get_item(TableName=table, Key=key("A", "2"), ConsistentRead=True,
                                   ReturnConsumedCapacity="TOTAL"), rru=2)
    charged("GetItem", db.get_item(TableName=table, Key=key("A", "2"), ReturnConsumedCapacity="TOTAL"), rru=1)
    charged("GetItem", db.get_item(TableName=table, Key=key("A", "none"), ReturnConsumedCapacity="TOTAL"), rru=0.5)
    # A Query evaluates both items (1,701 + 5,000 bytes: 2 RRU strongly consistent), even when
    # the filter keeps none of them.
    answer = db.query(TableName=table, KeyConditionExpression="pk = :p", FilterExpression="attribute_exists(nope)",
                      ExpressionAttributeValues={":p": {"S": "A"}}, ConsistentRead=True,
                      ReturnConsumedCapacity="TOTAL")
    assert answer["Count"] == 0 and answer["ScannedCount"] == 2, answer
    charged("Query", answer, rru=2)
    # A failed conditional write: 1 WRU for a new item, the existing item's size otherwise.
    failing(lambda: db.put_item(TableName=table, Item=item("A", "new", 3000), ConditionExpression="attribute_exists(pk)"),
            "ConditionalCheckFailedException")
    failing(lambda: db.update_item(TableName=table, Key=key("A", "2"), UpdateExpression="SET e = :e",
                                   ConditionExpression="attribute_not_exists(pk)",
                                   ExpressionAttributeValues={":e": {"S": "z"}}), "ConditionalCheckFailedException")
    expected["PutItem"][0] += 1
    expected["UpdateItem"][0] += 5
    # A transaction: twice each item's units (two of 1 KB or less, one of 1,510 bytes).
    charged("TransactWriteItems", db.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": item("T", "1", 300)}},
        {"Put": {"TableName": table, "Item": item("T", "2", 1510)}},
        {"Update": {"TableName": table, "Key": key("T", "3"), "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"S": "1"}}}}], ReturnConsumedCapacity="TOTAL"), wru=8)
    # Index writes: a new entry is one write; changing its key is two (delete + put).
    got = charged("PutItem", db.put_item(TableName=table, Item=item("G", "1", 200, gsi1pk="H", gsi1sk="1"),
                                         ReturnConsumedCapacity="INDEXES"), wru=2, detail="INDEXES")
    assert got[0]["GlobalSecondaryIndexes"]["gsi1"]["CapacityUnits"] == 1, got
    got = charged("UpdateItem", db.update_item(TableName=table, Key=key("G", "1"), UpdateExpression="SET gsi1sk = :s",
                                               ExpressionAttributeValues={":s": {"S": "2"}},
                                               ReturnConsumedCapacity="INDEXES"), wru=3, detail="INDEXES")
    assert got[0]["Table"]["CapacityUnits"] == 1 and got[0]["GlobalSecondaryIndexes"]["gsi1"]["CapacityUnits"] == 2
    got = charged("Query", db.query(TableName=table, IndexName="gsi1", KeyConditionExpression="gsi1pk = :h",
                                    ExpressionAttributeValues={":h": {"S": "H"}}, ReturnConsumedCapacity="INDEXES"),
                  rru=0.5, detail="INDEXES")
    assert got[0]["GlobalSecondaryIndexes"]["gsi1"]["CapacityUnits"] == 0.5, got
    # Without ReturnConsumedCapacity it is still metered.
    db.delete_item(TableName=table, Key=key("A", "1"))
    expected["DeleteItem"] = [2.0, 0.0]

    # Faults: every transaction writing ANALYTICS# is cancelled as contention, nothing applied.
    admin(port, "/_zoom/faults", {"transaction_conflict_every": 1, "key_prefix": "ANALYTICS#"})
    error = failing(lambda: db.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": item("X", "1", 100)}},
        {"Put": {"TableName": table, "Item": item("ANALYTICS#t", "DAY#1", 100)}}]), "TransactionCanceledException")
    reasons = [r["Code"] for r in error.response["CancellationReasons"]]
    assert reasons == ["None", "TransactionConflict"], error.response
    assert "Item" not in db.get_item(TableName=table, Key=key("X", "1")), "a cancelled transaction wrote"
    expected["GetItem"][1] += 0.5
    expected["TransactWriteItems"][0] += 2  # its prepare phase
    admin(port, "/_zoom/faults", {"transaction_conflict_every": 0})
    db.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": item("ANALYTICS#t", "DAY#1", 100)}}])
    expected["TransactWriteItems"][0] += 2
    # Throttling: every second write of such a key, single or transactional.
    faults = admin(port, "/_zoom/faults", {"throttle_every": 2, "key_prefix": "ANALYTICS#"})
    assert faults["throttle_every"] == 2, faults
    db.put_item(TableName=table, Item=item("ANALYTICS#t", "DAY#2", 100))
    failing(lambda: db.put_item(TableName=table, Item=item("ANALYTICS#t", "DAY#3", 100)),
            "ProvisionedThroughputExceededException")
    db.put_item(TableName=table, Item=item("OTHER", "1", 100))  # another key: not counted
    db.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": item("ANALYTICS#t", "DAY#4", 100)}}])
    error = failing(lambda: db.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": item("ANALYTICS#t", "DAY#5", 100)}}]), "TransactionCanceledException")
    assert [r["Code"] for r in error.response["CancellationReasons"]] == ["ThrottlingError"], error.response
    assert "Item" not in db.get_item(TableName=table, Key=key("ANALYTICS#t", "DAY#5")), "a throttled write was applied"
    faults = admin(port, "/_zoom/faults", {"throttle_every": 0})
    # Invalid: every write of such a key is refused as DynamoDB refuses a malformed request
    # (ValidationException, nothing applied, nothing charged); other keys are not.
    admin(port, "/_zoom/faults", {"invalid_every": 1, "key_prefix": "ANALYTICS#"})
    failing(lambda: db.put_item(TableName=table, Item=item("ANALYTICS#t", "DAY#6", 100)), "ValidationException")
    failing(lambda: db.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": item("ANALYTICS#t", "DAY#7", 100)}}]), "ValidationException")
    assert "Item" not in db.get_item(TableName=table, Key=key("ANALYTICS#t", "DAY#6")), "an invalid write was applied"
    faults = admin(port, "/_zoom/faults", {"invalid_every": 0})
    assert faults["injected"] == {"transaction_conflict": 1, "throttle": 2, "invalid": 2, "throttle_next": 0}, faults
    expected["PutItem"][0] += 2
    expected["TransactWriteItems"][0] += 2
    expected["GetItem"][1] += 1.0

    sqs.send_message(QueueUrl=queue, MessageBody="m")
    sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)

    meter = admin(port, "/_zoom/meter")
    mine = meter["by_principal"]["meter-fn"]
    for operation, (wru, rru) in expected.items():
        entry = mine["dynamodb"][operation]
        assert (entry["wru"], entry["rru"]) == (wru, rru), f"{operation}: metered {entry}, expected {wru}, {rru}"
    assert mine["dynamodb"]["PutItem"]["requests"] == 9 and mine["dynamodb"]["PutItem"]["errors"] == 3, mine
    assert mine["sqs"]["SendMessage"]["requests"] == 1, mine
    receive = mine["sqs"]["ReceiveMessage"]
    assert (receive["requests"], receive["messages"], receive["nonempty"]) == (2, 1, 1), receive
    assert meter["by_queue"]["check-meter"]["ReceiveMessage"]["requests"] == 2, meter["by_queue"]
    assert meter["by_table"][table]["indexes"]["gsi1"]["wru"] == 3, meter["by_table"]
    assert meter["totals"]["wru"] == sum(w for w, _ in expected.values()), meter["totals"]
    items = admin(port, f"/_zoom/meter/items?table={table}")
    assert items["max_item_bytes"] == 5000 and items["max_item_key"]["pk"] == "A", items
    assert items["by_kind"]["ANALYTICS# DAY#*"]["count"] == 3, items["by_kind"]
    # Throttle next: the next N writes of such a key whose UpdateExpression contains S are
    # throttled (nothing applied); other expressions and keys pass, and N counts down.
    admin(port, "/_zoom/faults", {"throttle_next": 2, "key_prefix": "TENANT#t",
                                  "expression_contains": "refresh_token = :rt"})
    rotate = {"UpdateExpression": "SET refresh_token = :rt", "ExpressionAttributeValues": {":rt": {"S": "r2"}}}
    for _ in range(2):
        failing(lambda: db.update_item(TableName=table, Key=key("TENANT#t", "CONNECTION"), **rotate),
                "ProvisionedThroughputExceededException")
    assert "Item" not in db.get_item(TableName=table, Key=key("TENANT#t", "CONNECTION")), "a throttled write was applied"
    db.update_item(TableName=table, Key=key("TENANT#t", "CONNECTION"),
                   UpdateExpression="SET lease_owner = :o", ExpressionAttributeValues={":o": {"S": "me"}})
    db.update_item(TableName=table, Key=key("TENANT#u", "CONNECTION"), **rotate)
    admin(port, "/_zoom/faults", {"throttle_next": 1, "key_prefix": "TENANT#t",
                                  "expression_contains": "refresh_token = :rt"})
    faults = admin(port, "/_zoom/faults", {"throttle_next": 0})
    db.update_item(TableName=table, Key=key("TENANT#t", "CONNECTION"), **rotate)
    assert faults["injected"]["throttle_next"] == 2, faults
    assert db.get_item(TableName=table, Key=key("TENANT#t", "CONNECTION"))["Item"]["refresh_token"]["S"] == "r2"
    admin(port, "/_zoom/meter/reset", {})
    assert admin(port, "/_zoom/meter")["totals"]["requests"] == 0
    print(f"check_meter: {sum(e['requests'] for e in mine['dynamodb'].values())} DynamoDB requests charged "
          f"{meter['totals']['wru']:g} WRU and {meter['totals']['rru']:g} RRU as DynamoDB's rules give; "
          "ReturnConsumedCapacity agrees; faults cancel, throttle and refuse as DynamoDB does")


def main():
    port = free_port()
    audit = tempfile.NamedTemporaryFile(prefix="check-moto-iam-", suffix=".jsonl", delete=False).name
    server = start(port, audit)
    try:
        check_iam(port, audit)
        check_meter(port)
        check_sqs(port)
        db = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        db.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "gsi1pk", "gsi1sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "gsi1", "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"},
                              {"AttributeName": "gsi1sk", "KeyType": "RANGE"}]}],
        )
        rng = random.Random(20261127)
        counts = {}

        def key():
            return {"pk": {"S": rng.choice(PARTITIONS)}, "sk": {"S": f"S#{rng.randrange(8)}"}}

        steps = 250
        for step in range(steps):
            op = rng.choice(["put", "put", "update", "remove", "delete", "transact", "cancelled"])
            counts[op] = counts.get(op, 0) + 1
            k = key()
            if op == "put":
                item = dict(k)
                if rng.random() < 0.7:
                    item["gsi1pk"] = {"S": rng.choice(INDEX_KEYS)}
                    item["gsi1sk"] = {"S": f"T#{rng.randrange(5)}"}
                db.put_item(TableName=TABLE, Item=item)
            elif op == "update":
                db.update_item(TableName=TABLE, Key=k, UpdateExpression="SET gsi1pk = :a, gsi1sk = :b",
                               ExpressionAttributeValues={":a": {"S": rng.choice(INDEX_KEYS)},
                                                          ":b": {"S": f"T#{rng.randrange(5)}"}})
            elif op == "remove":
                db.update_item(TableName=TABLE, Key=k, UpdateExpression="REMOVE gsi1pk")
            elif op == "delete":
                db.delete_item(TableName=TABLE, Key=k)
            else:
                other = key()
                if other == k:
                    continue
                writes = [
                    {"Put": {"TableName": TABLE, "Item": {**k, "gsi1pk": {"S": rng.choice(INDEX_KEYS)},
                                                         "gsi1sk": {"S": "T#9"}}}},
                    {"Update": {"TableName": TABLE, "Key": other, "UpdateExpression": "SET gsi1pk = :a, gsi1sk = :b",
                                "ExpressionAttributeValues": {":a": {"S": rng.choice(INDEX_KEYS)},
                                                              ":b": {"S": "T#8"}},
                                **({"ConditionExpression": "attribute_exists(nothing_has_this)"}
                                   if op == "cancelled" else {})}},
                ]
                try:
                    db.transact_write_items(TransactItems=writes)
                    assert op == "transact", f"step {step}: a cancelled transaction was applied"
                except ClientError as error:
                    assert op == "cancelled", f"step {step}: {error}"
            check(db, step)
        print(f"check_moto: {steps} steps {dict(sorted(counts.items()))}, every Query = Scan")
    finally:
        server.terminate()
        server.wait(timeout=10)
        os.unlink(audit)


if __name__ == "__main__":
    main()

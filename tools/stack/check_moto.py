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
"""

import os
import random
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = "check-moto"
PARTITIONS = [f"P#{i}" for i in range(4)]
INDEX_KEYS = [f"ACCOUNT#{i}" for i in range(3)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port):
    server = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "moto_server.py"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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


def main():
    port = free_port()
    server = start(port)
    try:
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


if __name__ == "__main__":
    main()

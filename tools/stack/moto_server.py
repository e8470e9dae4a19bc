#!/usr/bin/env python3
"""moto server, with three emulator-only changes: transactions snapshot the items they touch,
DynamoDB requests are isolated from each other, and receiving an SQS message no longer counts
the whole queue.

moto 5.2.5's TransactWriteItems deep-copies every table a transaction names, to roll back on
failure: each transaction costs time and memory in proportion to the whole table, so a load
run (20,000 webhook events, one transaction each) slows to a few events per second while moto
grows past 10 GB. This wrapper snapshots only the items the transaction's operations name,
restores exactly those when the transaction is cancelled, and otherwise runs moto's own code.
What DynamoDB guarantees (all or nothing, conditions checked) is unchanged; the e2e tests of
cancelled transactions run on it.
"""

import copy
import functools
import sys
import threading
import types

from moto import server
from moto.dynamodb import models
from moto.dynamodb.models.table import Table

_transact = models.DynamoDBBackend.transact_write_items


def _no_table_copies():
    """A `copy` module for moto's DynamoDB models that does not copy whole tables."""
    shim = types.ModuleType("copy")
    shim.copy = copy.copy
    shim.deepcopy = lambda value, *args: value if isinstance(value, Table) else copy.deepcopy(value, *args)
    return shim


def _key(table, op):
    if "Item" in op:
        key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = op["Item"][table.range_key_attr]
        return key
    return op.get("Key")


def transact_write_items(self, transact_items):
    snapshots = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        name = op.get("TableName") if isinstance(op, dict) else None
        table = self.tables.get(name)
        key = _key(table, op) if table is not None else None
        if key is None:
            continue
        try:
            current = self.get_item(name, key)
        except Exception:  # an invalid key: moto's own code reports it
            current = None
        snapshots.append((name, key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
    try:
        return _transact(self, transact_items)
    except Exception:
        for name, key, attributes in reversed(snapshots):
            if attributes is None:
                self.delete_item(name, key)
            else:
                self.put_item(name, attributes)
        raise


models.copy = _no_table_copies()
models.DynamoDBBackend.transact_write_items = transact_write_items

# DynamoDB applies each request to an item atomically; moto's threaded server does not (two
# concurrent UpdateItem ADDs can lose one). One lock around the DynamoDB backend's requests
# gives the emulator the isolation the processor relies on, so it can run groups in parallel
# locally as it does in AWS.
_lock = threading.RLock()


def _serialised(method):
    @functools.wraps(method)
    def locked(*args, **kwargs):
        with _lock:
            return method(*args, **kwargs)

    return locked


for _name in ("get_item", "put_item", "update_item", "delete_item", "query", "scan",
              "transact_write_items", "transact_get_items", "batch_get_item", "batch_write_item"):
    if hasattr(models.DynamoDBBackend, _name):
        setattr(models.DynamoDBBackend, _name, _serialised(getattr(models.DynamoDBBackend, _name)))

# SQS: moto checks each received message's retention through get_queue_attributes, which counts
# every message of the queue (visible, in flight, delayed) each time: a receive costs the
# queue's size squared, and a queue of 20,000 events stalls. The retention period alone is
# an attribute of the queue.
from moto.sqs import models as sqs_models  # noqa: E402


def is_message_valid_based_on_retention_period(self, queue_name, message):
    queue = self.get_queue(queue_name)
    return int(queue.message_retention_period) + message.sent_timestamp / 1000 > sqs_models.unix_time()


sqs_models.SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period

if __name__ == "__main__":
    sys.exit(server.main())

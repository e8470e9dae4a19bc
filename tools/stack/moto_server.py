#!/usr/bin/env python3
"""moto server, with emulator-only changes where moto's cost grows with the data: transactions
snapshot the items they touch, DynamoDB requests are isolated from each other, a Query reads
only the items it can match, sending, receiving and deleting an SQS message no longer count or
walk the whole queue, and the request dispatcher remembers what it looked up.

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
import inspect
import sys
import threading
import time
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



# Query: moto 5.2.5 answers every Query, on the table or on an index, by sorting every item of
# the table and then filtering them, so each costs O(n log n) in the table's size and a load run
# slows as its table grows (the processor queries twice per event). Here a table Query reads
# only its partition, and a GSI Query reads only the items whose index key matches, from a map
# kept per index attribute. Every write goes through the backend's put_item, update_item and
# delete_item (transactions and batches included), which mark the key they name; the map is
# brought up to date for those keys before the next index Query. moto's own code still does
# the matching, sorting, paging and filtering, on those candidates.
from moto.dynamodb.comparisons import get_comparison_func  # noqa: E402
from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: E402


def _key_of(table, raw):
    """The (hash, range) pair of a key or item given as DynamoDB JSON."""
    hash_value = DynamoType(raw[table.hash_key_attr])
    range_value = DynamoType(raw[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _stored(table, key):
    hash_value, range_value = key
    if table.range_key_attr:
        return table.items.get(hash_value, {}).get(range_value)
    return table.items.get(hash_value)


class _IndexMap:
    """Index attribute -> value -> keys of the items carrying it, for one table."""

    def __init__(self, table):
        self.attributes = {k["AttributeName"] for i in table.global_indexes for k in i.schema if k["KeyType"] == "HASH"}
        self.keys_by_value = {a: {} for a in self.attributes}
        self.values_of = {}
        self.dirty = []
        for item in table.all_items():
            self._add((item.hash_key, item.range_key if table.range_key_attr else None), item)

    def _add(self, key, item):
        values = {}
        for attribute in self.attributes:
            value = item.attrs.get(attribute)
            if value is not None:
                self.keys_by_value[attribute].setdefault(value, set()).add(key)
                values[attribute] = value
        if values:
            self.values_of[key] = values

    def refresh(self, table):
        while self.dirty:
            key = self.dirty.pop()
            for attribute, value in self.values_of.pop(key, {}).items():
                self.keys_by_value[attribute].get(value, set()).discard(key)
            item = _stored(table, key)
            if item is not None:
                self._add(key, item)

    def candidates(self, table, attribute, value):
        return [i for i in (_stored(table, k) for k in self.keys_by_value[attribute].get(value, ())) if i is not None]


def _mark(backend, table_name, raw):
    table = backend.tables.get(table_name)
    index_map = getattr(table, "_index_map", None) if table is not None else None
    if index_map is not None and isinstance(raw, dict):
        try:
            index_map.dirty.append(_key_of(table, raw))
        except (KeyError, TypeError, AttributeError):
            pass  # not a valid key: moto rejected the write


def _marking(method):
    @functools.wraps(method)
    def marked(self, table_name, raw, *args, **kwargs):
        try:
            return method(self, table_name, raw, *args, **kwargs)
        finally:
            _mark(self, table_name, raw)

    return marked


_table_query = Table.query
_query_parameters = inspect.signature(_table_query)


def query(self, *args, **kwargs):
    given = _query_parameters.bind(self, *args, **kwargs).arguments
    hash_key, index_name = given.get("hash_key"), given.get("index_name")
    hash_key_conditions = given.get("hash_key_conditions")
    if index_name is None and hash_key is not None:
        partition = self.items.get(hash_key, {})
        found = list(partition.values()) if self.range_key_attr else [partition] if partition else []
        # A condition on a string sort key (begins_with, BETWEEN, <, …): only the items it
        # matches, already in order, so moto's own matching and sort see a few items, not the
        # whole partition (a tenant's partition holds every meeting instance's timeline).
        comparison, bounds = given.get("range_comparison"), given.get("range_objs") or []
        if self.range_key_attr and comparison and bounds and all(b.type == "S" for b in bounds):
            test = get_comparison_func(comparison)
            if test is not None:
                values = [b.value for b in bounds]
                found = [i for i in found if i.range_key is not None and i.range_key.type == "S"
                         and test(i.range_key.value, *values)]
                found.sort(key=lambda i: i.range_key.value)
    elif index_name is not None and hash_key_conditions and len(hash_key_conditions) == 1 \
            and any(i.name == index_name for i in self.global_indexes):
        if getattr(self, "_index_map", None) is None:
            self._index_map = _IndexMap(self)
        self._index_map.refresh(self)
        attribute, value = hash_key_conditions[0]
        if attribute not in self._index_map.attributes:
            return _table_query(self, *args, **kwargs)
        found = self._index_map.candidates(self, attribute, value)
    else:
        return _table_query(self, *args, **kwargs)
    self.all_items = lambda: found
    try:
        return _table_query(self, *args, **kwargs)
    finally:
        del self.all_items


Table.query = query
for _name in ("put_item", "update_item", "delete_item"):
    setattr(models.DynamoDBBackend, _name, _marking(getattr(models.DynamoDBBackend, _name)))

# The lock around every DynamoDB request (outermost: the marks above are made inside it).
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

# SQS: moto finds the message a receipt handle names by walking the whole queue twice, building
# each message's list of handles (DeleteMessageBatch of 10: twenty walks), so deleting costs
# the queue's size and a backlog of 20,000 events slows the processor to a crawl. Here each
# receipt handle is remembered when moto issues it; a delete finds its message at once and
# removes it from its queue. A handle this map does not know (or one from another queue) goes
# to moto's own code, which answers ReceiptHandleIsInvalid as before.
_handles = {}
_mark_received = sqs_models.Message.mark_received


def mark_received(self, *args, **kwargs):
    _mark_received(self, *args, **kwargs)
    _handles[self.receipt_handle] = self


_queue_delete = sqs_models.Queue.delete_message


def delete_message(self, receipt_handle):
    if receipt_handle in self.deleted_messages:
        return
    message = _handles.get(receipt_handle)
    try:
        if message is None:
            raise ValueError
        self._messages.remove(message)  # by identity: Message has no __eq__
    except ValueError:
        return _queue_delete(self, receipt_handle)
    self.pending_messages.discard(message)
    handles = message.all_receipt_handles
    self.deleted_messages.update(handles)
    for handle in handles:
        _handles.pop(handle, None)


sqs_models.Message.mark_received = mark_received
sqs_models.Queue.delete_message = delete_message

# SQS: SendMessage reads the queue's whole attribute dict for one flag (ContentBasedDeduplication),
# and that dict counts every message three times (visible, in flight, delayed): each send costs
# the queue's size. Inside SendMessage those counts are not computed (the flag does not depend
# on them); GetQueueAttributes still counts exactly. Visibility and delay are compared with the
# clock directly instead of through moto's datetime arithmetic (same milliseconds, a fraction of
# the cost), since receiving still looks at every message.
_sending = threading.local()


def _uncounted_while_sending(prop):
    return property(lambda self: 0 if getattr(_sending, "active", False) else prop.fget(self))


for _name in ("approximate_number_of_messages", "approximate_number_of_messages_not_visible",
              "approximate_number_of_messages_delayed"):
    setattr(sqs_models.Queue, _name, _uncounted_while_sending(getattr(sqs_models.Queue, _name)))

_send_message = sqs_models.SQSBackend.send_message


def send_message(self, *args, **kwargs):
    _sending.active = True
    try:
        return _send_message(self, *args, **kwargs)
    finally:
        _sending.active = False


sqs_models.SQSBackend.send_message = send_message
sqs_models.Message.visible = property(lambda self: time.time() * 1000 > self.visible_at)
sqs_models.Message.delayed = property(lambda self: time.time() * 1000 < self.delayed_until)

# Every request: moto's dispatcher, under one lock, lists its own package directory (os.listdir
# and an isdir per service) and tries every service's URL patterns to find the backend for the
# request's host. Neither changes while the server runs, so both are remembered.
from moto import backends as moto_backends  # noqa: E402
from moto.moto_server import werkzeug_app  # noqa: E402

_modules = tuple(moto_backends.list_of_moto_modules())
moto_backends.list_of_moto_modules = lambda: _modules
_backend_for_host = werkzeug_app.DomainDispatcherApplication.get_backend_for_host
_backends_by_host = {}


def get_backend_for_host(self, host):
    if host not in _backends_by_host:
        _backends_by_host[host] = _backend_for_host(self, host)
    return _backends_by_host[host]


werkzeug_app.DomainDispatcherApplication.get_backend_for_host = get_backend_for_host

if __name__ == "__main__":
    sys.exit(server.main())

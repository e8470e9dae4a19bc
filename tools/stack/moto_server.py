#!/usr/bin/env python3
"""moto server, with one emulator-only change: transactions snapshot the items they touch.

moto 5.2.5's TransactWriteItems deep-copies every table a transaction names, to roll back on
failure: each transaction costs time and memory in proportion to the whole table, so a load
run (20,000 webhook events, one transaction each) slows to a few events per second while moto
grows past 10 GB. This wrapper snapshots only the items the transaction's operations name,
restores exactly those when the transaction is cancelled, and otherwise runs moto's own code.
What DynamoDB guarantees (all or nothing, conditions checked) is unchanged; the e2e tests of
cancelled transactions run on it.
"""

import copy
import sys
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

if __name__ == "__main__":
    sys.exit(server.main())

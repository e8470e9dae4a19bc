#!/usr/bin/env python3
"""Unit tests of the meter's size and capacity rules (tools/stack/moto_server.py, the meter
section), with the examples of AWS's DynamoDB Developer Guide ("Item sizes and formats",
"Capacity unit consumption for read and write operations", "Transactions: capacity
management", "Provisioned throughput considerations for global secondary indexes").

    .venv/bin/python -m unittest tools/stack/test_meter.py
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import moto_server as meter  # noqa: E402  (patches moto's classes; starts no server)

KB = 1024


def s(n):
    """A string value of n bytes."""
    return {"S": "x" * n}


def item_of(size, pk="P", sk="S"):
    """An item of exactly `size` bytes: pk (2 + len), sk (2 + len), and `d` filling the rest."""
    fixed = 2 + len(pk) + 2 + len(sk) + 1
    assert size >= fixed
    return {"pk": {"S": pk}, "sk": {"S": sk}, "d": s(size - fixed)}


def state(size):
    return (size, {})


class ItemSize(unittest.TestCase):
    def test_strings_count_utf8_bytes_of_name_and_value(self):
        self.assertEqual(meter.item_size({"name": {"S": "abc"}}), 4 + 3)
        self.assertEqual(meter.item_size({"é": {"S": "日本"}}), 2 + 6)
        self.assertEqual(meter.item_size({"e": {"S": ""}}), 1)

    def test_numbers_one_byte_per_two_significant_digits_plus_one(self):
        self.assertEqual(meter.number_size("1"), 2)
        self.assertEqual(meter.number_size("12"), 2)
        self.assertEqual(meter.number_size("123"), 3)
        # Leading and trailing zeroes are trimmed.
        self.assertEqual(meter.number_size("1500"), 2)
        self.assertEqual(meter.number_size("0.0015"), 2)
        self.assertEqual(meter.number_size("-123.4500"), 4)
        self.assertEqual(meter.number_size("0"), 1)
        # Up to 38 significant digits: 20 bytes.
        self.assertEqual(meter.number_size("9" * 38), 20)

    def test_binary_counts_raw_bytes_not_base64(self):
        self.assertEqual(meter.item_size({"b": {"B": "AAECAwQ="}}), 1 + 5)  # 5 raw bytes
        self.assertEqual(meter.item_size({"b": {"B": b"\x00\x01\x02"}}), 1 + 3)

    def test_null_and_boolean_are_one_byte(self):
        self.assertEqual(meter.item_size({"t": {"BOOL": True}, "n": {"NULL": True}}), 2 + 2)

    def test_list_and_map_cost_3_bytes_and_1_per_element(self):
        self.assertEqual(meter.item_size({"l": {"L": []}}), 1 + 3)
        self.assertEqual(meter.item_size({"m": {"M": {}}}), 1 + 3)
        # l: 3 + ("ab" 2 + 1) + (true 1 + 1)
        self.assertEqual(meter.item_size({"l": {"L": [{"S": "ab"}, {"BOOL": True}]}}), 1 + 3 + 3 + 2)
        # m: 3 + (name "k" 1 + "v" 1 + 1); nested map inside a list
        self.assertEqual(meter.item_size({"m": {"M": {"k": {"S": "v"}}}}), 1 + 3 + 3)
        nested = {"l": {"L": [{"M": {"k": {"N": "12"}}}]}}
        self.assertEqual(meter.item_size(nested), 1 + 3 + (3 + (1 + 2 + 1)) + 1)

    def test_sets_are_the_sum_of_their_members(self):
        self.assertEqual(meter.item_size({"ss": {"SS": ["a", "bc"]}}), 2 + 3)
        self.assertEqual(meter.item_size({"ns": {"NS": ["1", "123"]}}), 2 + 2 + 3)
        self.assertEqual(meter.item_size({"bs": {"BS": ["AAE=", "AA=="]}}), 2 + 2 + 1)

    def test_the_helper_builds_exact_sizes(self):
        for size in (10, 500, 1024, 1025, 3584, 400 * KB):
            self.assertEqual(meter.item_size(item_of(size)), size)


class Reads(unittest.TestCase):
    def test_get_item_rounds_up_to_4_kb(self):
        # "If you read an item that is 3.5 KB, DynamoDB rounds the item size to 4 KB. If you read
        # an item of 10 KB, DynamoDB rounds the item size to 12 KB."
        self.assertEqual(meter.read_units(3584, True), 1)
        self.assertEqual(meter.read_units(10 * KB, True), 3)
        # Eventually consistent: half.
        self.assertEqual(meter.read_units(3584, False), 0.5)
        self.assertEqual(meter.read_units(10 * KB, False), 1.5)

    def test_an_item_that_does_not_exist_still_costs(self):
        self.assertEqual(meter.read_units(None, True), 1)
        self.assertEqual(meter.read_units(0, False), 0.5)

    def test_batch_get_rounds_each_item(self):
        # "if BatchGetItem reads a 1.5 KB item and a 6.5 KB item, DynamoDB calculates the size as
        # 12 KB (4 KB + 8 KB), not 8 KB"
        targets = [("get", "t", {}, True, False), ("get", "t", {}, True, False)]
        units = meter.charge("BatchGetItem", targets, [state(1536), state(6656)], [state(1536), state(6656)], "ok")
        self.assertEqual(units.totals(), (0, 3))

    def test_query_rounds_the_sum_of_the_items(self):
        # "suppose your query returns 10 items whose combined size is 40.8 KB. DynamoDB rounds the
        # item size for the operation to 44 KB. If a query returns 1500 items of 64 bytes each,
        # the cumulative size is 96 KB."
        units = meter.charge("Query", [], [], [], "ok", [("t", None, int(40.8 * KB), True)])
        self.assertEqual(units.totals(), (0, 11))
        units = meter.charge("Query", [], [], [], "ok", [("t", None, 1500 * 64, True)])
        self.assertEqual(units.totals(), (0, 24))
        # "For an eventually consistent read, if the total item size is 80 KB, the operation
        # consumes only 10 capacity units."
        units = meter.charge("Query", [], [], [], "ok", [("t", None, 80 * KB, False)])
        self.assertEqual(units.totals(), (0, 10))

    def test_an_empty_query_costs_the_minimum(self):
        self.assertEqual(meter.charge("Query", [], [], [], "ok", [("t", None, 0, False)]).totals(), (0, 0.5))
        self.assertEqual(meter.charge("Scan", [], [], [], "ok", [("t", None, 0, True)]).totals(), (0, 1))

    def test_an_index_query_is_charged_to_the_index(self):
        units = meter.charge("Query", [], [], [], "ok", [("t", "gsi1", 5000, False)])
        answer = units.consumed("t", "INDEXES")
        self.assertEqual(answer["CapacityUnits"], 1)
        self.assertEqual(answer["Table"]["CapacityUnits"], 0)
        self.assertEqual(answer["GlobalSecondaryIndexes"]["gsi1"]["ReadCapacityUnits"], 1)

    def test_transactional_reads_cost_two_units_per_4_kb(self):
        # "reads three 500-byte items ... six read capacity units"
        targets = [("get", "t", {}, True, True)] * 3
        units = meter.charge("TransactGetItems", targets, [state(500)] * 3, [state(500)] * 3, "ok")
        self.assertEqual(units.totals(), (0, 6))


class Writes(unittest.TestCase):
    def test_writes_round_up_to_1_kb_and_take_the_larger_size(self):
        # "if you put or delete an item of 1.6 KB, DynamoDB rounds the item size up to 2 KB"
        self.assertEqual(meter.write_units(int(1.6 * KB)), 2)
        self.assertEqual(meter.write_units(500), 1)
        self.assertEqual(meter.write_units(1024), 1)
        self.assertEqual(meter.write_units(1025), 2)
        # UpdateItem: "the larger of the before and after item sizes"
        self.assertEqual(meter.write_units(3000, 200), 3)
        self.assertEqual(meter.write_units(None, 200), 1)

    def test_put_update_delete_through_charge(self):
        put = [("put", "t", item_of(1500), False, False)]
        self.assertEqual(meter.charge("PutItem", put, [state(None)], [state(1500)], "ok").totals(), (2, 0))
        update = [("update", "t", {"pk": {"S": "P"}}, False, False)]
        self.assertEqual(meter.charge("UpdateItem", update, [state(2500)], [state(100)], "ok").totals(), (3, 0))
        delete = [("delete", "t", {"pk": {"S": "P"}}, False, False)]
        self.assertEqual(meter.charge("DeleteItem", delete, [state(4000)], [state(None)], "ok").totals(), (4, 0))
        # Deleting an item that is not there still costs one unit.
        self.assertEqual(meter.charge("DeleteItem", delete, [state(None)], [state(None)], "ok").totals(), (1, 0))

    def test_batch_write_rounds_each_item(self):
        # "if BatchWriteItem writes a 500 byte item and a 3.5 KB item, DynamoDB calculates the
        # size as 5 KB (1 KB + 4 KB), not 4 KB"
        targets = [("put", "t", item_of(500), False, False), ("put", "t", item_of(3584, sk="T"), False, False)]
        units = meter.charge("BatchWriteItem", targets, [state(None)] * 2, [state(500), state(3584)], "ok")
        self.assertEqual(units.totals(), (5, 0))

    def test_a_failed_conditional_write_still_costs(self):
        # "If the item does not exist, DynamoDB will consume one write capacity unit."
        self.assertEqual(meter.failed_write_units(None, 5000), 1)
        # "a failed conditional write of a 1 KB item would consume one write capacity unit; if the
        # item were twice that size, the failed conditional write would consume two"
        self.assertEqual(meter.failed_write_units(1024), 1)
        self.assertEqual(meter.failed_write_units(2048), 2)
        # The larger of the existing item and the one written.
        self.assertEqual(meter.failed_write_units(300, 2048), 2)
        update = [("update", "t", {"pk": {"S": "P"}}, False, False)]
        self.assertEqual(meter.charge("UpdateItem", update, [state(None)], [state(None)], "condition").totals(), (1, 0))
        self.assertEqual(meter.charge("UpdateItem", update, [state(1500)], [state(1500)], "condition").totals(), (2, 0))

    def test_throttled_and_invalid_requests_cost_nothing(self):
        put = [("put", "t", item_of(100), False, False)]
        for outcome in ("throttled", "error"):
            self.assertEqual(meter.charge("PutItem", put, [state(None)], [state(None)], outcome).totals(), (0, 0))


class Transactions(unittest.TestCase):
    def test_each_item_costs_two_units_per_kb(self):
        # "each transaction writes three 500-byte items ... six WCUs"
        targets = [("put", "t", item_of(500, sk=str(i)), True, True) for i in range(3)]
        units = meter.charge("TransactWriteItems", targets, [state(None)] * 3, [state(500)] * 3, "ok")
        self.assertEqual(units.totals(), (6, 0))
        targets = [("update", "t", {"pk": {"S": "P"}}, True, True)]
        units = meter.charge("TransactWriteItems", targets, [state(60 * KB)], [state(60 * KB + 30)], "ok")
        self.assertEqual(units.totals(), (122, 0))

    def test_a_condition_check_is_a_transactional_read(self):
        targets = [("check", "t", {"pk": {"S": "P"}}, True, True), ("put", "t", item_of(100), True, True)]
        units = meter.charge("TransactWriteItems", targets, [state(5000), state(None)], [state(5000), state(100)], "ok")
        self.assertEqual(units.totals(), (2, 4))

    def test_a_cancelled_transaction_costs_its_prepare_phase(self):
        targets = [("put", "t", item_of(100), True, True), ("update", "t", {"pk": {"S": "Q"}}, True, True),
                   ("check", "t", {"pk": {"S": "R"}}, True, True)]
        before = [state(None), state(1500), state(100)]
        units = meter.charge("TransactWriteItems", targets, before, before, "cancelled")
        self.assertEqual(units.totals(), (1 + 2, 1))

    def test_consumed_capacity_lists_every_table(self):
        units = meter._Units()
        units.add("t", None, wru=4)
        units.add("t", "gsi1", wru=1)
        answer = units.consumed("t", "INDEXES")
        self.assertEqual(answer, {"TableName": "t", "CapacityUnits": 5, "WriteCapacityUnits": 5,
                                  "Table": {"CapacityUnits": 4, "WriteCapacityUnits": 4},
                                  "GlobalSecondaryIndexes": {"gsi1": {"CapacityUnits": 1, "WriteCapacityUnits": 1}}})
        self.assertEqual(units.consumed("t", "TOTAL"), {"TableName": "t", "CapacityUnits": 5, "WriteCapacityUnits": 5})


class Indexes(unittest.TestCase):
    ALL = {"keys": ["g", "gs"], "projection": "ALL"}
    KEYS = {"keys": ["g", "gs"], "projection": "KEYS_ONLY"}
    INCLUDE = {"keys": ["g", "gs"], "projection": "INCLUDE", "include": ["a"]}
    TABLE_KEYS = ["pk", "sk"]

    def entry(self, index, attributes):
        return meter.index_entry(index, self.TABLE_KEYS, attributes)

    def base(self, **extra):
        return {"pk": {"S": "P"}, "sk": {"S": "S"}, "g": {"S": "G"}, "gs": {"S": "1"}, **extra}

    def test_an_item_without_the_index_key_is_not_in_the_index(self):
        self.assertIsNone(self.entry(self.ALL, {"pk": {"S": "P"}, "sk": {"S": "S"}, "g": {"S": "G"}}))
        self.assertEqual(meter.index_write_units(None, None), 0)

    def test_projections_decide_the_entry_size(self):
        item = self.base(a=s(100), b=s(2000))
        self.assertEqual(self.entry(self.ALL, item)[0], meter.item_size(item))
        self.assertEqual(self.entry(self.KEYS, item)[0], 3 + 3 + 2 + 3)
        self.assertEqual(self.entry(self.INCLUDE, item)[0], 3 + 3 + 2 + 3 + 101)

    def test_put_delete_key_change_and_projected_change(self):
        before = self.entry(self.ALL, self.base(a=s(10)))
        # A new entry: one write of its size; a removed one: one write.
        self.assertEqual(meter.index_write_units(None, before), 1)
        self.assertEqual(meter.index_write_units(before, None), 1)
        # The index key changes: a delete and a put.
        moved = self.entry(self.ALL, {**self.base(a=s(10)), "gs": {"S": "2"}})
        self.assertEqual(meter.index_write_units(before, moved), 2)
        # A projected attribute changes: one update (the larger size).
        changed = self.entry(self.ALL, self.base(a=s(1500)))
        self.assertEqual(meter.index_write_units(before, changed), 2)
        # An attribute the index does not project changes: nothing.
        keys_before = self.entry(self.KEYS, self.base(a=s(10)))
        keys_after = self.entry(self.KEYS, self.base(a=s(1500)))
        self.assertEqual(meter.index_write_units(keys_before, keys_after), 0)

    def test_charge_adds_index_units(self):
        before, after = self.entry(self.ALL, self.base()), self.entry(self.ALL, {**self.base(), "gs": {"S": "2"}})
        targets = [("update", "t", {"pk": {"S": "P"}, "sk": {"S": "S"}}, False, False)]
        units = meter.charge("UpdateItem", targets, [(13, {"gsi1": before})], [(13, {"gsi1": after})], "ok")
        self.assertEqual(units.totals(), (3, 0))
        self.assertEqual(units.consumed("t", "INDEXES")["GlobalSecondaryIndexes"]["gsi1"]["CapacityUnits"], 2)


class Kinds(unittest.TestCase):
    def test_kinds_keep_no_tenant_value(self):
        self.assertEqual(meter.item_kind("ANALYTICS#tenant-1#c0ffee", "DAY#2026-11-27"), ("ANALYTICS#", "DAY#*"))
        self.assertEqual(meter.item_kind("DATA#t#c", "INSTANCE#abc==#POINT#9f"), ("DATA#", "INSTANCE#*#POINT#*"))
        self.assertEqual(meter.item_kind("HOSTANALYTICS#t#c", "DAY#2026-11-27#HOST#KDcuGIm1QgePTO8WbOqwIQ"),
                         ("HOSTANALYTICS#", "DAY#*#HOST#*"))
        self.assertEqual(meter.item_kind("TENANT#acme", "CONNECTION"), ("TENANT#", "CONNECTION"))


if __name__ == "__main__":
    unittest.main()

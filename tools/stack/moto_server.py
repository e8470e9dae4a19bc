#!/usr/bin/env python3
"""moto server, with emulator-only changes where moto's cost grows with the data: transactions
snapshot the items they touch, DynamoDB requests are isolated from each other, a Query reads
only the items it can match, sending, receiving and deleting an SQS message no longer count or
walk the whole queue, and the request dispatcher remembers what it looked up. And one change
that makes it stricter, as AWS is: each function is allowed only what template.yaml grants it
(the IAM section at the end).

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

# IAM, locally: each function signs with its own access key id (its binary's name, from the
# per-function env file cargo lambda watch applies), and its requests are allowed exactly by
# the statements template.yaml grants it, as AWS would. tools/stack/provision.py registers the
# principals and their resolved statements with POST /_zoom/iam. A request signed by any other
# key (tests, the poller, provision.py, a user's CLI) is not checked. Every decision for a
# registered principal is appended to ZOOM_IAM_AUDIT_LOG (JSON lines) for check_iam.py.
# moto's own IAM mode does not fit: it checks DynamoDB against resource "*", authenticates
# every client and refuses presigned URLs.
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import urllib.parse  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from xml.etree import ElementTree  # noqa: E402
from xml.sax.saxutils import escape  # noqa: E402

from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.s3.responses import S3Response  # noqa: E402
from moto.s3.utils import bucket_name_from_url  # noqa: E402
from werkzeug.wrappers import Request  # noqa: E402

# principal -> statements; the ARNs of the created resources a test's own copy may stand in for.
_iam = {"principals": {}, "stand_ins": []}
_audit_lock = threading.Lock()
_CREDENTIAL = re.compile(r"Credential=([^/\s,]+)/\d{8}/([^/\s,]+)/([^/\s,]+)/aws4_request")
_STAND_IN_SUFFIX = re.compile(r"-[A-Za-z0-9_.-]+")
_patterns = {}


def _pattern(text, ignore_case):
    """An IAM Action/Resource pattern (`*` any run of characters, `?` one) as a regex."""
    key = (text, ignore_case)
    if key not in _patterns:
        body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
        _patterns[key] = re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))
    return _patterns[key]


def _evaluate(statements, action, resource):
    """(allowed, [[action pattern, resource pattern] of every Allow that matches])."""
    allows, denied = [], False
    for statement in statements:
        for action_pattern in statement["Action"]:
            if not _pattern(action_pattern, True).fullmatch(action):
                continue
            for resource_pattern in statement["Resource"]:
                if _pattern(resource_pattern, False).fullmatch(resource):
                    if statement.get("Effect") == "Deny":
                        denied = True
                    else:
                        allows.append([action_pattern, resource_pattern])
    return bool(allows) and not denied, allows


def _as_template_resource(resource):
    """A test's own resource named `<created resource's name>-<suffix>` (its own events queue,
    say) is checked as the resource it stands in for; any other resource as itself."""
    for base in _iam["stand_ins"]:
        if resource == base or resource.startswith(base + "/"):
            return resource
    for base in _iam["stand_ins"]:
        if resource.startswith(base + "-"):
            rest = resource[len(base):]
            suffix = _STAND_IN_SUFFIX.match(rest)
            if suffix and (suffix.end() == len(rest) or rest[suffix.end()] == "/"):
                return base + rest[suffix.end():]
    return resource


def _credential(environ):
    """(access key id, region, service) of a SigV4 request or presigned URL, else None."""
    found = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if found:
        return found.groups()
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    parts = query.get("X-Amz-Credential", [""])[0].split("/")
    if len(parts) == 5:
        return parts[0], parts[2], parts[3]
    # S3's older signature (header `AWS key:signature`, or a presigned URL's AWSAccessKeyId).
    legacy = environ.get("HTTP_AUTHORIZATION", "")
    key = legacy[4:].partition(":")[0] if legacy.startswith("AWS ") else query.get("AWSAccessKeyId", [""])[0]
    return (key, "us-east-1", "s3") if key else None


def _body(environ):
    """The request body, read once; moto reads the same bytes after us."""
    if "zoom.body" not in environ:
        stream, length = environ["wsgi.input"], environ.get("CONTENT_LENGTH")
        data = stream.read(int(length)) if length else stream.read() if environ.get("wsgi.input_terminated") else b""
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        environ["zoom.body"] = data
    return environ["zoom.body"]


def _set_body(environ, data):
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    environ["zoom.body"] = data


def _dynamodb_checks(environ, region, operation):
    try:
        body = json.loads(_body(environ) or b"{}")
    except ValueError:
        return [(f"dynamodb:{operation}", "*")]

    def table(name):
        return name if name.startswith("arn:") else f"arn:aws:dynamodb:{region}:{DEFAULT_ACCOUNT_ID}:table/{name}"

    if operation == "TransactWriteItems":
        # Each item needs its own action on its table (AWS: "Using IAM with DynamoDB transactions").
        per_item = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
        return [(f"dynamodb:{per_item[kind]}", table(op.get("TableName", "")))
                for entry in body.get("TransactItems", []) for kind, op in entry.items() if kind in per_item]
    if operation == "TransactGetItems":
        return [("dynamodb:GetItem", table(entry["Get"].get("TableName", "")))
                for entry in body.get("TransactItems", []) if "Get" in entry]
    if operation in ("BatchWriteItem", "BatchGetItem"):
        return [(f"dynamodb:{operation}", table(name)) for name in body.get("RequestItems", {})]
    if "TableName" in body:
        resource = table(body["TableName"])
        if operation in ("Query", "Scan") and body.get("IndexName"):
            resource += f"/index/{body['IndexName']}"
        return [(f"dynamodb:{operation}", resource)]
    return [(f"dynamodb:{operation}", body.get("ResourceArn") or body.get("StreamArn") or "*")]


# SQS actions authorised by another action's name (AWS: the batch forms).
_SQS_AS = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
           "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}


def _sqs_checks(environ, region, operation, params):
    action = f"sqs:{_SQS_AS.get(operation, operation)}"
    url = params.get("QueueUrl") or environ.get("PATH_INFO", "")
    parts = [p for p in urllib.parse.urlsplit(url).path.split("/") if p]
    if len(parts) >= 2:
        return [(action, f"arn:aws:sqs:{region}:{parts[-2]}:{parts[-1]}")]
    if params.get("QueueName"):
        account = params.get("QueueOwnerAWSAccountId") or DEFAULT_ACCOUNT_ID
        return [(action, f"arn:aws:sqs:{region}:{account}:{params['QueueName']}")]
    return [(action, params.get("SourceArn") or "*")]


# Bucket subresource -> the action of GET (and HEAD), PUT, DELETE on it.
_S3_BUCKET = {
    "acl": ("GetBucketAcl", "PutBucketAcl", None),
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    "policyStatus": ("GetBucketPolicyStatus", None, None),
    "encryption": ("GetEncryptionConfiguration", "PutEncryptionConfiguration", "PutEncryptionConfiguration"),
    "publicAccessBlock": ("GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock", "PutBucketPublicAccessBlock"),
    "ownershipControls": ("GetBucketOwnershipControls", "PutBucketOwnershipControls", "PutBucketOwnershipControls"),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "PutBucketTagging"),
    "cors": ("GetBucketCORS", "PutBucketCORS", "PutBucketCORS"),
    "lifecycle": ("GetLifecycleConfiguration", "PutLifecycleConfiguration", "PutLifecycleConfiguration"),
    "location": ("GetBucketLocation", None, None),
    "notification": ("GetBucketNotification", "PutBucketNotification", None),
    "website": ("GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite"),
    "logging": ("GetBucketLogging", "PutBucketLogging", None),
    "object-lock": ("GetBucketObjectLockConfiguration", "PutBucketObjectLockConfiguration", None),
    "replication": ("GetReplicationConfiguration", "PutReplicationConfiguration", "PutReplicationConfiguration"),
    "accelerate": ("GetAccelerateConfiguration", "PutAccelerateConfiguration", None),
    "requestPayment": ("GetBucketRequestPayment", "PutBucketRequestPayment", None),
    "versions": ("ListBucketVersions", None, None),
    "uploads": ("ListBucketMultipartUploads", None, None),
}
# Object subresource -> (action, action with versionId) of GET (and HEAD), PUT, DELETE on it.
_S3_OBJECT = {
    "acl": (("GetObjectAcl", "GetObjectVersionAcl"), ("PutObjectAcl", "PutObjectVersionAcl"), None),
    "tagging": (("GetObjectTagging", "GetObjectVersionTagging"), ("PutObjectTagging", "PutObjectVersionTagging"),
                ("DeleteObjectTagging", "DeleteObjectVersionTagging")),
    "attributes": (("GetObjectAttributes", "GetObjectVersionAttributes"), None, None),
    "retention": (("GetObjectRetention", "GetObjectRetention"), ("PutObjectRetention", "PutObjectRetention"), None),
    "legal-hold": (("GetObjectLegalHold", "GetObjectLegalHold"), ("PutObjectLegalHold", "PutObjectLegalHold"), None),
    "torrent": (("GetObjectTorrent", "GetObjectVersionTorrent"), None, None),
}
_S3_METHOD = {"GET": 0, "HEAD": 0, "PUT": 1, "DELETE": 2}


def _s3_target(environ):
    """(bucket, key) as moto reads them: virtual-host or path style."""
    path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
    request = Request(environ)
    if S3Response.subdomain_based_buckets(request):
        return bucket_name_from_url(request.url), path[1:]
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket or None, key


def _s3_checks(environ):
    """[(action, resource)] of an S3 request; DeleteObjects is checked per key elsewhere."""
    method = environ.get("REQUEST_METHOD", "GET")
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    sub = {k for k in query if not k.lower().startswith("x-amz-")}
    bucket, key = _s3_target(environ)
    if not bucket:
        return [("s3:ListAllMyBuckets", "*")]
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if not key:
        for name in sorted(sub):
            if name in _S3_BUCKET and method in _S3_METHOD and _S3_BUCKET[name][_S3_METHOD[method]]:
                return [(f"s3:{_S3_BUCKET[name][_S3_METHOD[method]]}", bucket_arn)]
        default = {"GET": "ListBucket", "HEAD": "ListBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}
        if method in default:
            return [(f"s3:{default[method]}", bucket_arn)]
        return [("s3:PutObject", f"{bucket_arn}/*")]  # a browser-form POST: any key
    object_arn = f"{bucket_arn}/{key}"
    versioned = 1 if "versionId" in query else 0
    if method == "POST":
        if "restore" in sub:
            return [("s3:RestoreObject", object_arn)]
        if "select" in sub:
            return [("s3:GetObject", object_arn)]
        return [("s3:PutObject", object_arn)]  # CreateMultipartUpload, CompleteMultipartUpload
    if "uploadId" in sub:
        if method == "DELETE":
            return [("s3:AbortMultipartUpload", object_arn)]
        if method in ("GET", "HEAD"):
            return [("s3:ListMultipartUploadParts", object_arn)]
    for name in sorted(sub):
        if name in _S3_OBJECT and method in _S3_METHOD and _S3_OBJECT[name][_S3_METHOD[method]]:
            return [(f"s3:{_S3_OBJECT[name][_S3_METHOD[method]][versioned]}", object_arn)]
    if method in ("GET", "HEAD"):
        return [(("s3:GetObject", "s3:GetObjectVersion")[versioned], object_arn)]
    if method == "DELETE":
        return [(("s3:DeleteObject", "s3:DeleteObjectVersion")[versioned], object_arn)]
    checks = [("s3:PutObject", object_arn)]  # PutObject, UploadPart, CopyObject's target
    source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
    if source:
        source, _, version = urllib.parse.unquote(source).lstrip("/").partition("?versionId=")
        checks.append((("s3:GetObject", "s3:GetObjectVersion")[bool(version)], f"arn:aws:s3:::{source}"))
    return checks


def _dechunk(data):
    """The payload of an aws-chunked body (`size;chunk-signature=…\r\n data \r\n … 0\r\n`)."""
    out, at = bytearray(), 0
    while at < len(data):
        end = data.index(b"\r\n", at)
        size = int(data[at:end].split(b";")[0], 16)
        if size == 0:
            break
        out += data[end + 2:end + 2 + size]
        at = end + 2 + size + 2
    return bytes(out)


def _audit(principal, operation, action, resource, checked_as, allowed, grants):
    path = os.environ.get("ZOOM_IAM_AUDIT_LOG")
    if not path:
        return
    entry = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "principal": principal,
             "operation": operation, "action": action, "resource": resource, "allowed": allowed, "grants": grants}
    if checked_as != resource:
        entry["as"] = checked_as
    line = json.dumps(entry) + "\n"
    with _audit_lock, open(path, "a", encoding="utf-8") as handle:
        handle.write(line)


def _decide(principal, operation, checks):
    """Evaluates and audits every check; returns the first denied (action, resource) or None."""
    statements = _iam["principals"][principal]["statements"]
    denied = None
    for action, resource in dict.fromkeys(checks):
        checked_as = _as_template_resource(resource)
        allowed, grants = _evaluate(statements, action, checked_as)
        _audit(principal, operation, action, resource, checked_as, allowed, grants)
        if not allowed and denied is None:
            denied = (action, resource)
    return denied


def _respond(start_response, status, headers, body):
    start_response(status, headers + [("Content-Length", str(len(body)))])
    return [body]


def _access_denied(start_response, environ, protocol, principal, action, resource):
    """The answer AWS gives for an implicit deny, in the request's protocol."""
    request_id = str(uuid.uuid4())
    message = (f"User: arn:aws:sts::{DEFAULT_ACCOUNT_ID}:assumed-role/{principal}/{principal} is not authorized to "
               f"perform: {action} on resource: {resource} because no identity-based policy allows the {action} action")
    if protocol in ("json", "sqs-json"):
        body = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException", "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", request_id)]
        if protocol == "sqs-json":  # the query-compatible code the SDKs read
            headers.append(("x-amzn-query-error", "AccessDenied;Sender"))
        return _respond(start_response, "400 Bad Request", headers, body)
    if protocol == "sqs-query":
        body = ('<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error>'
                f"<Type>Sender</Type><Code>AccessDenied</Code><Message>{escape(message)}</Message><Detail/></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        return _respond(start_response, "403 Forbidden", [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body)
    body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId>"
        f"<HostId>{request_id}</HostId></Error>").encode()
    return _respond(start_response, "403 Forbidden", [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body)


def _delete_objects(app, environ, start_response, principal, bucket):
    """DeleteObjects as AWS does it: each key needs s3:DeleteObject (s3:DeleteObjectVersion with
    a version id); a denied key is reported in the answer's Errors, the others are deleted."""
    data = _body(environ)
    chunked = environ.get("HTTP_X_AMZ_CONTENT_SHA256", "").startswith("STREAMING-") \
        or "aws-chunked" in environ.get("HTTP_CONTENT_ENCODING", "")
    try:
        root = ElementTree.fromstring(_dechunk(data) if chunked else data)
    except (ValueError, ElementTree.ParseError):  # unreadable: checked as a delete of any key
        if _decide(principal, "DeleteObjects", [("s3:DeleteObject", f"arn:aws:s3:::{bucket}/*")]):
            return _access_denied(start_response, environ, "s3", principal, "s3:DeleteObject", f"arn:aws:s3:::{bucket}/*")
        return _dispatch(app, environ, start_response)
    namespace = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    denied = []
    for element in list(root.findall(f"{namespace}Object")):
        key = element.findtext(f"{namespace}Key", "")
        version = element.findtext(f"{namespace}VersionId")
        action = "s3:DeleteObjectVersion" if version else "s3:DeleteObject"
        if _decide(principal, "DeleteObjects", [(action, f"arn:aws:s3:::{bucket}/{key}")]):
            root.remove(element)
            denied.append((key, version))
    if not denied:
        return _dispatch(app, environ, start_response)
    errors = "".join(f"<Error><Key>{escape(key)}</Key>" + (f"<VersionId>{escape(version)}</VersionId>" if version else "")
                     + "<Code>AccessDenied</Code><Message>Access Denied</Message></Error>" for key, version in denied)
    if root.find(f"{namespace}Object") is None:
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"{errors}</DeleteResult>").encode()
        return _respond(start_response, "200 OK", [("Content-Type", "application/xml")], body)
    # The allowed keys go to moto as a plain body; the denied ones join its answer's errors.
    if namespace:  # serialised with the namespace as the default one, as the SDK sent it
        ElementTree.register_namespace("", namespace[1:-1])
    _set_body(environ, ElementTree.tostring(root))
    for name in [k for k in environ if k.startswith("HTTP_X_AMZ_CHECKSUM") or k in (
            "HTTP_CONTENT_MD5", "HTTP_X_AMZ_SDK_CHECKSUM_ALGORITHM", "HTTP_X_AMZ_DECODED_CONTENT_LENGTH",
            "HTTP_X_AMZ_TRAILER")]:
        del environ[name]
    if chunked:
        environ["HTTP_X_AMZ_CONTENT_SHA256"] = "UNSIGNED-PAYLOAD"
        environ.pop("HTTP_CONTENT_ENCODING", None)
    answer = {}

    def capture(status, headers, exc_info=None):
        answer.update(status=status, headers=headers)
        return answer.setdefault("written", []).append

    chunks = _dispatch(app, environ, capture)
    try:
        body = b"".join(answer.get("written", [])) + b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    body = body.replace(b"</DeleteResult>", errors.encode() + b"</DeleteResult>", 1)
    headers = [(k, v) for k, v in answer["headers"] if k.lower() != "content-length"]
    return _respond(start_response, answer["status"], headers, body)


def _classify(environ, region, service, target, operation):
    """(protocol, operation, [(action, resource)]) of a request; a DeleteObjects is
    ("delete-objects", bucket, None): it is checked per key."""
    if service == "dynamodb":
        return "json", operation, _dynamodb_checks(environ, region, operation)
    if service == "sqs" and target.startswith("AmazonSQS."):
        params = json.loads(_body(environ) or b"{}")
        return "sqs-json", operation, _sqs_checks(environ, region, operation, params)
    if service == "sqs":
        form = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        form.update(urllib.parse.parse_qs(_body(environ).decode("utf-8", "replace")))
        params = {k: v[0] for k, v in form.items()}
        operation = params.get("Action", "")
        return "sqs-query", operation, _sqs_checks(environ, region, operation, params)
    if service == "s3":
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        bucket, key = _s3_target(environ)
        if environ.get("REQUEST_METHOD") == "POST" and "delete" in query and bucket and not key:
            return "delete-objects", bucket, None
        return "s3", environ.get("REQUEST_METHOD", ""), _s3_checks(environ)
    return "json", operation, [(f"{service}:{operation or '*'}", "*")]


def _enforced(app, environ, start_response, principal, region, service):
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    operation = target.rpartition(".")[2]
    try:
        protocol, operation, checks = _classify(environ, region, service, target, operation)
    except Exception:  # a request we cannot read is not let through: it is checked against "*"
        protocol = {"dynamodb": "json", "s3": "s3"}.get(service, "sqs-json" if target else "sqs-query")
        checks = [(f"{service}:{operation or '*'}", "*")]
    if protocol == "delete-objects":
        return _delete_objects(app, environ, start_response, principal, operation)
    denied = _decide(principal, operation, checks)
    if denied:
        return _access_denied(start_response, environ, protocol, principal, *denied)
    return _dispatch(app, environ, start_response)


def _admin(environ, start_response):
    """GET or POST /_zoom/iam: the registered principals (a POST replaces them all)."""
    if environ.get("REQUEST_METHOD") == "POST":
        given = json.loads(_body(environ) or b"{}")
        principals = {name: {"statements": p["statements"]} for name, p in given.get("principals", {}).items()}
        stand_ins = sorted(given.get("stand_ins", []), key=len, reverse=True)
        _iam.update(principals=principals, stand_ins=stand_ins)
    body = json.dumps(_iam).encode()
    return _respond(start_response, "200 OK", [("Content-Type", "application/json")], body)


_dispatch = werkzeug_app.DomainDispatcherApplication.__call__


def dispatch(self, environ, start_response):
    if environ.get("PATH_INFO") == "/_zoom/iam":
        return _admin(environ, start_response)
    if _iam["principals"]:
        credential = _credential(environ)
        if credential and credential[0] in _iam["principals"]:
            return _enforced(self, environ, start_response, *credential)
    return _dispatch(self, environ, start_response)


werkzeug_app.DomainDispatcherApplication.__call__ = dispatch

if __name__ == "__main__":
    sys.exit(server.main())

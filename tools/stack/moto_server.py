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

# The meter: what each request would cost in AWS (issue #14). moto 5.2.5 answers
# ReturnConsumedCapacity with a constant, so the emulator meters itself. Every AWS request is
# counted per principal (the SigV4 access key id: each function signs with its own, see the
# IAM section), per service and per operation; each DynamoDB request is charged the capacity
# units DynamoDB would charge, computed with AWS's published rules (Developer Guide: "Item sizes
# and formats", "Capacity unit consumption for read/write operations", "Transactions: capacity
# management", "Provisioned throughput considerations for global secondary indexes") from the
# item states in moto's backend before and after the request. A DynamoDB request runs whole
# under the DynamoDB lock above, so those states are exact. A request that asked for
# ReturnConsumedCapacity TOTAL or INDEXES gets these units in its answer instead of moto's.
#
#   GET  /_zoom/meter                 {since, by_principal: {p: {service: {op: {requests, wru,
#                                      rru, errors, …}}}}, by_table, by_queue, totals}
#   POST /_zoom/meter/reset           starts counting anew
#   GET  /_zoom/meter/items?table=T[&pk_contains=X]  the table's items (those whose partition
#                                      key contains X) by size, walked once: {items,
#                                      max_item_bytes, max_item_key, by_kind}
#   GET|POST /_zoom/faults            {"transaction_conflict_every": N, "key_prefix": "P"}: every
#                                      Nth TransactWriteItems writing an item whose partition
#                                      key starts with P is cancelled as DynamoDB cancels one on
#                                      contention (TransactionConflict, nothing applied);
#                                      {"throttle_every": N, "key_prefix": "P"}: every Nth write
#                                      of such an item (single or in a transaction) is throttled;
#                                      {"invalid_every": N, "key_prefix": "P"}: every Nth such
#                                      write (single or a transaction naming such an item) is
#                                      refused with ValidationException, as DynamoDB refuses a
#                                      request it finds malformed (nothing applied);
#                                      {"throttle_next": N, "key_prefix": "P",
#                                      "expression_contains": "S"}: the next N single writes
#                                      (PutItem, UpdateItem, DeleteItem) of such an item whose
#                                      UpdateExpression contains S (any, when S is absent) are
#                                      throttled: a storage outage aimed at one kind of write;
#                                      N = 0 turns a knob off.
#
# Rules where AWS publishes none, chosen and kept in one place: a cancelled transaction is
# charged its prepare phase (one underlying write per write item, as a failed conditional write
# would be; a ConditionCheck one strongly consistent read); a throttled request is charged
# nothing; a ConditionCheck item of a successful transaction is charged as a transactional
# read (2 RRU per 4 KB; one third-party measurement says AWS bills it as 2 WRU); index writes
# caused by a transaction are charged once (the index is maintained asynchronously), not twice.
import base64  # noqa: E402
import binascii  # noqa: E402
import math  # noqa: E402

from moto.dynamodb.exceptions import DynamodbException, ERROR_TYPE_PREFIX  # noqa: E402
from moto.dynamodb.exceptions import TransactionCanceledException  # noqa: E402

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
# The messages DynamoDB gives (API reference, TransactionCanceledException and errors).
CONFLICT_MESSAGE = "Transaction is ongoing for the item"
INVALID_MESSAGE = "One or more parameter values were invalid: injected by POST /_zoom/faults"
THROTTLE_MESSAGE = ("Throughput exceeds the current capacity of your table or index. DynamoDB is automatically "
                    "scaling your table or index so please try again shortly. If exceptions persist, check if you "
                    "have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
                    "bp-partition-key-design.html.")


def _value_parts(value):
    """(type, raw value) of an attribute value: moto's DynamoType or DynamoDB JSON."""
    if isinstance(value, DynamoType):
        return value.type, value.value
    (kind, raw), = value.items()
    return kind, raw


def number_size(text):
    """Bytes of a number: 1 per two significant digits (leading and trailing zeroes trimmed), + 1."""
    mantissa = str(text).strip().lstrip("+-").lower().partition("e")[0]
    digits = mantissa.replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def _binary_size(raw):
    if isinstance(raw, (bytes, bytearray)):
        return len(raw)
    try:
        return len(base64.b64decode(raw, validate=False))
    except (ValueError, binascii.Error):
        return len(str(raw).encode("utf-8"))


def value_size(value):
    """Bytes of an attribute value, without its name (DynamoDB's item size rules)."""
    kind, raw = _value_parts(value)
    if kind == "S":
        return len(raw.encode("utf-8"))
    if kind == "N":
        return number_size(raw)
    if kind == "B":
        return _binary_size(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode("utf-8")) for v in raw)
    if kind == "NS":
        return sum(number_size(v) for v in raw)
    if kind == "BS":
        return sum(_binary_size(v) for v in raw)
    if kind == "L":  # 3 bytes, and 1 more per element
        return 3 + sum(value_size(v) + 1 for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + value_size(v) + 1 for k, v in raw.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(attributes):
    """Bytes of an item: its attribute names (UTF-8) and values."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in attributes.items())


def write_units(*sizes):
    """WRU of one write: the larger of the sizes given (before, after), per started KB, at least 1."""
    largest = max([s for s in sizes if s is not None] or [0])
    return max(1, math.ceil(largest / WRITE_UNIT_BYTES))


def failed_write_units(existing, new=None):
    """WRU of a conditional write whose condition failed: the item's size (the larger of the
    existing item and the one written) when it exists, else 1."""
    return 1 if existing is None else write_units(existing, new)


def read_units(size, consistent):
    """RRU of reading `size` bytes at once (an item, or the items a Query or Scan evaluated): per
    started 4 KB, at least one unit; half of that when eventually consistent."""
    units = max(1, math.ceil((size or 0) / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def _canonical(value):
    kind, raw = _value_parts(value)
    if kind == "L":
        return kind, tuple(_canonical(v) for v in raw)
    if kind == "M":
        return kind, tuple(sorted((k, _canonical(v)) for k, v in raw.items()))
    if kind in ("SS", "NS", "BS"):
        return kind, tuple(sorted(str(v) for v in raw))
    return kind, str(raw)


def index_entry(index, table_keys, attributes):
    """(size, index key, fingerprint) of an item's entry in a global secondary index, or None when
    the item is not in it. `index`: {"keys": [names], "projection": ALL|KEYS_ONLY|INCLUDE,
    "include": [names]}; `table_keys`: the table's key attribute names."""
    if attributes is None or any(k not in attributes for k in index["keys"]):
        return None
    if index["projection"] == "ALL":
        projected = attributes
    else:
        names = list(table_keys) + list(index["keys"])
        if index["projection"] == "INCLUDE":
            names += list(index.get("include") or [])
        projected = {n: attributes[n] for n in dict.fromkeys(names) if n in attributes}
    key = tuple(_canonical(attributes[k]) for k in index["keys"])
    fingerprint = hash(tuple(sorted((n, _canonical(v)) for n, v in projected.items())))
    return item_size(projected), key, fingerprint


def index_write_units(before, after):
    """WRU an item write costs a global secondary index, from the item's entries before and after
    (index_entry): a new entry is a put, a removed one a delete, a changed index key both, a
    changed projected attribute an update; no entry before or after, or no change, costs nothing."""
    if before is None and after is None:
        return 0
    if before is None:
        return write_units(after[0])
    if after is None:
        return write_units(before[0])
    if before[1] != after[1]:
        return write_units(before[0]) + write_units(after[0])
    if before[2] != after[2]:
        return write_units(before[0], after[0])
    return 0


def _indexes(table):
    """The table's global secondary indexes as index_entry takes them."""
    out = {}
    for index in table.global_indexes or []:
        projection = getattr(index, "projection", None) or {}
        out[index.name] = {"keys": [k["AttributeName"] for k in index.schema],
                           "projection": projection.get("ProjectionType", "ALL"),
                           "include": projection.get("NonKeyAttributes") or []}
    return out


def _table_keys(table):
    return [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])


class _State:
    """What the meter keeps of an item at one moment: its size and its index entries."""

    __slots__ = ("size", "entries")

    def __init__(self, table, item):
        attributes = item.attrs if item is not None else None
        self.size = item_size(attributes) if attributes is not None else None
        keys = _table_keys(table)
        self.entries = {name: index_entry(spec, keys, attributes) for name, spec in _indexes(table).items()}


def _table_name(name):
    return name.rpartition("table/")[2] if isinstance(name, str) and name.startswith("arn:") else name


def _targets(operation, body):
    """(kind, table, key or item, consistent, transactional) of every item a request names."""
    out = []
    if operation in ("PutItem", "UpdateItem", "DeleteItem", "GetItem"):
        kind = {"PutItem": "put", "UpdateItem": "update", "DeleteItem": "delete", "GetItem": "get"}[operation]
        raw = body.get("Item") if kind == "put" else body.get("Key")
        out.append((kind, body.get("TableName"), raw, bool(body.get("ConsistentRead")), False))
    elif operation == "BatchWriteItem":
        for table, requests in (body.get("RequestItems") or {}).items():
            for request in requests:
                if "PutRequest" in request:
                    out.append(("put", table, request["PutRequest"].get("Item"), False, False))
                elif "DeleteRequest" in request:
                    out.append(("delete", table, request["DeleteRequest"].get("Key"), False, False))
    elif operation == "BatchGetItem":
        for table, request in (body.get("RequestItems") or {}).items():
            for key in request.get("Keys", []):
                out.append(("get", table, key, bool(request.get("ConsistentRead")), False))
    elif operation == "TransactWriteItems":
        kinds = {"Put": "put", "Update": "update", "Delete": "delete", "ConditionCheck": "check"}
        for entry in body.get("TransactItems") or []:
            for name, op in entry.items():
                if name in kinds and isinstance(op, dict):
                    raw = op.get("Item") if name == "Put" else op.get("Key")
                    out.append((kinds[name], op.get("TableName"), raw, True, True))
    elif operation == "TransactGetItems":
        for entry in body.get("TransactItems") or []:
            op = entry.get("Get") or {}
            out.append(("get", op.get("TableName"), op.get("Key"), True, True))
    return [(k, _table_name(t), raw, c, x) for k, t, raw, c, x in out if isinstance(raw, dict)]


class _Units:
    """Capacity units of one request, per table and index."""

    def __init__(self):
        self.tables = {}

    def add(self, table, index, wru=0.0, rru=0.0):
        entry = self.tables.setdefault(table, {"wru": 0.0, "rru": 0.0, "indexes": {}})
        target = entry if index is None else entry["indexes"].setdefault(index, {"wru": 0.0, "rru": 0.0})
        target["wru"] += wru
        target["rru"] += rru

    def totals(self):
        wru = rru = 0.0
        for entry in self.tables.values():
            wru += entry["wru"] + sum(i["wru"] for i in entry["indexes"].values())
            rru += entry["rru"] + sum(i["rru"] for i in entry["indexes"].values())
        return wru, rru

    def consumed(self, table, detail):
        """A ConsumedCapacity object for `table`, as DynamoDB answers it (TOTAL or INDEXES)."""
        entry = self.tables.get(table, {"wru": 0.0, "rru": 0.0, "indexes": {}})

        def units(part):
            out = {"CapacityUnits": part["wru"] + part["rru"]}
            if part["rru"]:
                out["ReadCapacityUnits"] = part["rru"]
            if part["wru"]:
                out["WriteCapacityUnits"] = part["wru"]
            return out

        total = {"wru": entry["wru"] + sum(i["wru"] for i in entry["indexes"].values()),
                 "rru": entry["rru"] + sum(i["rru"] for i in entry["indexes"].values())}
        answer = {"TableName": table, **units(total)}
        if detail == "INDEXES":
            answer["Table"] = units(entry)
            if entry["indexes"]:
                answer["GlobalSecondaryIndexes"] = {n: units(i) for n, i in entry["indexes"].items()}
        return answer


def charge(operation, targets, before, after, outcome, reads=()):
    """The capacity units of a DynamoDB request.

    `targets`: _targets(); `before`/`after`: per target index, (size, {index: entry}) of its item
    (size None: no item); `outcome`: "ok", "condition" (a failed conditional write), "cancelled"
    (a cancelled transaction), "throttled" or "error"; `reads`: (table, index, bytes, consistent)
    of every Query or Scan page evaluated.
    """
    units = _Units()
    if outcome in ("throttled", "error"):
        return units
    for i, (kind, table, raw, consistent, transactional) in enumerate(targets):
        size_before, entries_before = before[i]
        size_after, entries_after = after[i]
        written = item_size(raw) if kind == "put" else None
        if outcome == "condition":
            if kind != "get":
                units.add(table, None, wru=failed_write_units(size_before, written))
            continue
        if outcome == "cancelled":
            if kind == "check":
                units.add(table, None, rru=read_units(size_before, True))
            elif kind != "get":
                units.add(table, None, wru=failed_write_units(size_before, written))
            continue
        factor = 2 if transactional else 1
        if kind == "get":
            units.add(table, None, rru=factor * read_units(size_before, consistent or transactional))
        elif kind == "check":
            units.add(table, None, rru=2 * read_units(size_before, True))
        else:
            units.add(table, None, wru=factor * write_units(size_before, size_after))
            for name in entries_before:
                extra = index_write_units(entries_before[name], entries_after.get(name))
                if extra:
                    units.add(table, name, wru=extra)
    if outcome == "ok":
        for table, index, size, consistent in reads:
            units.add(table, index, rru=read_units(size, consistent))
    return units


class _Request:
    """The DynamoDB request being served on this thread."""

    def __init__(self, operation, body):
        self.operation, self.body = operation, body
        self.targets = _targets(operation, body)
        self.backend = None
        self.before = []
        self.reads = []
        self.fault = False

    def states(self):
        out = []
        for _, name, raw, _, _ in self.targets:
            table = self.backend.tables.get(name) if self.backend is not None else None
            if table is None:
                out.append((None, {}))
                continue
            try:
                state = _State(table, _stored(table, _key_of(table, raw)))
            except (KeyError, TypeError, AttributeError, ValueError):
                out.append((None, {}))
                continue
            out.append((state.size, state.entries))
        return out

    def begin(self, backend):
        self.backend = backend
        _backends[id(backend)] = backend
        self.before = self.states()
        _faults.inject(self)


_serving = threading.local()
_backends = {}


def _request():
    return getattr(_serving, "request", None)


def _metering(method):
    """Backend methods: the first call of a request snapshots its items (and may inject a fault)."""
    @functools.wraps(method)
    def metered(self, *args, **kwargs):
        request = _request()
        if request is not None and request.backend is None:
            request.begin(self)
        return method(self, *args, **kwargs)

    return metered


for _name in ("get_item", "put_item", "update_item", "delete_item", "query", "scan",
              "transact_write_items", "transact_get_items", "batch_get_item", "batch_write_item", "get_table"):
    if hasattr(models.DynamoDBBackend, _name):
        setattr(models.DynamoDBBackend, _name, _metering(getattr(models.DynamoDBBackend, _name)))

# Query and Scan: the items evaluated (before the filter, whole items; an index's projection),
# which is what DynamoDB charges; the filter and the projection are applied here after moto's
# own code has read them, exactly as moto applies them.
_scan_parameters = inspect.signature(Table.scan)


def _evaluated(method, parameters, filter_name, projection_name):
    @functools.wraps(method)
    def read(self, *args, **kwargs):
        request = _request()
        if request is None:
            return method(self, *args, **kwargs)
        bound = parameters.bind(self, *args, **kwargs)
        given = bound.arguments
        condition, projection = given.get(filter_name), given.get(projection_name)
        given[filter_name], given[projection_name] = None, None
        results, scanned, last = method(*bound.args, **bound.kwargs)
        request.reads.append((self.name, given.get("index_name"), sum(item_size(r.attrs) for r in results),
                              bool(given.get("consistent_read"))))
        if condition is not None:
            results = [r for r in results if condition.expr(r)]
        if projection:
            results = [r.project(projection) for r in results]
        return results, scanned, last

    return read


Table.query = _evaluated(Table.query, _query_parameters, "filter_expression", "projection_expressions")
Table.scan = _evaluated(Table.scan, _scan_parameters, "filter_expression", "projection_expression")


class _Faults:
    """The fault knobs of POST /_zoom/faults."""

    def __init__(self):
        self.lock = threading.Lock()
        self.settings = {"transaction_conflict_every": 0, "transaction_conflict_prefix": "",
                         "throttle_every": 0, "throttle_prefix": "",
                         "throttle_error": "ProvisionedThroughputExceededException",
                         "invalid_every": 0, "invalid_prefix": "",
                         "throttle_next": 0, "throttle_next_prefix": "", "expression_contains": ""}
        self.seen = {"transaction_conflict": 0, "throttle": 0, "invalid": 0, "throttle_next": 0}
        self.injected = {"transaction_conflict": 0, "throttle": 0, "invalid": 0, "throttle_next": 0}

    def configure(self, given):
        with self.lock:
            prefix = given.get("key_prefix")
            if "transaction_conflict_every" in given:
                self.settings["transaction_conflict_every"] = max(0, int(given["transaction_conflict_every"]))
                self.settings["transaction_conflict_prefix"] = prefix or ""
                self.seen["transaction_conflict"] = 0
            if "throttle_every" in given:
                self.settings["throttle_every"] = max(0, int(given["throttle_every"]))
                self.settings["throttle_prefix"] = prefix or ""
                self.seen["throttle"] = 0
            if "invalid_every" in given:
                self.settings["invalid_every"] = max(0, int(given["invalid_every"]))
                self.settings["invalid_prefix"] = prefix or ""
                self.seen["invalid"] = 0
            if "throttle_next" in given:
                self.settings["throttle_next"] = max(0, int(given["throttle_next"]))
                self.settings["throttle_next_prefix"] = prefix or ""
                self.settings["expression_contains"] = str(given.get("expression_contains") or "")
                self.seen["throttle_next"] = 0
            if given.get("throttle_error") in ("ProvisionedThroughputExceededException", "ThrottlingException"):
                self.settings["throttle_error"] = given["throttle_error"]
            return self.describe()

    def describe(self):
        return {**self.settings, "seen": dict(self.seen), "injected": dict(self.injected)}

    def _due(self, knob, count):
        """Counts a request the knob applies to; whether it is the Nth."""
        every = self.settings[f"{knob}_every"]
        if not every or not count:
            return False
        with self.lock:
            self.seen[knob] += 1
            due = self.seen[knob] % every == 0
            if due:
                self.injected[knob] += 1
            return due

    def _matching(self, request, prefix):
        out = []
        for i, (kind, name, raw, _, _) in enumerate(request.targets):
            table = request.backend.tables.get(name)
            if kind in ("put", "update", "delete") and table is not None:
                value = raw.get(table.hash_key_attr) or {}
                if isinstance(value, dict) and str(value.get("S", "")).startswith(prefix):
                    out.append(i)
        return out

    def _take_next(self, request):
        """Whether this single write is one of the next N throttle_next aims at."""
        if not self.settings["throttle_next"]:
            return False
        contains = self.settings["expression_contains"]
        if contains and contains not in str(request.body.get("UpdateExpression") or ""):
            return False
        if not self._matching(request, self.settings["throttle_next_prefix"]):
            return False
        with self.lock:
            if self.settings["throttle_next"] <= 0:
                return False
            self.settings["throttle_next"] -= 1
            self.seen["throttle_next"] += 1
            self.injected["throttle_next"] += 1
            return True

    def inject(self, request):
        operation = request.operation
        if operation in ("PutItem", "UpdateItem", "DeleteItem") and self._take_next(request):
            request.fault = True
            raise DynamodbException(ERROR_TYPE_PREFIX + self.settings["throttle_error"], THROTTLE_MESSAGE)
        if operation in ("TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem") \
                and self.settings["invalid_every"] \
                and self._due("invalid", len(self._matching(request, self.settings["invalid_prefix"]))):
            request.fault = True
            raise DynamodbException(ERROR_TYPE_PREFIX + "ValidationException", INVALID_MESSAGE)
        if operation == "TransactWriteItems":
            for knob, code, message in (("transaction_conflict", "TransactionConflict", CONFLICT_MESSAGE),
                                        ("throttle", "ThrottlingError", THROTTLE_MESSAGE)):
                if not self.settings[f"{knob}_every"]:
                    continue
                matching = self._matching(request, self.settings[f"{knob}_prefix"])
                if self._due(knob, len(matching)):
                    request.fault = True
                    reasons = [(None, None, None)] * len(request.body.get("TransactItems") or [])
                    reasons[matching[0]] = (code, message, None)
                    raise TransactionCanceledException(reasons)
        elif operation in ("PutItem", "UpdateItem", "DeleteItem") and self.settings["throttle_every"]:
            if self._due("throttle", len(self._matching(request, self.settings["throttle_prefix"]))):
                request.fault = True
                raise DynamodbException(ERROR_TYPE_PREFIX + self.settings["throttle_error"], THROTTLE_MESSAGE)


_faults = _Faults()


class _Meter:
    """Requests and capacity units per principal, service and operation; per table and queue."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.since = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
            self.by_principal, self.by_table, self.by_queue = {}, {}, {}

    def record(self, principal, service, operation, status, units=None, extra=None, queue=None):
        with self.lock:
            entry = self.by_principal.setdefault(principal, {}).setdefault(service, {}).setdefault(
                operation, {"requests": 0, "wru": 0.0, "rru": 0.0, "errors": 0})
            entry["requests"] += 1
            if status >= 400:
                entry["errors"] += 1
            for name, value in (extra or {}).items():
                entry[name] = entry.get(name, 0) + value
            if units is not None:
                wru, rru = units.totals()
                entry["wru"] += wru
                entry["rru"] += rru
                for table, part in units.tables.items():
                    mine = self.by_table.setdefault(table, {"wru": 0.0, "rru": 0.0, "indexes": {}})
                    mine["wru"] += part["wru"]
                    mine["rru"] += part["rru"]
                    for index, values in part["indexes"].items():
                        theirs = mine["indexes"].setdefault(index, {"wru": 0.0, "rru": 0.0})
                        theirs["wru"] += values["wru"]
                        theirs["rru"] += values["rru"]
            if queue:
                counts = self.by_queue.setdefault(queue, {}).setdefault(operation, {"requests": 0})
                counts["requests"] += 1
                for name, value in (extra or {}).items():
                    counts[name] = counts.get(name, 0) + value

    def describe(self):
        with self.lock:
            totals = {"requests": 0, "wru": 0.0, "rru": 0.0, "by_service": {}}
            for services in self.by_principal.values():
                for service, operations in services.items():
                    mine = totals["by_service"].setdefault(service, {"requests": 0, "wru": 0.0, "rru": 0.0})
                    for entry in operations.values():
                        for name in ("requests", "wru", "rru"):
                            mine[name] += entry[name]
                            totals[name] += entry[name]
            return json.loads(json.dumps({"since": self.since, "by_principal": self.by_principal,
                                          "by_table": self.by_table, "by_queue": self.by_queue,
                                          "totals": totals}))


_meter = _Meter()
_CONSTANT_SEGMENT = re.compile(r"[A-Z][A-Z_]{1,19}")


def item_kind(pk, sk):
    """An item's kind, no tenant value in it: the partition key's first segment, and the sort
    key's constant upper-case words with every other segment as `*` (`ANALYTICS#` `DAY#*`)."""
    pk_prefix = str(pk).split("#", 1)[0] + "#" if "#" in str(pk) else str(pk)
    if sk is None:
        return pk_prefix, ""
    parts = [p if _CONSTANT_SEGMENT.fullmatch(p) else "*" for p in str(sk).split("#")]
    return pk_prefix, "#".join(parts)


def _items_report(name, pk_contains=""):
    """GET /_zoom/meter/items: every item of the table (whose partition key contains
    `pk_contains`, when given: one tenant's), by size."""
    with _lock:
        table = next((b.tables[name] for b in list(_backends.values()) if name in b.tables), None)
        if table is None:
            return None
        report = {"table": name, "items": 0, "total_bytes": 0, "max_item_bytes": 0, "max_item_key": None,
                  "by_kind": {}}
        for partition in list(table.items.values()):
            for item in (list(partition.values()) if table.range_key_attr else [partition]):
                pk = item.hash_key.value
                if pk_contains and pk_contains not in str(pk):
                    continue
                size = item_size(item.attrs)
                sk = item.range_key.value if table.range_key_attr and item.range_key is not None else None
                pk_prefix, sk_kind = item_kind(pk, sk)
                kind = f"{pk_prefix} {sk_kind}".strip()
                report["items"] += 1
                report["total_bytes"] += size
                entry = report["by_kind"].setdefault(kind, {"count": 0, "max_bytes": 0, "total_bytes": 0})
                entry["count"] += 1
                entry["total_bytes"] += size
                entry["max_bytes"] = max(entry["max_bytes"], size)
                if size > report["max_item_bytes"]:
                    report["max_item_bytes"] = size
                    report["max_item_key"] = {"pk": pk_prefix, "sk": sk_kind, "kind": kind}
        return report


def _service_and_operation(environ, credential):
    """(service, operation, queue) of an AWS request."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    service = credential[2] if credential else ""
    if target.startswith("DynamoDB"):
        service = "dynamodb"
    elif target.startswith("AmazonSQS"):
        service = "sqs"
    if service == "dynamodb":
        return service, target.rpartition(".")[2] or "unknown", None
    if service == "sqs":
        if target:
            try:
                params = json.loads(_body(environ) or b"{}")
            except ValueError:
                params = {}
            operation = target.rpartition(".")[2]
        else:
            form = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
            form.update(urllib.parse.parse_qs(_body(environ).decode("utf-8", "replace")))
            params = {k: v[0] for k, v in form.items()}
            operation = params.get("Action", "unknown")
        url = params.get("QueueUrl") or ""
        queue = urllib.parse.urlsplit(url).path.rstrip("/").rpartition("/")[2] if url else params.get("QueueName")
        return service, operation, queue
    if not service and "Action=" in environ.get("QUERY_STRING", ""):
        return "sqs", urllib.parse.parse_qs(environ["QUERY_STRING"]).get("Action", ["unknown"])[0], None
    method = environ.get("REQUEST_METHOD", "GET")
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    try:
        bucket, key = _s3_target(environ)
    except Exception:  # noqa: BLE001 (an unreadable target is still a request)
        bucket, key = None, ""
    if "uploadId" in query or "uploads" in query:
        kind = "multipart"
    else:
        kind = "object" if key else "bucket" if bucket else "service"
    return service or "s3", f"{method} {kind}", None


def _captured(app, environ, start_response, inner):
    """Runs `inner` and returns (status, headers, body) without answering yet."""
    answer = {}

    def capture(status, headers, exc_info=None):
        answer.update(status=status, headers=headers)
        return answer.setdefault("written", []).append

    chunks = inner(app, environ, capture)
    try:
        body = b"".join(answer.get("written", [])) + b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return answer.get("status", "500 Internal Server Error"), answer.get("headers", []), body


def _status_code(status):
    try:
        return int(str(status).split(" ", 1)[0])
    except ValueError:
        return 500


def _outcome(status, body, request):
    if status < 400:
        return "ok"
    if request.fault:
        if b"Throttl" in body or b"ProvisionedThroughput" in body:
            return "throttled"
        if b"ValidationException" in body:
            return "error"  # refused before any work: charged nothing, as DynamoDB does
        return "cancelled"
    if b"ConditionalCheckFailedException" in body:
        return "condition"
    if b"TransactionCanceledException" in body:
        return "cancelled"
    return "error"


def _answer_units(request, units, headers, body):
    """The answer with DynamoDB's ConsumedCapacity, when the request asked for it."""
    detail = request.body.get("ReturnConsumedCapacity")
    if detail not in ("TOTAL", "INDEXES"):
        return headers, body
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return headers, body
    if request.operation in ("BatchWriteItem", "BatchGetItem", "TransactWriteItems", "TransactGetItems"):
        tables = list(dict.fromkeys([t for _, t, _, _, _ in request.targets] + list(units.tables)))
        answer["ConsumedCapacity"] = [units.consumed(t, detail) for t in tables]
    else:
        answer["ConsumedCapacity"] = units.consumed(_table_name(request.body.get("TableName")), detail)
    body = json.dumps(answer).encode()
    headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "x-amz-crc32")]
    headers.append(("x-amz-crc32", str(binascii.crc32(body) & 0xFFFFFFFF)))
    return headers, body


def _json_answer(start_response, value, status="200 OK"):
    return _respond(start_response, status, [("Content-Type", "application/json")], json.dumps(value).encode())


def _meter_admin(environ, start_response):
    path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
    if path == "/_zoom/meter":
        return _json_answer(start_response, _meter.describe())
    if path == "/_zoom/meter/reset" and method == "POST":
        _meter.reset()
        return _json_answer(start_response, {"since": _meter.since})
    if path == "/_zoom/meter/items":
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        name = query.get("table", [""])[0]
        report = _items_report(name, query.get("pk_contains", [""])[0])
        if report is None:
            return _json_answer(start_response, {"error": f"no table {name}"}, "404 Not Found")
        return _json_answer(start_response, report)
    if path == "/_zoom/faults":
        if method == "POST":
            try:
                return _json_answer(start_response, _faults.configure(json.loads(_body(environ) or b"{}")))
            except (ValueError, TypeError) as error:
                return _json_answer(start_response, {"error": str(error)}, "400 Bad Request")
        return _json_answer(start_response, _faults.describe())
    return _json_answer(start_response, {"error": "unknown"}, "404 Not Found")


_unmetered_dispatch = werkzeug_app.DomainDispatcherApplication.__call__


def _metered_dispatch(self, environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/_zoom/") and path != "/_zoom/iam":
        return _meter_admin(environ, start_response)
    if path.startswith("/_zoom/") or path.startswith("/moto-api"):
        return _unmetered_dispatch(self, environ, start_response)
    credential = _credential(environ)
    principal = credential[0] if credential else "anonymous"
    try:
        service, operation, queue = _service_and_operation(environ, credential)
    except Exception:  # noqa: BLE001 (still counted, as unreadable)
        service, operation, queue = "unknown", "unknown", None
    if service == "dynamodb":
        try:
            body = json.loads(_body(environ) or b"{}")
        except ValueError:
            body = {}
        request = _Request(operation, body if isinstance(body, dict) else {})
        with _lock:
            _serving.request = request
            try:
                status, headers, data = _captured(self, environ, start_response, _unmetered_dispatch)
                code = _status_code(status)
                after = request.states() if request.backend is not None else []
                units = _Units()
                if request.backend is not None:
                    units = charge(operation, request.targets, request.before, after,
                                   _outcome(code, data, request), request.reads)
            finally:
                _serving.request = None
        if code < 400:
            headers, data = _answer_units(request, units, headers, data)
        _meter.record(principal, service, operation, code, units)
        return _respond(start_response, status, [(k, v) for k, v in headers if k.lower() != "content-length"], data)
    if service == "sqs":
        status, headers, data = _captured(self, environ, start_response, _unmetered_dispatch)
        code = _status_code(status)
        extra = None
        if operation == "ReceiveMessage" and code < 400:
            messages = data.count(b'"MessageId"') or data.count(b"<MessageId>")
            extra = {"messages": messages, "nonempty": 1 if messages else 0}
        _meter.record(principal, service, operation, code, extra=extra, queue=queue)
        return _respond(start_response, status, [(k, v) for k, v in headers if k.lower() != "content-length"], data)
    seen = {}

    def observe(status, headers, exc_info=None):
        seen["status"] = status
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

    try:
        return _unmetered_dispatch(self, environ, observe)
    finally:
        _meter.record(principal, service, operation, _status_code(seen.get("status", "200")))


werkzeug_app.DomainDispatcherApplication.__call__ = _metered_dispatch


if __name__ == "__main__":
    sys.exit(server.main())

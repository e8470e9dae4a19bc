"""Schemathesis hooks for the local stack (SCHEMATHESIS_HOOKS=schemathesis_hooks).

Only what docs/openapi.yaml cannot express lives here, each with its reason:

1. Bytes the local emulator cannot carry (below): cargo lambda's emulator turns a request into an
   API Gateway event with `String::from_utf8` when the content type is JSON or text, and answers
   its own 500 (before any function runs) for a body that is not UTF-8. API Gateway instead
   delivers such a body base64-encoded; what our handlers answer to it (400/401/415) is covered
   by unit tests with base64 bodies. So bodies that are not UTF-8 are not sent to the emulator.
2. Requests the schemas allow but the API refuses by design, because validity depends on state
   no schema can name (each is in its operation's description, with status and problem type).
   `before_call` turns a *positive* case (one Schemathesis generated as valid, for which
   `positive_data_acceptance` expects acceptance) into one that really is valid, changing only
   what that state decides; negative cases are sent as generated:
   - a date range (`from`, `to`) is valid only relative to today and to each other: a `from`
     after the `to` (today when left out) or more than 366 days before it is 400;
   - a `next_page_token` is valid only if Zoom issued it for that listing and it has not
     expired: a made-up one is Zoom's 400 (300), so it is left out;
   - the OAuth callback's `code` and `state` are valid only if Zoom issued the code and this
     API issued the state to this caller: the case gets a real pair from the connect flow
     (`GET /api/zoom/auth/authorize`, then the simulator's authorize page), with the caller's
     token from ZOOM_SCHEMATHESIS_TOKEN and the API from ZOOM_E2E_API;
   - an `Idempotency-Key` is valid once per request: reused with another body it is 422 (the
     contract's Retries), so each positive case gets a key of its own.
3. A CPython bug (at the end).
"""

import datetime
import os
import uuid
from urllib.parse import parse_qs, urlsplit

import requests
import schemathesis


def _utf8(value):
    if isinstance(value, (bytes, bytearray)):
        try:
            bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


@schemathesis.hook
def filter_body(ctx, body):
    return _utf8(body)


def _utf8_header(value):
    # requests sends a str header value as Latin-1 bytes; cargo lambda watch reads header bytes
    # as UTF-8 to build the API Gateway event and answers its own 500 when they are not (an
    # `Idempotency-Key` of "\xd7\xf8\x9b", say), before any function runs. What our functions
    # answer to such keys (400, naming the header) is unit-tested in shared/src/idempotency.
    if isinstance(value, str):
        try:
            value.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return False
    return _utf8(value)


@schemathesis.hook
def filter_case(ctx, case):
    return _utf8(case.body) and all(_utf8_header(v) for v in (case.headers or {}).values())


def _positive(case):
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode.is_positive


def _date(value):
    try:
        return datetime.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _valid_range(case):
    """Keeps `from`; moves `to` within the 366 days from it when the range is refused."""
    query = case.query if case.query is not None else {}
    start = _date(query.get("from"))
    if start is None:
        return  # `from` defaults to 30 days before `to`: always a valid range
    end = _date(query.get("to")) or datetime.datetime.now(datetime.timezone.utc).date()
    if start <= end and (end - start).days <= 366:
        return
    try:
        query["to"] = (start + datetime.timedelta(days=30)).isoformat()
    except OverflowError:
        query["to"] = start.isoformat()
    case.query = query


def _first_page(case):
    if case.query and case.query.get("next_page_token"):
        del case.query["next_page_token"]


def _real_grant(case):
    api, token = os.environ.get("ZOOM_E2E_API"), os.environ.get("ZOOM_SCHEMATHESIS_TOKEN")
    if not (api and token and isinstance(case.body, dict)):
        return
    started = requests.get(
        f"{api}/api/zoom/auth/authorize", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    if started.status_code != 200:
        return  # Server-to-Server mode (409): there is no flow to complete
    at_zoom = requests.get(started.json()["authorize_url"], allow_redirects=False, timeout=30)
    grant = parse_qs(urlsplit(at_zoom.headers.get("location", "")).query)
    if grant.get("code") and grant.get("state"):
        case.body["code"], case.body["state"] = grant["code"][0], grant["state"][0]


def _fresh_idempotency_key(case):
    for name, value in list((case.headers or {}).items()):
        if name.lower() == "idempotency-key" and isinstance(value, str):
            suffix = "-" + uuid.uuid4().hex
            case.headers[name] = value[: 255 - len(suffix)] + suffix


_MADE_VALID = {
    ("GET", "/api/zoom/analytics/meetings"): _valid_range,
    ("GET", "/api/zoom/recordings"): _valid_range,
    ("GET", "/api/zoom/meetings"): _first_page,
    ("GET", "/api/zoom/users"): _first_page,
    ("POST", "/api/zoom/auth/callback"): _real_grant,
}


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if not _positive(case):
        return
    make_valid = _MADE_VALID.get((case.operation.method.upper(), case.operation.path))
    if make_valid is not None:
        make_valid(case)
    _fresh_idempotency_key(case)


# CPython 3.11.7 (this machine's) can raise "SystemError: AST constructor recursion depth
# mismatch" from ast.parse deep in a stack (fixed in 3.11.8); Hypothesis parses sources there
# only to describe a lambda for a repr. Fall back to a plain description instead of failing.
from hypothesis.internal import lambda_sources as _lambda_sources

_describe = _lambda_sources.lambda_description


def _lambda_description(f):
    try:
        return _describe(f)
    except SystemError:
        return "lambda"


_lambda_sources.lambda_description = _lambda_description

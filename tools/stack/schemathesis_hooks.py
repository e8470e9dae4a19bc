"""Schemathesis hooks for the local stack (SCHEMATHESIS_HOOKS=schemathesis_hooks).

cargo lambda's emulator turns a request into an API Gateway event with `String::from_utf8` when
the content type is JSON or text, and answers its own 500 (before any function runs) for a body
that is not UTF-8. API Gateway instead delivers such a body base64-encoded; what our handlers
answer to it (400/401/415) is covered by unit tests with base64 bodies. So bodies that are not
UTF-8 are not sent to the emulator.
"""

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

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


@schemathesis.hook
def filter_case(ctx, case):
    return _utf8(case.body)


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

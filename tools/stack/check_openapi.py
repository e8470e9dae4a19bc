#!/usr/bin/env python3
"""Checks docs/openapi.yaml (run by `make test`).

1. It is a valid OpenAPI 3.1 document (openapi-spec-validator).
2. Its operations are exactly the template's HTTP routes, each naming (`x-function`) the
   function the template routes it to. With check_template.py (template = watch router) and
   each function's `routes_are_documented` test (router = document), a route added anywhere
   without documenting it fails CI.
3. Exactly the contract's exempt routes have `security: []`; every other operation uses the
   caller JWT, and answers 401.
4. Every documented 4xx/5xx answer is application/problem+json.
"""

import sys

import yaml
from openapi_spec_validator import validate

from check_template import EXEMPT
from provision import CfnLoader

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def template_routes(path="template.yaml"):
    with open(path, encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=CfnLoader)
    routes = {}
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event.get("Type") == "HttpApi":
                props = event["Properties"]
                routes[(props["Method"].upper(), props["Path"])] = binary
    return routes


def main():
    with open("docs/openapi.yaml", encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    validate(doc)
    problems = []
    if not doc.get("openapi", "").startswith("3.1"):
        problems.append("not an OpenAPI 3.1 document")
    documented = {}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            key = (method.upper(), path)
            documented[key] = operation.get("x-function")
            public = operation.get("security", doc.get("security")) == []
            if public != (key in EXEMPT):
                problems.append(f"{method.upper()} {path}: security does not match the contract")
            if not public and "401" not in operation.get("responses", {}):
                problems.append(f"{method.upper()} {path}: needs a caller JWT but documents no 401")
            for status, response in operation.get("responses", {}).items():
                if "$ref" in response:
                    response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
                if status[0] in "45" and set(response.get("content", {})) != {"application/problem+json"}:
                    problems.append(f"{method.upper()} {path} {status}: not problem+json")
    routes = template_routes()
    for key, function in sorted(routes.items()):
        if key not in documented:
            problems.append(f"{key[0]} {key[1]}: served by {function} but not documented")
        elif documented[key] != function:
            problems.append(f"{key[0]} {key[1]}: x-function {documented[key]}, template {function}")
    for key in sorted(set(documented) - set(routes)):
        problems.append(f"{key[0]} {key[1]}: documented but not a route of the template")
    for problem in problems:
        print(f"check_openapi: {problem}", file=sys.stderr)
    print(f"check_openapi: valid OpenAPI {doc['openapi']}, {len(documented)} operations, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

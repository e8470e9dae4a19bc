#!/usr/bin/env python3
"""The metrics the template's alarms and dashboard use are ones the functions really emit.

A CloudWatch metric is its namespace, its name and its whole dimension set: an alarm on
`TokenRefresh` by `Outcome` alone never fires when the functions write it by `Function` and
`Outcome`. The functions write their metrics as CloudWatch Embedded Metric Format lines on
stdout (shared/src/metrics.rs, namespace ZoomConnector), which the local stack's watch logs
keep. This check reads every ZoomConnector metric that template.yaml names:

- an alarm's MetricName + Dimensions, or the MetricStat of each of its Metrics;
- a Metrics Insights query (`SELECT SUM(M) FROM SCHEMA(ns, D1, D2) WHERE D1 = 'v'`);
- a dashboard widget's metric rows (`[ns, name, dim, value, ..., {options}]`, with the "."
  shorthand) and its expressions' `SEARCH('{ns,D1,D2} MetricName="M" D1="v"', ...)`;

and fails unless the logs hold an EMF line with that name, exactly that dimension set and the
values the reference fixes (`Function` = zoom-auth, `Outcome` = failure, ...). A metric only a
failure no test provokes can emit is listed in FAILURE_PATHS with the reason, like the grants
of check_iam.py. Metrics of AWS's namespaces (AWS/SQS, AWS/Lambda, AWS/ApiGateway) are counted
and left alone: AWS emits them.

Missing metrics fail only with --full (the whole suite ran); otherwise they are reported.

Usage: check_metrics.py --template template.yaml [--full] LOG...
       check_metrics.py --template template.yaml --list
Tests: .venv/bin/python -m unittest tools/stack/test_check_metrics.py
"""

import argparse
import collections
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import yaml  # noqa: E402

from provision import CfnLoader  # noqa: E402

NAMESPACE = "ZoomConnector"

# (metric, ((dimension, value), ...) sorted) -> why no end-to-end test makes a function emit it.
# Kept short on purpose: everything else must be emitted by the run.
FAILURE_PATHS = {
}

Reference = collections.namedtuple("Reference", "source namespace name dimensions values")
# dimensions: a frozenset of names, or None (a Metrics Insights query without SCHEMA: any set).
# values: {dimension: value} the reference fixes; a value that is not a string (a !Ref) is any.


def _text(value):
    return value if isinstance(value, str) else None


def _fixed(values):
    return {k: v for k, v in values.items() if isinstance(v, str)}


def metric_stat(source, metric):
    dims = {d["Name"]: d.get("Value") for d in metric.get("Dimensions", []) or []}
    return Reference(source, _text(metric.get("Namespace")), str(metric.get("MetricName")),
                     frozenset(dims), _fixed(dims))


def _unquote(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


SEARCH = re.compile(r"SEARCH\(\s*'((?:[^'\\]|\\.)*)'")
SEARCH_TERM = re.compile(r'(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s)]+)')
SELECT = re.compile(r"^\s*SELECT\s+\w+\(\s*(\"[^\"]+\"|\w+)\s*\)\s+FROM\s+(SCHEMA\(([^)]*)\)|\"[^\"]+\"|\S+)"
                    r"(?:\s+WHERE\s+(.*?))?(?:\s+GROUP\s+BY.*|\s+ORDER\s+BY.*|\s+LIMIT.*)?\s*$", re.I | re.S)
WHERE_TERM = re.compile(r"(\"[^\"]+\"|\w+)\s*=\s*'((?:[^'\\]|\\.)*)'")


def expression(source, text):
    """The metrics a metric-math expression's SEARCH calls, or a Metrics Insights query, name."""
    found = []
    select = SELECT.match(text)
    if select:
        name, schema, where = _unquote(select.group(1)), select.group(3), select.group(4) or ""
        if re.search(r"\b(OR|IN|LIKE|!=)\b|!=", where, re.I):
            raise ValueError(f"{source}: only `=` conditions joined by AND are checked: {text}")
        values = {_unquote(k): v for k, v in WHERE_TERM.findall(where)}
        if schema is None:
            namespace, dims = _unquote(select.group(2)), None
        else:
            parts = [_unquote(p) for p in schema.split(",")]
            namespace, dims = parts[0], frozenset(p for p in parts[1:] if p)
        found.append(Reference(source, namespace, name, dims, values))
        return found
    for query in SEARCH.findall(text):
        query = query.replace("\\'", "'")
        schema = re.match(r"\s*\{([^}]*)\}", query)
        if not schema:
            raise ValueError(f"{source}: a SEARCH without a {{namespace,dimensions}} schema is not checked: {query}")
        parts = [_unquote(p) for p in schema.group(1).split(",")]
        terms = {k: _unquote(v) for k, v in SEARCH_TERM.findall(query[schema.end():])}
        if "MetricName" not in terms:
            raise ValueError(f"{source}: a SEARCH without MetricName=\"...\" is not checked: {query}")
        name = terms.pop("MetricName")
        found.append(Reference(source, parts[0], name, frozenset(p for p in parts[1:] if p), terms))
    return found


def dashboard_rows(source, body):
    """References of a dashboard body (its JSON text, ${...} placeholders left in)."""
    found = []
    for number, widget in enumerate(body.get("widgets", [])):
        props = widget.get("properties", {})
        title = props.get("title", f"widget {number}")
        previous = []
        for row in props.get("metrics", []) or []:
            where = f"{source} [{title}]"
            if row and isinstance(row[0], dict):
                if "expression" in row[0]:
                    found += expression(where, row[0]["expression"])
                continue
            fields = [f for f in row if not isinstance(f, dict)]
            fields = [previous[i] if f == "." and i < len(previous) else f for i, f in enumerate(fields)]
            previous = fields
            if len(fields) < 2 or len(fields) % 2:
                raise ValueError(f"{where}: a metric row must be [namespace, name, dim, value, ...]: {row}")
            dims = dict(zip(fields[2::2], fields[3::2]))
            values = {k: v for k, v in dims.items() if not (v.startswith("${") and v.endswith("}"))}
            found.append(Reference(where, fields[0], fields[1], frozenset(dims), values))
    return found


def references(template):
    found = []
    for logical_id, resource in template.get("Resources", {}).items():
        kind, props = resource.get("Type"), resource.get("Properties", {})
        if kind == "AWS::CloudWatch::Alarm":
            if "MetricName" in props:
                found.append(metric_stat(logical_id, props))
            for query in props.get("Metrics", []) or []:
                if "MetricStat" in query:
                    found.append(metric_stat(f"{logical_id}.{query.get('Id')}", query["MetricStat"]["Metric"]))
                if "Expression" in query:
                    found += expression(f"{logical_id}.{query.get('Id')}", query["Expression"])
        elif kind == "AWS::CloudWatch::Dashboard":
            body = props["DashboardBody"]
            if isinstance(body, dict) and "Fn::Sub" in body:
                body = body["Fn::Sub"]
                body = body[0] if isinstance(body, list) else body
            if not isinstance(body, str):
                raise ValueError(f"{logical_id}: DashboardBody must be a JSON string (or !Sub of one)")
            found += dashboard_rows(logical_id, json.loads(body))
    return found


def emitted(paths):
    """(namespace, name, dimension names) -> list of {dimension: value} seen, from EMF lines."""
    seen = collections.defaultdict(list)
    lines = documents = 0
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                lines += 1
                if '"_aws"' not in line:
                    continue
                start = line.find("{")
                try:
                    doc = json.loads(line[start:])
                except ValueError:
                    continue
                directives = doc.get("_aws", {}).get("CloudWatchMetrics") if isinstance(doc, dict) else None
                if not isinstance(directives, list):
                    continue
                documents += 1
                for directive in directives:
                    for metric in directive.get("Metrics", []):
                        for dims in directive.get("Dimensions", []):
                            values = {d: str(doc.get(d)) for d in dims}
                            seen[(directive.get("Namespace"), metric.get("Name"), frozenset(dims))].append(values)
    return seen, lines, documents


def check(refs, seen):
    """(problems, exempted, checked, aws) over the references."""
    problems, exempted, checked, aws = [], [], 0, 0
    for ref in refs:
        if ref.namespace != NAMESPACE:
            aws += 1
            continue
        checked += 1
        if ref.dimensions is None:
            candidates = [v for (ns, name, _), vs in seen.items() if ns == ref.namespace and name == ref.name for v in vs]
        else:
            candidates = seen.get((ref.namespace, ref.name, ref.dimensions), [])
        matching = [v for v in candidates if all(v.get(k) == want for k, want in ref.values.items())]
        if matching:
            continue
        key = (ref.name, tuple(sorted(ref.values.items())))
        dims = "any dimensions" if ref.dimensions is None else "[" + ", ".join(sorted(ref.dimensions)) + "]"
        fixed = ", ".join(f"{k}={v}" for k, v in sorted(ref.values.items()))
        what = f"{ref.source}: {ref.name} by {dims}" + (f" with {fixed}" if fixed else "")
        if key in FAILURE_PATHS:
            exempted.append(f"{what}: {FAILURE_PATHS[key]}")
            continue
        if not candidates:
            others = sorted("[" + ", ".join(sorted(d)) + "]" for (ns, name, d) in seen if ns == ref.namespace
                            and name == ref.name)
            hint = f" (emitted by {', '.join(others)})" if others else " (never emitted at all)"
            problems.append(f"{what}: no EMF line has this dimension set{hint}")
        else:
            got = sorted({", ".join(f"{k}={v.get(k)}" for k in sorted(ref.values)) for v in candidates})
            problems.append(f"{what}: emitted, but only with {'; '.join(got[:6])}")
    return problems, exempted, checked, aws


def load_template(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=CfnLoader)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--full", action="store_true", help="the whole suite ran: a missing metric fails")
    parser.add_argument("--list", action="store_true", help="print the template's metric references and stop")
    parser.add_argument("logs", nargs="*")
    args = parser.parse_args(argv)
    refs = references(load_template(args.template))
    if args.list:
        for ref in refs:
            dims = "*" if ref.dimensions is None else ",".join(sorted(ref.dimensions))
            print(f"{ref.namespace} {ref.name} [{dims}] {ref.values} <- {ref.source}")
        return 0
    if not args.logs:
        parser.error("no log files")
    seen, lines, documents = emitted(args.logs)
    problems, exempted, checked, aws = check(refs, seen)
    print(f"check_metrics: {checked} {NAMESPACE} metric references of the alarms and dashboard, {aws} of AWS's "
          f"namespaces (not checked); {documents} EMF lines in {lines} log lines of {len(args.logs)} files; "
          f"{len(problems)} never emitted, {len(exempted)} exempted")
    for line in exempted:
        print(f"check_metrics: not counted, only on a failure path no test provokes: {line}")
    for line in problems:
        print(f"check_metrics: NOT EMITTED {line}", file=sys.stderr)
    if problems and not args.full:
        print("check_metrics: missing metrics reported only (not the full suite)")
        return 0
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

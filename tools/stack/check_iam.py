#!/usr/bin/env python3
"""Least privilege over an end-to-end run, from the emulator's IAM audit log.

Locally every function signs with its own access key id (its binary's name) and
tools/stack/moto_server.py allows each request exactly by what template.yaml grants that
function (provision.py resolved and registered the statements, and wrote them to --policies).
Every decision for a function is a line of --audit. This check fails if:

(a) any request of a function was denied. A test that expects a denial (tests/tests/iam.rs)
    runs an emulator of its own, so its decisions go to its own audit log, never to this one;
    a denial here is a permission missing from template.yaml (or a request that should not be).
(b) a permission granted to a function was never used by it during the run: excess privilege,
    or a path no test takes. Reported always; a failure only with --full (the whole suite ran)
    and ZOOM_IAM_STRICT not 0 (default 1).

What Lambda's SQS event source mapping does with the function's role (sqs:ReceiveMessage,
sqs:DeleteMessage, sqs:GetQueueAttributes on the queue of an SQS event) is checked like the
rest: locally tools/sqs-poller signs those requests with the consuming function's own key.
Not counted as unused: pairs no request can ever use (DynamoDB authorises only Query and
Scan against an index ARN), listed apart.

Usage: check_iam.py --policies .stack/iam-PREFIX.json --audit .stack/iam-PREFIX.jsonl [--full]
"""

import argparse
import collections
import json
import os
import sys

INDEX_ACTIONS = {"dynamodb:Query", "dynamodb:Scan"}


def never_usable(action, resource):
    return action.startswith("dynamodb:") and "*" not in action and "/index/" in resource \
        and action not in INDEX_ACTIONS


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", required=True)
    parser.add_argument("--audit", required=True)
    parser.add_argument("--full", action="store_true", help="the whole suite ran: unused grants fail")
    args = parser.parse_args()
    strict = os.environ.get("ZOOM_IAM_STRICT", "1") != "0"

    with open(args.policies, encoding="utf-8") as handle:
        principals = json.load(handle)["principals"]
    decisions = []
    if os.path.exists(args.audit):
        with open(args.audit, encoding="utf-8") as handle:
            decisions = [json.loads(line) for line in handle if line.strip()]

    denied = collections.Counter()
    used = collections.defaultdict(set)
    for decision in decisions:
        if not decision["allowed"]:
            checked = decision["resource"] + (f" (as {decision['as']})" if "as" in decision else "")
            denied[(decision["principal"], decision["action"], checked)] += 1
        for action, resource in decision.get("grants", []):
            used[decision["principal"]].add((action, resource))

    unused, unusable = [], []
    for binary, principal in sorted(principals.items()):
        for statement in principal["statements"]:
            if statement.get("Effect") != "Allow":
                continue
            for action in statement["Action"]:
                for resource, source in zip(statement["Resource"], statement["Source"]):
                    line = f"{binary} ({principal['function']}): {action} on {source}"
                    if (action, resource) in used[binary]:
                        continue
                    if never_usable(action, resource):
                        unusable.append(line)
                    else:
                        unused.append(line)

    functions = {d["principal"] for d in decisions}
    print(f"check_iam: {len(decisions)} decisions for {len(functions)} of {len(principals)} functions, "
          f"{sum(denied.values())} denied, {len(unused)} unused grants")
    if not decisions:
        print("check_iam: no decision at all: did the functions get their own credentials "
              "(.stack/iam/<binary>.env, [package.metadata.lambda.watch] env_file)?", file=sys.stderr)
    for (binary, action, resource), count in sorted(denied.items()):
        print(f"check_iam: DENIED {binary} {action} on {resource} ({count}x): template.yaml does not grant it",
              file=sys.stderr)
    if unused:
        print("check_iam: granted in template.yaml but never used in this run (excess privilege, or a path "
              "no test takes):", file=sys.stderr)
        for line in unused:
            print(f"  {line}", file=sys.stderr)
    for title, lines in (("never usable by any request (DynamoDB authorises only Query and Scan on an index)",
                          unusable),):
        if lines:
            print(f"check_iam: not counted, {title}:")
            for line in lines:
                print(f"  {line}")
    failed = bool(denied)
    if unused:
        if args.full and strict:
            failed = True
        else:
            reason = "not the full suite" if not args.full else "ZOOM_IAM_STRICT=0"
            print(f"check_iam: unused grants reported only ({reason})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

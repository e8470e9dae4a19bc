#!/usr/bin/env python3
"""checkov (pinned: tools/stack/checkov-requirements.txt) over template.yaml, run by `make test`.

Fails on any failed check, on a template checkov cannot parse, and on a skip without a reason:
every finding that does not fit the design is skipped next to its resource, in its Metadata,

    Metadata:
      checkov:
        skip:
          - id: CKV_AWS_117
            comment: why this check does not fit this resource

and the comment is that reason. Prints how many checks passed, failed and were skipped.

Usage: check_checkov.py [--checkov .venv/checkov/bin/checkov] [--template template.yaml]
"""

import argparse
import json
import os
import subprocess
import sys


def run(checkov, template):
    env = dict(os.environ, CKV_SKIP_PACKAGE_UPDATE_CHECK="true")
    answer = subprocess.run(
        [checkov, "--file", template, "--framework", "cloudformation", "--skip-download", "--output", "json"],
        capture_output=True, text=True, env=env, check=False)
    try:
        report = json.loads(answer.stdout)
    except ValueError:
        sys.stderr.write(answer.stderr)
        raise SystemExit(f"check_checkov: checkov gave no JSON report (exit {answer.returncode})")
    # One framework: one report (a list when checkov ran several).
    return report[0] if isinstance(report, list) else report


def problems(report, template="template.yaml"):
    found = []
    summary = report.get("summary", {})
    if summary.get("parsing_errors"):
        found.append(f"{summary['parsing_errors']} parsing errors: {report['results'].get('parsing_errors')}")
    for check in report["results"].get("failed_checks", []):
        lines = "-".join(str(n) for n in check.get("file_line_range", []))
        found.append(f"FAILED {check['check_id']} {check['resource']} ({template}:{lines}): {check['check_name']}")
    for check in report["results"].get("skipped_checks", []):
        reason = (check.get("check_result", {}).get("suppress_comment") or "").strip()
        if not reason or reason.lower() == "no comment provided":
            found.append(f"SKIPPED WITHOUT A REASON {check['check_id']} {check['resource']}: write the reason "
                         "as the skip's comment")
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkov", default=".venv/checkov/bin/checkov")
    parser.add_argument("--template", default="template.yaml")
    args = parser.parse_args()
    report = run(args.checkov, args.template)
    summary = report.get("summary", {})
    found = problems(report, args.template)
    for line in found:
        print(f"check_checkov: {line}", file=sys.stderr)
    print(f"check_checkov: checkov {summary.get('checkov_version')} on {args.template}: "
          f"{summary.get('resource_count')} resources, {summary.get('passed')} passed, {summary.get('failed')} failed, "
          f"{summary.get('skipped')} skipped; {len(found)} problems (a failure, or a skip without its reason)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

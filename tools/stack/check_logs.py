#!/usr/bin/env python3
"""Fail if any credential or secret appears in the given log files.

Credentials: every access token, refresh token and authorization code the Zoom simulator
issued (GET /_sim/tokens). Secrets: the values of ZOOM_CLIENT_SECRET, ZOOM_WEBHOOK_SECRET_TOKEN,
ZOOM_TOKEN_KEYS and API_JWT_SECRET in the environment.
"""

import argparse
import json
import os
import sys
import urllib.request


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sim", default="")
    parser.add_argument("logs", nargs="+")
    args = parser.parse_args()
    needles = {}
    if args.sim:
        with urllib.request.urlopen(f"{args.sim}/_sim/tokens", timeout=10) as answer:
            tokens = json.load(answer)
        for kind, values in tokens.items():
            for value in values:
                needles[value] = kind
    for name in ["ZOOM_CLIENT_SECRET", "ZOOM_WEBHOOK_SECRET_TOKEN", "ZOOM_TOKEN_KEYS", "API_JWT_SECRET"]:
        value = os.environ.get(name, "")
        if len(value) >= 8:
            needles[value] = name
            # Each key of the vault separately, too.
            for part in value.split(","):
                if ":" in part and name == "ZOOM_TOKEN_KEYS":
                    needles[part.split(":", 1)[1]] = name
    found = 0
    lines = 0
    for path in args.logs:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                lines += 1
                for needle, kind in needles.items():
                    if needle in line:
                        found += 1
                        print(f"check_logs: {path}:{number} contains a {kind}", file=sys.stderr)
    print(f"check_logs: {lines} log lines, {len(needles)} credentials and secrets checked, {found} found")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

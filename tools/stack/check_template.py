#!/usr/bin/env python3
"""Checks template.yaml against the project's own rules (run by `make test`).

1. Every HTTP route in the template is in Cargo.toml's cargo-lambda watch router, served by
   the same binary, and the router has no route the template lacks.
2. Only the routes the contract exempts (webhooks, health, config, browser callback) have
   `Authorizer: NONE`; every other route uses the default JWT authorizer.
3. No function policy uses a `*` action or a `*` resource.
4. Every function's crate names `.stack/iam/<binary>.env` as its cargo lambda watch env_file,
   so locally it signs with its own credentials and gets exactly its grants.
5. No local-only switch (the dashboard's development tokens) appears in the template.
"""

import glob
import sys
import tomllib

import yaml

from provision import CfnLoader

EXEMPT = {
    ("POST", "/api/zoom/webhooks"),
    ("GET", "/api/zoom/health"),
    ("GET", "/api/zoom/config"),
    ("GET", "/api/auth/zoom/callback"),
    # The dashboard: a browser's navigation to a page, its scripts and its style sheet carries
    # no Authorization header. They are the same static bytes for everyone; the page sends the
    # caller's JWT on each API call it makes.
    ("GET", "/api/zoom/dashboard"),
    ("GET", "/api/zoom/dashboard/{asset}"),
    # Mints the JWT a local page then uses (so it cannot require one); answers 404 unless the
    # local stack's switch is on, which rule 5 keeps out of the template.
    ("POST", "/api/zoom/dashboard/dev-token"),
}

# Switches only the local stack may set (rule 5).
LOCAL_ONLY_VARIABLES = {"ZOOM_DASHBOARD_DEV_TOKENS"}


def main():
    import argparse, os
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=".")
    os.chdir(parser.parse_args().root)
    with open("template.yaml", encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=CfnLoader)
    with open("Cargo.toml", "rb") as handle:
        router = tomllib.load(handle)["workspace"]["metadata"]["lambda"]["watch"]["router"]
    problems = []
    template_routes = {}
    env_files = {}  # binary -> the env_file its crate's watch metadata names
    for manifest in glob.glob("functions/*/Cargo.toml"):
        with open(manifest, "rb") as handle:
            crate = tomllib.load(handle)
        env_file = crate.get("package", {}).get("metadata", {}).get("lambda", {}).get("watch", {}).get("env_file")
        for target in crate.get("bin", []):
            env_files[target["name"]] = env_file
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        props = resource.get("Properties", {})
        if env_files.get(binary) != f".stack/iam/{binary}.env":
            problems.append(f"{logical_id}: the crate of {binary} does not set [package.metadata.lambda.watch] "
                            f'env_file = ".stack/iam/{binary}.env" (its own credentials locally)')
        for name, event in props.get("Events", {}).items():
            if event.get("Type") != "HttpApi":
                continue
            path, method = event["Properties"]["Path"], event["Properties"]["Method"].upper()
            template_routes.setdefault(path, set()).add(binary)
            no_auth = event["Properties"].get("Auth", {}).get("Authorizer") == "NONE"
            if no_auth != ((method, path) in EXEMPT):
                problems.append(f"{logical_id}.{name}: {method} {path} has the wrong authorizer setting")
        for policy in props.get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                for key in ["Action", "Resource"]:
                    values = statement.get(key, [])
                    values = values if isinstance(values, list) else [values]
                    if any(v == "*" or (isinstance(v, str) and v.endswith(":*")) for v in values):
                        problems.append(f"{logical_id}: policy has a wildcard {key}: {values}")
    with open("template.yaml", encoding="utf-8") as handle:
        text = handle.read()
    for variable in sorted(LOCAL_ONLY_VARIABLES):
        if variable in text:
            problems.append(f"{variable} is a local-only switch: template.yaml must not name it")
    for path, binaries in template_routes.items():
        if router.get(path) not in binaries:
            problems.append(f"{path}: template serves it with {sorted(binaries)}, watch router with {router.get(path)}")
    for path in router:
        if path not in template_routes:
            problems.append(f"{path}: in the watch router but not in the template")
    for problem in problems:
        print(f"check_template: {problem}", file=sys.stderr)
    print(f"check_template: {len(template_routes)} routes, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

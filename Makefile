# The two commands of the README: `make dev` (the whole local stack) and `make test`
# (everything CI runs). Both install what they need on a fresh machine.
SHELL := /bin/bash
VENV := .venv
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: dev test bootstrap fmt clippy unit template e2e load load-faults

dev: bootstrap
	tools/stack/stack.sh dev

# `e2e` runs every test of the workspace (unit, simulator, end-to-end) in one cargo
# invocation inside the running stack, so dependencies are built once.
test: fmt clippy template e2e

bootstrap:
	tools/stack/stack.sh bootstrap

fmt:
	cargo fmt --all --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

unit:
	cargo test --workspace --exclude zoom-e2e

template: bootstrap
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/sam validate --region us-east-1 --template template.yaml
	$(VENV)/bin/python tools/stack/check_template.py
	$(VENV)/bin/python tools/stack/check_openapi.py

e2e: bootstrap
	tools/stack/stack.sh e2e

# docs/benchmarks.md: 20,000 signed webhooks to exact analytics, 2,000 concurrent reads, peak RSS;
# then the same under faults (429 storms, 5xx, hangs, dropped connections, AWS endpoint down).
load: bootstrap
	tools/stack/stack.sh load --events 20000 --reads 2000

load-faults: bootstrap
	tools/stack/stack.sh load --events 20000 --reads 2000 --faults

#!/usr/bin/env bash
# The local stack: moto server (DynamoDB, SQS, S3) + resources from template.yaml + the Zoom
# simulator (tools/zoom-sim) + `cargo lambda watch` with the contract's router.
#
#   stack.sh bootstrap   install the pinned tools into ./.venv (idempotent)
#   stack.sh dev         run the stack on the contract's ports until Ctrl-C
#   stack.sh e2e [ARGS]  run the stack on free ports, run every test of the workspace
#                        (`cargo test --workspace ARGS`; E2E_PACKAGES="-p X" narrows it), stop it
#   stack.sh load [ARGS] the load and fault runs: `zoom-load run ARGS` against a stack whose
#                        AWS endpoint sits behind a proxy that can be taken down
#   stack.sh cost [ARGS] the same stack, `zoom-load cost ARGS`: measured AWS requests and
#                        DynamoDB capacity per webhook event (the emulator's meter)
#
# Variables already set (AWS_ENDPOINT_URL, ZOOM_*, API_JWT_SECRET, …) are honoured: with
# AWS_ENDPOINT_URL set, no moto server is started and that endpoint is provisioned instead;
# with ZOOM_API_BASE_URL set, no simulator is started and the functions call that Zoom.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
VENV="$ROOT/.venv"
STATE="$ROOT/.stack"
REQUIREMENTS="$ROOT/tools/stack/requirements.txt"
CONSTRAINTS="$ROOT/tools/stack/constraints.txt"
PIDS=()

log() { printf '[stack] %s\n' "$*" >&2; }

bootstrap() {
  bootstrap_npm
  bootstrap_checkov
  local stamp="$VENV/.requirements.sha256"
  local want
  want=$(cat "$REQUIREMENTS" "$CONSTRAINTS" | sha256sum | cut -d' ' -f1)
  if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  log "installing pinned tools into .venv (first run only)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQUIREMENTS" -c "$CONSTRAINTS"
  echo "$want" > "$stamp"
}

# The tests' npm packages (axe-core for the dashboard's browser test), exactly as
# tools/stack/npm/package-lock.json pins them, into .venv/node.
bootstrap_npm() {
  local dir="$VENV/node" want
  want=$(cat "$ROOT/tools/stack/npm/package.json" "$ROOT/tools/stack/npm/package-lock.json" | sha256sum | cut -d' ' -f1)
  if [[ -f "$dir/.lock.sha256" && "$(cat "$dir/.lock.sha256")" == "$want" ]]; then
    return 0
  fi
  log "installing pinned npm packages into .venv/node (first run only)"
  mkdir -p "$dir"
  cp "$ROOT/tools/stack/npm/package.json" "$ROOT/tools/stack/npm/package-lock.json" "$dir/"
  npm ci --prefix "$dir" --no-audit --no-fund --ignore-scripts --loglevel=error
  echo "$want" > "$dir/.lock.sha256"
}

# checkov in a venv of its own (.venv/checkov): its pins (boto3, packaging, networkx) clash with
# moto's, cfn-lint's and sam's. Pinned like the main venv: requirements + a full freeze.
bootstrap_checkov() {
  local dir="$VENV/checkov" want
  local requirements="$ROOT/tools/stack/checkov-requirements.txt" constraints="$ROOT/tools/stack/checkov-constraints.txt"
  want=$(cat "$requirements" "$constraints" | sha256sum | cut -d' ' -f1)
  if [[ -x "$dir/bin/checkov" && -f "$dir/.requirements.sha256" && "$(cat "$dir/.requirements.sha256")" == "$want" ]]; then
    return 0
  fi
  log "installing pinned checkov into .venv/checkov (first run only)"
  python3 -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" -c "$constraints"
  echo "$want" > "$dir/.requirements.sha256"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # url seconds: until anything answers HTTP at url
  python3 - "$1" "$2" <<'PY'
import sys, time, urllib.request, urllib.error
url, deadline = sys.argv[1], time.time() + float(sys.argv[2])
while True:
    try:
        urllib.request.urlopen(url, timeout=max(1.0, deadline - time.time()))
        break
    except urllib.error.HTTPError:
        break
    except Exception:
        if time.time() > deadline:
            sys.exit(f"[stack] timed out waiting for {url}")
        time.sleep(0.2)
PY
}

stop_all() {
  local pid
  for pid in "${PIDS[@]:-}"; do
    # Its process group (services started with setsid), else the process itself.
    [[ -n "$pid" ]] && { kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; }
  done
  for pid in "${PIDS[@]:-}"; do
    [[ -n "$pid" ]] && wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}

# Starts a command in its own process group (so stopping it stops its children too).
start() { # logfile cmd...
  local logfile=$1; shift
  mkdir -p "$(dirname "$logfile")"
  setsid "$@" > "$logfile" 2>&1 &
  PIDS+=("$!")
}

# start_stack MOTO_PORT WATCH_PORT SIM_PORT PREFIX: exports the environment the functions and
# tests see.
start_stack() {
  local moto_port=$1 watch_port=$2 sim_port=$3 prefix=$4
  mkdir -p "$STATE"
  export PATH="$VENV/bin:$PATH"
  export AWS_REGION=${AWS_REGION:-us-east-1} AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
  if [[ -z "${AWS_ENDPOINT_URL:-}" ]]; then
    export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
    export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
    log "moto server on $AWS_ENDPOINT_URL"
    : > "$STATE/iam-$prefix.jsonl"
    ZOOM_IAM_AUDIT_LOG="$STATE/iam-$prefix.jsonl" \
      start "$STATE/moto-$prefix.log" "$VENV/bin/python" "$ROOT/tools/stack/moto_server.py" -H 127.0.0.1 -p "$moto_port"
    wait_for "$AWS_ENDPOINT_URL/moto-api/" 30
    STACK_OWN_EMULATOR=1
  else
    log "using the AWS endpoint already set: $AWS_ENDPOINT_URL"
  fi
  # Least privilege, locally: in our emulator each function signs with its own key (the file its
  # crate's [package.metadata.lambda.watch] env_file names) and is allowed exactly what
  # template.yaml grants it; decisions go to .stack/iam-PREFIX.jsonl (tools/stack/check_iam.py).
  # Against another AWS endpoint there are no such files: the credentials already set are used.
  local iam=()
  if [[ -n "${STACK_OWN_EMULATOR:-}" ]]; then
    iam=(--iam-policies "$STATE/iam-$prefix.json" --iam-env-dir "$STATE/iam")
    # sqs-poller reads each queue as its consuming function, as Lambda's event source mapping
    # uses the function's role (so those grants are checked too).
    export POLLER_CREDENTIALS_DIR="$STATE/iam"
  else
    rm -rf "$STATE/iam"
    unset POLLER_CREDENTIALS_DIR
  fi
  "$VENV/bin/python" tools/stack/provision.py --template template.yaml --prefix "$prefix" \
    --env-out "$STATE/$prefix.env" "${iam[@]}" > /dev/null
  export ZOOM_STACK_ENV_FILE="$STATE/$prefix.env"
  export ZOOM_REDIRECT_URI=${ZOOM_REDIRECT_URI:-http://localhost:$watch_port/api/auth/zoom/callback}
  # The simulator and the functions share the OAuth app and webhook secret.
  export ZOOM_CLIENT_ID=${ZOOM_CLIENT_ID:-sim-client-id}
  export ZOOM_CLIENT_SECRET=${ZOOM_CLIENT_SECRET:-sim-client-secret}
  export ZOOM_WEBHOOK_SECRET_TOKEN=${ZOOM_WEBHOOK_SECRET_TOKEN:-sim-webhook-secret}
  # The token vault's key (AWS: from Secrets Manager). Fresh per run: the emulator is empty too.
  export ZOOM_TOKEN_KEYS=${ZOOM_TOKEN_KEYS:-local:$(python3 -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')}
  # After the OAuth callback the browser lands on the dashboard, on the redirect URI's host
  # (localhost), so the page that started the flow, its session and its cookie are one origin.
  export ZOOM_APP_RETURN_URL=${ZOOM_APP_RETURN_URL:-http://localhost:$watch_port/api/zoom/dashboard}
  # The local stack's switch for the dashboard's development tokens (with API_JWT_SECRET);
  # template.yaml never sets it, so in AWS POST /api/zoom/dashboard/dev-token is 404.
  export ZOOM_DASHBOARD_DEV_TOKENS=${ZOOM_DASHBOARD_DEV_TOKENS:-1}
  # A crashed event's claim is taken over after this long (AWS default: 60 s).
  export ZOOM_IDEMPOTENCY_LEASE_SECS=${ZOOM_IDEMPOTENCY_LEASE_SECS:-3}
  # Meeting groups handled at once per processor invocation, as in AWS (moto's DynamoDB
  # requests are isolated from each other by tools/stack/moto_server.py).
  export ZOOM_PROCESSOR_CONCURRENCY=${ZOOM_PROCESSOR_CONCURRENCY:-4}
  # A meeting settles this long after it ended (AWS: 60 s), so local figures come quickly.
  export ZOOM_SETTLE_DELAY_SECS=${ZOOM_SETTLE_DELAY_SECS:-2}
  if [[ -z "${ZOOM_API_BASE_URL:-}" ]]; then
    cargo build --quiet -p zoom-sim
    export ZOOM_SIM_URL="http://127.0.0.1:$sim_port" ZOOM_SIM_BIN="$ROOT/target/debug/zoom-sim"
    export ZOOM_API_BASE_URL="$ZOOM_SIM_URL/v2" ZOOM_OAUTH_BASE_URL="$ZOOM_SIM_URL"
    log "Zoom simulator on $ZOOM_SIM_URL"
    ZOOM_SIM_LISTEN="127.0.0.1:$sim_port" \
      ZOOM_SIM_WEBHOOK_URL="${ZOOM_SIM_WEBHOOK_URL:-http://127.0.0.1:$watch_port/api/zoom/webhooks}" \
      start "$STATE/zoom-sim-$prefix.log" "$ROOT/target/debug/zoom-sim"
    wait_for "$ZOOM_SIM_URL/_sim/health" 30
  else
    log "using the Zoom API already set: $ZOOM_API_BASE_URL"
  fi
  # cargo lambda watch starts each function with `cargo run --bin NAME` at its first
  # invocation; built here, that first request (a test's, Schemathesis's, a user's) does not
  # wait for a compile and link.
  log "building the functions"
  local name bins=()
  for name in $(sed -n 's/^name = "\(.*\)"$/\1/p' functions/*/Cargo.toml | sort -u); do
    bins+=(--bin "$name")
  done
  cargo build --quiet "${bins[@]}"
  log "cargo lambda watch on http://127.0.0.1:$watch_port"
  # shellcheck disable=SC2086 # WATCH_ARGS: extra words for cargo lambda watch
  start "$STATE/watch-$prefix.log" cargo lambda watch --invoke-address 127.0.0.1 \
    --invoke-port "$watch_port" --env-file "$ZOOM_STACK_ENV_FILE" ${WATCH_ARGS:-}
  wait_for "http://127.0.0.1:$watch_port/" 120
  export ZOOM_E2E_API="http://127.0.0.1:$watch_port"
  # Lambda's SQS event source mappings, locally.
  cargo build --quiet -p sqs-poller -p zoom-load -p zoom-redrive -p zoom-vault
  export ZOOM_POLLER_BIN="$ROOT/target/debug/sqs-poller"
  # What is in the dead-letter queues, and moving messages back (tests/tests/redrive.rs).
  export ZOOM_REDRIVE_BIN="$ROOT/target/debug/zoom-redrive"
  # Finishing a key rotation (tests/tests/vault.rs).
  export ZOOM_VAULT_BIN="$ROOT/target/debug/zoom-vault"
  # The AWS endpoint's proxy (down / stalled / up) for the tests that need a slow AWS.
  export ZOOM_LOAD_BIN="$ROOT/target/debug/zoom-load"
  local archive_queue events_queue purge_queue
  archive_queue=$(grep '^ZOOM_ARCHIVE_QUEUE_URL=' "$ZOOM_STACK_ENV_FILE" | cut -d= -f2-)
  events_queue=$(grep '^ZOOM_EVENTS_QUEUE_URL=' "$ZOOM_STACK_ENV_FILE" | cut -d= -f2-)
  purge_queue=$(grep '^ZOOM_PURGE_QUEUE_URL=' "$ZOOM_STACK_ENV_FILE" | cut -d= -f2-)
  log "sqs-poller: archive jobs -> zoom-recording-archiver, events -> zoom-analytics-processor, purge jobs -> zoom-tenant-purger"
  POLLER_WATCH_URL="$ZOOM_E2E_API" POLLER_CONCURRENCY="${POLLER_CONCURRENCY:-1}" \
    POLLER_ROUTES="$archive_queue=zoom-recording-archiver=900,$events_queue=zoom-analytics-processor=35=100=2000,$purge_queue=zoom-tenant-purger=900" \
    start "$STATE/poller-$prefix.log" "$ROOT/target/debug/sqs-poller"
}

case "${1:-}" in
  bootstrap)
    bootstrap
    ;;
  dev)
    bootstrap
    # Self-verified caller JWTs locally (mint one with tools/stack/mint_jwt.py).
    export API_JWT_SECRET=${API_JWT_SECRET:-local-dev-jwt-secret}
    trap 'log "stopping"; stop_all; exit 0' INT TERM
    trap 'stop_all' EXIT
    start_stack 4566 9000 9100 zoom-local
    log "ready: curl http://127.0.0.1:9000/api/zoom/health   (Ctrl-C stops everything)"
    log "dashboard: http://localhost:9000/api/zoom/dashboard   (sign in with a development token for any tenant name)"
    log "logs: $STATE/*.log; each function's AWS decisions: $STATE/iam-zoom-local.jsonl"
    tail -n +1 -f "$STATE/watch-zoom-local.log" &
    PIDS+=("$!")
    wait
    ;;
  e2e)
    shift
    bootstrap
    trap 'stop_all' EXIT INT TERM
    # Known values so the tests can prove no secret reaches a body or a log line.
    export ZOOM_CLIENT_ID=${ZOOM_CLIENT_ID:-e2e-client-id}
    export ZOOM_CLIENT_SECRET=${ZOOM_CLIENT_SECRET:-e2e-client-secret-$RANDOM$RANDOM}
    export ZOOM_WEBHOOK_SECRET_TOKEN=${ZOOM_WEBHOOK_SECRET_TOKEN:-e2e-webhook-secret-$RANDOM$RANDOM}
    export API_JWT_SECRET=${API_JWT_SECRET:-e2e-jwt-secret-$RANDOM$RANDOM}
    # No hot reload while tests run: a restarted function would fail the requests in flight.
    export WATCH_ARGS=${WATCH_ARGS:---ignore-changes}
    start_stack "$(free_port)" "$(free_port)" "$(free_port)" "e2e-$$"
    # The tests' own watches (tests/src/lib.rs ExtraWatch) leave their logs here when they stop,
    # for the log checks below; removed after them.
    export ZOOM_E2E_WATCH_LOGS="$STATE/watch-e2e-$$.d"
    mkdir -p "$ZOOM_E2E_WATCH_LOGS"
    # Warm the function once so the first test does not pay for the compile.
    wait_for "$ZOOM_E2E_API/api/zoom/config" 600
    set +e
    # shellcheck disable=SC2086 # E2E_PACKAGES: which packages' tests (default all of them)
    cargo test ${E2E_PACKAGES:---workspace} --no-fail-fast "$@"
    status=$?
    set -e
    full=()
    [[ $# -eq 0 && -z "${E2E_PACKAGES:-}" ]] && full=(--full)
    logs=("$STATE"/watch-e2e-$$.log)
    shopt -s nullglob
    logs+=("$ZOOM_E2E_WATCH_LOGS"/*.log)
    shopt -u nullglob
    # Captured-log check over the whole run: no credential the simulator issued, and no secret
    # of the stack, appears in any log line of the functions.
    "$VENV/bin/python" tools/stack/check_logs.py --sim "${ZOOM_SIM_URL:-}" "${logs[@]}" || status=1
    # Least privilege over the run: no request of a function was denied, and (the whole suite,
    # ZOOM_IAM_STRICT=1 by default) every grant of template.yaml was used.
    if [[ -f "$STATE/iam-e2e-$$.json" ]]; then
      "$VENV/bin/python" tools/stack/check_iam.py --policies "$STATE/iam-e2e-$$.json" \
        --audit "$STATE/iam-e2e-$$.jsonl" "${full[@]}" || status=1
    fi
    # Every metric name and dimension set the template's alarms and dashboard use was emitted
    # (EMF lines) during the run; a failure only for the whole suite, else reported.
    "$VENV/bin/python" tools/stack/check_metrics.py --template template.yaml "${full[@]}" "${logs[@]}" || status=1
    rm -rf "$ZOOM_E2E_WATCH_LOGS"
    exit $status
    ;;
  load|cost)
    # The load and fault runs of docs/benchmarks.md: moto behind a proxy that can be taken
    # down and up (zoom-load proxy), the stack with WATCH_ARGS (default: up to 50 instances per
    # function, so concurrent requests do not queue behind each other, as in AWS), then
    # `zoom-load run ARGS`; or `zoom-load cost ARGS` (the meter of tools/stack/moto_server.py
    # counts every request; the poller's log gives the processor's invocations and times).
    mode=$1
    shift
    bootstrap
    trap 'stop_all' EXIT INT TERM
    export API_JWT_SECRET=${API_JWT_SECRET:-load-jwt-secret-$RANDOM$RANDOM}
    export ZOOM_WEBHOOK_SECRET_TOKEN=${ZOOM_WEBHOOK_SECRET_TOKEN:-load-webhook-secret-$RANDOM$RANDOM}
    cargo build --quiet -p zoom-load
    moto_port=$(free_port)
    proxy_port=$(free_port)
    log "moto server on 127.0.0.1:$moto_port, behind the proxy on 127.0.0.1:$proxy_port"
    mkdir -p "$STATE"
    : > "$STATE/iam-$mode-$$.jsonl"
    ZOOM_IAM_AUDIT_LOG="$STATE/iam-$mode-$$.jsonl" \
      start "$STATE/moto-$mode-$$.log" "$VENV/bin/python" "$ROOT/tools/stack/moto_server.py" -H 127.0.0.1 -p "$moto_port"
    wait_for "http://127.0.0.1:$moto_port/moto-api/" 30
    start "$STATE/proxy-$mode-$$.log" "$ROOT/target/debug/zoom-load" proxy "127.0.0.1:$proxy_port" "127.0.0.1:$moto_port"
    export ZOOM_LOAD_PROXY_PID=${PIDS[-1]}
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_ENDPOINT_URL="http://127.0.0.1:$proxy_port"
    wait_for "$AWS_ENDPOINT_URL/moto-api/" 30
    # As in AWS: 4 meeting groups at once per processor invocation, as many pollers as the
    # event source mapping's MaximumConcurrency (moto's DynamoDB requests are isolated by
    # tools/stack/moto_server.py).
    export ZOOM_PROCESSOR_CONCURRENCY=${ZOOM_PROCESSOR_CONCURRENCY:-4} POLLER_CONCURRENCY=${POLLER_CONCURRENCY:-4}
    # The cost run settles meetings as AWS does (template.yaml: 60 s after the end), so a
    # participant event arriving after its meeting's end is covered by the settle already
    # queued instead of queuing another (with the local 2 s, nearly every one would).
    if [[ $mode == cost ]]; then
      export ZOOM_SETTLE_DELAY_SECS=${ZOOM_SETTLE_DELAY_SECS:-60}
    fi
    # The endpoint is the proxy, but the emulator behind it is ours: least privilege applies.
    STACK_OWN_EMULATOR=1 WATCH_ARGS=${WATCH_ARGS:---concurrency 50 --ignore-changes} \
      start_stack "$moto_port" "$(free_port)" "$(free_port)" "$mode-$$"
    wait_for "$ZOOM_E2E_API/api/zoom/config" 600
    if [[ $mode == cost ]]; then
      export ZOOM_POLLER_LOG="$STATE/poller-$mode-$$.log"
      "$ROOT/target/debug/zoom-load" cost "$@"
    else
      "$ROOT/target/debug/zoom-load" run "$@"
    fi
    ;;
  *)
    sed -n '2,10p' "$0" >&2
    exit 2
    ;;
esac

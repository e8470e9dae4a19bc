#!/usr/bin/env bash
# Builds every function for Lambda (arm64, provided.al2023) with cargo lambda, release profile,
# and reports each bootstrap's size against the 8 MB target. Needs the stack's .venv (cargo-lambda
# and zig, pinned in tools/stack/requirements.txt): `make bootstrap`.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.venv/bin:$PATH"
functions=(zoom-health zoom-auth zoom-meetings zoom-users zoom-recordings zoom-recording-archiver
  zoom-webhooks zoom-analytics-processor zoom-analytics)
args=()
for f in "${functions[@]}"; do args+=(--bin "$f"); done
cargo lambda build --release --arm64 "${args[@]}"
limit=$((8 * 1000 * 1000))
status=0
printf '| function | arm64 bootstrap (bytes) | MB | ≤ 8 MB |\n|---|---|---|---|\n'
for f in "${functions[@]}"; do
  size=$(stat -c %s "target/lambda/$f/bootstrap")
  ok=yes; [[ $size -le $limit ]] || { ok=NO; status=1; }
  printf '| %s | %d | %s | %s |\n' "$f" "$size" "$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1000000 }')" "$ok"
done
exit $status

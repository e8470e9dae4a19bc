#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the dashboard's browser test
# (tests/tests/dashboard.rs); .ci/run runs it on every machine, so a fresh one gets them.
# Idempotent: nothing is done when both are installed at one version.
#
# Pinning: Debian's security archive keeps only its newest Chromium build (a version pinned
# here disappears at the next security update), so the version below is installed while Debian
# offers it, else the newest one Debian offers, and the script says so. chromium and
# chromium-driver are always installed at the same version (CHROMIUM_VERSION overrides).
set -euo pipefail
PINNED=${CHROMIUM_VERSION:-156.0.8078.114-1~deb12u1}

installed() { dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null | awk '$3 == "installed" {print $4}'; }

have=$(installed chromium || true)
driver=$(installed chromium-driver || true)
if [[ -n "$have" && "$have" == "$driver" ]] && command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  echo "[browser] chromium and chromium-driver $have are installed"
  exit 0
fi
sudo=()
[[ $(id -u) -ne 0 ]] && sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
offered() { apt-cache madison "$1" | awk -F'|' '{gsub(/ /, "", $2); print $2}' | grep -qxF "$2"; }
if offered chromium "$PINNED" && offered chromium-driver "$PINNED"; then
  version=$PINNED
else
  version=$(apt-cache policy chromium | awk '/Candidate:/ {print $2}')
  echo "[browser] Debian no longer offers chromium $PINNED; installing its current $version"
fi
"${sudo[@]}" apt-get install -y -qq "chromium=$version" "chromium-driver=$version" > /dev/null
echo "[browser] $(chromium --version 2>/dev/null), $(chromedriver --version 2>/dev/null | cut -d' ' -f1-2)"

#!/usr/bin/env bash
# Installs everything mcpd needs to build, test and benchmark on Debian 12,
# skipping what is already there. The one list of system packages lives here.
# Usage: scripts/install-deps.sh [--no-npm]
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config git
  # libmcp dependencies
  libuv1-dev node-llhttp libwslay-dev libssl-dev liblmdb-dev libhiredis-dev
  # tests, sanitizers, fuzzing
  libcmocka-dev clang libclang-rt-14-dev valgrind redis-server openssl
  # benchmark comparison libraries and report check
  libcjson-dev libjansson-dev libjson-c-dev chromium
  # metrics checks (promtool) and a real scraper
  prometheus
  # interop and conformance peers
  nodejs npm
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A machine may carry Node.js outside Debian's package; that is fine as long
# as node and npm run.
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=()
  for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm peers for the interop and conformance tests, pinned by lock files.
if [[ ${1:-} != --no-npm ]]; then
  root=$(cd "$(dirname "$0")/.." && pwd)
  for lock in "$root"/tests/*/package-lock.json; do
    [[ -e $lock ]] || continue
    dir=$(dirname "$lock")
    if [[ ! -d $dir/node_modules || $lock -nt $dir/node_modules/.package-lock.json ]]; then
      echo "install-deps: npm ci in ${dir#"$root"/}"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  done
fi

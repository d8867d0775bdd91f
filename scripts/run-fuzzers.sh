#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR/fuzz for SECONDS each, starting
# from its seed corpus. Fails on the first crash, leak or timeout.
set -euo pipefail
build=${1:?build dir}
seconds=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for bin in "$build"/fuzz/fuzz_*; do
  [[ -x $bin ]] || continue
  name=$(basename "$bin")
  seeds=$root/tests/fuzz/corpus/$name
  work=$(mktemp -d)
  [[ -d $seeds ]] && cp -r "$seeds"/. "$work"/
  echo "fuzz: $name for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$build/fuzz/$name-" -print_final_stats=1 "$work" 2>"$build/fuzz/$name.log"; then
    echo "fuzz: $name FAILED; see $build/fuzz/$name.log"
    tail -40 "$build/fuzz/$name.log"
    status=1
  else
    grep -E 'stat::number_of_executed_units|Done' "$build/fuzz/$name.log" | tail -2
  fi
  rm -rf "$work"
done
exit $status

#!/usr/bin/env bash
# Usage: report_test.sh MCPD SOURCE_DIR OUT_DIR
# Builds a report from a small fresh run plus the committed baselines, loads
# it in headless Chromium and checks that every chart was drawn and that no
# script error was logged. Then proves the check itself works by loading a
# copy of the page whose script throws, which must be caught.
set -euo pipefail
mcpd=$1 src=$2 out=$3

browser=""
for b in chromium chromium-browser; do
  if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
done
if [[ -z $browser ]]; then
  echo "SKIP: chromium is not installed (scripts/install-deps.sh installs it); report not rendered"
  exit 77
fi

rm -rf "$out"
mkdir -p "$out"
"$mcpd" bench run core_ops_1k json_small --quick --out "$out/results" >"$out/run.log"
"$mcpd" bench report --results "$out/results" --baselines "$src/bench/baselines" \
  --thresholds "$src/bench/thresholds.json" --out "$out/report.html" | tee "$out/report.log"
# Every series the report holds must become a chart card.
expected=$(sed -n 's/.*(\([0-9]*\) series.*/\1/p' "$out/report.log")
[[ ${expected:-0} -ge 12 ]] || { echo "FAIL: report has ${expected:-0} series, expected at least 12"; exit 1; }

if grep -Eq '(src|href)="(https?:)?//' "$out/report.html"; then
  echo "FAIL: the report refers to an external resource"; exit 1
fi

# render PAGE NAME: dump the DOM and the log, take a screenshot.
render() {
  local page=$1 name=$2 profile
  profile=$(mktemp -d)
  timeout 90 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --enable-logging=stderr --v=0 --virtual-time-budget=5000 \
    --dump-dom "file://$page" >"$out/$name.dom.html" 2>"$out/$name.console.log" || true
  timeout 90 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --window-size=1400,1800 --screenshot="$out/$name.png" "file://$page" >/dev/null 2>&1 || true
  rm -rf "$profile"
}

# check NAME: 0 when the page says it drew its charts and logged no error.
check() {
  local name=$1 charts
  if grep -Eq 'Uncaught|CONSOLE\([0-9]+\).*[Ee]rror' "$out/$name.console.log"; then
    echo "$name: script error:"; grep -E 'Uncaught|CONSOLE' "$out/$name.console.log" | head -5
    return 1
  fi
  if ! grep -q 'data-render="ok"' "$out/$name.dom.html"; then
    echo "$name: the page did not finish drawing (no data-render=\"ok\")"; return 1
  fi
  charts=$(grep -o 'data-charts="[0-9]*"' "$out/$name.dom.html" | grep -o '[0-9]*' || echo 0)
  if [[ ${charts:-0} -ne $expected ]]; then
    echo "$name: ${charts:-0} charts drawn, expected $expected"; return 1
  fi
  echo "$name: $charts charts drawn, no script errors"
}

render "$out/report.html" report
check report
if [[ ! -s $out/report.png ]]; then echo "FAIL: no screenshot"; exit 1; fi
echo "screenshot: $out/report.png"

# The checker must catch a broken page.
sed 's/var drawn=0;/var drawn=0;null.boom();/' "$out/report.html" >"$out/broken.html"
render "$out/broken.html" broken
if check broken >/dev/null; then
  echo "FAIL: a page whose script throws passed the check"; exit 1
fi
echo "a page with a script error is detected: ok"
echo "1 passed, 0 failed"

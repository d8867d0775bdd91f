# Client interop: `mcpd call` drives a server written with the official MCP
# TypeScript SDK (tests/client/sdk_server.mjs), pinned in
# tests/client/package-lock.json and installed by scripts/install-deps.sh.
# Without node_modules the test fails, saying to run scripts/install-deps.sh.
find_program(MCP_NODE node)
if(NOT MCP_NODE)
  set(MCP_NODE node)
endif()

add_test(NAME client_sdk_server
  COMMAND ${MCP_NODE} --test --test-reporter=spec --test-timeout=60000 call.test.mjs
  WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
set_tests_properties(client_sdk_server PROPERTIES LABELS interop TIMEOUT 300
  ENVIRONMENT "MCPD_BIN=$<TARGET_FILE:mcpd>")

# The same catalog behind the SDK's StreamableHTTPServerTransport on a
# loopback port (sdk_http_server.mjs): `mcpd call http://...`.
add_test(NAME client_sdk_http_server
  COMMAND ${MCP_NODE} --test --test-reporter=spec --test-timeout=60000 call_http.test.mjs
  WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
set_tests_properties(client_sdk_http_server PROPERTIES LABELS interop TIMEOUT 300
  ENVIRONMENT "MCPD_BIN=$<TARGET_FILE:mcpd>")

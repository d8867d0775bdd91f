# Schema: every message mcpd writes on stdio (default catalog and
# --all-features), and what the fixture server below makes libmcp write, for
# each protocol version, validated against the published MCP JSON schema in
# ../shared/data
# (tests/schema/validate.mjs, ajv pinned in tests/schema/package-lock.json).
# Skips (exit 77) when the shared data is absent; fails, saying to run
# scripts/install-deps.sh, when node_modules is missing.
find_program(MCP_NODE node)
if(NOT MCP_NODE)
  set(MCP_NODE node)
endif()

add_test(NAME schema_messages
  COMMAND ${MCP_NODE} validate.mjs
  WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
set_tests_properties(schema_messages PROPERTIES LABELS schema TIMEOUT 180
  SKIP_RETURN_CODE 77
  ENVIRONMENT "MCPD_BIN=$<TARGET_FILE:mcpd>;SCHEMA_FIXTURE_BIN=$<TARGET_FILE:schema_fixture_server>;MCP_SHARED_DATA=${MCP_SHARED_DATA}")

# The fixture server: libmcp on stdio with what the demo catalog never
# sends (server requests, list_changed, resources/updated, ended listens).
add_executable(schema_fixture_server ${CMAKE_CURRENT_LIST_DIR}/fixture_server.c)
set_target_properties(schema_fixture_server PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_include_directories(schema_fixture_server PRIVATE ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(schema_fixture_server PRIVATE mcp_static)

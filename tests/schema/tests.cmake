# Schema: every message mcpd writes on stdio, for each protocol version,
# validated against the published MCP JSON schema in ../shared/data
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
  ENVIRONMENT "MCPD_BIN=$<TARGET_FILE:mcpd>;MCP_SHARED_DATA=${MCP_SHARED_DATA}")

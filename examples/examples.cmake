# The example servers: each examples/<name>.c is one program, built into
# <build>/examples/<name> and linked with libmcp. Their tests are
# tests/unit/test_example_*.c, which find the binaries there (beside
# MCPD_BIN) or in $MCPD_EXAMPLES_DIR, and skip, saying so, when absent.
set(MCP_EXAMPLES fs_server progress_server confirm_server)
foreach(example ${MCP_EXAMPLES})
  add_executable(example_${example} ${CMAKE_CURRENT_LIST_DIR}/${example}.c)
  set_target_properties(example_${example} PROPERTIES
    OUTPUT_NAME ${example}
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/examples)
  target_link_libraries(example_${example} PRIVATE mcp_static)
endforeach()

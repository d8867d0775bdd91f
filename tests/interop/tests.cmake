# Interop: mcpd serve --stdio and --http against the official MCP TypeScript clients,
# and mcpd's OTLP/protobuf export against OpenTelemetry JS's generated decoder,
# pinned in tests/interop/package-lock.json and installed by
# scripts/install-deps.sh. Each file is one CTest test under node's runner;
# the HTTP ones start their own mcpd on a free loopback port.
# Without node_modules the tests fail, saying to run scripts/install-deps.sh.
find_program(MCP_NODE node)
if(NOT MCP_NODE)
  # Keep the tests registered so a machine without node fails them loudly.
  set(MCP_NODE node)
endif()

foreach(pair "interop_sdk1:sdk1.test.mjs" "interop_client2:client2.test.mjs"
             "interop_sdk1_http:sdk1-http.test.mjs" "interop_client2_http:client2-http.test.mjs"
             "interop_features:features.test.mjs"
             "interop_otlp_proto:otlp-proto.test.mjs")
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 name)
  list(GET pair 1 file)
  add_test(NAME ${name}
    COMMAND ${MCP_NODE} --test --test-reporter=spec --test-timeout=30000 ${file}
    WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
  set_tests_properties(${name} PROPERTIES LABELS interop TIMEOUT 180
    ENVIRONMENT "MCPD_BIN=$<TARGET_FILE:mcpd>")
endforeach()

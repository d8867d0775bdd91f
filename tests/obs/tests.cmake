# Observability against real peers: a Prometheus server scrapes the metrics
# text of a registry and of a real `mcpd serve --http --metrics` on loopback
# and answers queries about them. Label "obs"; skips
# (exit 77) when /usr/bin/prometheus is absent.
add_executable(obs_prometheus_scrape ${CMAKE_CURRENT_LIST_DIR}/prometheus_scrape.c)
set_target_properties(obs_prometheus_scrape PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
target_include_directories(obs_prometheus_scrape PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(obs_prometheus_scrape PRIVATE mcp_static)
add_test(NAME obs_prometheus_scrape COMMAND obs_prometheus_scrape)
set_tests_properties(obs_prometheus_scrape PROPERTIES LABELS obs TIMEOUT 120 SKIP_RETURN_CODE 77
  ENVIRONMENT "MCPD_BIN=$<TARGET_FILE:mcpd>")

# Benchmark report check: render `mcpd bench report` in headless Chromium,
# require the page's own "charts drawn" marker and no script error, and keep
# a screenshot in <build>/bench-report/report.png. Skips (exit 77) when
# Chromium is not installed.
add_test(NAME bench_report
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/report_test.sh $<TARGET_FILE:mcpd> ${CMAKE_SOURCE_DIR}
          ${CMAKE_BINARY_DIR}/bench-report)
set_tests_properties(bench_report PROPERTIES LABELS report TIMEOUT 240 SKIP_RETURN_CODE 77)

# The JSON libraries the json benchmark module compares libmcp's codec with
# (Debian: libcjson-dev, libjansson-dev, libjson-c-dev; scripts/install-deps.sh).
pkg_check_modules(BENCH_JSON_LIBS REQUIRED IMPORTED_TARGET libcjson jansson json-c)
target_link_libraries(mcpd PRIVATE PkgConfig::BENCH_JSON_LIBS)

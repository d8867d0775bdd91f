# The compile flags that really apply to this build, for the environment
# block of every benchmark result: the flags of the build type are looked up
# by its upper-case name (CMAKE_C_FLAGS_RELEASE), which MCP_BUILD_FLAGS in the
# top-level CMakeLists does not do.
string(TOUPPER "${CMAKE_BUILD_TYPE}" _bench_build_type)
target_compile_definitions(mcpd PRIVATE
  MCP_BENCH_BUILD_FLAGS="${CMAKE_C_FLAGS} ${CMAKE_C_FLAGS_${_bench_build_type}}")

# libFuzzer targets: every tests/fuzz/fuzz_*.c defines LLVMFuzzerTestOneInput.
# Built only with -DMCP_FUZZ=ON and clang (`make fuzz`); the seed corpus of a
# target lives in tests/fuzz/corpus/<name>/.
if(MCP_FUZZ)
  # Undefined behaviour stops the run like a crash, so that it fails CI
  # instead of scrolling past in the log.
  target_compile_options(mcp_objects PRIVATE -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined)
  add_custom_target(fuzz_targets)
  file(GLOB FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/fuzz_*.c)
  foreach(src ${FUZZ_SOURCES})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
    target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/src)
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${name} PRIVATE mcp_static)
    add_dependencies(fuzz_targets ${name})
  endforeach()
endif()

# ptq_add_test_groups(TARGET GROUP_SIZE N PROPERTIES ...): registers the GoogleTest cases of
# TARGET with CTest in groups of at most N cases of one suite, each group one process.
#
# Why not gtest_discover_tests: it makes one process per case, and every process first runs
# LibTorch's static initialisers (about 0.5 s of CPU, 1.5 s under AddressSanitizer). With ~550
# cases that start-up alone was a quarter of the test time. Groups keep `ctest -R Suite` and
# per-suite failure reports; `--gtest_filter` on tests/ptq_tests runs single cases.
#
# The cases are listed after each build (tests/cmake/write_test_groups.cmake) into a file CTest
# includes. A group whose cases all passed but some skipped exits 77 (tests/test_main.cpp,
# --ptq-skipped-exit-code), which CTest reports as skipped, never as passed; a failure wins.
set(PTQ_TEST_GROUPS_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/write_test_groups.cmake)

function(ptq_add_test_groups target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "GROUP_SIZE" "PROPERTIES")
  set(groups_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_groups.cmake")
  set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_include.cmake")
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -D "TEST_EXECUTABLE=$<TARGET_FILE:${target}>"
      -D "GROUP_SIZE=${arg_GROUP_SIZE}" -D "OUTPUT=${groups_file}"
      -P ${PTQ_TEST_GROUPS_SCRIPT}
    BYPRODUCTS ${groups_file}
    VERBATIM)
  string(REPLACE ";" " " properties "${arg_PROPERTIES}")
  file(WRITE ${include_file}
    "if(EXISTS \"${groups_file}\")\n"
    "  include(\"${groups_file}\")\n"
    "  set_tests_properties(\${ptq_test_groups} PROPERTIES SKIP_RETURN_CODE 77 ${properties})\n"
    "else()\n"
    "  add_test(${target}_NOT_BUILT ${target}_NOT_BUILT)\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${include_file})
endfunction()

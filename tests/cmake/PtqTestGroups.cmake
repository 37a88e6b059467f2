# ptq_add_test_groups(TARGET GROUP_SIZE N [FIXTURES NAME] [UNIT_SUITES ...] [CLI_SUITES ...]
#                     [SLOW_CASES ...] PROPERTIES ...): registers the GoogleTest cases of TARGET
# with CTest in groups of at most N cases of one suite, each group one process, labelled
# `unit` (UNIT_SUITES: they need no fixtures), `cli` (CLI_SUITES) or `model`, plus `slow` for a
# group holding one of SLOW_CASES ("Suite.Case" or "Suite.*"). Groups other than unit ones
# require the CTest fixture FIXTURES.
#
# Why not gtest_discover_tests: it makes one process per case, and every process first runs
# LibTorch's static initialisers (about 0.5 s of CPU, 1.5 s under AddressSanitizer). With ~550
# cases that start-up alone was a quarter of the test time. Groups keep `ctest -R Suite` and
# per-suite failure reports; `--gtest_filter` on tests/ptq_tests runs single cases.
#
# The cases are listed after each build, or change of the labels, by
# tests/cmake/write_test_groups.cmake into a file CTest includes. A group whose cases all
# passed but some skipped exits 77 (tests/test_main.cpp, --ptq-skipped-exit-code), which CTest
# reports as skipped, never as passed; a failure wins.
set(PTQ_TEST_GROUPS_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/write_test_groups.cmake)

function(ptq_add_test_groups target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "GROUP_SIZE;FIXTURES"
    "PROPERTIES;UNIT_SUITES;CLI_SUITES;SLOW_CASES")
  set(groups_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_groups.cmake")
  set(labels_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_labels.cmake")
  set(include_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_include.cmake")
  # Rewritten only when its content changes, so a configure alone does not relist the cases.
  file(CONFIGURE OUTPUT ${labels_file} CONTENT
    "set(unit_suites [==[${arg_UNIT_SUITES}]==])\nset(cli_suites [==[${arg_CLI_SUITES}]==])
set(slow_cases [==[${arg_SLOW_CASES}]==])\nset(fixtures [==[${arg_FIXTURES}]==])\n" @ONLY)
  add_custom_command(OUTPUT ${groups_file}
    COMMAND ${CMAKE_COMMAND} -D "TEST_EXECUTABLE=$<TARGET_FILE:${target}>"
      -D "GROUP_SIZE=${arg_GROUP_SIZE}" -D "LABELS=${labels_file}" -D "OUTPUT=${groups_file}"
      -P ${PTQ_TEST_GROUPS_SCRIPT}
    DEPENDS ${target} ${labels_file} ${PTQ_TEST_GROUPS_SCRIPT}
    VERBATIM)
  add_custom_target(${target}_groups ALL DEPENDS ${groups_file})
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

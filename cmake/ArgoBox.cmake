# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers shared by every component's CMakeLists.txt.

# ab_unit_test(NAME SOURCES src... LIBS lib... [LABELS l...])
# A cmocka executable registered with CTest, labelled `unit` by default; it links ab_testlib
# (tests/lib/c: AB_TEST_MAIN and the shared fixtures).
function(ab_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT TARGET PkgConfig::CMOCKA)
    message(WARNING "cmocka not found: unit test ${name} is not built")
    return()
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} ab_testlib PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT 120)
endfunction()

# ab_script_test(NAME COMMAND cmd... LABELS l... [TIMEOUT s])
# A test that runs a script (integration, e2e, security) against the built binaries.
# The environment carries the build and source directories.
function(ab_script_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "COMMAND;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND ${T_COMMAND})
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    SKIP_RETURN_CODE 77
    ENVIRONMENT "AB_BUILD_DIR=${CMAKE_BINARY_DIR};AB_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endfunction()

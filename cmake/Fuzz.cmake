# SPDX-License-Identifier: GPL-2.0-or-later
# -DARGOBOX_FUZZ=ON (with CC=clang, in a build directory of its own): every library is built
# with libFuzzer's coverage instrumentation and ASan+UBSan, and tests/fuzz/ links one libFuzzer
# binary per parser (docs/fuzzing.md; ./argobox fuzz). The normal (gcc) build is untouched: it
# links the same fuzz targets with a replay driver that runs their corpora as ctest tests.
option(ARGOBOX_FUZZ "Build the libFuzzer targets of tests/fuzz/ (needs CC=clang)" OFF)
if(ARGOBOX_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "ARGOBOX_FUZZ needs clang (CC=clang cmake -DARGOBOX_FUZZ=ON ...), "
                        "not ${CMAKE_C_COMPILER_ID}")
  endif()
  if(ARGOBOX_SANITIZE)
    message(FATAL_ERROR "ARGOBOX_FUZZ brings its own sanitizers: drop ARGOBOX_SANITIZE")
  endif()
  # -Wformat=2's format-nonliteral: clang also flags vsnprintf in ab_err.c's own printf-like
  # functions, which gcc (the build CI's -Werror applies to) accepts
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer -Wno-format-nonliteral)
  add_link_options(-fsanitize=address,undefined)
endif()

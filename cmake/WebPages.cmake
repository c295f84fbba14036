# SPDX-License-Identifier: GPL-2.0-or-later
# The web pages, composed. web/pages/<page>.html holds what is the page's own; its first line is
# its SPDX header and a line `<!--#include NAME -->` stands for web/pages/NAME, a partial the
# pages share (head.html: the doctype and the head's common lines). ab_compose_pages() writes
# web/<page>.html from them (gitignored), the web root ./argobox run, the tests and
# cmake --install use; a page is rewritten only when its text changes (its ETag stays).
#
# Included: composes at configure time, and an edit of a page or a partial re-runs it on the
# next build. As a script, the check the test web_pages runs:
#   cmake -DPAGES=web/pages -DOUT=DIR -P cmake/WebPages.cmake
if(CMAKE_SCRIPT_MODE_FILE)
  cmake_minimum_required(VERSION 3.25)
endif()

# Writes `text` to `path` through a temporary file and a rename, only when it differs.
function(ab_write_if_changed path text)
  if(EXISTS "${path}")
    file(READ "${path}" old)
    if(old STREQUAL text)
      return()
    endif()
  endif()
  file(WRITE "${path}.tmp" "${text}")
  file(RENAME "${path}.tmp" "${path}")
endfunction()

# Composes every page of the folder `pages` into `out`: the files no include names are the pages,
# the others their partials. Returns every file read in `ret_inputs` (CMAKE_CONFIGURE_DEPENDS).
function(ab_compose_pages pages out ret_inputs)
  get_filename_component(pages "${pages}" ABSOLUTE)
  file(GLOB srcs RELATIVE "${pages}" "${pages}/*.html")
  set(inputs "")
  set(partials "")
  foreach(name IN LISTS srcs)
    list(APPEND inputs "${pages}/${name}")
    file(STRINGS "${pages}/${name}" incs REGEX "^<!--#include [a-z0-9_-]+\\.html -->$")
    foreach(inc IN LISTS incs)
      string(REGEX REPLACE "^<!--#include (.*) -->$" "\\1" p "${inc}")
      list(APPEND partials "${p}")
    endforeach()
  endforeach()
  foreach(name IN LISTS srcs)
    if(name IN_LIST partials)
      continue()
    endif()
    file(READ "${pages}/${name}" text)
    # the page's own SPDX line: the composed page has the partial's, where the doctype allows it
    string(REGEX REPLACE "^<!-- SPDX-License-Identifier: [^\n]* -->\n" "" text "${text}")
    string(REGEX MATCHALL "<!--#include [^\n]*-->" incs "${text}")
    foreach(inc IN LISTS incs)
      string(REGEX REPLACE "^<!--#include ([a-z0-9_-]+\\.html) -->$" "\\1" p "${inc}")
      if(p STREQUAL inc OR NOT EXISTS "${pages}/${p}")
        message(FATAL_ERROR "web/pages/${name}: an include that names no partial of web/pages/: "
                            "'${inc}'")
      endif()
      file(READ "${pages}/${p}" partial)
      string(REGEX REPLACE "(<!-- SPDX-License-Identifier: [^\n]* -->\n)"
             "\\1<!-- composed from web/pages/${name} and its partials (cmake/WebPages.cmake): edit those -->\n"
             partial "${partial}")
      string(REPLACE "${inc}\n" "${partial}" text "${text}")
    endforeach()
    ab_write_if_changed("${out}/${name}" "${text}")
  endforeach()
  set(${ret_inputs} "${inputs}" PARENT_SCOPE)
endfunction()

if(CMAKE_SCRIPT_MODE_FILE AND CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  if(NOT PAGES OR NOT OUT)
    message(FATAL_ERROR "usage: cmake -DPAGES=web/pages -DOUT=DIR -P ${CMAKE_CURRENT_LIST_FILE}")
  endif()
  file(MAKE_DIRECTORY "${OUT}")
  ab_compose_pages("${PAGES}" "${OUT}" inputs)
endif()

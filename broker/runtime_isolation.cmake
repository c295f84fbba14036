# SPDX-License-Identifier: GPL-2.0-or-later
# isolation: chooses the session launcher (OCI containers or plain processes) and turns users and
# profiles into container profiles (broker/isolation.c, docs/isolation.md). Sorted after
# runtime.cmake, which it needs.
if(TARGET ab_broker_runtime AND TARGET ab_broker_auth)
  add_library(ab_broker_isolation STATIC isolation.c)
  target_include_directories(ab_broker_isolation PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(ab_broker_isolation PUBLIC ab_common ab_broker_core ab_broker_runtime
                                                   ab_broker_auth ab_broker_audit)
  include(GNUInstallDirs)
  target_compile_definitions(ab_broker_isolation PRIVATE
    AB_ISOLATION_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    AB_ISOLATION_DATA_DIR="${CMAKE_INSTALL_FULL_DATADIR}/argobox")
  target_compile_definitions(argobox-broker PRIVATE AB_HAVE_ISOLATION=1)
  ab_broker_area(ab_broker_isolation)
endif()

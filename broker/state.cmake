# SPDX-License-Identifier: GPL-2.0-or-later
# state area: desktop state between the window manager, the store and the HTTP API
# (deskstate_sync; docs/state-flow.md). Needs the kv store and the wm's X-free validator.
if(TARGET ab_broker_kv)
  add_library(ab_broker_state STATIC deskstate_sync.c)
  target_include_directories(ab_broker_state PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(ab_broker_state PUBLIC ab_common ab_broker_core ab_broker_kv
                                               ab_broker_audit ab_deskstate)
  ab_broker_area(ab_broker_state)
endif()

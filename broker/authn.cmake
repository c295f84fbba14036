# SPDX-License-Identifier: GPL-2.0-or-later
# authn: identity wired into the broker (authorize hook, auth routes, demo lifecycle).
add_library(ab_broker_authn STATIC authn.c)
target_include_directories(ab_broker_authn PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(ab_broker_authn PUBLIC ab_broker_auth ab_broker_core ab_broker_kv)
ab_broker_area(ab_broker_authn)

# SPDX-License-Identifier: GPL-2.0-or-later
add_library(ab_broker_audit STATIC audit.c)
target_include_directories(ab_broker_audit PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(ab_broker_audit PUBLIC ab_common)
ab_broker_area(ab_broker_audit)

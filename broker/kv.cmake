# SPDX-License-Identifier: GPL-2.0-or-later
# kv area: the asynchronous HTTP client (httpc, also used by auth for JWKS) and the key-value
# store (embedded backend, Cloudflare Workers KV backend).
if(NOT TARGET PkgConfig::CURL)
  message(FATAL_ERROR "libcurl not found (apt-get install libcurl4-openssl-dev)")
endif()
add_library(ab_broker_httpc STATIC httpc.c)
target_include_directories(ab_broker_httpc PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(ab_broker_httpc PUBLIC ab_common PkgConfig::CURL)
ab_broker_area(ab_broker_httpc)

file(GLOB ab_kv_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/kv*.c)
if(ab_kv_sources)
  add_library(ab_broker_kv STATIC ${ab_kv_sources})
  target_include_directories(ab_broker_kv PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(ab_broker_kv PUBLIC ab_common ab_broker_httpc ab_broker_audit)
  ab_broker_area(ab_broker_kv)
endif()

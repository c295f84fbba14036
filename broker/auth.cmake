# SPDX-License-Identifier: GPL-2.0-or-later
# auth area: users and profiles, Cloudflare Access JWT + JWKS, local sign-in, demo identities,
# authorization table. Links libcrypt (crypt(3)), OpenSSL 3 (RS256) and httpc (JWKS fetch).
find_library(AB_LIBCRYPT crypt REQUIRED)
add_library(ab_broker_auth STATIC users.c jwt.c jwks.c auth_local.c demo.c authz.c auth_config.c auth_request.c)
target_include_directories(ab_broker_auth PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(ab_broker_auth PUBLIC ab_common ab_broker_audit ab_broker_httpc
                      PkgConfig::OPENSSL ${AB_LIBCRYPT})
ab_broker_area(ab_broker_auth)

# SPDX-License-Identifier: GPL-2.0-or-later
# vncgw: the RFB gateway for native VNC clients (TCP listener on the broker's loop, VNC
# Authentication with per-user access passwords, splice to the desktop's rfb.sock;
# docs/vncgw.md). OpenSSL 3 for DES (as triple DES with one key, in the default provider).
add_library(ab_broker_vncgw STATIC vncgw.c)
target_include_directories(ab_broker_vncgw PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(ab_broker_vncgw PUBLIC ab_common ab_broker_core ab_broker_audit
                      ab_broker_rfbflow PkgConfig::OPENSSL)
ab_broker_area(ab_broker_vncgw)

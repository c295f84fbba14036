# SPDX-License-Identifier: GPL-2.0-or-later
# The broker's core (event loop, HTTP/websocket server, proxy, desktops, control channel,
# admin socket) and the argobox-broker / argoboxctl executables, which link every area.

# rfbflow: the RFB client-stream follower that holds update requests for slow clients, shared
# by the websocket proxy and the VNC gateway (vncgw.cmake); pure, unit-tested on its own.
add_library(ab_broker_rfbflow STATIC rfbflow.c)
target_include_directories(ab_broker_rfbflow PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(ab_broker_rfbflow PUBLIC ab_common)

add_library(ab_broker_core STATIC config.c loop_lws.c server.c proxy.c desktop.c control.c ctl.c)
target_include_directories(ab_broker_core PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(ab_broker_core PUBLIC ab_common ab_broker_audit ab_broker_rfbflow
                      PkgConfig::LWS)
ab_broker_area(ab_broker_core)

add_executable(argobox-broker main.c)
add_executable(argoboxctl argoboxctl.c)

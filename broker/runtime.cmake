# SPDX-License-Identifier: GPL-2.0-or-later
# Containers and isolation: OCI bundles (bundle.c), the runc/crun driver (runtime.c) and the
# per-user network namespace + nftables policy (netpol.c, libmnl + libnftnl).
if(NOT TARGET PkgConfig::NFTNL OR NOT TARGET PkgConfig::MNL OR NOT TARGET PkgConfig::SECCOMP)
  message(WARNING "libnftnl/libmnl/libseccomp not found: the container runtime area is not built")
  return()
endif()
add_library(ab_broker_runtime STATIC bundle.c runtime.c netpol.c secnotify.c launcher_oci.c)
target_include_directories(ab_broker_runtime PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(ab_broker_runtime PUBLIC ab_common ab_broker_audit PkgConfig::NFTNL
                      PkgConfig::MNL PkgConfig::SECCOMP)
ab_broker_area(ab_broker_runtime)

# One container's seccomp listener in a process of its own, so that denied calls stay audited
# across broker restarts (seccomp_shim.c; started by runtime.c next to the broker binary).
add_executable(argobox-seccomp-shim seccomp_shim.c)
target_link_libraries(argobox-seccomp-shim PRIVATE ab_broker_runtime ab_broker_audit ab_common
                      PkgConfig::SECCOMP)

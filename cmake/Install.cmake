# SPDX-License-Identifier: GPL-2.0-or-later
# `cmake --install` for a real host (docs/install.md). Layout under the prefix:
#   libexec/argobox/  every ArgoBox program (the broker finds argobox-session, argobox-wm and
#                     argobox-seccomp-shim next to itself)
#   sbin/argobox-broker, bin/argoboxctl   links into libexec/argobox
#   share/argobox/    web/ (with noVNC's core), assets/, containers/ (seccomp, AppArmor,
#                     nftables reference, rootfs recipes), argobox.sample.json
#   lib/systemd/system/argobox-broker.service
# The configuration (/etc/argobox/argobox.json) and the data (/var/lib/argobox) are never
# written by an install: an upgrade replaces programs and shared files only.
include(GNUInstallDirs)

set(ab_libexec ${CMAKE_INSTALL_LIBEXECDIR}/argobox)
set(ab_share ${CMAKE_INSTALL_DATADIR}/argobox)
set(ARGOBOX_SYSTEMD_UNIT_DIR lib/systemd/system CACHE STRING
    "where the systemd unit goes, relative to the prefix")
set(ARGOBOX_SYSCONF_DIR /etc/argobox CACHE PATH "the configuration directory the unit names")
set(ARGOBOX_STATE_DIR /var/lib/argobox CACHE PATH "the data directory the unit names")

foreach(exe argobox-broker argoboxctl argobox-session argobox-wm argobox-seccomp-shim)
  if(TARGET ${exe})
    install(TARGETS ${exe} RUNTIME DESTINATION ${ab_libexec} COMPONENT runtime)
  else()
    message(WARNING "install: ${exe} is not built, so it is not installed")
  endif()
endforeach()

# Links: sbin/argobox-broker and bin/argoboxctl, relative so that DESTDIR and a moved prefix
# keep working.
install(CODE "
  foreach(pair \"${CMAKE_INSTALL_SBINDIR}/argobox-broker\" \"${CMAKE_INSTALL_BINDIR}/argoboxctl\")
    get_filename_component(dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/\${pair}\" DIRECTORY)
    get_filename_component(name \"\${pair}\" NAME)
    file(MAKE_DIRECTORY \"\${dir}\")
    file(RELATIVE_PATH rel \"\${CMAKE_INSTALL_PREFIX}/\${pair}/..\"
         \"\${CMAKE_INSTALL_PREFIX}/${ab_libexec}/\${name}\")
    file(CREATE_LINK \"\${rel}\" \"\${dir}/\${name}\" SYMBOLIC)
    message(STATUS \"Installing: \${dir}/\${name} -> \${rel}\")
  endforeach()" COMPONENT runtime)

# web/: the pages (composed from web/pages/ at configure time: cmake/WebPages.cmake), and
# noVNC's core from the pinned npm package (installed by ./argobox deps).
install(DIRECTORY ${CMAKE_SOURCE_DIR}/web/ DESTINATION ${ab_share}/web COMPONENT runtime
        PATTERN node_modules EXCLUDE PATTERN package.json EXCLUDE
        PATTERN package-lock.json EXCLUDE PATTERN CMakeLists.txt EXCLUDE
        PATTERN pages EXCLUDE)
set(ab_novnc ${CMAKE_SOURCE_DIR}/web/node_modules/@novnc/novnc)
if(EXISTS ${ab_novnc}/core)
  install(DIRECTORY ${ab_novnc}/core DESTINATION ${ab_share}/web/node_modules/@novnc/novnc
          COMPONENT runtime)
  install(FILES ${ab_novnc}/LICENSE.txt ${ab_novnc}/package.json
          DESTINATION ${ab_share}/web/node_modules/@novnc/novnc COMPONENT runtime)
else()
  message(WARNING "install: web/node_modules/@novnc/novnc is missing (./argobox deps): "
                  "the installed desktop page will not load")
endif()

install(DIRECTORY ${CMAKE_SOURCE_DIR}/assets/ DESTINATION ${ab_share}/assets COMPONENT runtime)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/containers/ DESTINATION ${ab_share}/containers
        COMPONENT runtime PATTERN README.md EXCLUDE)
install(FILES ${CMAKE_SOURCE_DIR}/config/argobox.sample.json DESTINATION ${ab_share}
        COMPONENT runtime)
install(PROGRAMS ${CMAKE_SOURCE_DIR}/scripts/first-run-config DESTINATION ${ab_libexec}
        COMPONENT runtime)

install(FILES ${CMAKE_SOURCE_DIR}/docs/install.md DESTINATION ${CMAKE_INSTALL_DOCDIR}
        COMPONENT runtime)

# The unit names absolute paths under the prefix given at install time (cmake --install
# --prefix P), so it is written then, not at configure time.
install(CODE "
  set(CMAKE_INSTALL_FULL_LIBEXECDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBEXECDIR}\")
  set(CMAKE_INSTALL_FULL_DATADIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATADIR}\")
  set(CMAKE_INSTALL_FULL_DOCDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
  set(ARGOBOX_SYSCONF_DIR \"${ARGOBOX_SYSCONF_DIR}\")
  set(ARGOBOX_STATE_DIR \"${ARGOBOX_STATE_DIR}\")
  set(unit \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${ARGOBOX_SYSTEMD_UNIT_DIR}/argobox-broker.service\")
  configure_file(\"${CMAKE_SOURCE_DIR}/dist/systemd/argobox-broker.service.in\" \"\${unit}\" @ONLY)
  message(STATUS \"Installing: \${unit}\")" COMPONENT runtime)

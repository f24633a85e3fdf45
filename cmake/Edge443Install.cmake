# Edge443Install.cmake — what `cmake --install` (and so the .deb) installs.
#
#   PREFIX/sbin/edge443                     the daemon (GNUInstallDirs SBINDIR)
#   EDGE443_CONFDIR/edge443.conf            conf/edge443.conf, never overwritten
#   EDGE443_LOGROTATEDIR/edge443            dist/edge443.logrotate, never overwritten
#   PREFIX/share/man/man8/edge443.8.gz      when scdoc is found (Edge443Man.cmake)
#   PREFIX/share/man/man5/edge443.conf.5.gz
#   PREFIX/share/doc/edge443/               LICENSE, README.md, copyright,
#                                           examples/edge443.conf
#   PREFIX/lib/systemd/system/edge443.service   if dist/ has it
#   PREFIX/lib/sysusers.d/edge443.conf      the edge443 system user
#
# The configuration goes to /etc/edge443 whatever the prefix, because that is
# where the program looks (-c defaults to /etc/edge443/edge443.conf, in
# include/edge443/config.h); logrotate reads only /etc/logrotate.d.  Both are
# installed by install(CODE) that keeps a file already there (an
# administrator's edit is never lost to a reinstall), honouring DESTDIR.

set(EDGE443_CONFDIR "/etc/edge443" CACHE PATH
  "Folder of edge443.conf; edge443 reads /etc/edge443/edge443.conf by default")
set(EDGE443_LOGROTATEDIR "/etc/logrotate.d" CACHE PATH
  "Folder of logrotate's per-package files")
set(EDGE443_SYSTEMDUNITDIR "lib/systemd/system" CACHE PATH
  "systemd unit folder (relative: under the prefix)")
set(EDGE443_SYSUSERSDIR "lib/sysusers.d" CACHE PATH
  "systemd-sysusers folder (relative: under the prefix)")

install(TARGETS edge443 RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})

# edge443_install_config(SOURCE DIR NAME): install SOURCE as DIR/NAME unless
# DESTDIR/DIR/NAME exists.  DIR is absolute.  file(INSTALL) prepends DESTDIR
# itself and records the file in install_manifest.txt.
function(edge443_install_config source dir name)
  install(CODE "
    set(_dest \"\$ENV{DESTDIR}${dir}/${name}\")
    if(EXISTS \"\${_dest}\" OR IS_SYMLINK \"\${_dest}\")
      message(STATUS \"Kept: \${_dest} (exists; not overwritten)\")
    else()
      file(INSTALL DESTINATION \"${dir}\" TYPE FILE
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
        RENAME \"${name}\" FILES \"${source}\")
    endif()
  ")
endfunction()

edge443_install_config(${PROJECT_SOURCE_DIR}/conf/edge443.conf
  ${EDGE443_CONFDIR} edge443.conf)
edge443_install_config(${PROJECT_SOURCE_DIR}/dist/edge443.logrotate
  ${EDGE443_LOGROTATEDIR} edge443)

if(EDGE443_MAN_BUILT)
  install(FILES ${EDGE443_MAN_DIR}/edge443.8.gz
    DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
  install(FILES ${EDGE443_MAN_DIR}/edge443.conf.5.gz
    DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
endif()

# Debian's machine-readable copyright file, made from LICENSE (DEP-5: the
# licence text indented by one space, empty lines written as " .").
file(READ ${PROJECT_SOURCE_DIR}/LICENSE _edge443_license)
string(STRIP "${_edge443_license}" _edge443_license)
string(REGEX REPLACE "\n\n+" "\n.\n" _edge443_license "${_edge443_license}")
string(REPLACE "\n" "\n " _edge443_license "${_edge443_license}")
file(WRITE ${CMAKE_BINARY_DIR}/copyright
"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: edge443
Source: the edge443 source tree (LICENSE)

Files: *
Copyright: the edge443 authors
License: BSD-2-Clause

License: BSD-2-Clause
 ${_edge443_license}
")
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/README.md
  ${CMAKE_BINARY_DIR}/copyright
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/conf/edge443.conf
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# The systemd unit is written in dist/ by its own change; install it when it
# is there, as is, or from edge443.service.in with the install paths filled
# in (@CMAKE_INSTALL_FULL_SBINDIR@, @EDGE443_CONFDIR@).
if(EXISTS ${PROJECT_SOURCE_DIR}/dist/edge443.service.in)
  configure_file(${PROJECT_SOURCE_DIR}/dist/edge443.service.in
    ${CMAKE_BINARY_DIR}/edge443.service @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/edge443.service
    DESTINATION ${EDGE443_SYSTEMDUNITDIR})
elseif(EXISTS ${PROJECT_SOURCE_DIR}/dist/edge443.service)
  install(FILES ${PROJECT_SOURCE_DIR}/dist/edge443.service
    DESTINATION ${EDGE443_SYSTEMDUNITDIR})
endif()
install(FILES ${PROJECT_SOURCE_DIR}/dist/edge443.sysusers
  DESTINATION ${EDGE443_SYSUSERSDIR} RENAME edge443.conf)

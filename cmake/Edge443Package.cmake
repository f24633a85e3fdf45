# Edge443Package.cmake — the Debian package, made by `cpack -G DEB`.
#
#   cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr
#   cmake --build build-deb && (cd build-deb && cpack -G DEB)
#
# gives build-deb/edge443_VERSION_ARCH.deb with what Edge443Install.cmake
# installs (under /usr, the configuration and the logrotate file under /etc as
# conffiles), the dependencies that dpkg-shlibdeps computes from the binary's
# shared libraries (package dpkg-dev) plus adduser, and the maintainer scripts
# of dist/deb/: postinst creates the system user edge443.  tests/packaging/
# test_deb.sh installs it into a freshly bootstrapped Debian 12.

set(CPACK_PACKAGE_NAME edge443)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "the edge443 authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "TLS front end that validates the certificate plan before binding port 443")
set(CPACK_PACKAGE_DESCRIPTION
"edge443 listens on separate IP addresses at port 443, one per published
service, presents each listener's own certificate and forwards the traffic
to the backends: terminated, re-encrypted or passed through untouched.
Before it binds a single socket it validates the certificate plan (which
certificate serves which service, CN and SAN mapping, chain, key, validity)
and refuses to start when the plan is wrong, as the Office Communications
Server and Lync Edge layouts need.  It also plans the certificates to order,
repairs certificate requests and probes what clients really see.")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
# A packager names themselves: -DEDGE443_DEB_MAINTAINER="Name <address>".
set(EDGE443_DEB_MAINTAINER "the edge443 authors <edge443@example.org>" CACHE STRING
  "Maintainer field of the Debian package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # edge443_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${EDGE443_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Appended to what dpkg-shlibdeps computes: postinst runs adduser.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# trust_file defaults to /etc/ssl/certs/ca-certificates.crt.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "logrotate")

set(_deb_control ${CMAKE_BINARY_DIR}/deb-control)
foreach(f postinst prerm postrm conffiles)
  configure_file(${PROJECT_SOURCE_DIR}/dist/deb/${f}.in ${_deb_control}/${f} @ONLY)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${_deb_control}/postinst ${_deb_control}/prerm ${_deb_control}/postrm
  ${_deb_control}/conffiles)
# Maintainer scripts 0755, conffiles 0644, whatever the umask.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# Checked when cpack runs (dist/deb/cpack-options.cmake.in): a .deb's files
# live under /usr, and the man pages must be in it.
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_BINARY_DIR}/edge443-cpack-options.cmake)
configure_file(${PROJECT_SOURCE_DIR}/dist/deb/cpack-options.cmake.in
  ${CPACK_PROJECT_CONFIG_FILE} @ONLY)

set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/" "/certs/lab/" "/bench/out/")

include(CPack)

# Edge443Man.cmake — the man pages edge443(8) and edge443.conf(5).
#
# Their sources are scdoc (Debian package scdoc) in doc/NAME.SECTION.scd, with
# @PROJECT_VERSION@ substituted first.  When scdoc is found they are built
# with the program (target `man`, part of ALL) into BUILD/man/, as NAME.SECTION
# for the lint test (tests/packaging/test_man.sh) and as NAME.SECTION.gz for
# installation, as Debian installs man pages.  scdoc's output is tidied by
# Edge443ManTidy.cmake (paragraph macros that do nothing) first.  Without scdoc nothing is built
# or installed and the man-page tests fail saying so (scripts/deps installs
# it).
#
# Sets EDGE443_MAN_DIR (where the pages are built), EDGE443_MAN_PAGES (their
# names) and EDGE443_MAN_BUILT (TRUE when scdoc was found).

set(EDGE443_MAN_PAGES edge443.8 edge443.conf.5)
set(EDGE443_MAN_DIR ${CMAKE_BINARY_DIR}/man)
set(EDGE443_MAN_BUILT FALSE)

find_program(EDGE443_SCDOC scdoc)
find_program(EDGE443_GZIP gzip)
if(NOT EDGE443_SCDOC OR NOT EDGE443_GZIP)
  message(STATUS "scdoc or gzip not found: no man pages (scripts/deps installs scdoc)")
  return()
endif()

set(_man_outputs)
foreach(page ${EDGE443_MAN_PAGES})
  set(_src ${PROJECT_SOURCE_DIR}/doc/${page}.scd)
  set(_scd ${EDGE443_MAN_DIR}/${page}.scd)
  set(_out ${EDGE443_MAN_DIR}/${page})
  # Re-run at configure time when the source changes (CONFIGURE_DEPENDS-like:
  # configure_file records the dependency).
  configure_file(${_src} ${_scd} @ONLY)
  add_custom_command(OUTPUT ${_out} ${_out}.gz
    COMMAND sh -c "\"$0\" < \"$1\" > \"$2\" || { rm -f \"$2\"; exit 1; }"
      ${EDGE443_SCDOC} ${_scd} ${_out}.roff
    COMMAND ${CMAKE_COMMAND} -DIN=${_out}.roff -DOUT=${_out}
      -P ${PROJECT_SOURCE_DIR}/cmake/Edge443ManTidy.cmake
    # -n: no name or time stamp in the gzip header, so the .deb is reproducible.
    COMMAND sh -c "\"$0\" -9nc \"$1\" > \"$1.gz\" || { rm -f \"$1.gz\"; exit 1; }"
      ${EDGE443_GZIP} ${_out}
    DEPENDS ${_scd} ${PROJECT_SOURCE_DIR}/cmake/Edge443ManTidy.cmake
    COMMENT "scdoc: man page ${page}"
    VERBATIM)
  list(APPEND _man_outputs ${_out} ${_out}.gz)
endforeach()
add_custom_target(man ALL DEPENDS ${_man_outputs})
set(EDGE443_MAN_BUILT TRUE)

# Edge443ManTidy.cmake — cmake -DIN=raw.roff -DOUT=page.N -P Edge443ManTidy.cmake
#
# scdoc 1.11 (Debian 12) writes a paragraph macro before every section
# heading, after every heading and at the end of every indented block, which
# man renders the same but `mandoc -Tlint` reports as "skipping paragraph
# macro".  This removes the ones that do nothing and moves the break at the
# end of an indented block to after it, so that the installed page lints
# clean (tests/packaging/test_man.sh) and renders as before.
file(READ "${IN}" s)
set(prev "")
while(NOT s STREQUAL prev)
  set(prev "${s}")
  string(REPLACE "\n.P\n.RE\n" "\n.RE\n.P\n" s "${s}")
  string(REPLACE "\n.P\n.P\n" "\n.P\n" s "${s}")
  string(REGEX REPLACE "\n\\.P\n(\\.S[HS] )" "\n\\1" s "${s}")
  string(REGEX REPLACE "(\n\\.S[HS] [^\n]*)\n\\.P\n" "\\1\n" s "${s}")
  string(REGEX REPLACE "\n\\.P\n$" "\n" s "${s}")
endwhile()
file(WRITE "${OUT}" "${s}")

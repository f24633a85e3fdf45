#!/usr/bin/env python3
"""test_layers.py — the folders of src/ and include/edge443/ depend one way.

Every C file and header lives in one folder of src/ (and its header in the
same folder of include/edge443/).  A file may include headers of its own
folder and of the folders below it, never of a folder above it or beside it:

    base    <- config <- cert <- rules, order <- http <- serve <- cli
    (http needs only config and base; rules and order never include each other)

The test fails, naming the file, the line and the include, when a file
includes a folder it may not, when a file sits in no known folder, when an
include names a header that does not exist, or when headers include each
other around a circle.
Run by ctest as `layout`; needs EDGE443_SRC (the source root) or argv[1].
"""
import os
import re
import sys

ROOT = os.environ.get("EDGE443_SRC") or (sys.argv[1] if len(sys.argv) > 1 else ".")

# folder -> the folders it may include (besides itself)
ALLOWED = {
    "base": set(),
    "config": {"base"},
    "cert": {"base", "config"},
    "rules": {"base", "config", "cert"},
    "order": {"base", "config", "cert"},
    "http": {"base", "config"},
    "serve": {"base", "config", "cert", "rules", "http"},
    "cli": {"base", "config", "cert", "rules", "order", "http", "serve"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"edge443/([a-z]+)/([a-z_]+)\.h"')
ANY_LOCAL = re.compile(r'^\s*#\s*include\s+"([^"]+)"')

errors = []
edges = {}  # file -> the headers it includes ("folder/name.h")
count = 0


for top in ("src", os.path.join("include", "edge443")):
    base = os.path.join(ROOT, top)
    for entry in sorted(os.listdir(base)):
        full = os.path.join(base, entry)
        if os.path.isfile(full):
            errors.append("%s/%s: not in a folder (one of %s)"
                          % (top, entry, ", ".join(ALLOWED)))
            continue
        if entry not in ALLOWED:
            errors.append("%s/%s/: a folder the layering does not know; add it "
                          "to tests/layout/test_layers.py with the folders it "
                          "may include" % (top, entry))
            continue
        for name in sorted(os.listdir(full)):
            if not name.endswith((".c", ".h")):
                continue
            count += 1
            rel = "%s/%s/%s" % (top, entry, name)
            me = "%s/%s" % (entry, name)
            edges.setdefault(me, set())
            with open(os.path.join(full, name), encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        local = ANY_LOCAL.match(line)
                        if local and not local.group(1).startswith("edge443/"):
                            errors.append("%s:%d: includes \"%s\"; include "
                                          "headers as \"edge443/FOLDER/NAME.h\""
                                          % (rel, lineno, local.group(1)))
                        continue
                    folder, mod = m.group(1), m.group(2)
                    if folder != entry and folder not in ALLOWED.get(entry, set()):
                        errors.append(
                            "%s:%d: %s/ includes %s/%s.h, but %s/ may include "
                            "only %s: move the shared part down, or pass it in"
                            % (rel, lineno, entry, folder, mod, entry,
                               ", ".join(sorted(ALLOWED[entry])) or "itself"))
                    if not os.path.exists(os.path.join(ROOT, "include", "edge443",
                                                       folder, mod + ".h")):
                        errors.append("%s:%d: no header include/edge443/%s/%s.h"
                                      % (rel, lineno, folder, mod))
                    edges[me].add("%s/%s.h" % (folder, mod))

# No header includes, through others, a header that includes it back.
WHITE, GREY, BLACK = 0, 1, 2
colour = {n: WHITE for n in edges}


def visit(node, stack):
    colour[node] = GREY
    stack.append(node)
    for nxt in sorted(edges.get(node, ())):
        if colour.get(nxt, BLACK) == GREY:
            cyc = stack[stack.index(nxt):] + [nxt]
            errors.append("circle of includes: %s"
                          % " -> ".join(cyc))
        elif colour.get(nxt) == WHITE:
            visit(nxt, stack)
    stack.pop()
    colour[node] = BLACK


for n in sorted(edges):
    if colour[n] == WHITE:
        visit(n, [])

if count < 40:
    errors.append("only %d source files found under %s" % (count, ROOT))
for e in errors:
    print("FAIL " + e)
if errors:
    sys.exit(1)
print("ok %d files in %d folders, includes point one way, no circles"
      % (count, len(ALLOWED)))

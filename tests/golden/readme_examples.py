#!/usr/bin/env python3
"""readme_examples.py README WORKDIR NAME... [--update]

The README's examples are golden files: each block marked

    <!-- golden: NAME -->
    ```
    $ COMMAND
    OUTPUT...
    ```

is checked by running COMMAND with bash in WORKDIR (a checkout copy with
the lab PKI made; `edge443` on PATH) and comparing its standard output with
OUTPUT, line by line.  Every NAME given must be marked in the README, so an
example cannot drop out of the test.  --update rewrites the OUTPUT of every
marked block from the real output instead (tests/integration/test_golden.sh
passes it with EDGE443_UPDATE_GOLDEN=1).  Exit status: 0 all equal
(or updated), 1 a block differs or a NAME is missing, 2 usage.
"""
import difflib
import re
import subprocess
import sys

MARK = re.compile(r"^<!-- golden: ([a-z0-9-]+) -->$")


def blocks(lines):
    """(name, first output line index, end index, command) per marked block."""
    out = []
    i = 0
    while i < len(lines):
        m = MARK.match(lines[i])
        if not m:
            i += 1
            continue
        name = m.group(1)
        if i + 2 >= len(lines) or not lines[i + 1].startswith("```") \
                or not lines[i + 2].startswith("$ "):
            raise SystemExit("README: golden block %s must be a fenced block "
                             "whose first line is \"$ COMMAND\"" % name)
        end = i + 3
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        if end == len(lines):
            raise SystemExit("README: golden block %s is not closed" % name)
        out.append((name, i + 3, end, lines[i + 2][2:]))
        i = end + 1
    return out


def main(argv):
    update = "--update" in argv
    args = [a for a in argv if a != "--update"]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    readme, workdir, names = args[0], args[1], args[2:]
    with open(readme) as f:
        lines = f.read().split("\n")
    found = blocks(lines)
    failed = 0
    for name in names:
        if name not in [b[0] for b in found]:
            print("FAIL README has no golden block %s" % name)
            failed += 1
    # From the last block up, so that updates keep the indexes valid.
    for name, start, end, cmd in reversed(found):
        r = subprocess.run(["bash", "-c", cmd], cwd=workdir, capture_output=True,
                           text=True, timeout=120)
        real = r.stdout.rstrip("\n").split("\n")
        if r.stderr.strip() and not r.stdout:
            print("note: %s wrote to stderr: %s" % (name, r.stderr[-400:]))
        if update:
            lines[start:end] = real
            print("updated %s" % name)
        elif lines[start:end] != real:
            failed += 1
            print("FAIL README example %s (`%s`) is not what edge443 prints:"
                  % (name, cmd))
            sys.stdout.writelines(difflib.unified_diff(
                [l + "\n" for l in lines[start:end]], [l + "\n" for l in real],
                "README.md (%s)" % name, "real output"))
        else:
            print("ok   README example %s" % name)
    if update:
        with open(readme, "w") as f:
            f.write("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""test_man_coverage.py — the man pages cannot drift from the program.

Reads what the program knows from its sources and checks that the scdoc
sources of the man pages (doc/*.scd) document each item as a term (a line
that starts with the item in bold, *item*), in the section it belongs to:

edge443.conf(5)
  * every option of every libconfuse table in src/config/config.c, in the section of
    its table (GLOBAL OPTIONS, CERTIFICATE / BACKEND / SERVICE SECTIONS);
  * every value of the enums that src/config/config_value.c accepts for platform,
    log_level, proxy_protocol, host_header (on the option's term line), mode
    (MODES) and role (ROLES);
  * every rule id that a finding can carry (check --format json, probe): the
    rules_ids table in src/rules/rules.c and every rule literal passed to
    findings_add() anywhere in src/, in RULES;
  * the EXAMPLE parses: `edge443 check` on it reports no configuration error.
edge443(8)
  * every command of main.c's command table (COMMANDS, and SYNOPSIS);
  * every long option of every command's getopt table, every short option of
    their getopt strings, and every global flag main() compares argv[1] to
    (OPTIONS);
  * every exit status main.c defines (EXIT STATUS);
  * every signal server.c handles (SIGNALS).

Environment: EDGE443_SRC (source root), EDGE443 (the binary, for the example),
EDGE443_DOC (optional: another folder of .scd files, to show that the test
fails on a page that lacks something).
"""
import os
import re
import subprocess
import sys
import tempfile

SRC = os.environ["EDGE443_SRC"]
DOC = os.environ.get("EDGE443_DOC") or os.path.join(SRC, "doc")
EDGE443 = os.environ.get("EDGE443")

failures = []
checks = 0


def read(rel):
    with open(os.path.join(SRC, rel)) as f:
        return f.read()


def sections(scd):
    """{heading: [lines]} for '# HEADING' (subsections stay in their section)."""
    out, cur = {}, None
    for line in scd.splitlines():
        m = re.match(r"^# (.+)$", line)
        if m:
            cur = m.group(1).strip()
            out[cur] = []
        elif cur:
            out[cur].append(line)
    return out


def term_lines(lines):
    """Lines that start (after tabs) with a bold term."""
    return [l.strip() for l in lines if re.match(r"^\t*\*", l)]


def expect(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


def documented(secs, page, heading, item, where=None):
    """ITEM is in bold on a term line of HEADING."""
    terms = term_lines(secs.get(heading, []))
    bold = "*%s*" % item
    expect(any(bold in t for t in terms),
           "%s: %s is not documented under '# %s'%s"
           % (page, bold, heading, " (%s)" % where if where else ""))


# ------------------------------------------------------------ the sources
config_c = read("src/config/config.c")
tables = {}
for m in re.finditer(r"static cfg_opt_t (config_\w+_opts)\[\] = \{(.*?)\n\};",
                     config_c, re.S):
    names = re.findall(r'(?:CONFIG_OPT_STR|CONFIG_OPT_LIST|CFG_SEC)\("(\w+)"',
                       m.group(2))
    tables[m.group(1)] = names
expect(set(tables) >= {"config_root_opts", "config_cert_opts",
                       "config_backend_opts", "config_service_opts",
                       "config_http_opts"},
       "src/config/config.c: option tables not found (found %s)" % sorted(tables))

value_c = read("src/config/config_value.c")
enums = {}
for m in re.finditer(r"config_value_(\w+)\[\] = \{(.*?)\n\};", value_c, re.S):
    enums[m.group(1)] = re.findall(r'\{"([^"]+)",', m.group(2))

rule_ids = set()
m = re.search(r"rules_ids\[\] = \{(.*?)\n\};", read("src/rules/rules.c"), re.S)
expect(m is not None, "src/rules/rules.c: rules_ids not found")
if m:
    rule_ids.update(re.findall(r'"([a-z0-9-]+)"', m.group(1)))
for folder, _, files in sorted(os.walk(os.path.join(SRC, "src"))):
    for name in sorted(f for f in files if f.endswith(".c")):
        text = read(os.path.relpath(os.path.join(folder, name), SRC))
        rule_ids.update(re.findall(
            r'findings_add\(\s*[^,()]+,\s*[^,()]+,\s*"([a-z0-9-]+)"', text))
expect(len(rule_ids) >= 30, "only %d rule ids found in src/" % len(rule_ids))

main_c = read("src/cli/main.c")
commands = re.findall(r'\{"(\w+)", main_\w+\}', main_c)
long_opts = set(re.findall(r'\{"([\w-]+)", (?:required|no|optional)_argument',
                           main_c))
short_opts = set()
for s in re.findall(r'getopt_long\(argc, argv, "([^"]*)"', main_c):
    short_opts.update(c for c in s if c.isalnum())
global_flags = set(re.findall(r'strcmp\(argv\[1\], "(-[^"]+)"\)', main_c))
exits = re.findall(r"#define MAIN_EXIT_\w+ (\d+)", main_c)
m = re.search(r"sigs\[\] = \{([^}]*)\}", read("src/serve/server.c"))
signals = re.findall(r"SIG\w+", m.group(1)) if m else []
expect(len(commands) >= 6 and long_opts and exits and signals,
       "src/cli/main.c / src/serve/server.c: commands, options, exits or signals not found")

# --------------------------------------------------------- edge443.conf(5)
with open(os.path.join(DOC, "edge443.conf.5.scd")) as f:
    conf_scd = f.read()
conf = sections(conf_scd)
page = "edge443.conf(5)"
where = {
    "config_root_opts": "GLOBAL OPTIONS",
    "config_cert_opts": "CERTIFICATE SECTIONS",
    "config_backend_opts": "BACKEND SECTIONS",
    "config_service_opts": "SERVICE SECTIONS",
    "config_http_opts": "SERVICE SECTIONS",
    "config_acme_opts": "ACME SECTION",
}
section_headings = {"certificate": "CERTIFICATE SECTIONS",
                    "backend": "BACKEND SECTIONS",
                    "service": "SERVICE SECTIONS",
                    "acme": "ACME SECTION"}
for table, heading in where.items():
    for opt in tables.get(table, []):
        if table == "config_root_opts" and opt in section_headings:
            documented(conf, page, section_headings[opt], opt, "section")
        else:
            documented(conf, page, heading, opt, table)

# enum values on the term line of their option
for opt, enum, heading in (("platform", "platforms", "GLOBAL OPTIONS"),
                           ("log_level", "log_levels", "GLOBAL OPTIONS"),
                           ("proxy_protocol", "proxy_names", "BACKEND SECTIONS"),
                           ("host_header", "host_names", "SERVICE SECTIONS"),
                           ("mode", "modes", "SERVICE SECTIONS"),
                           ("challenge", "acme_challenges", "ACME SECTION")):
    line = next((t for t in term_lines(conf.get(heading, []))
                 if t.startswith("*%s*" % opt)), "")
    expect(enum in enums, "src/config/config_value.c: config_value_%s not found" % enum)
    for v in enums.get(enum, []):
        expect('"%s"' % v in line,
               '%s: %s = "%s" is not on the term line of %s'
               % (page, opt, v, opt))
for v in enums.get("modes", []):
    documented(conf, page, "MODES", v)
expect(len(enums.get("roles", [])) >= 7, "src/config/config_value.c: roles not found")
for v in enums.get("roles", []):
    documented(conf, page, "ROLES", v)
for rid in sorted(rule_ids):
    documented(conf, page, "RULES", rid)

# the example parses (its certificates do not exist: errors, never exit 2)
m = re.search(r"^# EXAMPLE\n.*?^```\n(.*?)^```", conf_scd, re.S | re.M)
expect(m is not None, "%s: no ``` example under '# EXAMPLE'" % page)
if m and EDGE443:
    with tempfile.TemporaryDirectory(prefix="edge443-man.") as tmp:
        path = os.path.join(tmp, "example.conf")
        with open(path, "w") as f:
            f.write(m.group(1))
        r = subprocess.run([EDGE443, "check", "-c", path], capture_output=True,
                           text=True, timeout=60)
        out = r.stdout + r.stderr
        expect(r.returncode in (0, 1) and "error config" not in out,
               "%s: the EXAMPLE does not parse (exit %d):\n%s"
               % (page, r.returncode, out[-1500:]))

# -------------------------------------------------------------- edge443(8)
with open(os.path.join(DOC, "edge443.8.scd")) as f:
    man_scd = f.read()
man = sections(man_scd)
page = "edge443(8)"
synopsis = "\n".join(man.get("SYNOPSIS", []))
for c in commands:
    documented(man, page, "COMMANDS", c)
    expect("*edge443 %s*" % c in synopsis,
           "%s: *edge443 %s* is not in the SYNOPSIS" % (page, c))
for o in sorted(long_opts):
    documented(man, page, "OPTIONS", "--" + o)
for o in sorted(short_opts):
    documented(man, page, "OPTIONS", "-" + o)
for o in sorted(global_flags):
    documented(man, page, "OPTIONS", o, "main()")
for e in exits:
    documented(man, page, "EXIT STATUS", e)
for s in signals:
    documented(man, page, "SIGNALS", s)

for f in failures:
    print("FAIL " + f)
print("%d passed, %d failed (%d rule ids, %d options, %d commands)"
      % (checks - len(failures), len(failures), len(rule_ids),
         sum(len(v) for v in tables.values()), len(commands)))
sys.exit(1 if failures else 0)

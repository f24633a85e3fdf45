#!/usr/bin/env python3
"""Integration tests of edge443 as a systemd service, without a running
systemd (none runs where the tests run).

1. The unit, dist/edge443.service.  `systemd-analyze verify` of a copy
   whose edge443 paths point at the binary under test must print nothing:
   verify exits 0 on an unknown key or a bad value and only warns, so any
   output fails, and the same check must reject copies with a misspelt key,
   a bad value, an unknown section and a missing binary (or it would prove
   nothing).  Its directives are the promised ones (Type=notify, `check`
   before start, the reload, the user, the one capability, the sandbox,
   LimitNOFILE against conf/edge443.conf's max_connections), and
   `systemd-analyze security` rates its exposure low (a copy without the
   sandbox must fail that rating).
2. The notify protocol.  The test is the service manager: it binds a Unix
   datagram socket with SO_PASSCRED, sets NOTIFY_SOCKET for edge443 and
   reads each message with its sender's pid.  READY=1 arrives when every
   listener accepts (each address is connected to at once, no retry), and
   never when start-up fails (plan error, address taken, unknown user);
   RELOADING=1 then READY=1 around SIGHUP, for a good reload and for
   refused ones (STATUS says why and what still serves); STOPPING=1 when the
   SIGTERM drain starts.  Without NOTIFY_SOCKET, or with one nobody listens
   on, edge443 serves, reloads and stops as before.
3. As root, the unit's privilege model without systemd: setpriv starts
   edge443 as nobody with CAP_NET_BIND_SERVICE as its only capability
   (ambient, bounding) and no_new_privs, as User=, AmbientCapabilities=,
   CapabilityBoundingSet= and NoNewPrivileges= do.  It binds port 443, a
   reload binds another :443 address, `check` reads the key nobody owns,
   `user = "nobody"` while already nobody works, and without the capability
   port 443 is refused.  Root with `user` tells READY=1 only as that user.

Every address is 127.0.8.x, so this test never collides with the other
integration tests run in parallel."""
import os
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import time

from harness import EDGE443, PKI, SRC, Harness, tls_connect

H = Harness("systemd")
# edge443 runs as nobody in part 3: it must reach its files and the socket.
os.chmod(H.tmp, 0o755)
ROOT = os.geteuid() == 0
SNI = "as.cwa.example.com"
UNIT = os.path.join(SRC, "dist", "edge443.service")
INSTALLED = "/usr/sbin/edge443"


def run(args, timeout=60, **kw):
    return subprocess.run(args, capture_output=True, text=True,
                          timeout=timeout, **kw)


# ==================================================================== unit
def unit_copy(name, text):
    """TEXT as DIR/edge443.service (verify wants the unit's own name)."""
    d = H.path(name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "edge443.service")
    with open(path, "w") as f:
        f.write(text)
    return path


def verify(path):
    """(clean, output): clean when verify exits 0 and prints nothing."""
    r = run(["systemd-analyze", "verify", "--man=no", "--recursive-errors=no",
             path])
    out = (r.stdout + r.stderr).strip()
    return r.returncode == 0 and out == "", "rc=%d %s" % (r.returncode, out)


def parse_unit(text):
    """{section: {key: [values]}} of a unit file."""
    units, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = units.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        section.setdefault(key.strip(), []).append(value.strip())
    return units


with open(UNIT) as f:
    unit_text = f.read()
# The binary under test where the package installs it.
local_text = unit_text.replace(INSTALLED, EDGE443)
H.check(INSTALLED in unit_text and local_text != unit_text,
        "unit: runs %s" % INSTALLED)
clean, out = verify(unit_copy("unit", local_text))
H.check(clean, "unit: systemd-analyze verify prints nothing", out)
# The same check must catch what verify only warns about.
MUTATIONS = [
    ("misspelt key", "NoNewPrivileges=yes", "NoNewPrivilege=yes"),
    ("bad value", "ProtectSystem=strict", "ProtectSystem=strikt"),
    ("unknown section", "[Service]", "[Servise]"),
    ("missing binary", EDGE443, EDGE443 + ".missing"),
]
for i, (what, old, new) in enumerate(MUTATIONS):
    H.check(old in local_text, "unit: has %s (for the %s control)" % (old, what))
    clean, out = verify(unit_copy("bad%d" % i, local_text.replace(old, new)))
    H.check(not clean, "unit: the verify check rejects: %s" % what, out)

u = parse_unit(unit_text)
svc = u.get("Service", {})
WANT = {
    "Type": "notify",
    "ExecStartPre": INSTALLED + " check -c /etc/edge443/edge443.conf",
    "ExecStart": INSTALLED + " run -c /etc/edge443/edge443.conf",
    "ExecReload": "/bin/kill -HUP $MAINPID",
    "User": "edge443",
    "Group": "edge443",
    "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
    "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "RestrictRealtime": "yes",
    "SystemCallArchitectures": "native",
    "Restart": "on-failure",
    "LogsDirectory": "edge443",
}
for key, value in WANT.items():
    H.check(svc.get(key) == [value], "unit: %s=%s" % (key, value),
            "has %s" % svc.get(key))
H.check(u.get("Install", {}).get("WantedBy") == ["multi-user.target"],
        "unit: WantedBy=multi-user.target")
# Writable: the logs folder (LogsDirectory=) and nothing else.
H.check(not any(k in svc for k in ("ReadWritePaths", "ReadWriteDirectories",
                                   "StateDirectory", "RuntimeDirectory")),
        "unit: writes nowhere but /var/log/edge443",
        [k for k in svc if "Write" in k or k.endswith("Directory")])
# Two sockets per connection: 2 x max_connections x workers + 256.
with open(os.path.join(SRC, "conf", "edge443.conf")) as f:
    maxconn = int(re.search(r"^max_connections\s*=\s*(\d+)", f.read(),
                            re.M).group(1))
nofile = int(svc.get("LimitNOFILE", ["0"])[0])
H.check((nofile - 256) // (2 * maxconn) >= 16,
        "unit: LimitNOFILE=%d covers max_connections = %d for 16 workers"
        % (nofile, maxconn))
# --threshold counts tenths of the exposure level it prints ("1.5 OK").
r = run(["systemd-analyze", "security", "--offline=yes", "--threshold=20",
         unit_copy("unit", local_text)])
H.check(r.returncode == 0, "unit: systemd-analyze security exposure <= 2.0",
        r.stdout[-200:] + r.stderr[-200:])
bare = "\n".join(l for l in local_text.splitlines()
                 if not re.match(r"(Protect|Private|Restrict|SystemCall|Lock"
                                 r"|Memory|NoNew|Capability|RemoveIPC|ProcSub)",
                                 l))
r = run(["systemd-analyze", "security", "--offline=yes", "--threshold=20",
         unit_copy("bare", bare)])
H.check(r.returncode != 0, "unit: the rating fails a copy without the sandbox",
        r.stdout[-200:])


# ============================================================ the manager
class Manager:
    """The service manager's end of NOTIFY_SOCKET."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(path)
        os.chmod(path, 0o666)  # as /run/systemd/notify: anyone may write

    def recv(self, timeout):
        """The next message as (sender pid, {KEY: value}, text), or None
        after TIMEOUT s."""
        self.sock.settimeout(max(timeout, 0.01))
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except (socket.timeout, BlockingIOError):
            return None
        pid = None
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", cdata[:12])[0]
        text = data.decode("utf-8")  # systemd ignores a status that is not
        fields = {}
        for line in text.split("\n"):
            k, _, v = line.partition("=")
            fields[k] = v
        return pid, fields, text

    def until(self, key, seconds, proc=None):
        """Messages up to the first that sets KEY (then found is True),
        for at most SECONDS, or until PROC has exited and nothing more
        comes.  Returns (messages, found)."""
        msgs, end = [], time.time() + seconds
        while time.time() < end:
            m = self.recv(min(0.2, end - time.time()))
            if m:
                msgs.append(m)
                if key in m[1]:
                    return msgs, True
            elif proc is not None and proc.poll() is not None:
                m = self.recv(0.3)
                while m:
                    msgs.append(m)
                    m = self.recv(0.3)
                return msgs, any(key in x[1] for x in msgs)
        return msgs, False

    def drain(self):
        """Forget what is queued (a stopped instance's last messages)."""
        while self.recv(0.01):
            pass

    def quiet(self, seconds):
        """Whatever arrives within SECONDS (expected: nothing)."""
        msgs, end = [], time.time() + seconds
        while time.time() < end:
            m = self.recv(end - time.time())
            if m:
                msgs.append(m)
        return msgs


MGR = Manager(H.path("notify.sock"))


def monotonic_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def kinds(msgs):
    """"READY RELOADING ..." — the state assignments, in order."""
    return " ".join(k for m in msgs for k in m[1]
                    if k in ("READY", "RELOADING", "STOPPING"))


def status(msgs):
    return msgs[-1][1].get("STATUS") if msgs else None


# ================================================================= configs
# What edge443 reads: a copy nobody can reach (part 3) with the key owned by
# whoever runs edge443 (nobody when root runs the test), mode 0600.
CERTS = H.path("certs")
os.makedirs(CERTS)
for name in ("ssl1.crt", "chain.pem", "trust.pem", "ssl1.key"):
    shutil.copy(os.path.join(PKI, name), CERTS)
os.chmod(os.path.join(CERTS, "ssl1.key"), 0o600)
NOBODY = pwd.getpwnam("nobody")
if ROOT:
    os.chown(os.path.join(CERTS, "ssl1.key"), NOBODY.pw_uid, NOBODY.pw_gid)

COMMON = """
trust_file = "%(certs)s/trust.pem"
handshake_timeout = 5
connect_timeout = 2
idle_timeout = 30
shutdown_timeout = 10
workers = 2
max_connections = 1000
log_level = "info"
%(extra)s
certificate ssl1 {
  cert  = "%(certs)s/ssl1.crt"
  chain = "%(certs)s/chain.pem"
  key   = "%(certs)s/ssl1.key"
}
backend echo { servers = {"127.0.8.21:7801"} }
"""


def service(name, listen, mode="terminate", fqdn=SNI):
    listen = ", ".join('"%s"' % a for a in listen.split())
    return """
service %s {
  fqdn = "%s"
  listen = {%s}
  certificate = "ssl1"
  mode = "%s"
  backend = "echo"
}
""" % (name, fqdn, listen, mode)


def conf(name, services, extra=""):
    text = COMMON % dict(certs=CERTS, extra=extra) + "".join(services)
    path = H.write(name, text)
    os.chmod(path, 0o644)
    return path


APP = service("app", "127.0.8.11:8443 127.0.8.12:8443")
PT = service("pt", "127.0.8.13:8444", mode="passthrough")
NEW = service("new", "127.0.8.14:8445")
A_ADDRS = ["127.0.8.11:8443", "127.0.8.12:8443", "127.0.8.13:8444"]

H.backend("127.0.8.21:7801", "echo", "echo")


def start(conf_path, notify=True, prefix=(), logname="edge443.log",
          socket_path=None):
    """edge443 run -c CONF_PATH (after PREFIX, e.g. setpriv), with
    NOTIFY_SOCKET set to the manager's socket (or SOCKET_PATH) when NOTIFY."""
    MGR.drain()
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)
    if notify:
        env["NOTIFY_SOCKET"] = socket_path or MGR.path
    log = open(H.path(logname), "ab")
    p = subprocess.Popen([*prefix, EDGE443, "run", "-c", conf_path],
                         cwd=H.tmp, stdout=log, stderr=log, env=env)
    log.close()
    H.procs.append(p)
    return p


def accepts_now(addrs):
    """The addresses that do NOT accept a TCP connection right now (one
    try each, no waiting for them to come up)."""
    bad = []
    for a in addrs:
        host, port = a.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), 2).close()
        except OSError as e:
            bad.append("%s (%s)" % (a, e))
    return bad


def echo_tls(addr, data=b"ping\n"):
    """Through a terminate service to the echo backend: what came back."""
    host, port = addr.rsplit(":", 1)
    try:
        s = tls_connect(host, int(port), SNI, timeout=10)
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        s.close()
        return got
    except OSError as e:
        return repr(e).encode()


def stopped(p, seconds=20):
    try:
        return p.wait(seconds)
    except subprocess.TimeoutExpired:
        return None


def uid_of(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            st = f.read()
    except OSError:
        return None, None
    uid = re.search(r"^Uid:\s+(.*)$", st, re.M).group(1).split()
    cap = re.search(r"^CapEff:\s+(\w+)$", st, re.M).group(1)
    return uid, int(cap, 16)


# ======================================================== the notify protocol
conf_a = conf("a.conf", [APP, PT])
edge = start(conf_a, logname="a.log")
msgs, found = MGR.until("READY", 60, edge)
# At once, before anything else: every listener must already accept.
bad = accepts_now(A_ADDRS)
H.check(found, "start: READY=1 arrives", "%s %s" % (msgs, H.log("a.log")[-800:]))
H.check(not bad, "start: at READY=1 every listener accepts at once", bad)
H.check(kinds(msgs) == "READY" and len(msgs) == 1,
        "start: READY=1 is the first message", msgs)
H.check(status(msgs) == "serving 2 services on 3 addresses",
        "start: STATUS says what is served", status(msgs))
H.check(all(m[0] == edge.pid for m in msgs),
        "start: sent by the main process (NotifyAccess=main)",
        [m[0] for m in msgs] + [edge.pid])
H.check(echo_tls("127.0.8.11:8443") == b"ping\n", "start: serves")
H.check(MGR.quiet(0.5) == [], "start: nothing more while serving")

# A good reload: a new service on a new address.
conf("a.conf", [APP, PT, NEW])
before = monotonic_usec()
edge.send_signal(signal.SIGHUP)
msgs, found = MGR.until("READY", 60, edge)
bad = accepts_now(A_ADDRS + ["127.0.8.14:8445"])
after = monotonic_usec()
H.check(found and kinds(msgs) == "RELOADING READY",
        "reload: RELOADING=1 then READY=1", msgs)
mono = msgs[0][1].get("MONOTONIC_USEC", "") if msgs else ""
H.check(mono.isdigit() and before <= int(mono) <= after,
        "reload: RELOADING=1 carries MONOTONIC_USEC of the reload",
        "%s not in [%d, %d]" % (mono, before, after))
H.check(not bad, "reload: at READY=1 the new address accepts too", bad)
H.check(status(msgs) == "serving 3 services on 4 addresses",
        "reload: STATUS says what is served now", status(msgs))
H.check(echo_tls("127.0.8.14:8445") == b"ping\n", "reload: the new service serves")

# Refused reloads: RELOADING=1, then READY=1 with the old configuration
# still serving, and STATUS saying why.
HELD = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
HELD.bind(("127.0.8.16", 8447))
HELD.listen(1)
REFUSED = [
    ("plan error", [APP, PT, NEW, service("bad", "127.0.8.15:8446",
                                          fqdn="wrong.example.org")],
     "errors in the certificate plan"),
    ("syntax error", [APP, PT, NEW, "service broken {\n"],
     "configuration error"),
    ("address taken", [APP, PT, NEW, service("taken", "127.0.8.16:8447")],
     "127.0.8.16:8447: cannot listen: Address already in use"),
]
for what, services, why in REFUSED:
    conf("a.conf", services)
    edge.send_signal(signal.SIGHUP)
    msgs, found = MGR.until("READY", 60, edge)
    st = status(msgs) or ""
    H.check(found and kinds(msgs) == "RELOADING READY",
            "refused reload (%s): RELOADING=1 then READY=1" % what, msgs)
    H.check(st.startswith("reload refused: ") and why in st,
            "refused reload (%s): STATUS says why" % what, st)
    H.check(st.endswith("the previous configuration is still serving "
                        "3 services on 4 addresses"),
            "refused reload (%s): STATUS says the old one still serves" % what,
            st)
    H.check(echo_tls("127.0.8.14:8445") == b"ping\n"
            and not accepts_now(A_ADDRS),
            "refused reload (%s): the old configuration serves" % what)
    H.check(edge.poll() is None, "refused reload (%s): still running" % what)

# SIGTERM with a relay open: STOPPING=1 as the drain starts, while the
# connection keeps edge443 alive.
relay = socket.create_connection(("127.0.8.13", 8444), 10)
relay.sendall(b"not tls, passed through\n")
relay.settimeout(10)
echoed = relay.recv(4096)
edge.send_signal(signal.SIGTERM)
msgs, found = MGR.until("STOPPING", 30, edge)
alive = edge.poll() is None
H.check(echoed.startswith(b"not tls"), "stop: a relay is open", echoed)
H.check(found and kinds(msgs) == "STOPPING", "stop: STOPPING=1 on SIGTERM",
        msgs)
H.check(alive, "stop: STOPPING=1 arrives while the drain runs")
H.check((status(msgs) or "").startswith("draining"),
        "stop: STATUS says it is draining", status(msgs))
H.check(all(m[0] == edge.pid for m in msgs), "stop: sent by the main process")
relay.close()
H.check(stopped(edge) == 0, "stop: exit 0 once the relay ends")
H.check(MGR.quiet(0.5) == [], "stop: nothing after STOPPING=1")


# READY=1 never comes from a start-up that fails, whatever the step.
def failed_start(what, conf_path, code, prefix=(), logname=None):
    p = start(conf_path, prefix=prefix, logname=logname or "fail.log")
    rc = stopped(p, 60)
    msgs = MGR.quiet(0.5)
    H.check(rc == code, "failed start (%s): exit %d" % (what, code),
            "rc=%s %s" % (rc, H.log(logname or "fail.log")[-400:]))
    H.check(kinds(msgs) == "", "failed start (%s): no READY=1" % what, msgs)


failed_start("plan error", conf("plan.conf", [service(
    "bad", "127.0.8.15:8446", fqdn="wrong.example.org")]), 1)
failed_start("address taken",
             conf("taken.conf", [APP, service("taken", "127.0.8.16:8447")]), 3)
HELD.close()
# An unknown user is a check error now (user-exists): refused before
# anything binds, as a plan error.
failed_start("unknown user", conf(
    "nouser.conf", [APP], 'user = "edge443-no-such-user"'), 1)

# No NOTIFY_SOCKET: it serves, reloads and stops as before, silently.
conf_b = conf("b.conf", [APP, PT])
edge = start(conf_b, notify=False, logname="b.log")
for _ in range(200):
    if not accepts_now(A_ADDRS) or edge.poll() is not None:
        break
    time.sleep(0.05)
H.check(echo_tls("127.0.8.11:8443") == b"ping\n", "no NOTIFY_SOCKET: serves")
conf("b.conf", [APP, PT, NEW])
edge.send_signal(signal.SIGHUP)
for _ in range(200):
    if not accepts_now(["127.0.8.14:8445"]):
        break
    time.sleep(0.05)
H.check(echo_tls("127.0.8.14:8445") == b"ping\n",
        "no NOTIFY_SOCKET: a reload takes the new service")
H.check(H.stop(edge) == 0, "no NOTIFY_SOCKET: SIGTERM, exit 0")
H.check(MGR.quiet(0.3) == [], "no NOTIFY_SOCKET: nothing sent")
H.check("service manager" not in H.log("b.log"),
        "no NOTIFY_SOCKET: nothing logged about it", H.log("b.log")[-400:])

# A NOTIFY_SOCKET nobody listens on: logged, and no reason to stop.
edge = start(conf("c.conf", [APP]), socket_path=H.path("nobody-here.sock"),
             logname="c.log")
for _ in range(200):
    if "cannot tell the service manager" in H.log("c.log") or \
            edge.poll() is not None:
        break
    time.sleep(0.05)
H.check("cannot tell the service manager" in H.log("c.log"),
        "dead NOTIFY_SOCKET: a warning says so", H.log("c.log")[-400:])
H.check(echo_tls("127.0.8.11:8443") == b"ping\n", "dead NOTIFY_SOCKET: serves")
H.check(H.stop(edge) == 0, "dead NOTIFY_SOCKET: SIGTERM, exit 0")

# ======================================== the unit's privilege model (root)
# setpriv does what User=, Group=, AmbientCapabilities=,
# CapabilityBoundingSet= and NoNewPrivileges= do in dist/edge443.service.
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=%d" % NOBODY.pw_gid,
             "--clear-groups", "--no-new-privs"]
AS_UNIT = AS_NOBODY + ["--inh-caps=-all,+net_bind_service",
                       "--ambient-caps=+net_bind_service",
                       "--bounding-set=-all,+net_bind_service"]
AS_NOCAP = AS_NOBODY + ["--inh-caps=-all", "--bounding-set=-all"]
CAP_NET_BIND_SERVICE = 1 << 10
if ROOT and shutil.which("setpriv"):
    P443 = service("p443", "127.0.8.17:443")
    conf_u = conf("unit.conf", [P443])
    r = run([*AS_NOCAP, EDGE443, "check", "-c", conf_u])
    H.check(r.returncode == 0, "as the unit: `check` as nobody reads its key",
            r.stdout[-300:] + r.stderr[-300:])
    edge = start(conf_u, prefix=AS_UNIT, logname="unit.log")
    msgs, found = MGR.until("READY", 60, edge)
    bad = accepts_now(["127.0.8.17:443"])
    uid, cap = uid_of(edge.pid)
    H.check(found and not bad,
            "as the unit: nobody with CAP_NET_BIND_SERVICE binds port 443",
            "%s %s %s" % (msgs, bad, H.log("unit.log")[-400:]))
    H.check(uid == [str(NOBODY.pw_uid)] * 4 and cap == CAP_NET_BIND_SERVICE,
            "as the unit: runs as nobody with that one capability",
            "%s %s" % (uid, cap))
    H.check(not re.search(r" (WARN|ERROR) ", H.log("unit.log")),
            "as the unit: no warning (no privilege drop tried)",
            H.log("unit.log")[-400:])
    conf("unit.conf", [P443, service("q443", "127.0.8.18:443",
                                     fqdn="download.cwa.example.com")])
    edge.send_signal(signal.SIGHUP)
    msgs, found = MGR.until("READY", 60, edge)
    H.check(found and status(msgs) == "serving 2 services on 2 addresses"
            and not accepts_now(["127.0.8.18:443"]),
            "as the unit: a reload binds another address on port 443", msgs)
    H.check(echo_tls("127.0.8.18:443") == b"ping\n",
            "as the unit: the new :443 service serves")
    H.check(H.stop(edge) == 0, "as the unit: SIGTERM, exit 0")

    # user = "nobody" while already nobody: nothing to change, it serves.
    edge = start(conf("same.conf", [P443], 'user = "nobody"'), prefix=AS_UNIT,
                 logname="same.log")
    msgs, found = MGR.until("READY", 60, edge)
    H.check(found and echo_tls("127.0.8.17:443") == b"ping\n",
            "as the unit: user = \"nobody\" while nobody serves",
            "%s %s" % (msgs, H.log("same.log")[-400:]))
    H.check(H.stop(edge) == 0, "as the unit: user = \"nobody\": exit 0")

    # Without the capability port 443 is refused: the unit's
    # AmbientCapabilities= is what lets it bind.
    failed_start("nobody without CAP_NET_BIND_SERVICE",
                 conf("nocap.conf", [P443]), 3,
                 prefix=AS_NOCAP, logname="nocap.log")
    H.check("CAP_NET_BIND_SERVICE" in H.log("nocap.log"),
            "as nobody without the capability: the error names it",
            H.log("nocap.log")[-300:])

    # Started as root with `user`: READY=1 only once it runs as that user.
    edge = start(conf("root.conf", [P443], 'user = "nobody"'),
                 logname="root.log")
    msgs, found = MGR.until("READY", 60, edge)
    uid, cap = uid_of(edge.pid)
    H.check(found and uid == [str(NOBODY.pw_uid)] * 4,
            "root with user: READY=1 comes after the drop to nobody",
            "%s %s" % (msgs, uid))
    H.check(H.stop(edge) == 0, "root with user: SIGTERM, exit 0")
else:
    print("skip the unit's privilege model: needs root and setpriv")

H.done()

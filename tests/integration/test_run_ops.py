#!/usr/bin/env python3
"""Integration tests of what operators rely on in `edge443 run`: PROXY
protocol v1/v2 towards the backend (terminate and passthrough), privilege
drop, --daemon with --pidfile, SIGUSR1 log reopening, the per-connection log
line and its byte counts, the log level of peer-caused handshake failures,
and round robin across a backend's servers.

Every address is 127.0.3.x, so this test never collides with the other
integration tests run in parallel; port 443 needs root (as CI runs)."""
import os
import pwd
import re
import signal
import socket
import ssl
import subprocess
import time

from harness import (EDGE443, Harness, client_ctx, kill_at_exit, pid_alive,
                     recv_all, tls_connect, wait_for, wait_port)

H = Harness("run_ops")
# The privilege-drop instance reopens its log as "nobody": let it reach it.
os.chmod(H.tmp, 0o755)
NOBODY = pwd.getpwnam("nobody")
SNI = "as.cwa.example.com"

COMMON = """
trust_file = "%(tmp)s/pki/trust.pem"
handshake_timeout = 3
connect_timeout = 2
idle_timeout = 30
shutdown_timeout = 5
workers = 2
log_level = "info"
%(extra)s

certificate ssl1 {
  cert  = "%(tmp)s/pki/ssl1.crt"
  chain = "%(tmp)s/pki/chain.pem"
  key   = "%(tmp)s/pki/ssl1.key"
}
backend b_app { servers = {"127.0.3.23:7003"} }
"""

CONF = COMMON + """
backend b_pp1  { servers = {"127.0.3.21:7001"} proxy_protocol = "v1" }
backend b_pp2  { servers = {"127.0.3.21:7001"} proxy_protocol = "v2" }
backend b_tpp1 { servers = {"127.0.3.22:7002"} proxy_protocol = "v1" }
backend b_tpp2 { servers = {"127.0.3.22:7002"} proxy_protocol = "v2" }
backend b_rr   { servers = {"127.0.3.24:7004", "127.0.3.25:7005"} }

service app {
  fqdn = "as.cwa.example.com"
  listen = "127.0.3.15:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_app"
}
service t_v1 {
  fqdn = "as.cwa.example.com"
  listen = "127.0.3.11:8401"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_pp1"
}
service t_v2 {
  fqdn = "as.cwa.example.com"
  listen = "127.0.3.12:8402"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_pp2"
}
service p_v1 {
  fqdn = "as.cwa.example.com"
  listen = "127.0.3.13:8403"
  certificate = "ssl1"
  mode = "passthrough"
  backend = "b_tpp1"
}
service p_v2 {
  fqdn = "as.cwa.example.com"
  listen = "127.0.3.14:8404"
  certificate = "ssl1"
  mode = "passthrough"
  backend = "b_tpp2"
}
service p_plain {
  fqdn = "as.cwa.example.com"
  listen = "127.0.3.17:8406"
  certificate = "ssl1"
  mode = "passthrough"
  backend = "b_pp2"
}
service rr {
  fqdn = "as.cwa.example.com"
  listen = "127.0.3.16:8405"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_rr"
}
"""

ONE = COMMON + """
service app {
  fqdn = "as.cwa.example.com"
  listen = "%(listen)s"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_app"
}
"""


def conf(template, extra="", **kw):
    return template % dict(tmp=H.tmp, extra=extra, **kw)


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def bound_client(ip, port, src="127.0.3.1", timeout=10):
    """A TCP connection from SRC (so the client address in logs and PROXY
    headers is known exactly); returns (socket, source port)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect((ip, port))
    return s, s.getsockname()[1]


def tls_client(ip, port, src="127.0.3.1"):
    raw, sport = bound_client(ip, port, src)
    return client_ctx().wrap_socket(raw, server_hostname=SNI), sport


def read_line(s, limit=4096):
    data = b""
    while not data.endswith(b"\n") and len(data) < limit:
        c = s.recv(1)
        if not c:
            break
        data += c
    return data


def app_request(ip, port, path="/ops", src="127.0.3.1"):
    """One HTTP request through a terminate service; returns (answer,
    request bytes, response bytes, source port)."""
    s, sport = tls_client(ip, port, src)
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
           % (path, SNI)).encode()
    s.sendall(req)
    resp = recv_all(s)
    s.close()
    return resp, len(req), len(resp), sport


def conn_lines(log, ip, sport):
    return [l for l in log.splitlines()
            if " conn " in l and (" client=%s:%d " % (ip, sport)) in l]


def proc_state(pid):
    """None when PID is gone (or a zombie), else its /proc status text."""
    st = read("/proc/%d/status" % pid)
    if not st or re.search(r"^State:\s+Z", st, re.M):
        return None
    return st


# ----------------------------------------------------------------- backends
H.backend("127.0.3.21:7001", "proxy", "pp-plain")
H.backend("127.0.3.22:7002", "proxy", "pp-tls", ("ssl1.crt", "ssl1.key"), "chain.pem")
H.backend("127.0.3.23:7003", "http", "app")
H.backend("127.0.3.24:7004", "name", "rr-a")
H.backend("127.0.3.25:7005", "name", "rr-b")

LOG = H.path("ops.log")
H.write("ops.conf", conf(CONF, 'log_file = "%s"' % LOG))
edge = H.edge("ops.conf", wait_for=["127.0.3.15:443", "127.0.3.11:8401",
                                    "127.0.3.13:8403"])

# ---------------------------------------------------- PROXY protocol v1 / v2
for ip, port, ver in (("127.0.3.11", 8401, "v1"), ("127.0.3.12", 8402, "v2")):
    try:
        s, sport = tls_client(ip, port)
        first = read_line(s)
        s.sendall(b"echo me\n")
        echoed = read_line(s)
        s.close()
    except (ssl.SSLError, OSError) as e:
        first, echoed, sport = repr(e).encode(), b"", 0
    want = ("%s src=127.0.3.1:%d dst=%s:%d\n" % (ver, sport, ip, port)).encode()
    H.check(first == want, "terminate + PROXY %s: backend sees the client and "
            "the address it reached" % ver, (first, want))
    H.check(echoed == b"echo me\n", "terminate + PROXY %s: data flows after "
            "the header" % ver, echoed)

for ip, port, ver in (("127.0.3.13", 8403, "v1"), ("127.0.3.14", 8404, "v2")):
    try:
        s, sport = tls_client(ip, port)   # TLS end to end, to the backend
        first = read_line(s)
        s.sendall(b"through\n")
        echoed = read_line(s)
        s.close()
    except (ssl.SSLError, OSError) as e:
        first, echoed, sport = repr(e).encode(), b"", 0
    want = ("%s src=127.0.3.1:%d dst=%s:%d\n" % (ver, sport, ip, port)).encode()
    H.check(first == want, "passthrough + PROXY %s: header before the "
            "untouched TLS stream" % ver, (first, want))
    H.check(echoed == b"through\n", "passthrough + PROXY %s: TLS to the "
            "backend works after the header" % ver, echoed)

# Passthrough of a non-TLS stream (A/V Edge) also gets the header first.
s, sport = bound_client("127.0.3.17", 8406)
s.sendall(b"plain relay bytes\n")
first = read_line(s)
echoed = read_line(s)
s.close()
H.check(first == ("v2 src=127.0.3.1:%d dst=127.0.3.17:8406\n" % sport).encode()
        and echoed == b"plain relay bytes\n",
        "passthrough + PROXY v2 of a non-TLS stream", (first, echoed))

# ------------------------------------------------------- the connection line
resp, nreq, nresp, sport = app_request("127.0.3.15", 443, "/logline")
H.check(resp.endswith(b"app /logline\n"), "terminate service answers", resp[-60:])
lines = wait_for(lambda: conn_lines(read(LOG), "127.0.3.1", sport), 5)
H.check(len(lines) == 1, "exactly one conn line per connection", lines)
line = lines[0] if lines else ""
m = re.search(r" conn client=(\S+) service=(\S+) sni=(\S+) tls=(\S+) "
              r"cipher=(\S+) backend=(\S+) in=(\d+) out=(\d+) discarded=0 ms=([\d.]+) "
              r'end="([^"]*)"$', line)
H.check(m is not None, "conn line has every field in order", line)
if m:
    H.check(m.group(1) == "127.0.3.1:%d" % sport and m.group(2) == "app"
            and m.group(3) == SNI, "conn line: client, service, sni", line)
    H.check(m.group(4) in ("TLSv1.2", "TLSv1.3", "1.2", "1.3")
            and re.match(r"^(TLS_|ECDHE-)", m.group(5)) is not None,
            "conn line: TLS version and cipher", line)
    H.check(m.group(6) == "127.0.3.23:7003", "conn line: backend server", line)
    H.check(int(m.group(7)) == nreq and int(m.group(8)) == nresp,
            "conn line: in=%d out=%d byte counts" % (nreq, nresp), line)
    H.check(" INFO " in line, "conn line at INFO", line)

# A bulk transfer both ways through the echo-after-PROXY backend: in/out count
# the payload only (the PROXY header is edge443's own, not the client's).
blob = os.urandom(300000)
s, sport = tls_client("127.0.3.11", 8401)
hdr = read_line(s)
s.sendall(blob)
got = b""
while len(got) < len(blob):
    c = s.recv(65536)
    if not c:
        break
    got += c
s.close()
H.check(got == blob, "300 kB echoed byte-exact through terminate + PROXY v1")
lines = wait_for(lambda: conn_lines(read(LOG), "127.0.3.1", sport), 5)
m = re.search(r" in=(\d+) out=(\d+) ", lines[0]) if lines else None
H.check(m is not None and int(m.group(1)) == len(blob)
        and int(m.group(2)) == len(hdr) + len(blob),
        "conn line counts bulk bytes (in=%d out=%d)" % (len(blob), len(hdr) + len(blob)),
        lines)

# ------------------------------------------- handshake failures are INFO only
before = len(read(LOG).splitlines())
# A TLS 1.1-only client (the service allows 1.2+).
tls11 = None
try:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1_1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    raw, tls11_port = bound_client("127.0.3.15", 443, "127.0.3.2")
    try:
        ctx.wrap_socket(raw, server_hostname=SNI).close()
        tls11 = "handshake succeeded"
    except ssl.SSLError as e:
        tls11 = "refused: %s" % e
except (ValueError, ssl.SSLError, OSError) as e:
    tls11 = "client could not be made: %s" % e
H.check(tls11 is not None and tls11.startswith("refused"),
        "a TLS 1.1-only client is refused", tls11)
# Garbage instead of a ClientHello.
g, gport = bound_client("127.0.3.15", 443, "127.0.3.3")
g.sendall(b"\x16\x03\x01\x00\x05garbage" + os.urandom(300))
try:
    recv_all(g)
except OSError:
    pass
g.close()
# Plain HTTP to the TLS port.
g, hport = bound_client("127.0.3.15", 443, "127.0.3.4")
g.sendall(b"GET / HTTP/1.0\r\n\r\n")
try:
    recv_all(g)
except OSError:
    pass
g.close()
time.sleep(0.5)
new = read(LOG).splitlines()[before:]
for src, what in (("127.0.3.2", "TLS 1.1 client"), ("127.0.3.3", "garbage"),
                  ("127.0.3.4", "plain HTTP")):
    mine = [l for l in new if src + ":" in l]
    H.check(any(" INFO " in l and "handshake" in l for l in mine),
            "%s: the handshake failure is logged at INFO" % what, mine)
    H.check(not any(" WARN " in l or " ERROR " in l for l in mine),
            "%s: nothing at WARN or ERROR" % what, mine)

# ---------------------------------------------------------------- round robin
names = []
for i in range(6):
    try:
        s, _ = tls_client("127.0.3.16", 8405)
        names.append(read_line(s).strip().decode())
        s.close()
    except (ssl.SSLError, OSError) as e:
        names.append(repr(e))
H.check(set(names) == {"rr-a", "rr-b"}
        and all(names[i] != names[i + 1] for i in range(len(names) - 1)),
        "round robin alternates between the two servers", names)

# ------------------------------------------------------------ SIGUSR1 reopen
os.rename(LOG, LOG + ".1")
edge.send_signal(signal.SIGUSR1)
H.check(wait_for(lambda: os.path.exists(LOG), 5),
        "SIGUSR1: the log file is created again")
resp, _, _, sport = app_request("127.0.3.15", 443, "/rotated")
H.check(resp.endswith(b"app /rotated\n"), "serving after SIGUSR1")
H.check(wait_for(lambda: conn_lines(read(LOG), "127.0.3.1", sport), 5),
        "SIGUSR1: the new connection's line is in the new file", read(LOG)[-600:])
H.check(not conn_lines(read(LOG + ".1"), "127.0.3.1", sport),
        "SIGUSR1: the old (renamed) file no longer grows")

H.check(edge.poll() is None, "edge443 still running")
H.check(H.stop(edge) == 0, "SIGTERM: exit 0")
H.check("Sanitizer" not in H.log() + read(LOG) + read(LOG + ".1"),
        "no sanitizer report", (H.log() + read(LOG))[-2000:])

# ------------------------------------------------------------ privilege drop
logdir = H.path("privlogs")
os.mkdir(logdir, 0o755)
PLOG = os.path.join(logdir, "priv.log")
H.write("priv.conf", conf(ONE, 'user = "nobody"\nlog_file = "%s"' % PLOG,
                          listen="127.0.3.41:443"))
priv = H.edge("priv.conf", wait_for=["127.0.3.41:443"])
st = proc_state(priv.pid) or ""
uid = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", st, re.M)
gid = re.search(r"^Gid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", st, re.M)
groups = re.search(r"^Groups:[ \t]*(.*)$", st, re.M)
H.check(uid is not None and all(int(x) == NOBODY.pw_uid for x in uid.groups()),
        "user = nobody: real, effective, saved and fs uid are nobody",
        uid.group(0) if uid else st[:300])
H.check(gid is not None and all(int(x) == NOBODY.pw_gid for x in gid.groups()),
        "user = nobody: every gid is nobody's group", gid.group(0) if gid else "")
H.check(groups is not None and groups.group(1).split() in ([], [str(NOBODY.pw_gid)]),
        "user = nobody: no supplementary groups left (root's dropped)",
        groups.group(0) if groups else "")
thr = [read("/proc/%d/task/%s/status" % (priv.pid, t))
       for t in os.listdir("/proc/%d/task" % priv.pid)] if pid_alive(priv.pid) else []
H.check(thr and all(re.search(r"^Uid:\s+%d\s" % NOBODY.pw_uid, t, re.M) for t in thr),
        "user = nobody: every thread (workers too) runs as nobody", len(thr))
resp, _, _, sport = app_request("127.0.3.41", 443, "/priv")
H.check(resp.endswith(b"app /priv\n"), "after dropping privileges it still serves on 443")
H.check(wait_for(lambda: conn_lines(read(PLOG), "127.0.3.1", sport), 5),
        "after dropping privileges it still logs", read(PLOG)[-400:])
# logrotate with "create 0640 nobody nogroup": the new file exists, owned by
# the service user; SIGUSR1 must switch to it.
os.rename(PLOG, PLOG + ".1")
fd = os.open(PLOG, os.O_CREAT | os.O_WRONLY, 0o640)
os.close(fd)
os.chown(PLOG, NOBODY.pw_uid, NOBODY.pw_gid)
priv.send_signal(signal.SIGUSR1)
time.sleep(0.3)
resp, _, _, sport = app_request("127.0.3.41", 443, "/priv2")
H.check(wait_for(lambda: conn_lines(read(PLOG), "127.0.3.1", sport), 5),
        "user = nobody: SIGUSR1 reopens the logrotate-created file",
        read(PLOG)[-400:] + read(PLOG + ".1")[-400:])
st = proc_state(priv.pid) or ""
caps = dict(re.findall(r"^(Cap(?:Inh|Prm|Eff|Amb)):\s+([0-9a-f]+)", st, re.M))
H.check(all(int(caps.get(k, "-1"), 16) == 1 << 10 for k in ("CapPrm", "CapEff")) and
        int(caps.get("CapInh", "1"), 16) == 0 and int(caps.get("CapAmb", "0"), 16) == 0,
        "user = nobody: the only capability kept is CAP_NET_BIND_SERVICE", caps)
# A reload that adds a service on a new address, port 443: as nobody, with the
# key now in a folder of its own (the reload re-reads it as nobody).
keydir = H.path("privkeys")
os.mkdir(keydir, 0o700)
with open(os.path.join(H.tmp, "pki", "ssl1.key"), "rb") as f:
    keybytes = f.read()
KEY2 = os.path.join(keydir, "ssl1.key")
fd = os.open(KEY2, os.O_CREAT | os.O_WRONLY, 0o600)
os.write(fd, keybytes)
os.close(fd)
for path in (keydir, KEY2):
    os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
reload_conf = conf(ONE, 'user = "nobody"\nlog_file = "%s"' % PLOG, listen="127.0.3.41:443")
reload_conf = reload_conf.replace('%s/pki/ssl1.key' % H.tmp, KEY2) + """
service app2 {
  fqdn = "cwa.example.com"
  listen = "127.0.3.42:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_app"
}
"""
H.write("priv.conf", reload_conf)
priv.send_signal(signal.SIGHUP)
H.check(wait_port("127.0.3.42:443", 10),
        "user = nobody: SIGHUP binds a new service on port 443 (CAP_NET_BIND_SERVICE kept)",
        read(PLOG)[-600:])
resp, _, _, _ = app_request("127.0.3.42", 443, "/reloaded")
H.check(resp.endswith(b"app /reloaded\n"), "user = nobody: the new service serves after the reload",
        resp[-200:])
resp, _, _, _ = app_request("127.0.3.41", 443, "/still")
H.check(resp.endswith(b"app /still\n"), "user = nobody: the old service still serves after the reload",
        resp[-200:])
H.check(H.stop(priv) == 0, "user = nobody: SIGTERM exit 0")

# ---------------------------------------------------- --daemon --pidfile
DLOG = H.path("daemon.log")
PID = H.path("edge443.pid")
H.write("daemon.conf", conf(ONE, 'log_file = "%s"' % DLOG, listen="127.0.3.31:443"))
t0 = time.time()
r = subprocess.run([EDGE443, "run", "-c", H.path("daemon.conf"), "--daemon",
                    "--pidfile", PID], cwd=H.tmp, capture_output=True,
                   text=True, timeout=30)
H.check(r.returncode == 0 and time.time() - t0 < 15,
        "--daemon: the command returns 0", (r.returncode, r.stderr[-400:]))
pid_text = wait_for(lambda: read(PID), 5)
dpid = int(pid_text) if pid_text.strip().isdigit() else -1
if dpid > 0:
    kill_at_exit(dpid)
H.check(dpid > 0 and pid_alive(dpid), "--pidfile names a running process", pid_text)
H.check(dpid > 0 and re.search(r"^PPid:\s+%d$" % os.getpid(),
                               proc_state(dpid) or "", re.M) is None,
        "--daemon: detached from the caller")
H.check(dpid > 0 and os.path.basename(os.readlink("/proc/%d/exe" % dpid))
        == os.path.basename(EDGE443) if pid_alive(dpid) else False,
        "--pidfile: the process is edge443")
H.check(wait_port("127.0.3.31:443", 10), "--daemon: listening")
resp, _, _, sport = app_request("127.0.3.31", 443, "/daemon")
H.check(resp.endswith(b"app /daemon\n"), "--daemon: serves", resp[-60:])
H.check(wait_for(lambda: conn_lines(read(DLOG), "127.0.3.1", sport), 5),
        "--daemon: log_file gets the conn line")
if dpid > 0 and pid_alive(dpid):
    os.kill(dpid, signal.SIGTERM)
gone = wait_for(lambda: not pid_alive(dpid), 15)
H.check(gone, "--daemon: SIGTERM stops it")
H.check(wait_for(lambda: not os.path.exists(PID), 3),
        "--daemon: SIGTERM removes the pid file")
H.check(not wait_port("127.0.3.31:443", 0.3), "--daemon: no longer listening")

# The same with relative paths (cwd = the config's folder), as people type
# it: the pid file and a reopened log land next to the config, not in /.
H.write("daemon2.conf", conf(ONE, 'log_file = "daemon2.log"', listen="127.0.3.32:443")
        .replace('"%s/pki/' % H.tmp, '"pki/'))
r = subprocess.run([EDGE443, "run", "-c", "daemon2.conf", "--daemon",
                    "--pidfile", "daemon2.pid"], cwd=H.tmp, capture_output=True,
                   text=True, timeout=30)
H.check(r.returncode == 0, "--daemon (relative paths): returns 0", r.stderr[-400:])
pid_text = wait_for(lambda: read(H.path("daemon2.pid")), 5)
dpid2 = int(pid_text) if pid_text.strip().isdigit() else -1
if dpid2 < 0:
    stray = read("/daemon2.pid")
    if stray.strip().isdigit():
        dpid2 = int(stray)
        kill_at_exit(dpid2)
        os.unlink("/daemon2.pid")
else:
    kill_at_exit(dpid2)
H.check(os.path.exists(H.path("daemon2.pid")),
        "--daemon: a relative --pidfile is written relative to where it was started",
        "found /daemon2.pid instead" if dpid2 > 0 and not pid_text else "")
D2LOG = H.path("daemon2.log")
H.check(wait_port("127.0.3.32:443", 10), "--daemon (relative paths): listening")
if dpid2 > 0 and pid_alive(dpid2):
    os.rename(D2LOG, D2LOG + ".1")
    os.kill(dpid2, signal.SIGUSR1)
    time.sleep(0.3)
    resp, _, _, sport = app_request("127.0.3.32", 443, "/d2")
    H.check(wait_for(lambda: conn_lines(read(D2LOG), "127.0.3.1", sport), 5),
            "--daemon: SIGUSR1 reopens a relative log_file next to the config",
            "/daemon2.log exists" if os.path.exists("/daemon2.log") else "")
    if os.path.exists("/daemon2.log"):
        os.unlink("/daemon2.log")
    # SIGHUP re-reads "daemon2.conf": the one it was started with.
    with open(H.path("daemon2.conf")) as f:
        text = f.read()
    H.write("daemon2.conf", text.replace('"127.0.3.32:443"', '"127.0.3.34:443"'))
    os.kill(dpid2, signal.SIGHUP)
    H.check(wait_port("127.0.3.34:443", 5),
            "--daemon: SIGHUP re-reads a relative -c config (new listener)",
            read(D2LOG)[-300:])
    os.kill(dpid2, signal.SIGTERM)
    wait_for(lambda: not pid_alive(dpid2), 15)
H.check(not os.path.exists(H.path("daemon2.pid")),
        "--daemon (relative paths): SIGTERM removes the pid file")

# ---------------------------- --daemon + user: the pid file is still removed
H.write("daemon3.conf", conf(ONE, 'user = "nobody"\nlog_file = "%s"'
                             % H.path("daemon3.log"), listen="127.0.3.33:443"))
PID3 = H.path("daemon3.pid")
r = subprocess.run([EDGE443, "run", "-c", H.path("daemon3.conf"), "--daemon",
                    "--pidfile", PID3], cwd=H.tmp, capture_output=True,
                   text=True, timeout=30)
pid_text = wait_for(lambda: read(PID3), 5)
dpid3 = int(pid_text) if pid_text.strip().isdigit() else -1
if dpid3 > 0:
    kill_at_exit(dpid3)
H.check(r.returncode == 0 and dpid3 > 0 and wait_port("127.0.3.33:443", 10),
        "--daemon + user = nobody: serving", r.stderr[-300:])
if dpid3 > 0 and pid_alive(dpid3):
    os.kill(dpid3, signal.SIGTERM)
    wait_for(lambda: not pid_alive(dpid3), 15)
H.check(not pid_alive(dpid3), "--daemon + user = nobody: SIGTERM stops it")
# After the privilege drop the pid file's root-owned folder cannot be
# written, so edge443 empties the file it owns instead of leaving a stale pid.
H.check(not os.path.exists(PID3) or read(PID3).strip() == "",
        "--daemon + user = nobody: SIGTERM leaves no stale pid in the pid file",
        read(H.path("daemon3.log"))[-300:])

H.done()

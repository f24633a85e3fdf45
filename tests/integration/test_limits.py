#!/usr/bin/env python3
"""Integration tests of edge443's limits and refusals: a service without a
backend is refused by `check` and `run` (backend-required); timeouts of 0
are refused; the listen backlog is the configured one (not libevent's 128);
a second `edge443 run` on the addresses of a running one exits 3 instead of
sharing its listeners through SO_REUSEPORT, while a SIGHUP reload keeps the
running one's own; a local EMFILE while connecting to a backend does not
mark the server down; and the admin endpoint pauses on accept errors
instead of spinning at EMFILE.

Every address is 127.0.6.x, so this test never collides with the other
integration tests run in parallel."""
import os
import re
import resource
import signal
import socket
import subprocess
import time

from harness import (EDGE443, Harness, client_hello, recv_all, tls_connect,
                     wait_for)

H = Harness("limits")
SNI = "as.cwa.example.com"
ADMIN = ("127.0.6.15", 9443)

COMMON = """
trust_file = "%(tmp)s/pki/trust.pem"
handshake_timeout = 5
connect_timeout = 2
idle_timeout = 30
shutdown_timeout = 2
workers = 1
log_level = "info"
%(extra)s

certificate ssl1 {
  cert  = "%(tmp)s/pki/ssl1.crt"
  chain = "%(tmp)s/pki/chain.pem"
  key   = "%(tmp)s/pki/ssl1.key"
}
"""

# The running instance: a terminate and a passthrough service, admin.
CONF = COMMON + """
admin = "127.0.6.15:9443"
backend b_echo { servers = {"127.0.6.40:7001"} }
backend b_pass { servers = {"127.0.6.41:7002"} }

service app {
  fqdn = "as.cwa.example.com"
  listen = "127.0.6.13:8443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_echo"
}
service pass {
  fqdn = "as.cwa.example.com"
  listen = "127.0.6.14:8444"
  certificate = "ssl1"
  mode = "passthrough"
  backend = "b_pass"
}
"""

NO_BACKEND = COMMON + """
service web {
  fqdn = "as.cwa.example.com"
  listen = "127.0.6.10:8443"
  certificate = "ssl1"
  mode = "terminate"
  http {
    paths = {"/"}
  }
}
"""

# Only what the timeout refusals need (COMMON writes the timeouts).
ZERO = """
trust_file = "%(tmp)s/pki/trust.pem"
%(extra)s
backend b { servers = {"127.0.6.40:7001"} }
service s {
  fqdn = "as.cwa.example.com"
  listen = "127.0.6.11:8443"
  mode = "passthrough"
  backend = "b"
}
"""

BACKLOG = COMMON + """
backend b_echo { servers = {"127.0.6.40:7001"} }
service app {
  fqdn = "as.cwa.example.com"
  listen = "127.0.6.12:8443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_echo"
}
"""


def conf(name, template, extra=""):
    return H.write(name, template % dict(tmp=H.tmp, extra=extra))


def run_briefly(path, seconds=15):
    """`edge443 run -c PATH`, which must exit by itself: (rc, stderr).  rc is
    None when it was still running after SECONDS (then it is stopped)."""
    p = subprocess.Popen([EDGE443, "run", "-c", path], cwd=H.tmp,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    H.procs.append(p)
    try:
        out, err = p.communicate(timeout=seconds)
        return p.returncode, out + err
    except subprocess.TimeoutExpired:
        H.stop(p)
        out, err = p.communicate(timeout=10)
        return None, out + err


def connects(ip, port):
    try:
        socket.create_connection((ip, port), 1).close()
        return True
    except OSError:
        return False


def send_queues(ip, port):
    """Send-Q of every listening socket on IP:PORT (the backlog, for a
    listener), from ss."""
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True,
                         timeout=10).stdout
    return [int(f[2]) for f in (l.split() for l in out.splitlines())
            if len(f) >= 4 and f[3] == "%s:%d" % (ip, port)]


def echo_ok(ip, port, data=b"ping\n"):
    try:
        s = tls_connect(ip, port, SNI, timeout=10)
        s.sendall(data)
        got = recv_all(s, len(data))
        s.close()
        return got == data
    except OSError:
        return False


def http_get(path, timeout=3):
    """(status line, body) from the admin endpoint, or (None, "") when it
    does not answer."""
    try:
        s = socket.create_connection(ADMIN, timeout)
        s.settimeout(timeout)
        s.sendall(("GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                   % path).encode())
        data = recv_all(s)
        s.close()
    except OSError:
        return None, ""
    head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
    return head.split("\r\n")[0], body


def fd_numbers(pid):
    return sorted(int(n) for n in os.listdir("/proc/%d/fd" % pid))


def free_fds(pid, n):
    """The N lowest file descriptor numbers PID does not use, once its
    descriptors are settled (connections of earlier checks closed)."""
    used, end = fd_numbers(pid), time.time() + 5
    while time.time() < end:
        time.sleep(0.3)
        now = fd_numbers(pid)
        if now == used:
            break
        used = now
    used, out, f = set(used), [], 0
    while len(out) < n:
        if f not in used:
            out.append(f)
        f += 1
    return out


def cpu_seconds(pid):
    """User + system CPU time of PID so far (all its threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_size():
    try:
        return os.path.getsize(H.path("edge443.log"))
    except OSError:
        return 0


# ------------------------------------------------------- backend-required
nob = conf("nobackend.conf", NO_BACKEND)
line = NO_BACKEND.split("service web {")[0].count("\n") + 1
r = subprocess.run([EDGE443, "check", "-c", nob], capture_output=True,
                   text=True, timeout=60)
H.check(r.returncode == 1, "check: a service without backend exits 1",
        "rc=%d %s" % (r.returncode, r.stdout + r.stderr))
H.check(re.search(r"^error backend-required %s:%d: service \"web\" .*names no "
                  r"backend.* — add backend = " % (re.escape(nob), line),
                  r.stdout, re.M) is not None,
        "check: backend-required names file:line and what to do", r.stdout)
rc, err = run_briefly(nob)
H.check(rc == 1 and "backend-required" in err,
        "run: a service without backend exits 1 naming backend-required",
        "rc=%s %s" % (rc, err[-2000:]))
H.check(not connects("127.0.6.10", 8443), "run: nothing was bound")

# ------------------------------------------------------------ zero timeouts
for opt, default in (("idle_timeout", 300), ("handshake_timeout", 10),
                     ("connect_timeout", 5)):
    z = conf("zero.conf", ZERO, extra="\n%s = 0" % opt)
    zline = 4
    r = subprocess.run([EDGE443, "check", "-c", z], capture_output=True,
                       text=True, timeout=60)
    H.check(r.returncode == 2 and ("%s:%d: %s = 0: out of range — use a "
                                   "positive number of seconds; the default "
                                   "is %d" % (z, zline, opt, default))
            in r.stdout + r.stderr,
            "check: %s = 0 is refused with file:line and what to do" % opt,
            "rc=%d %s" % (r.returncode, r.stdout + r.stderr))

# ----------------------------------------------------------------- backlog
H.backend("127.0.6.40:7001", "echo", name="echo")
H.backend("127.0.6.41:7002", "echo", name="pass")
somax = int(open("/proc/sys/net/core/somaxconn").read())
bl = conf("backlog.conf", BACKLOG, extra="backlog = 777")
try:
    c = H.edge(bl, wait_for=["127.0.6.12:8443"])
    q = send_queues("127.0.6.12", 8443)
    H.check(q and all(v == min(777, somax) for v in q),
            "backlog = 777 is the listener's backlog (ss Send-Q)", str(q))
    H.stop(c)
except RuntimeError as e:
    H.check(False, "backlog = 777 is the listener's backlog (ss Send-Q)",
            str(e)[-2000:])

main = conf("limits.conf", CONF)
edge = H.edge(main, wait_for=["127.0.6.13:8443", "127.0.6.14:8444",
                              "%s:%d" % ADMIN])
q = send_queues("127.0.6.13", 8443) + send_queues("127.0.6.14", 8444)
H.check(len(q) == 2 and all(v == min(1024, somax) for v in q),
        "the default backlog is 1024, not libevent's 128", str(q))
H.check(echo_ok("127.0.6.13", 8443), "the first edge443 serves")

# --------------------------------------------------- a second edge443 run
# Without the admin endpoint, whose bind (no SO_REUSEPORT) would refuse it
# anyway: the service listeners must be refused by themselves.
second = conf("second.conf", CONF.replace('admin = "127.0.6.15:9443"', ""))
rc, err = run_briefly(second)
H.check(rc == 3, "a second run on the same addresses exits 3",
        "rc=%s %s" % (rc, err[-2000:]))
H.check("127.0.6.13:8443" in err and "in use" in err,
        "a second run names the address in use", err[-2000:])
H.check(echo_ok("127.0.6.13", 8443), "the first edge443 still serves")

# A reload of the running one keeps its own listeners (no new bind).
edge.send_signal(signal.SIGHUP)
H.check(wait_for(lambda: "is in service for new connections" in H.log(), 10),
        "SIGHUP: the reload succeeds", H.log()[-2000:])
H.check("cannot listen" not in H.log(), "SIGHUP: no listener bound again")
H.check(echo_ok("127.0.6.13", 8443), "SIGHUP: still serving")
H.check('edge443_reloads_total{result="ok"} 1' in http_get("/metrics")[1],
        "SIGHUP: counted as a good reload")

# ------------------------------------- a local EMFILE towards a backend
# Leave edge443 exactly one more descriptor: the client connection takes
# it, so socket() for the backend fails with EMFILE.
soft, hard = resource.prlimit(edge.pid, resource.RLIMIT_NOFILE)
resource.prlimit(edge.pid, resource.RLIMIT_NOFILE,
                 (free_fds(edge.pid, 2)[1], hard))
got = b"?"
try:
    s = socket.create_connection(("127.0.6.14", 8444), 10)
    s.settimeout(10)
    s.sendall(client_hello(SNI))
    got = s.recv(100)
    s.close()
except OSError as e:
    got = str(e).encode()
finally:
    resource.prlimit(edge.pid, resource.RLIMIT_NOFILE, (soft, hard))
H.check(got == b"", "EMFILE towards the backend: the client is closed", got)
H.check(wait_for(lambda: "a local error, no server judged" in H.log(), 5),
        "EMFILE towards the backend: logged as a local error",
        H.log()[-2000:])
metrics = http_get("/metrics")[1]
server = 'backend="b_pass",server="127.0.6.41:7002"'
H.check("edge443_backend_server_up{%s} 1" % server in metrics,
        "EMFILE towards the backend: the server stays up", metrics[-1500:])
H.check("edge443_backend_server_failures_total{%s} 0" % server in metrics,
        "EMFILE towards the backend: no failure counted for the server")
H.check("marked down" not in H.log(), "EMFILE: no server marked down")
H.check(echo_ok("127.0.6.13", 8443), "EMFILE over: serving as before")

# ------------------------------------------- admin accept errors (EMFILE)
# A few descriptors left, then more admin connections than that: accept()
# fails with EMFILE while connections wait in the queue.  The main thread
# must pause (not spin at 100 % writing a warning per turn).
resource.prlimit(edge.pid, resource.RLIMIT_NOFILE,
                 (free_fds(edge.pid, 3)[2], hard))
clients = []
for _ in range(12):
    try:
        clients.append(socket.create_connection(ADMIN, 2))
    except OSError:
        break
size0, cpu0 = log_size(), cpu_seconds(edge.pid)
time.sleep(3)
grown, cpu = log_size() - size0, cpu_seconds(edge.pid) - cpu0
H.check(len(clients) == 12, "admin: 12 connections wait", len(clients))
H.check(grown < 4096, "admin at EMFILE: the log stays small",
        "%d bytes in 3 s" % grown)
H.check(cpu < 0.6, "admin at EMFILE: no busy loop",
        "%.2f s of CPU in 3 s" % cpu)
H.check(1 <= H.log().count("admin: accept failed") <= 8,
        "admin at EMFILE: the pause is logged, at most once a second",
        H.log()[-1500:])
for s in clients:
    s.close()
# Still at the low limit: once the connections close it answers again (the
# queued ones are accepted two a second, each seen closed at once).
H.check(wait_for(lambda: http_get("/health", 2)[0] == "HTTP/1.1 200 OK", 30),
        "admin: answers again once connections close")
resource.prlimit(edge.pid, resource.RLIMIT_NOFILE, (soft, hard))
H.check(echo_ok("127.0.6.13", 8443), "still serving at the end")

H.check(H.stop(edge) == 0, "edge443 stops cleanly", H.log()[-2000:])
H.done()

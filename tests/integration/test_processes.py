#!/usr/bin/env python3
"""worker_mode = processes (issue 15 item 5).

edge443 with workers = 2 and worker_mode = processes: the main process has
two children (read from /proc); connections are served by both (seen with
`ss -p`) and /metrics, served by the main process, sums the children's
counters to exactly the number of connections made, also after children
have ended; a session ticket from one connection resumes on the others,
whichever child takes them, and after a SIGHUP reload; a reload with a
broken configuration keeps the children serving; a good one replaces them
(new pids) while a connection opened before it keeps working until it ends;
a child killed with SIGKILL is replaced and serving goes on; SIGTERM stops
everything with status 0; SIGKILL of the main process makes the children
exit (PR_SET_PDEATHSIG).  Addresses 127.0.61.x."""
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

from harness import Harness, client_ctx, kill_at_exit, pid_alive, wait_for

H = Harness("processes")
IP = "127.0.61.1"
ADMIN = "127.0.61.11:9461"
CONF = """
trust_file = "pki/trust.pem"
workers = 2
worker_mode = "processes"
shutdown_timeout = 20
admin = "%s"
certificate ssl1 {
  cert  = "pki/ssl1.crt"
  chain = "pki/chain.pem"
  key   = "pki/ssl1.key"
}
backend b { servers = {"127.0.61.21:7001", "127.0.61.20:7000"} }  # the first refuses
service cwa {
  fqdn = "cwa.example.com"
  listen = "%s:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b"
}
""" % (ADMIN, IP)
CTX = client_ctx()  # one context: Python resumes only its own sessions
# Client connections made; the first is the harness waiting for the port.
MADE = [1]


def children(ppid):
    """The live children of PPID (from /proc/PID/stat)."""
    out = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == ppid and fields[0] != "Z":
            out.add(int(d))
    kill_at_exit(*out)  # none may outlive the test
    return out


def connect(resume=None):
    """A TLS connection to the service (offering RESUME), one echo round
    trip done; the caller closes it."""
    s = socket.create_connection((IP, 443), 10)
    t = CTX.wrap_socket(s, server_hostname="cwa.example.com", session=resume)
    MADE[0] += 1
    echo(t)
    return t


def echo(t, data=b"ping\n"):
    t.sendall(data)
    got = b""
    end = time.time() + 10
    while data not in got and time.time() < end:
        chunk = t.recv(100)  # the TLS 1.3 ticket arrives with the data
        if not chunk:
            break
        got += chunk
    return data in got


def session(resume=None):
    t = connect(resume)
    r = (t.session_reused, t.session)
    t.close()
    return r


def owners():
    """The pids holding an established connection on IP:443."""
    r = subprocess.run(["ss", "-tnpH", "state", "established",
                        "sport", "=", ":443"], capture_output=True,
                       text=True, timeout=10)
    return {int(m) for m in re.findall(r"pid=(\d+)", r.stdout)}


def metrics():
    with urllib.request.urlopen("http://%s/metrics" % ADMIN, timeout=10) as r:
        return r.read().decode()


def value(series):
    for line in metrics().splitlines():
        if line.startswith(series + " "):
            return int(float(line.split()[1]))
    return None


def reloads(result):
    return value('edge443_reloads_total{result="%s"}' % result) or 0


def reload_and_wait(p, result):
    before = reloads(result)
    p.send_signal(signal.SIGHUP)
    return wait_for(lambda: reloads(result) > before, 20)


H.backend("127.0.61.20:7000", "echo")
conf = H.write("p.conf", CONF)
edge = H.edge(conf, wait_for=["%s:443" % IP, ADMIN])

# ---- two children, and the main process accepts nothing
kids = wait_for(lambda: len(children(edge.pid)) == 2 and children(edge.pid), 10)
H.check(kids and len(kids) == 2, "the main process has 2 worker children",
        "children %s" % children(edge.pid))
kids = set(kids or ())
H.check(value("edge443_workers") == 2, "/metrics says 2 workers")

# ---- many connections, held open at once: both children serve
held = [connect() for _ in range(16)]
who = owners()
H.check(who and who <= kids and len(who) == 2,
        "16 connections held at once are served by both children, never by "
        "the main process", "owners %s, children %s, main %d" % (who, kids, edge.pid))
for t in held:
    t.close()
for _ in range(24):
    session()
H.check(wait_for(lambda: value("edge443_connections_open") == 0, 10),
        "every connection closed is no longer open in /metrics")
H.check(value("edge443_connections_total") == MADE[0],
        "/metrics sums the children's connections to the number made",
        "total %s, made %d" % (value("edge443_connections_total"), MADE[0]))
# The refusing server was marked down by the children that tried it: the
# main process's /metrics sees their marks (shared health memory).
DOWN = 'edge443_backend_server_%s{backend="b",server="127.0.61.21:7001"}'
H.check(value(DOWN % "up") == 0 and (value(DOWN % "failures_total") or 0) >= 1,
        "a server the children found refusing is down in the main process's /metrics",
        "up %s, failures %s" % (value(DOWN % "up"), value(DOWN % "failures_total")))

# ---- a ticket from one connection resumes on the others, on both children
reused, s0 = session()
H.check(not reused and s0 is not None, "the first handshake is full and brings a ticket")
held = [connect(s0) for _ in range(12)]
who = owners()
H.check(all(t.session_reused for t in held) and len(who) == 2,
        "the ticket resumes on 12 connections spread over both children",
        "reused %d of 12, owners %s" % (sum(t.session_reused for t in held), who))
for t in held:
    t.close()
H.check(wait_for(lambda: (value('edge443_tls_handshakes_total{kind="resumed"}') or 0) >= 12, 5),
        "/metrics counts the resumed handshakes of both children")

# ---- a broken configuration: refused, the children keep serving
with open(conf) as f:
    good = f.read()
H.write("p.conf", good.replace("\"processes\"", "\"forks\""))
H.check(reload_and_wait(edge, "failed"), "a reload with a broken configuration is refused")
H.check(children(edge.pid) == kids, "the same children keep serving after a refused reload",
        "%s vs %s" % (children(edge.pid), kids))
reused, _ = session(s0)
H.check(reused, "serving (and resuming) goes on after the refused reload")
H.write("p.conf", good)

# ---- a good reload: new children; an open connection finishes on the old
old_conn = connect()
old_owner = owners()
H.check(reload_and_wait(edge, "ok"), "a reload with a good configuration is taken")
new = wait_for(lambda: (lambda c: len(c - kids) == 2 and c)(children(edge.pid)), 10)
new_kids = (set(new) - kids) if new else set()
H.check(len(new_kids) == 2, "the reload starts 2 new children (new pids)",
        "children now %s, before %s" % (children(edge.pid), kids))
time.sleep(1)  # the old child is draining now
H.check(old_owner <= kids and all(pid_alive(p) for p in old_owner),
        "the old child holding an open connection is still draining it")
H.check(echo(old_conn, b"after reload\n"),
        "a connection opened before the reload keeps working after it")
held = [connect(s0) for _ in range(8)]
H.check(all(t.session_reused for t in held) and owners() - old_owner <= new_kids,
        "the ticket from before the reload resumes on the new children",
        "reused %d of 8" % sum(t.session_reused for t in held))
for t in held:
    t.close()
old_conn.close()
H.check(wait_for(lambda: not any(pid_alive(p) for p in kids), 15),
        "the old children exit once their connections have ended",
        "alive: %s" % [p for p in kids if pid_alive(p)])
H.check(wait_for(lambda: value("edge443_connections_total") == MADE[0], 5),
        "/metrics keeps the counts of the children that ended (never backwards)",
        "total %s, made %d" % (value("edge443_connections_total"), MADE[0]))
kids = new_kids

# ---- a child killed: logged, replaced, serving goes on
victim = sorted(kids)[0]
os.kill(victim, signal.SIGKILL)
after = wait_for(lambda: (lambda c: len(c) == 2 and victim not in c and c)(children(edge.pid)), 10)
H.check(after and len(set(after) - kids) == 1,
        "a child killed with SIGKILL is replaced by a new one",
        "children %s" % children(edge.pid))
H.check(wait_for(lambda: re.search(r"process %d killed by signal 9" % victim, H.log()), 5),
        "the main process logs the child's pid and signal")
ok = 0
for _ in range(10):
    reused, _ = session(s0)
    ok += reused
H.check(ok == 10, "serving and resuming go on after the respawn", "%d of 10" % ok)
H.check(value("edge443_connections_total") == MADE[0],
        "/metrics kept the killed child's counts",
        "total %s, made %d" % (value("edge443_connections_total"), MADE[0]))
kids = set(after or ())

# ---- SIGTERM: every process exits, the main one with 0
rc = H.stop(edge, timeout=30)
H.check(rc == 0, "SIGTERM: the main process exits 0", "rc %s" % rc)
H.check(wait_for(lambda: not any(pid_alive(p) for p in kids), 5),
        "SIGTERM: no worker process remains")

# ---- SIGKILL of the main process: the children follow (PDEATHSIG)
edge2 = H.edge(conf, wait_for=["%s:443" % IP], logname="edge443-2.log")
kids2 = wait_for(lambda: len(children(edge2.pid)) == 2 and children(edge2.pid), 10)
H.check(kids2, "a second run has 2 children")
held2 = connect()                      # keeps one child draining
edge2.kill()
edge2.wait(10)


def listening(addr):
    out = subprocess.run(["ss", "-Hltn", "src", addr],
                         capture_output=True, text=True).stdout
    return bool(out.strip())


H.check(wait_for(lambda: not listening("%s:443" % IP), 3)
        and any(pid_alive(p) for p in (kids2 or ())),
        "SIGKILL of the main process: the draining children let go of the "
        "listening sockets at once (nothing queues on them, a restart can bind)")
H.check(not listening(ADMIN),
        "... and the admin port is free: the children kept no copy of it")
H.check(echo(held2),
        "the connection held across the main process's death still relays")
held2.close()
H.check(wait_for(lambda: not any(pid_alive(p) for p in (kids2 or ())), 5),
        "SIGKILL of the main process: the children exit within 5 s")
H.done()

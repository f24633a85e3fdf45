#!/usr/bin/env python3
"""A pool of two edge443 nodes behind keepalived: failover under load.

Inside this test's own network namespace (tests/integration/netns.sh) it
builds a small network: a bridge and three namespaces of its own, node a
(192.0.2.1), node b (192.0.2.2) and a client (192.0.2.100), on TEST-NET-1.
Each node runs keepalived (conf/keepalived/keepalived.conf itself, with only
router_id, priority and a short advert_int changed), an edge443 on the two
service addresses 192.0.2.10 and .11 (freebind, one shared ticket_key_file,
admin on the node's 127.0.0.1:9443) and an echo backend on its loopback.
The client runs a resuming TLS client (this file with --client): connect,
send a line, read it back, keep the session and offer it next time.

  1. node a (priority 100) holds both addresses; /health is 200 "ok".
  2. SIGKILL node a's edge443: the addresses move to b within the VRRP and
     health-check timers; the failed requests and the seconds of outage
     are counted; after the move the sessions resume on b with a's tickets
     (ssl's session_reused, b's /metrics: no full handshake).
  3. Restart a's edge443: nopreempt keeps the addresses on b, with no
     failed request.
  4. `edge443 tickets rotate`, then SIGHUP b and a, under load: no failed
     request and no full handshake.
  5. SIGTERM b's edge443 while a client holds a connection: /health says
     503 "draining", the addresses move to a before the drain ends, and the
     sessions resume on a with b's tickets issued after the rotation.

The figures are printed on one FIGURES line (README.md, "tested failover").
Every wait is bounded; every process is stopped by its PID; the namespaces
and the bridge are deleted at exit, also on failure.  Without its own
namespace, keepalived or `ip netns`, it says why and exits 77 (skipped)."""
import atexit
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

VIPS = [("192.0.2.10", "cwa.example.com"), ("192.0.2.11", "webconf.example.com")]


# --------------------------------------------------------------- the client
def client_main(duration, pace):
    """The load: one request every PACE seconds, alternating between the
    two service addresses, until stdin closes or DURATION seconds passed;
    one JSON line per request on stdout."""
    from harness import client_ctx

    ctx = client_ctx()  # one context: Python resumes only its own sessions
    sessions = {}
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()),
                     daemon=True).start()
    end = time.monotonic() + duration
    n = 0
    while not stop.is_set() and time.monotonic() < end and n < 100000:
        ip, sni = VIPS[n % 2]
        rec = {"n": n, "vip": ip, "t0": time.monotonic(), "ok": False}
        try:
            s = socket.create_connection((ip, 443), 1.0)
            s.settimeout(2.0)
            t = ctx.wrap_socket(s, server_hostname=sni,
                                session=sessions.get(ip))
            line = b"ping %d\n" % n
            t.sendall(line)
            got = b""
            while not got.endswith(b"\n"):
                chunk = t.recv(100)
                if not chunk:
                    break
                got += chunk
            rec["ok"] = got == line
            rec["reused"] = t.session_reused
            sessions[ip] = t.session  # after the data: TLS 1.3 tickets
            t.close()
        except (OSError, ssl.SSLError) as e:
            rec["err"] = "%s: %s" % (type(e).__name__, e)
        rec["t1"] = time.monotonic()
        print(json.dumps(rec), flush=True)
        n += 1
        time.sleep(max(0.0, rec["t0"] + pace - time.monotonic()))


if len(sys.argv) == 4 and sys.argv[1] == "--client":
    client_main(float(sys.argv[2]), float(sys.argv[3]))
    sys.exit(0)


# ----------------------------------------------------------- preconditions
def skip(why):
    print("SKIP: %s" % why)
    sys.exit(77)


if not os.environ.get("EDGE443_IN_NETNS"):
    skip("needs a network namespace of its own (root, unshare --net): it "
         "builds a bridge and three namespaces")
for tool in ("keepalived", "ip", "curl", "openssl"):
    if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool):
        skip("%s is not installed (scripts/deps installs it)" % tool)
KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"

from harness import EDGE443, PKI, SRC, Harness  # noqa: E402

KA_CONF = os.path.join(SRC, "conf", "keepalived", "keepalived.conf")
ADVERT = 0.2    # advert_int of the test (the shipped file says 1)
PACE = 0.02     # at most one request every 20 ms (50 a second)
# The timers the failover must stay within: the health check's fall x
# interval (2 x 1 s), one more interval for its phase, its timeout on a
# hanging check (not here: refused or 503 at once), 3 advert_int for a
# silent master, and 2 s of slack for a loaded machine.
MOVE_BOUND = 2 * 1 + 1 + 3 * ADVERT + 2


def run(*args, timeout=15):
    return subprocess.run(list(args), capture_output=True, text=True,
                          timeout=timeout)


# ------------------------------------------------------ namespaces, bridge
TAG = "e443pool-%d" % os.getpid()
NS = {"a": TAG + "-a", "b": TAG + "-b", "c": TAG + "-c"}
ADDR = {"a": "192.0.2.1", "b": "192.0.2.2", "c": "192.0.2.100"}
BRIDGE = "br-pool"
made = []


def forget_stale():
    """Namespaces left by an earlier run that was killed (SIGKILL leaves no
    time for cleanup): the ones named after a PID that no longer runs.
    Their processes are that run's, stopped by their PIDs."""
    for line in run("ip", "netns", "list").stdout.splitlines():
        m = re.match(r"(e443pool-(\d+)-[abc])\b", line)
        if not m or os.path.exists("/proc/%s" % m.group(2)):
            continue
        for pid in run("ip", "netns", "pids", m.group(1)).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        run("ip", "netns", "del", m.group(1))


def cleanup():
    H.stop_all()
    for ns in reversed(made):
        run("ip", "netns", "del", ns)
    run("ip", "link", "del", BRIDGE)


def setup_network():
    if run("ip", "link", "add", BRIDGE, "type", "bridge").returncode != 0:
        skip("cannot create a bridge (no bridge support in the kernel?)")
    run("ip", "link", "set", BRIDGE, "up")
    for node in ("a", "b", "c"):
        r = run("ip", "netns", "add", NS[node])
        if r.returncode != 0:
            skip("ip netns add failed: %s" % r.stderr.strip())
        made.append(NS[node])
        veth = "v" + node
        steps = [
            ("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0",
             "netns", NS[node]),
            ("ip", "link", "set", veth, "master", BRIDGE, "up"),
            ("ip", "-n", NS[node], "link", "set", "lo", "up"),
            ("ip", "-n", NS[node], "addr", "add", ADDR[node] + "/24", "dev", "eth0"),
            ("ip", "-n", NS[node], "link", "set", "eth0", "up"),
        ]
        for step in steps:
            r = run(*step)
            if r.returncode != 0:
                raise RuntimeError("%s: %s" % (" ".join(step), r.stderr))


def in_ns(node, *cmd):
    return ["ip", "netns", "exec", NS[node], *cmd]


def start(node, cmd, logname, stdin=subprocess.DEVNULL, stdout=None):
    """Start CMD in NODE's namespace (ip netns exec execs it: same PID), in
    a process group of its own; the harness stops it by its PID."""
    log = open(H.path(logname), "ab")
    p = subprocess.Popen(in_ns(node, *cmd), cwd=H.tmp, stdin=stdin,
                         stdout=stdout or log, stderr=log,
                         start_new_session=True)
    H.procs.append(p)
    return p


# ------------------------------------------------------------- the nodes
def edge_conf():
    """One configuration for both nodes, as in a real pool."""
    return H.write("edge443.conf", """
trust_file = "pki/trust.pem"
freebind = true
ticket_key_file = "tickets.keys"
admin = "127.0.0.1:9443"
shutdown_timeout = 8
certificate ssl1 {
  cert  = "pki/ssl1.crt"
  chain = "pki/chain.pem"
  key   = "pki/ssl1.key"
}
certificate ssl2 {
  cert  = "pki/ssl2.crt"
  chain = "pki/chain.pem"
  key   = "pki/ssl2.key"
}
backend b { servers = {"127.0.0.1:7000"} }
service cwa {
  fqdn = "cwa.example.com"
  listen = "192.0.2.10:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b"
}
service webconf {
  fqdn = "webconf.example.com"
  listen = "192.0.2.11:443"
  certificate = "ssl2"
  mode = "terminate"
  backend = "b"
}
""")


def ka_conf(node):
    """conf/keepalived/keepalived.conf for NODE: this node's router_id and
    priority, and the test's advert_int; every substitution must hit once,
    so that the shipped file and this test cannot drift apart."""
    with open(KA_CONF) as f:
        text = f.read()
    for pat, new in ((r"router_id edge443-a\b", "router_id edge443-" + node),
                     (r"priority 100\b", "priority %d" % (100 if node == "a" else 90)),
                     (r"advert_int 1\b", "advert_int %s" % ADVERT)):
        text, n = re.subn(pat, new, text)
        if n != 1:
            raise RuntimeError("%s: %r matched %d times" % (KA_CONF, pat, n))
    return H.write("keepalived-%s.conf" % node, text)


def admin_get(node, path):
    """(status, body) of GET http://127.0.0.1:9443/PATH in NODE's namespace."""
    r = run(*in_ns(node, "curl", "-s", "--max-time", "2", "-w", "\n%{http_code}",
                   "http://127.0.0.1:9443" + path))
    body, _, code = r.stdout.rpartition("\n")
    body = body.rstrip("\n")
    return (int(code) if code.isdigit() else 0), body


def metric(node, series):
    _, text = admin_get(node, "/metrics")
    for line in text.splitlines():
        if line.startswith(series + " "):
            return int(float(line.split()[1]))
    return None


def full(node):
    return metric(node, 'edge443_tls_handshakes_total{kind="full"}')


def resumed(node):
    return metric(node, 'edge443_tls_handshakes_total{kind="resumed"}')


def holder():
    """The nodes that hold each service address now."""
    held = {}
    for node in ("a", "b"):
        out = run("ip", "-n", NS[node], "-4", "-o", "addr", "show", "dev", "eth0").stdout
        held[node] = all(" %s/32 " % ip in out for ip, _ in VIPS)
        if not held[node] and any(" %s/32 " % ip in out for ip, _ in VIPS):
            held[node] = "some"
    return held


def readline_within(p, seconds):
    """One line of P's stdout, or b"" after SECONDS (bounded)."""
    ready, _, _ = select.select([p.stdout], [], [], seconds)
    return p.stdout.readline() if ready else b""


def wait(cond, seconds, step=0.05):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


def start_edge(node):
    p = start(node, [EDGE443, "run", "-c", CONF], "edge-%s.log" % node)
    ok = wait(lambda: admin_get(node, "/health")[0] == 200, 15, 0.1)
    return p, ok


def reload(node):
    before = metric(node, 'edge443_reloads_total{result="ok"}') or 0
    edges[node].send_signal(signal.SIGHUP)
    return wait(lambda: (metric(node, 'edge443_reloads_total{result="ok"}') or 0) > before,
                15, 0.1)


# --------------------------------------------------------------- the load
class Load:
    def __init__(self):
        self.recs = []
        self.lock = threading.Lock()
        self.p = start("c", [sys.executable, os.path.abspath(__file__), "--client",
                             "300", str(PACE)], "client.log",
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.recs.append(rec)

    def since(self, t0, t1=None):
        with self.lock:
            return [r for r in self.recs
                    if r["t0"] >= t0 and (t1 is None or r["t0"] < t1)]

    def ok_count(self, t0):
        return sum(1 for r in self.since(t0) if r["ok"])

    def stop(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        H.stop(self.p)


def failover_figures(t_event, t_moved, settle):
    """After an event at T_EVENT (addresses moved at T_MOVED): the failed
    requests, the outage (from the event to the end of the first request
    that succeeded after the last failed one: it includes the client's 1 s
    connect timeout on a SYN sent while no node held the address) and the
    resumption rate of the requests after that one, over SETTLE seconds
    after the move."""
    wait(lambda: load.ok_count(t_moved) >= 20 and time.monotonic() > t_moved + settle,
         settle + 10, 0.1)
    recs = load.since(t_event)
    failed = [r for r in recs if not r["ok"]]
    # The outage ends with the first success after the last failure (a
    # request the node accepted just before it stopped may succeed first).
    last_fail = failed[-1]["t0"] if failed else t_event
    first_ok = next((r for r in recs if r["ok"] and r["t0"] >= last_fail), None)
    outage = (first_ok["t1"] - t_event) if first_ok else None
    after = [r for r in load.since(t_moved) if r["ok"]]
    after_ok = [r for r in after if r["t0"] > (first_ok or {"t0": 0})["t0"]]
    rate = (sum(1 for r in after_ok if r.get("reused")) / len(after_ok)) if after_ok else 0
    return failed, outage, after_ok, rate, first_ok


H = Harness("pool")
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so that cleanup runs
atexit.register(cleanup)  # after the Harness's: runs before it
forget_stale()
setup_network()

KEYS = H.path("tickets.keys")
r = run(EDGE443, "tickets", "rotate", KEYS)
H.check(r.returncode == 0, "a shared ticket key file", r.stdout + r.stderr)
CONF = edge_conf()
r = run(EDGE443, "check", "-c", CONF)
H.check(r.returncode == 0, "the pool configuration passes check", r.stdout[-800:])

edges = {}
for node in ("a", "b"):
    backend = start(node, [sys.executable, os.path.join(SRC, "tests", "integration", "backend.py"),
                           "--listen", "127.0.0.1:7000", "--mode", "echo"],
                    "backend-%s.log" % node, stdout=subprocess.PIPE)
    H.check(b"ready" in readline_within(backend, 15), "node %s: the echo backend runs" % node)
    edges[node], ok = start_edge(node)
    H.check(ok, "node %s: edge443 serves (freebind: it holds no service address yet)" % node,
            H.log("edge-%s.log" % node)[-600:])
code, body = admin_get("a", "/health")
H.check(code == 200 and body == "ok", "/health is 200 \"ok\" while edge443 serves",
        "%d %r" % (code, body))

kas = {}
for node in ("a", "b"):
    kas[node] = start(node, [KEEPALIVED, "-n", "-l", "-D", "-G", "-P",
                             "-f", ka_conf(node),
                             "-p", H.path("keepalived-%s.pid" % node),
                             "-r", H.path("vrrp-%s.pid" % node)],
                      "keepalived-%s.log" % node)
    if node == "a":
        # a first: with nopreempt the first to time out becomes master
        wait(lambda: holder()["a"] is True, 10)
H.check(wait(lambda: holder() == {"a": True, "b": False}, 10),
        "keepalived: node a (priority 100) holds both service addresses, b none",
        "%s\n%s" % (holder(), H.log("keepalived-a.log")[-1500:]))
if H.failed:
    H.done()

# ---------------------------------------------------------------- 1. load
load = Load()
t_load = time.monotonic()
H.check(wait(lambda: load.ok_count(t_load) >= 40, 20, 0.1),
        "the client's requests succeed on node a",
        str(load.since(t_load)[-3:]) + open(H.path("client.log"), errors="replace").read()[-600:])
warm = [r for r in load.since(t_load) if r["ok"]][2:]  # the first two are full
H.check(warm and all(r.get("reused") for r in warm),
        "the client resumes its sessions on node a (%d of %d)"
        % (sum(1 for r in warm if r.get("reused")), len(warm)))

# ------------------------------------------------- 2. kill a's edge443
b_full, b_resumed = full("b"), resumed("b")
t_kill = time.monotonic()
edges["a"].send_signal(signal.SIGKILL)
edges["a"].wait(5)
moved = wait(lambda: holder() == {"a": False, "b": True}, MOVE_BOUND + 5, 0.02)
t_moved = time.monotonic()
move_s = t_moved - t_kill
H.check(moved and move_s <= MOVE_BOUND,
        "SIGKILL of a's edge443: the addresses move to b in %.2f s (bound %.1f s: "
        "health check fall x interval + interval + 3 x advert_int + slack)"
        % (move_s, MOVE_BOUND), "%s\n%s" % (holder(), H.log("keepalived-a.log")[-1500:]))
failed1, outage1, after1, rate1, first1 = failover_figures(t_kill, t_moved, 3)
H.check(outage1 is not None and outage1 <= MOVE_BOUND + 1,
        "the outage ends once b holds the addresses: %.2f s, %d failed requests"
        % (outage1 or -1, len(failed1)), str(failed1[-3:]))
H.check(first1 is not None and first1.get("reused"),
        "the first request that succeeds after the outage resumes on b with a's ticket")
H.check(len(after1) >= 20 and rate1 == 1.0,
        "after the move every session resumes on b (%d of %d)"
        % (sum(1 for r in after1 if r.get("reused")), len(after1)))
d_full, d_res = (full("b") or 0) - (b_full or 0), (resumed("b") or 0) - (b_resumed or 0)
H.check(d_full == 0 and d_res >= len(after1),
        "b's /metrics: %d resumed, %d full handshakes after the move" % (d_res, d_full))

# --------------------------------------------------- 3. a comes back
a_ka_log = len(H.log("keepalived-a.log"))
t_restart = time.monotonic()
edges["a"], ok = start_edge("a")
H.check(ok, "a's edge443 restarts", H.log("edge-a.log")[-600:])
backup = wait(lambda: "Entering BACKUP STATE" in H.log("keepalived-a.log")[a_ka_log:], 10, 0.1)
H.check(backup, "a's keepalived leaves FAULT for BACKUP once /health answers again",
        H.log("keepalived-a.log")[-1500:])
time.sleep(1 + 3 * ADVERT)  # longer than a preemption would take
recs3 = load.since(t_restart)
H.check(holder() == {"a": False, "b": True} and
        "Entering MASTER STATE" not in H.log("keepalived-a.log")[a_ka_log:],
        "nopreempt: the addresses stay on b", str(holder()))
H.check(len(recs3) >= 20 and all(r["ok"] for r in recs3),
        "no second outage: %d requests since the restart, %d failed"
        % (len(recs3), sum(1 for r in recs3 if not r["ok"])))
a_conns = metric("a", "edge443_connections_total")
H.check(a_conns == 0, "the restarted a gets no connections (it holds no address)",
        str(a_conns))

# ------------------------------------------------ 4. rotate under load
b_full = full("b")
t_rot = time.monotonic()
r = run(EDGE443, "tickets", "rotate", KEYS)
H.check(r.returncode == 0 and "rotated" in r.stdout + r.stderr, "tickets rotate under load",
        r.stdout + r.stderr)
H.check(reload("b") and reload("a"), "SIGHUP b, then a: both reload the rotated keys",
        H.log("edge-b.log")[-600:])
t_reloaded = time.monotonic()
wait(lambda: time.monotonic() > t_reloaded + 1.5 and load.ok_count(t_reloaded) >= 10, 10, 0.1)
recs4 = load.since(t_rot)
H.check(len(recs4) >= 20 and all(r["ok"] and r.get("reused") for r in recs4),
        "during the rotation every request succeeds and resumes (%d of %d)"
        % (sum(1 for r in recs4 if r["ok"] and r.get("reused")), len(recs4)))
rot_full = (full("b") or 0) - (b_full or 0)
H.check(rot_full == 0, "b's /metrics: no full handshake caused by the rotation",
        "%d more" % rot_full)

# ---------------------------------------- 5. SIGTERM b: drain, /health 503
hold = start("c", ["openssl", "s_client", "-quiet", "-connect", "192.0.2.10:443",
                   "-servername", "cwa.example.com", "-CAfile", os.path.join(PKI, "trust.pem")],
             "hold.log", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
hold.stdin.write(b"hold\n")
hold.stdin.flush()
H.check(readline_within(hold, 10) == b"hold\n", "a client holds a connection open on b")
a_full, a_resumed = full("a"), resumed("a")
t_term = time.monotonic()
edges["b"].send_signal(signal.SIGTERM)
got = wait(lambda: (lambda c: c if c[0] == 503 else None)(admin_get("b", "/health")), 5, 0.05)
H.check(got == (503, "draining"), "SIGTERM: b's /health is 503 \"draining\" during the drain",
        str(got))
moved = wait(lambda: holder() == {"a": True, "b": False}, MOVE_BOUND + 5, 0.02)
t_moved2 = time.monotonic()
H.check(moved and t_moved2 - t_term <= MOVE_BOUND and edges["b"].poll() is None,
        "the addresses move to a in %.2f s, before b's drain ends" % (t_moved2 - t_term),
        "%s rc=%s\n%s" % (holder(), edges["b"].poll(), H.log("keepalived-b.log")[-1500:]))
failed2, outage2, after2, rate2, first2 = failover_figures(t_term, t_moved2, 3)
H.check(outage2 is not None and len(after2) >= 20 and rate2 == 1.0,
        "after the move every session resumes on a with b's post-rotation tickets "
        "(%d of %d; outage %.2f s, %d failed)"
        % (sum(1 for r in after2 if r.get("reused")), len(after2), outage2 or -1, len(failed2)))
d_full2 = (full("a") or 0) - (a_full or 0)
d_res2 = (resumed("a") or 0) - (a_resumed or 0)
H.check(d_full2 == 0 and d_res2 >= len(after2),
        "a's /metrics: %d resumed, %d full handshakes after the move" % (d_res2, d_full2))
H.check(wait(lambda: edges["b"].poll() is not None, 15, 0.1) and edges["b"].returncode == 0,
        "b's edge443 ends its drain at shutdown_timeout (8 s) and exits 0",
        str(edges["b"].poll()))
H.stop(hold)

load.stop()
total = len(load.recs)
span = (load.recs[-1]["t1"] - load.recs[0]["t0"]) if load.recs else 1
print("FIGURES: requests=%d in %.0f s (%.0f/s) | kill: move %.2f s, outage %.2f s, failed %d, "
      "resumed after move %d/%d | restart: failed %d | rotation: failed %d, full %d | "
      "drain: move %.2f s, outage %.2f s, failed %d, resumed after move %d/%d"
      % (total, span, total / span, move_s, outage1 or -1, len(failed1),
         sum(1 for r in after1 if r.get("reused")), len(after1),
         sum(1 for r in recs3 if not r["ok"]),
         sum(1 for r in recs4 if not r["ok"]), rot_full,
         t_moved2 - t_term, outage2 or -1, len(failed2),
         sum(1 for r in after2 if r.get("reused")), len(after2)), flush=True)
H.done()

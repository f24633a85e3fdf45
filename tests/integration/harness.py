"""harness.py — shared helpers for the Python integration tests.

Starts the real edge443 binary and test backends (backend.py) on loopback
addresses, runs real clients (curl, openssl s_client, Python ssl), and stops
every process it started by its PID.  Every wait is bounded in time.
Environment from ctest: EDGE443, EDGE443_PKI, EDGE443_SRC.

Each test works in a folder of its own, /tmp/edge443-NAME.XXXX, with a copy
of the test PKI in ./pki (mode 0755, certificates 0644, keys 0600): an
edge443 that drops privileges must still read it wherever the build folder
lives (under /root, mode 0700, the user it drops to cannot).  The folder is
removed when the test passes and kept, with its path printed, when it
fails.
"""
import atexit
import hashlib
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

EDGE443 = os.environ["EDGE443"]
PKI = os.environ["EDGE443_PKI"]
SRC = os.environ["EDGE443_SRC"]
BACKEND = os.path.join(SRC, "tests", "integration", "backend.py")


class Harness:
    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.procs = []
        self.all_passed = False
        self.tmp = tempfile.mkdtemp(prefix="edge443-%s." % name)
        # Whatever happens (an exception included), stop what we started,
        # then remove the folder or say where it is.  Registered first, so
        # it runs after the test's own atexit handlers.
        atexit.register(self.finish)
        pki = os.path.join(self.tmp, "pki")
        shutil.copytree(PKI, pki)
        os.chmod(pki, 0o755)

    # ------------------------------------------------------------ checks
    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("ok   %s" % what, flush=True)
        else:
            self.failed += 1
            print("FAIL %s %s" % (what, detail), flush=True)
        return cond

    def done(self):
        self.stop_all()
        print("%d passed, %d failed" % (self.passed, self.failed))
        self.all_passed = self.failed == 0
        sys.exit(1 if self.failed else 0)

    def finish(self):
        """At exit: stop what is left; remove the test's folder if every
        check passed, else keep it for a look."""
        self.stop_all()
        if self.all_passed:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print("kept %s (the test did not pass)" % self.tmp, flush=True)

    # --------------------------------------------------------- processes
    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def backend(self, listen, mode, name="backend", tls=None, chain=None,
                extra=()):
        args = [sys.executable, BACKEND, "--listen", listen, "--mode", mode,
                "--name", name, *extra]
        if tls:
            args += ["--tls", os.path.join(PKI, tls[0]),
                     os.path.join(PKI, tls[1])]
        if chain:
            args += ["--chain", os.path.join(PKI, chain)]
        p = subprocess.Popen(args, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        self.procs.append(p)
        line = p.stdout.readline()
        if "ready" not in line:
            raise RuntimeError("backend %s did not start: %s" % (listen, line))
        return p

    def edge(self, conf, wait_for=None, extra=(), logname="edge443.log"):
        """Start `edge443 run -c conf` with stderr to a log file (LOGNAME in
        the test's folder); wait until every address in WAIT_FOR accepts TCP
        (bounded)."""
        log = open(self.path(logname), "ab")
        p = subprocess.Popen([EDGE443, "run", "-c", conf, *extra],
                             cwd=self.tmp, stdout=log, stderr=log)
        p.logfile = self.path(logname)
        self.procs.append(p)
        for addr in wait_for or ():
            if not wait_port(addr, 10):
                raise RuntimeError("edge443 did not listen on %s: %s"
                                   % (addr, self.log(logname)))
        return p

    def log(self, logname="edge443.log"):
        try:
            with open(self.path(logname), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, p, sig=signal.SIGTERM, timeout=15):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        return p.returncode

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                self.stop(p)


def wait_for(pred, seconds):
    """PRED's first true value within SECONDS (polled), else its last."""
    end = time.time() + seconds
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return pred()


def pid_alive(pid):
    """PID runs: neither gone nor a zombie (/proc/PID/stat)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rindex(")") + 2:].split()[0] != "Z"


_STRAYS = set()


def _kill_strays():
    for pid in _STRAYS:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def kill_at_exit(*pids):
    """Processes the test did not start through a Harness (a daemon, a
    worker process): SIGKILLed when the test ends if still alive."""
    if not _STRAYS:
        atexit.register(_kill_strays)
    _STRAYS.update(pids)


def wait_port(addr, seconds):
    host, port = addr.rsplit(":", 1)
    end = time.time() + seconds
    while time.time() < end:
        try:
            socket.create_connection((host, int(port)), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def payload_sha(n):
    return hashlib.sha256(random.Random(n).randbytes(n)).hexdigest()


def curl(url, ip, port=443, extra=(), timeout=60):
    """curl URL with the host resolved to IP; returns (rc, stdout bytes)."""
    host = url.split("/")[2].split(":")[0]
    r = subprocess.run(["curl", "-sS", "--max-time", str(timeout),
                        "--resolve", "%s:%d:%s" % (host, port, ip),
                        "--cacert", os.path.join(PKI, "trust.pem"),
                        *extra, url],
                       capture_output=True, timeout=timeout + 10)
    return r.returncode, r.stdout


def served_subject(addr, sni=None):
    """The subject CN that the listener presents (openssl s_client)."""
    args = ["openssl", "s_client", "-connect", addr, "-showcerts"]
    args += ["-servername", sni] if sni else ["-noservername"]
    r = subprocess.run(args, input=b"", capture_output=True, timeout=20)
    out = r.stdout.decode(errors="replace")
    for line in out.splitlines():
        if line.startswith("subject="):
            return line.split("CN = ", 1)[-1].split("CN=", 1)[-1].strip()
    return None


def client_ctx(alpn=None):
    ctx = ssl.create_default_context(cafile=os.path.join(PKI, "trust.pem"))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_connect(ip, port, sni, timeout=10, ctx=None):
    s = socket.create_connection((ip, port), timeout)
    return (ctx or client_ctx()).wrap_socket(s, server_hostname=sni)


def recv_all(sock, limit=1 << 30):
    data = b""
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except (ssl.SSLEOFError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


def client_hello(sni="as.cwa.example.com", alpn=None):
    """The bytes of a real ClientHello made by Python's ssl on memory BIOs."""
    ctx = ssl.create_default_context()
    if alpn:
        ctx.set_alpn_protocols(alpn)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()

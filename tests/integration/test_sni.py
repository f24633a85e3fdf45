#!/usr/bin/env python3
"""Integration tests of the names and protocols a client asks for: sni_strict
(unrecognized_name alert; the FQDN and the names of the service's
certificate pass, on terminating and passthrough services), ALPN on http services
(no_application_protocol alert for a client without http/1.1), and the
passthrough ClientHello read when a client sends it one byte at a time (the
edge443 process must not parse it again for every byte).  The real binary,
real clients (Python's ssl, curl, openssl s_client); every address is
127.0.7.x (port 443 needs root, as CI is)."""
import os
import socket
import ssl
import subprocess
import time

from harness import Harness, client_ctx, curl, recv_all, tls_connect

H = Harness("sni")

CONF = """
trust_file = "pki/trust.pem"
handshake_timeout = 20
connect_timeout = 2
idle_timeout = 30
shutdown_timeout = 5
workers = 1

certificate ssl1 {
  cert  = "pki/ssl1.crt"
  chain = "pki/chain.pem"
  key   = "pki/ssl1.key"
}
certificate ssl1pass {
  cert  = "pki/ssl1.crt"
  chain = "pki/chain.pem"
}

backend b_app  { servers = {"127.0.7.21:8080"} }
backend b_pass { servers = {"127.0.7.22:8443"} }

service strict {
  role = "cwa"
  fqdn = "cwa.example.com"
  listen = "127.0.7.11:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_app"
  sni_strict = true
}
service web {
  fqdn = "as.cwa.example.com"
  listen = "127.0.7.12:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_app"
  http {
    paths = {"/"}
  }
}
service loose {
  fqdn = "sip.example.org"
  listen = "127.0.7.14:443"
  certificate = "ssl1"
  mode = "terminate"
  backend = "b_app"
}
service pass {
  role = "access-edge"
  fqdn = "sip.example.com"
  listen = "127.0.7.13:443"
  certificate = "ssl1pass"
  mode = "passthrough"
  backend = "b_pass"
  sip_domains = {"example.com"}
}
service pstrict {
  fqdn = "download.cwa.example.com"
  listen = "127.0.7.15:443"
  certificate = "ssl1pass"
  mode = "passthrough"
  backend = "b_pass"
  sni_strict = true
}
service pbare {
  role = "av-edge"
  fqdn = "av.example.com"
  listen = "127.0.7.16:443"
  mode = "passthrough"
  backend = "b_pass"
  sni_strict = true
}
"""

H.backend("127.0.7.21:8080", "http", "app")
H.backend("127.0.7.22:8443", "http", "pass-backend", ("ssl1.crt", "ssl1.key"),
          "chain.pem")
H.write("sni.conf", CONF)
edge = H.edge("sni.conf", wait_for=["127.0.7.%d:443" % i for i in range(11, 17)])


def get(sock, path):
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: as.cwa.example.com\r\n"
                 b"Connection: close\r\n\r\n" % path)
    return recv_all(sock)


def fetch(ip, sni, path, ctx=None):
    """(ALPN selected, the answer to GET PATH) over TLS to IP:443 with SNI;
    (None, the error) when the handshake fails."""
    try:
        s = tls_connect(ip, 443, sni, ctx=ctx)
    except (ssl.SSLError, OSError) as e:
        return None, repr(e).encode()
    alpn = s.selected_alpn_protocol()
    body = get(s, path)
    s.close()
    return alpn, body


def no_name_check():
    """A client context that leaves the refusing to edge443."""
    ctx = client_ctx()
    ctx.check_hostname = False
    return ctx


def handshake_error(ip, sni, ctx=None):
    """The SSL error text of a handshake that should fail, or None when it
    succeeded."""
    try:
        s = tls_connect(ip, 443, sni, ctx=ctx)
    except ssl.SSLError as e:
        return str(e)
    except OSError as e:
        return "not an alert: %r" % e
    s.close()
    return None


# ------------------------------------------- sni_strict on a terminating service
for sni in ("cwa.example.com", "CWA.Example.com", "sip.example.org",
            "as.cwa.example.com"):
    body = fetch("127.0.7.11", sni, b"/strict")[1]
    H.check(body.endswith(b"app /strict\n"),
            "sni_strict: %s (the FQDN or a name of the certificate) is served"
            % sni, body[-80:])

for sni in ("webconf.example.com", "other.example.net", "x.cwa.example.com",
            None):
    err = handshake_error("127.0.7.11", sni, no_name_check())
    H.check(err is not None and "UNRECOGNIZED_NAME" in err,
            "sni_strict: SNI %s gets an unrecognized_name alert" % sni, err)

r = subprocess.run(["openssl", "s_client", "-connect", "127.0.7.11:443",
                    "-servername", "webconf.example.com"],
                   input=b"", capture_output=True, timeout=20)
out = (r.stdout + r.stderr).decode(errors="replace")
H.check("unrecognized name" in out,
        "sni_strict: openssl s_client reports the unrecognized name alert",
        out[-300:])

# Without sni_strict the same listener serves every name, and none.
for sni in ("webconf.example.com", None):
    body = fetch("127.0.7.14", sni, b"/loose", no_name_check())[1]
    H.check(body.endswith(b"app /loose\n"),
            "no sni_strict: SNI %s is served" % sni, body[-80:])

# ------------------------------------------------ sni_strict on passthrough
# The backend presents ssl1: the names it covers pass, as the FQDN does.
for sni in ("download.cwa.example.com", "sip.example.org"):
    body = fetch("127.0.7.15", sni, b"/pstrict")[1]
    H.check(body.endswith(b"pass-backend /pstrict\n"),
            "passthrough sni_strict: %s is passed to the backend" % sni,
            body[-80:])
for sni in ("webconf.example.com", None):
    err = handshake_error("127.0.7.15", sni, no_name_check())
    H.check(err is not None and "UNRECOGNIZED_NAME" in err,
            "passthrough sni_strict: SNI %s gets an unrecognized_name alert"
            % sni, err)
s = socket.create_connection(("127.0.7.15", 443), 5)
s.sendall(b"not tls at all\n")
H.check(recv_all(s) == b"", "passthrough sni_strict: a non-TLS stream is closed")
s.close()
# Without a certificate only the FQDN counts.
body = fetch("127.0.7.16", "av.example.com", b"/pbare", no_name_check())[1]
H.check(body.endswith(b"pass-backend /pbare\n"),
        "passthrough sni_strict, no certificate: the FQDN passes", body[-80:])
err = handshake_error("127.0.7.16", "sip.example.com", no_name_check())
H.check(err is not None and "UNRECOGNIZED_NAME" in err,
        "passthrough sni_strict, no certificate: another name is refused", err)

# ------------------------------------------------------- ALPN on an http service
err = handshake_error("127.0.7.12", "as.cwa.example.com", client_ctx(["h2"]))
H.check(err is not None and "no application protocol" in err.lower(),
        "ALPN h2 only: no_application_protocol alert", err)

r = subprocess.run(["openssl", "s_client", "-connect", "127.0.7.12:443",
                    "-servername", "as.cwa.example.com", "-alpn", "h2"],
                   input=b"", capture_output=True, timeout=20)
out = (r.stdout + r.stderr).decode(errors="replace")
H.check("no application protocol" in out,
        "ALPN h2 only: openssl s_client reports no application protocol",
        out[-300:])

alpn, body = fetch("127.0.7.12", "as.cwa.example.com", b"/alpn",
                   client_ctx(["h2", "http/1.1"]))
H.check(alpn == "http/1.1" and body.endswith(b"app /alpn\n"),
        "ALPN h2,http/1.1: http/1.1 selected and served", (alpn, body[-80:]))

alpn, body = fetch("127.0.7.12", "as.cwa.example.com", b"/none")
H.check(alpn is None and body.endswith(b"app /none\n"),
        "no ALPN: none selected, served", (alpn, body[-80:]))

rc, body = curl("https://as.cwa.example.com/curl", "127.0.7.12")
H.check(rc == 0 and body == b"app /curl\n", "curl (ALPN h2,http/1.1) is served",
        (rc, body[:80]))

# ------------------------------------ passthrough: a hello one byte at a time
#
# What is measured is edge443's CPU per read(2) while the hello trickles in:
# a parse of everything received so far on every read (the old way) costs
# about 100 us per read in the sanitizer build; the record-framing check
# leaves only what every read costs anyway (the event loop and the read
# path, about 10 us).  Total CPU alone is no measure: a slow edge443 reads
# more bytes per read(2), so the read count is taken from /proc/PID/io.


def cpu_seconds(pid):
    """utime + stime of PID (all its threads) in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_calls(pid):
    """read(2)-family system calls PID (all its threads) has made."""
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("syscr:"):
                return int(line.split()[1])
    return 0


PER_READ_BOUND = 30e-6

# A real ClientHello of about 16,000 bytes (a long ALPN list), below the
# 16 KiB edge443 waits for, from an SSL object on memory BIOs that then
# completes the handshake through edge443 with the passthrough backend.
cctx = client_ctx([("p%03d" % i) + "x" * 190 for i in range(80)])
inc, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = cctx.wrap_bio(inc, outb, server_hostname="sip.example.com")
try:
    tls.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = outb.read()
H.check(15500 < len(hello) < 16384, "trickle: a %d-byte ClientHello" % len(hello))

sock = socket.create_connection(("127.0.7.13", 443), 5)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
time.sleep(0.2)
cpu0, reads0, t0 = cpu_seconds(edge.pid), read_calls(edge.pid), time.time()
for i in range(len(hello)):
    sock.send(hello[i:i + 1])
    if i % 8 == 7:
        time.sleep(0.001)  # so that edge443 reads it in many pieces
time.sleep(0.3)
cpu = cpu_seconds(edge.pid) - cpu0
reads = read_calls(edge.pid) - reads0
sent_for = time.time() - t0
H.check(reads > 500 and cpu / reads < PER_READ_BOUND,
        "trickle: edge443 read the hello in %d reads and spent %.3f s of CPU "
        "on it, %.1f us per read (bound %.0f us; sent in %.1f s)"
        % (reads, cpu, 1e6 * cpu / max(reads, 1), 1e6 * PER_READ_BOUND,
           sent_for))

# Finish the handshake and one request through the backend.
sock.settimeout(10)
done = False
try:
    for _ in range(100):
        try:
            tls.do_handshake()
            done = True
            break
        except ssl.SSLWantReadError:
            pending = outb.read()
            if pending:
                sock.sendall(pending)
            data = sock.recv(65536)
            if not data:
                break
            inc.write(data)
    if done:
        sock.sendall(outb.read())
        tls.write(b"GET /trickle HTTP/1.1\r\nHost: sip.example.com\r\n"
                  b"Connection: close\r\n\r\n")
        sock.sendall(outb.read())
        reply = b""
        while not reply.endswith(b"pass-backend /trickle\n"):
            try:
                reply += tls.read(65536)
            except ssl.SSLWantReadError:
                data = sock.recv(65536)
                if not data:
                    break
                inc.write(data)
            except ssl.SSLError:
                break
except (OSError, ssl.SSLError) as e:
    done = False
    reply = repr(e).encode()
sock.close()
H.check(done and reply.endswith(b"pass-backend /trickle\n"),
        "trickle: the hello sent byte by byte reaches the backend, which answers",
        reply[-120:] if done else "handshake did not finish")
time.sleep(0.2)
H.check("sni=sip.example.com" in H.log(), "trickle: the SNI is logged")

H.check(H.stop(edge) == 0, "edge443 stops cleanly")
H.done()

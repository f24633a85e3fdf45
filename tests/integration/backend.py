#!/usr/bin/env python3
"""backend.py — a small test backend for the integration tests.

    backend.py --listen IP:PORT [--tls CERT KEY [--chain FILE]] --mode MODE
               [--name NAME] [--pidfile FILE] [--log FILE]

MODE:
  echo    echo every byte back; on EOF from the peer, finish sending, then
          half-close (so half-close handling can be tested)
  http    answer each HTTP/1.1 request: GET /size/N returns N pseudo-random
          bytes (seeded by N); GET /sha returns "NAME"; POST returns the
          sha256 of the body; other paths return "NAME PATH"
  name    write "NAME\\n" and close (who answered?)
  dirty   (TLS) read one line, answer it, then close the TCP connection
          without close_notify
  proxy   read a PROXY protocol header (v1 text line or v2 binary) from the
          raw TCP stream, before any TLS; answer "src=IP:PORT dst=IP:PORT\n"
          (v1 "PROXY UNKNOWN" / v2 LOCAL: "proxy=unknown\n"; no header or a
          malformed one: "proxy=none\n" / "proxy=bad\n", then close), then
          echo like "echo"
  rawlog  the independent observer of the hostile tests: append EVERY byte
          received (after TLS, with --tls) to the --log FILE, per connection,
          as it arrives (also while it waits or sends), and answer HTTP/1.1
          requests parsed minimally here (head up to CRLFCRLF, Content-Length
          or chunked body) by the first path segment it knows:
            /slow/S        wait S seconds, then a small 200
            /big/N         200 with Content-Length N, N bytes (a client that
                           does not read leaves it pending)
            /hang          read the request, never answer (go on logging)
            /reset/N       a head with Content-Length N+100000, N body bytes,
                           then RST (SO_LINGER 0 close)
            /closedelim/N  HTTP/1.0-style close-delimited N bytes (no
                           Content-Length), then a clean close (close_notify
                           with --tls, then FIN)
            /resetclose/N  the same close-delimited response, ended by RST
            /dirtyclose/N  the same, ended by FIN without close_notify
            /drip/N        Content-Length N, then 100 bytes every 0.1 s
            /upgrade101    101 Switching Protocols (Upgrade: h2c) to anything,
                           then no more parsing: every later byte is logged
          other paths: a small 200 "rawlog NAME conn=ID PATH".  Log records,
          one line each (tests/integration/test_hostile.py reads them back):
            "ID open PEER" | "ID data HEX" | "ID eof" | "ID reset" |
            "ID end HOW"   (HOW: clean, rst, dirty, error, timeout)

It serves until killed (SIGTERM), one thread per connection, and prints
"ready" on stdout once listening.
"""
import argparse
import hashlib
import itertools
import os
import random
import socket
import ssl
import select
import struct
import sys
import tempfile
import threading
import time


def payload(n):
    rnd = random.Random(n)
    return rnd.randbytes(n)


def recv_until(sock, marker, limit=1 << 20):
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data, False
        data += chunk
        if len(data) > limit:
            return data, False
    return data, True


CONN_IDS = itertools.count(1)
REQUESTS = itertools.count(1)


def serve_http(conn, name):
    """HTTP/1.1 on one connection.  Paths:
    /size/N     N pseudo-random bytes        /chunked/N  the same, chunked
    /headers    the request head as received /conn       this TCP connection's id
    /count      how many requests this backend has answered (this one excluded)
    POST        the sha256 of the body (Content-Length or chunked)
    an Upgrade request gets 101 and the connection then echoes bytes."""
    conn_id = next(CONN_IDS)
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        count = next(REQUESTS) - 1
        h = hashlib.sha256()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                while b"\r\n" not in buf:
                    more = conn.recv(65536)
                    if not more:
                        return
                    buf += more
                size_line, buf = buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(buf) < size + 2:
                    more = conn.recv(65536)
                    if not more:
                        return
                    buf += more
                h.update(buf[:size])
                buf = buf[size + 2:]
                if size == 0:
                    break
        else:
            length = int(headers.get("content-length", "0"))
            if headers.get("expect", "").lower() == "100-continue" and length:
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            while length > 0:
                if not buf:
                    buf = conn.recv(min(65536, length))
                    if not buf:
                        return
                take = buf[:length]
                h.update(take)
                length -= len(take)
                buf = buf[len(take):]
        if "upgrade" in headers.get("connection", "").lower():
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                         b"Upgrade: %s\r\nConnection: Upgrade\r\n\r\n"
                         % headers.get("upgrade", "x").encode())
            if buf:
                conn.sendall(buf)
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)
        chunked = False
        if method == "POST":
            body = h.hexdigest().encode()
        elif path.startswith("/size/"):
            body = payload(int(path[6:]))
        elif path.startswith("/chunked/"):
            body = payload(int(path[9:]))
            chunked = True
        elif path == "/headers":
            body = head + b"\r\n\r\n"
        elif path == "/conn":
            body = b"%d" % conn_id
        elif path == "/count":
            body = b"%d" % count
        elif path == "/sha":
            body = name.encode()
        else:
            body = ("%s %s\n" % (name, path)).encode()
        close = headers.get("connection", "").lower() == "close"
        extra = b"Connection: close\r\n" if close else b""
        if method == "HEAD":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n"
                         % (len(body), extra))
        elif chunked:
            out = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n%s\r\n" % extra]
            for i in range(0, len(body), 100000):
                piece = body[i:i + 100000]
                out.append(b"%x\r\n%s\r\n" % (len(piece), piece))
            out.append(b"0\r\n\r\n")
            conn.sendall(b"".join(out))
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                         b"Content-Type: application/octet-stream\r\n%s\r\n"
                         % (len(body), extra) + body)
        if close:
            return


PROXY_V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_proxy_header(conn):
    """Read exactly one PROXY header from the raw socket; returns the answer
    line (bytes) and whether to go on."""
    first = recv_exact(conn, 6)
    if first is None:
        return b"proxy=none\n", False
    if first == b"PROXY ":
        line = first
        while not line.endswith(b"\r\n"):
            c = conn.recv(1)
            if not c or len(line) > 107:        # the v1 maximum
                return b"proxy=bad\n", False
            line += c
        parts = line[:-2].decode("ascii", "replace").split(" ")
        if parts[1] == "UNKNOWN":
            return b"proxy=unknown\n", True
        if len(parts) != 6 or parts[1] not in ("TCP4", "TCP6"):
            return b"proxy=bad\n", False
        fmt = "%s:%s" if parts[1] == "TCP4" else "[%s]:%s"
        return ("v1 src=%s dst=%s\n" % (fmt % (parts[2], parts[4]),
                                        fmt % (parts[3], parts[5]))).encode(), True
    rest = recv_exact(conn, 6)
    if rest is None or first + rest != PROXY_V2_SIG:
        return b"proxy=none\n", False
    hdr = recv_exact(conn, 4)
    if hdr is None or hdr[0] >> 4 != 2:
        return b"proxy=bad\n", False
    length = int.from_bytes(hdr[2:4], "big")
    body = recv_exact(conn, length) if length else b""
    if body is None:
        return b"proxy=bad\n", False
    if hdr[0] & 0x0f == 0 or hdr[1] == 0:
        return b"proxy=unknown\n", True
    if hdr[1] == 0x11 and length >= 12:
        src = socket.inet_ntop(socket.AF_INET, body[0:4])
        dst = socket.inet_ntop(socket.AF_INET, body[4:8])
        sp, dp = int.from_bytes(body[8:10], "big"), int.from_bytes(body[10:12], "big")
        return ("v2 src=%s:%d dst=%s:%d\n" % (src, sp, dst, dp)).encode(), True
    if hdr[1] == 0x21 and length >= 36:
        src = socket.inet_ntop(socket.AF_INET6, body[0:16])
        dst = socket.inet_ntop(socket.AF_INET6, body[16:32])
        sp, dp = int.from_bytes(body[32:34], "big"), int.from_bytes(body[34:36], "big")
        return ("v2 src=[%s]:%d dst=[%s]:%d\n" % (src, sp, dst, dp)).encode(), True
    return b"proxy=bad\n", False


def handle_echo(conn, ctx):
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)
    if ctx is not None:
        try:
            conn = conn.unwrap()
        except (ssl.SSLError, OSError):
            pass
    try:
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass


# ------------------------------------------------------------------ rawlog
class RawLog:
    """Appends one line per event to the --log file (whole lines, one write
    each, under a lock, flushed at once)."""

    def __init__(self, path):
        self.f = open(path, "ab", buffering=0)
        self.lock = threading.Lock()

    def rec(self, conn_id, what, data=None):
        line = b"%d %s" % (conn_id, what.encode())
        if data is not None:
            line += b" " + data.hex().encode()
        with self.lock:
            self.f.write(line + b"\n")


RAWLOG_IDS = itertools.count(1)
RAWLOG_MAX_LIFE = 300   # seconds: every connection ends by then
RAWLOG_LINGER = 3       # seconds to drain the peer after our clean close


def rawlog_request(buf):
    """One request parsed minimally from BUF: (method, path, headers, rest)
    or None when it is not complete yet."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head, rest = buf[:end], buf[end + 4:]
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    method = parts[0]
    path = parts[1] if len(parts) > 1 else "/"
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        pos = 0
        while True:
            eol = rest.find(b"\r\n", pos)
            if eol < 0:
                return None
            try:
                size = int(rest[pos:eol].split(b";")[0], 16)
            except ValueError:
                size = 0
            if size == 0:
                tend = rest.find(b"\r\n\r\n", eol)
                if tend < 0:
                    return None
                return method, path, headers, rest[tend + 4:]
            if len(rest) < eol + 2 + size + 2:
                return None
            pos = eol + 2 + size + 2
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        length = 0
    if len(rest) < length:
        return None
    return method, path, headers, rest[length:]


def rawlog_actions(name, conn_id, method, path, headers):
    """The answer to one request, as a list of actions: ("send", bytes),
    ("wait", until), ("pause", seconds), ("drip", n), ("hang",),
    ("tunnel",), ("close",), ("rst",), ("dirty",)."""
    segs = path.split("?", 1)[0].split("/")
    word, arg = None, None
    for i, seg in enumerate(segs):
        if seg in ("slow", "big", "hang", "reset", "closedelim", "resetclose",
                   "dirtyclose", "drip", "upgrade101"):
            word = seg
            arg = segs[i + 1] if i + 1 < len(segs) else None
            break

    def num(default):
        try:
            return float(arg) if word == "slow" else int(arg)
        except (TypeError, ValueError):
            return default

    close = headers.get("connection", "").lower() == "close"

    def small():
        body = ("rawlog %s conn=%d %s\n" % (name, conn_id, path)).encode()
        return [("send", b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n"
                 % (len(body), b"Connection: close\r\n" if close else b"")
                 + (b"" if method == "HEAD" else body))] + \
            ([("close",)] if close else [])

    if word == "slow":
        return [("wait", time.time() + num(1.0))] + small()
    if word == "big":
        n = num(1 << 20)
        return [("send", b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n),
                ("send", payload(n))] + ([("close",)] if close else [])
    if word == "hang":
        return [("hang",)]
    if word == "reset":
        n = num(1000)
        return [("send", b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                 % (n + 100000) + payload(n)),
                ("pause", 0.3), ("rst",)]
    if word in ("closedelim", "resetclose", "dirtyclose"):
        n = num(1000)
        how = {"closedelim": "close", "resetclose": "rst",
               "dirtyclose": "dirty"}[word]
        return [("send", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
                 + payload(n)), ("pause", 0.3), (how,)]
    if word == "drip":
        n = num(100000)
        return [("send", b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n),
                ("drip", n)]
    if word == "upgrade101":
        return [("send", b"HTTP/1.1 101 Switching Protocols\r\n"
                 b"Upgrade: h2c\r\nConnection: Upgrade\r\n\r\n"), ("tunnel",)]
    return small()


def serve_rawlog(raw, ctx, name, log):
    """One connection, one thread, non-blocking: read (and log) whenever
    bytes arrive, whatever the answer is doing."""
    conn_id = next(RAWLOG_IDS)
    try:
        peer = "%s:%d" % raw.getpeername()[:2]
    except OSError:
        peer = "?"
    log.rec(conn_id, "open " + peer)
    born = time.time()
    sock = raw
    if ctx is not None:
        raw.settimeout(10)
        try:
            sock = ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as e:
            log.rec(conn_id, "end handshake-failed:%s" % type(e).__name__)
            raw.close()
            return
    sock.setblocking(False)
    raw = sock      # select on it; after wrap_socket the old object is detached
    inbuf = b""
    out = memoryview(b"")
    actions = []
    peer_eof = False
    parsing = True
    drip_next = 0.0

    def read_available():
        """Read what is there; False when the connection broke."""
        nonlocal inbuf, peer_eof
        for _ in range(1000):
            try:
                d = sock.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                    BlockingIOError, InterruptedError):
                return True
            except (ConnectionResetError, BrokenPipeError):
                log.rec(conn_id, "reset")
                return False
            except (OSError, ssl.SSLError):
                log.rec(conn_id, "reset")
                return False
            if not d:
                peer_eof = True
                log.rec(conn_id, "eof")
                return True
            log.rec(conn_id, "data", d)
            if parsing:
                inbuf += d
        return True

    def finish(how):
        """End the connection HOW: close (clean), rst, dirty (FIN without
        close_notify)."""
        try:
            if how == "rst":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
                sock.close()
                log.rec(conn_id, "end rst")
                return
            if how == "close" and ctx is not None:
                try:
                    sock.unwrap()   # sends close_notify; waits no further
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
                except (OSError, ssl.SSLError):
                    pass
            try:
                # On a dup: SSLSocket.shutdown would drop the TLS layer.
                dup = socket.socket(fileno=os.dup(sock.fileno()))
                dup.shutdown(socket.SHUT_WR)
                dup.close()
            except OSError:
                pass
            # Drain (and log) what the peer still sends, so our close does
            # not turn into a reset.
            end = time.time() + RAWLOG_LINGER
            while not peer_eof and time.time() < end:
                r, _, _ = select.select([raw], [], [], 0.2)
                if r and not read_available():
                    break
            log.rec(conn_id, "end " + ("clean" if how == "close" else how))
        except (OSError, ssl.SSLError):
            log.rec(conn_id, "end error")
        finally:
            try:
                raw.close()
            except OSError:
                pass

    try:
        while time.time() - born < RAWLOG_MAX_LIFE:
            now = time.time()
            # Run the answer's actions, one after the other, each once the
            # output before it has gone.
            while actions and not out:
                a = actions[0]
                if a[0] == "send":
                    out = memoryview(a[1])
                    actions.pop(0)
                elif a[0] == "pause":   # a wait timed from here
                    actions[0] = ("wait", now + a[1])
                elif a[0] == "wait":
                    if now < a[1]:
                        break
                    actions.pop(0)
                elif a[0] == "drip":
                    if a[1] <= 0:
                        actions.pop(0)
                    elif now >= drip_next:
                        k = min(100, a[1])
                        out = memoryview(b"d" * k)
                        actions[0] = ("drip", a[1] - k)
                        drip_next = now + 0.1
                    else:
                        break
                elif a[0] in ("close", "rst", "dirty"):
                    finish(a[0])
                    return
                elif a[0] == "tunnel":
                    parsing = False
                    inbuf = b""
                    actions.pop(0)
                    actions.append(("hang",))
                else:  # hang
                    break
            if not actions and not out and parsing:
                req = rawlog_request(inbuf)
                if req is not None:
                    method, path, headers, inbuf = req
                    actions = rawlog_actions(name, conn_id, method, path,
                                             headers)
                    continue
            if peer_eof and not out and (not actions or actions[0][0] == "hang"):
                finish("close")
                return
            if ctx is not None and not peer_eof and sock.pending():
                if not read_available():
                    break
                continue
            timeout = 0.5
            if actions and actions[0][0] == "wait":
                timeout = max(0.0, min(timeout, actions[0][1] - now))
            if actions and actions[0][0] == "drip" and not out:
                timeout = max(0.0, min(timeout, drip_next - now))
            r, w, _ = select.select([] if peer_eof else [raw],
                                    [raw] if out else [], [], timeout)
            if r and not read_available():
                break
            if w and out:
                try:
                    n = sock.send(out[:16384])
                    out = out[n:]
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                        BlockingIOError, InterruptedError):
                    pass
                except (OSError, ssl.SSLError):
                    log.rec(conn_id, "reset")
                    break
        else:
            log.rec(conn_id, "end timeout")
            raw.close()
            return
        log.rec(conn_id, "end error")
    except Exception as e:  # never let a thread die silently
        log.rec(conn_id, "end exception:%s" % type(e).__name__)
    try:
        sock.close()
    except OSError:
        pass


def handle(conn, args, ctx):
    try:
        if args.mode == "rawlog":
            serve_rawlog(conn, ctx, args.name, args.rawlog)
            return
        if args.mode == "proxy":
            answer, go_on = read_proxy_header(conn)
            if ctx is not None:
                conn = ctx.wrap_socket(conn, server_side=True)
            conn.sendall(answer)
            if go_on:
                handle_echo(conn, ctx)
            return
        if ctx is not None:
            conn = ctx.wrap_socket(conn, server_side=True)
        if args.mode == "echo":
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
            if ctx is not None:
                try:
                    conn = conn.unwrap()
                except (ssl.SSLError, OSError):
                    pass
            try:
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        elif args.mode == "http":
            serve_http(conn, args.name)
        elif args.mode == "name":
            conn.sendall(("%s\n" % args.name).encode())
            if ctx is not None:
                try:
                    conn.unwrap()
                except (ssl.SSLError, OSError):
                    pass
        elif args.mode == "dirty":
            data, _ = recv_until(conn, b"\n")
            conn.sendall(b"dirty:" + data)
            # close the TCP socket under the TLS layer: no close_notify
            raw = socket.socket(fileno=os.dup(conn.fileno()))
            raw.shutdown(socket.SHUT_RDWR)
            raw.close()
    except (OSError, ssl.SSLError, ValueError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--chain")
    ap.add_argument("--mode", default="echo",
                    choices=["echo", "http", "name", "dirty", "proxy",
                             "rawlog"])
    ap.add_argument("--name", default="backend")
    ap.add_argument("--pidfile")
    ap.add_argument("--log", help="rawlog: the file every byte goes to")
    args = ap.parse_args()
    if args.mode == "rawlog":
        if not args.log:
            ap.error("--mode rawlog needs --log FILE")
        args.rawlog = RawLog(args.log)
    host, port = args.listen.rsplit(":", 1)
    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if args.chain:
            # leaf + chain in one file, as OpenSSL wants it
            fd, combo = tempfile.mkstemp(suffix=".pem")
            with os.fdopen(fd, "wb") as out:
                out.write(open(args.tls[0], "rb").read())
                out.write(open(args.chain, "rb").read())
            ctx.load_cert_chain(combo, args.tls[1])
            os.unlink(combo)
        else:
            ctx.load_cert_chain(args.tls[0], args.tls[1])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(128)
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    print("ready", flush=True)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=handle, args=(conn, args, ctx),
                         daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())

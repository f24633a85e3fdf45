#!/usr/bin/env python3
"""backend.py — a small test backend for the integration tests.

    backend.py --listen IP:PORT [--tls CERT KEY [--chain FILE]] --mode MODE
               [--name NAME] [--pidfile FILE]

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
import sys
import tempfile
import threading


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


def handle(conn, args, ctx):
    try:
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
                    choices=["echo", "http", "name", "dirty", "proxy"])
    ap.add_argument("--name", default="backend")
    ap.add_argument("--pidfile")
    args = ap.parse_args()
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

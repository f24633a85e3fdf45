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

It serves until killed (SIGTERM), one thread per connection, and prints
"ready" on stdout once listening.
"""
import argparse
import hashlib
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


def serve_http(conn, name):
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
        length = int(headers.get("content-length", "0"))
        h = hashlib.sha256()
        while length > 0:
            if not buf:
                buf = conn.recv(min(65536, length))
                if not buf:
                    return
            take = buf[:length]
            h.update(take)
            length -= len(take)
            buf = buf[len(take):]
        if method == "POST":
            body = h.hexdigest().encode()
        elif path.startswith("/size/"):
            body = payload(int(path[6:]))
        elif path == "/sha":
            body = name.encode()
        else:
            body = ("%s %s\n" % (name, path)).encode()
        close = headers.get("connection", "").lower() == "close"
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                     b"Content-Type: application/octet-stream\r\n%s\r\n"
                     % (len(body), b"Connection: close\r\n" if close else b"")
                     + body)
        if close:
            return


def handle(conn, args, ctx):
    try:
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
                    choices=["echo", "http", "name", "dirty"])
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

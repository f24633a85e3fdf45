#!/usr/bin/env bash
# bench/massif.sh — where the memory of an idle TLS connection goes.
#
#   bench/massif.sh EDGE443_BINARY PKI_DIR [N] [--backend-closes]
#
# In a network namespace of its own (root, unshare --net): a backend that
# accepts and holds (or, with --backend-closes, closes at once: the
# half-closed case), edge443 (workers = 1, terminate, ECDSA) under
# valgrind's massif, and N (default 200) idle TLS connections from Python;
# then a detailed massif snapshot with N connections and one with none.
# Prints the heap per connection and the allocation sites above 0.3 KiB per
# connection (OpenSSL's, libevent's, edge443's).  Counts, not times: the
# figures do not depend on how busy the machine is.  Everything started is
# stopped by PID; the work folder is removed.
set -euo pipefail
if [ -z "${MASSIF_IN_NETNS:-}" ]; then
	export MASSIF_IN_NETNS=1
	exec unshare --net -- "$0" "$@"
fi
bin=$(readlink -f "$1"); pki=$(readlink -f "$2"); n=${3:-200}; closes=${4:-}
work=$(mktemp -d /tmp/edge443-massif.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
ip link set lo up
cp "$pki"/{ecdsa.crt,ecdsa.key,chain.pem,trust.pem} . && chmod 600 ecdsa.key
cat > m.conf <<CONF
trust_file = "trust.pem"
workers = 1
idle_timeout = 600
handshake_timeout = 600
certificate ec {
  cert = "ecdsa.crt"
  chain = "chain.pem"
  key = "ecdsa.key"
}
backend b { servers = {"127.0.0.1:7000"} }
service web {
  fqdn = "www.example.com"
  listen = "127.0.0.1:8443"
  certificate = "ec"
  mode = "terminate"
  backend = "b"
}
CONF
snapshot() { # COUNT -> heap bytes; leaves snap.COUNT
	local count=$1 be vg cl
	python3 -c '
import socket, sys
keep = []
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7000)); s.listen(1024)
while True:
    c, _ = s.accept()
    if sys.argv[1] != "--backend-closes":
        keep.append(c)
    else:
        c.close()
' "$closes" & be=$!
	valgrind --tool=massif --vgdb=yes --massif-out-file=massif.out "$bin" run -c m.conf > edge.log 2>&1 & vg=$!
	for _ in $(seq 1 150); do
		python3 -c 'import socket; socket.create_connection(("127.0.0.1", 8443), 0.2).close()' 2>/dev/null && break
		sleep 0.2
	done
	python3 - "$count" <<'PY' & cl=$!
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile="trust.pem"); keep = []
for _ in range(int(sys.argv[1])):
    t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", 8443), 10),
                        server_hostname="www.example.com")
    keep.append(t)
print("open", len(keep), flush=True)
time.sleep(120)
PY
	sleep $((5 + count / 20))
	vgdb --pid=$vg detailed_snapshot "$work/snap.$count" > /dev/null 2>&1
	kill "$cl" 2>/dev/null || true
	kill -TERM "$vg"; wait "$vg" 2>/dev/null || true
	kill "$be"; wait "$be" 2>/dev/null || true
}
snapshot 0 > /dev/null
snapshot "$n" > /dev/null
python3 - "$work" "$n" <<'PY'
import re, sys
work, n = sys.argv[1], int(sys.argv[2])
def heap(name):
    for l in open("%s/snap.%s" % (work, name)):
        if l.startswith("mem_heap_B="):
            return int(l.split("=")[1])
h0, h1 = heap("0"), heap(str(n))
print("heap per idle TLS connection: %.1f KiB (%d connections)" % ((h1 - h0) / n / 1024, n))
for l in open("%s/snap.%d" % (work, n)):
    m = re.match(r'(\s*)n\d+: (\d+) (.*)', l)
    if m and 1 <= len(m.group(1)) <= 3 and int(m.group(2)) / n >= 300:
        print("  " * len(m.group(1)) + "%.2f KiB  %s" % (int(m.group(2)) / n / 1024, m.group(3)[:110]))
PY

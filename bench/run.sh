#!/usr/bin/env bash
# bench/run.sh [--quick] — edge443 against its peers, side by side: HAProxy 2.6
# (mode tcp), nginx 1.22 (stream), hitch 1.7 — all Debian packages — following
# /work/shared/BENCH.md: each terminator alone on core 1 (every thread and
# child process re-pinned), load generator and backend on core 0, terminator
# CPU (utime+stime from /proc/PID/stat, summed over the process and its
# children) per unit of work, rounds interleaved (edge443, HAProxy, nginx,
# hitch, edge443, ...), medians and ratios.
#
# Scenarios (every terminator: one worker/thread/process, terminate TLS, plain
# TCP to the same backend, the same throw-away certificates):
#   hs-rsa   full handshake + 1 request, RSA-2048, TLS 1.3    (hsload, never resumes)
#   hs-ec    same, ECDSA P-256
#   ka       keep-alive 100-byte GET, 50 connections           (wrk -t1 -c50)
#   http     same through HTTP publishing: an edge443 service with an http
#            block (parses and re-serialises every request) against HAProxy
#            in mode http and nginx's http proxy (hitch has no HTTP mode),
#            each setting X-Forwarded-*; ECDSA certificate, Host:
#            test.example; any non-2xx answer fails the run
#   bulk     64 MiB download over one connection              (bulkget, repeated)
#   up       64 MiB upload over one connection (POST /sink)    (bulkget -u, repeated)
#   mem      RSS delta / N for N=2000 idle TLS connections    (idleconns.py, fresh process)
#
# Everything it starts (backend, terminators, clients) is stopped by PID on
# exit; certificates, binaries and logs live in a temporary directory that is
# removed at the end (KEEP=1 keeps it).  Loopback only.  Bounded: the whole run
# takes < 15 min (--quick < 5 min).  Needs root only to apt-get install
# haproxy / nginx / hitch / wrk / libssl-dev when they are missing.
#
# Counts (COUNTS=1: after the scenarios above; COUNTS=only: instead of them,
# and only the counts section of RESULTS is replaced): syscalls and user-space
# instructions per request / per handshake over a fixed amount of work, for
# edge443 and every peer, plus the tlsceil ceiling — see bench/counts.sh.
# They do not depend on host noise; COUNTS needs perf (syscall tracepoints),
# valgrind and nstat (iproute2), and adds about 15 minutes (--quick: 5).
#
# Environment: PEERS (default "haproxy nginx hitch"; HAProxy is always run, it
# is the reference of the ratios), EDGE443_BIN (default build-bench/edge443,
# built when missing),
# ROUNDS, KEEP=1, SCENARIOS (default "hs-rsa hs-ec ka http bulk up mem"), RESULTS
# (default bench/results.md; its text outside the generated sections, between
# "<!-- run: begin/end" and "<!-- counts: begin/end" lines, is kept),
# EDGE443_ENV (extra VAR=value words for the edge443 process only, for
# experiments, e.g. an LD_PRELOAD), COUNTS (0, 1 or
# only), COUNT_SCENARIOS (default "hs-rsa hs-ec resume ka http").
set -euo pipefail

QUICK=0
case "${1:-}" in
--quick) QUICK=1 ;;
"") ;;
*) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
tools=${BENCH_TOOLS:-/work/shared/tools}
bin=${EDGE443_BIN:-$root/build-bench/edge443}

if [ "$QUICK" = 1 ]; then
	ROUNDS=${ROUNDS:-2}; WARM=0.5; DUR=2; BULK_N=3; LIMIT=290
else
	ROUNDS=${ROUNDS:-6}; WARM=1; DUR=3; BULK_N=12; LIMIT=890
fi
COUNTS=${COUNTS:-0}
case $COUNTS in
0) ;;
1) LIMIT=$((LIMIT + (QUICK ? 600 : 1800))) ;;
only) LIMIT=$((QUICK ? 600 : 1800)) ;;
*) echo "COUNTS is 0, 1 or only" >&2; exit 2 ;;
esac
PEERS=${PEERS:-haproxy nginx hitch}
case " $PEERS " in *" haproxy "*) ;; *) PEERS="haproxy $PEERS" ;; esac
TERMS="edge $PEERS"
peer() { case " $PEERS " in *" $1 "*) return 0 ;; esac; return 1; }
IDLE_N=2000
if [ "$COUNTS" = only ]; then
	SCENARIOS="http" # the configurations keep their http listeners; no CPU scenario runs
	RUN_SCEN=0
else
	SCENARIOS=${SCENARIOS:-hs-rsa hs-ec ka http bulk up mem}
	RUN_SCEN=1
fi
RESULTS=${RESULTS:-$here/results.md}
want() { case " $SCENARIOS " in *" $1 "*) return 0 ;; esac; return 1; }
HZ=$(getconf CLK_TCK)

# Addresses: loopback only, away from conf/lab.conf's 127.0.0.1x.
PORT=28443                              # RSA listeners; ECDSA listeners on PORT+1
EC_PORT=28444
BE_IP=127.0.83.2; BE_PORT=28080
E_RSA=127.0.83.11; E_EC=127.0.83.12     # edge443
H_RSA=127.0.83.21; H_EC=127.0.83.22     # HAProxy
N_RSA=127.0.83.31; N_EC=127.0.83.32     # nginx (stream)
T_RSA=127.0.83.41; T_EC=127.0.83.42     # hitch
HTTP_PORT=28445                         # http scenario (ECDSA certificate):
E_HTTP=127.0.83.13; H_HTTP=127.0.83.23  #   edge443 http block / HAProxy mode http
N_HTTP=127.0.83.33                      #   nginx http proxy
HTTP_HOST=test.example                  # Host wrk sends: the fqdn, a SAN of the certificate

# shellcheck source=bench/lib.sh
. "$here/lib.sh"

# ---- prerequisites --------------------------------------------------------
missing=()
command -v haproxy >/dev/null || missing+=(haproxy)
if peer nginx; then
	command -v nginx >/dev/null || missing+=(nginx)
	[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || missing+=(libnginx-mod-stream)
fi
peer hitch && { command -v hitch >/dev/null || missing+=(hitch); }
command -v wrk >/dev/null || missing+=(wrk)
command -v taskset >/dev/null || missing+=(util-linux)
[ -e /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
command -v cc >/dev/null || missing+=(gcc)
if [ "$COUNTS" != 0 ]; then
	command -v perf >/dev/null || missing+=(linux-perf)
	command -v valgrind >/dev/null || missing+=(valgrind)
	command -v nstat >/dev/null || missing+=(iproute2)
fi
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing ${missing[*]}: run as root or apt-get install them"
	log "installing ${missing[*]}"
	# The nginx and hitch packages start their services on install (nginx on
	# every address, port 80): forbid service starts for this install unless
	# the machine already has a policy.
	policy=/usr/sbin/policy-rc.d made_policy=0
	if [ ! -e $policy ]; then
		printf '#!/bin/sh\n# bench/run.sh: no service starts during its apt-get install\nexit 101\n' > $policy
		chmod 755 $policy; made_policy=1
	fi
	rc=0
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null ||
		{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null; } || rc=$?
	[ "$made_policy" = 0 ] || rm -f $policy
	[ "$rc" = 0 ] || die "apt-get install ${missing[*]} failed"
fi
[ "$(nproc)" -ge 2 ] || die "needs 2 cores (terminator on core 1, load on core 0)"
if [ ! -x "$bin" ]; then
	log "building edge443 (Release) in $root/build-bench"
	cmake -S "$root" -B "$root/build-bench" -DCMAKE_BUILD_TYPE=Release -DEDGE443_TESTS=OFF >/dev/null
	cmake --build "$root/build-bench" -j2 >/dev/null
	bin=$root/build-bench/edge443
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# ---- the work folder; every process we start is in PIDS, the run is bounded
bench_begin perf "$LIMIT"

# ---- certificates: throw-away CA, RSA-2048 and ECDSA P-256 leaves ---------
log "certificates, tools"
bench_certs rsa ec
for k in rsa ec; do
	cat $k.crt $k.key > $k.pem # HAProxy: leaf + key, no chain (edge443 serves no chain either)
	chmod 600 $k.pem
done

# ---- tools, compiled here, never committed ---------------------------------
cc -O2 -o hsload "$tools/hsload.c" -lssl -lcrypto
cc -O2 -o backend "$here/backend.c"
cc -O2 -o bulkget "$here/bulkget.c" -lssl -lcrypto
cp "$tools/idleconns.py" idleconns.py

# ---- configurations --------------------------------------------------------
cat > edge.conf <<EOF
# edge443 under test: one worker, terminate, plain TCP to the bench backend.
workers = 1
trust_file = "ca.crt"
log_level = "error"
max_connections = 8000
idle_timeout = 300
handshake_timeout = 30
shutdown_timeout = 1
certificate rsa {
  cert = "rsa.crt"
  key  = "rsa.key"
}
certificate ec {
  cert = "ec.crt"
  key  = "ec.key"
}
backend be {
  servers = {"$BE_IP:$BE_PORT"}
}
service rsa {
  role = "generic"
  fqdn = "test.example"
  listen = "$E_RSA:$PORT"
  certificate = "rsa"
  mode = "terminate"
  backend = "be"
}
service ec {
  role = "generic"
  fqdn = "test.example"
  listen = "$E_EC:$EC_PORT"
  certificate = "ec"
  mode = "terminate"
  backend = "be"
}
EOF
if want http; then
	cat >> edge.conf <<EOF
service web {
  role = "generic"
  fqdn = "$HTTP_HOST"
  listen = "$E_HTTP:$HTTP_PORT"
  certificate = "ec"
  mode = "terminate"
  backend = "be"
  http {
    paths = {"/"}
    host_header = "original"
  }
}
EOF
fi
cat > haproxy.cfg <<EOF
# HAProxy under test: one thread, mode tcp, terminate, same backend.
global
  nbthread 1
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 300s
  timeout server 300s
frontend fe_rsa
  bind $H_RSA:$PORT ssl crt $work/rsa.pem
  default_backend be
frontend fe_ec
  bind $H_EC:$EC_PORT ssl crt $work/ec.pem
  default_backend be
backend be
  server s1 $BE_IP:$BE_PORT
EOF
if want http; then
	cat >> haproxy.cfg <<EOF
frontend fe_http
  mode http
  option http-keep-alive
  bind $H_HTTP:$HTTP_PORT ssl crt $work/ec.pem
  default_backend be_http
  # the same work edge443 does on every request: X-Forwarded-* set
  option forwardfor
  http-request set-header X-Forwarded-Proto https
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
backend be_http
  mode http
  option http-keep-alive
  server s1 $BE_IP:$BE_PORT
EOF
fi
if peer nginx; then
	cat > nginx.conf <<EOF
# nginx under test: one worker process, stream (mode tcp) terminate, same backend.
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.err error;
events { worker_connections 8192; }
stream {
  ssl_protocols TLSv1.2 TLSv1.3; # 1.22's default stops at TLS 1.2
  server {
    listen $N_RSA:$PORT ssl;
    ssl_certificate $work/rsa.crt;
    ssl_certificate_key $work/rsa.key;
    proxy_pass $BE_IP:$BE_PORT;
  }
  server {
    listen $N_EC:$EC_PORT ssl;
    ssl_certificate $work/ec.crt;
    ssl_certificate_key $work/ec.key;
    proxy_pass $BE_IP:$BE_PORT;
  }
}
http {
  access_log off;
  ssl_protocols TLSv1.2 TLSv1.3;
  upstream be_http {
    server $BE_IP:$BE_PORT;
    keepalive 64;
  }
  server {
    listen $N_HTTP:$HTTP_PORT ssl;
    server_name $HTTP_HOST;
    ssl_certificate $work/ec.crt;
    ssl_certificate_key $work/ec.key;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://be_http;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-Host \$host;
    }
  }
}
EOF
	nginx -t -q -p "$work" -e "$work/nginx.err" -c "$work/nginx.conf" || die "nginx -t refused the bench configuration"
fi
if peer hitch; then
	mkdir -p "$work/ocsp"
	chmod 1777 "$work/ocsp" # hitch refuses to run its workers as root
	cat > hitch.conf <<EOF
# hitch under test: one worker, terminate, same backend.
frontend = {
  host = "$T_RSA"
  port = "$PORT"
  pem-file = "$work/rsa.pem"
}
frontend = {
  host = "$T_EC"
  port = "$EC_PORT"
  pem-file = "$work/ec.pem"
}
backend = "[$BE_IP]:$BE_PORT"
workers = 1
user = "nobody"
group = "nogroup"
daemon = off
tls-protos = TLSv1.2 TLSv1.3
ocsp-dir = "$work/ocsp"
syslog = off
EOF
	hitch --test --config="$work/hitch.conf" > hitch.test 2>&1 || { cat hitch.test >&2; die "hitch --test refused the bench configuration"; }
fi
"$bin" check -c edge.conf > check.out 2>&1 || { cat check.out >&2; die "edge443 check refused the bench configuration"; }
haproxy -c -q -f haproxy.cfg || die "haproxy -c refused the bench configuration"

# ---- process helpers ---------------------------------------------------------
declare -A TPID=()
pin() { local q; for q in $(procs "$1"); do taskset -a -cp 1 "$q" >/dev/null 2>&1 || true; done; }
EDGE_PID=; HAP_PID=
start_edge() {
	# shellcheck disable=SC2086 # EDGE443_ENV is a list of VAR=value words
	# WRAP: a command prefix (bench/counts.sh runs the terminators under callgrind)
	env ${EDGE443_ENV:-} taskset -c 1 ${WRAP:-} "$bin" run -c "$work/edge.conf" >> edge.log 2>&1 &
	EDGE_PID=$!; PIDS+=("$EDGE_PID")
	wait_listen $E_RSA $PORT $EDGE_PID && wait_listen $E_EC $EC_PORT $EDGE_PID &&
		{ ! want http || wait_listen $E_HTTP $HTTP_PORT $EDGE_PID; } ||
		{ tail -20 edge.log >&2; die "edge443 did not start"; }
	taskset -a -cp 1 $EDGE_PID >/dev/null
	TPID[edge]=$EDGE_PID
}
start_haproxy() {
	taskset -c 1 ${WRAP:-} haproxy -db -f "$work/haproxy.cfg" >> haproxy.log 2>&1 &
	HAP_PID=$!; PIDS+=("$HAP_PID")
	wait_listen $H_RSA $PORT $HAP_PID && wait_listen $H_EC $EC_PORT $HAP_PID &&
		{ ! want http || wait_listen $H_HTTP $HTTP_PORT $HAP_PID; } ||
		{ tail -20 haproxy.log >&2; die "haproxy did not start"; }
	taskset -a -cp 1 $HAP_PID >/dev/null
	TPID[haproxy]=$HAP_PID
}
start_nginx() {
	taskset -c 1 ${WRAP:-} nginx -g 'daemon off;' -p "$work" -e "$work/nginx.err" -c "$work/nginx.conf" >> nginx.log 2>&1 &
	local p=$!; PIDS+=("$p")
	wait_listen $N_RSA $PORT $p && wait_listen $N_EC $EC_PORT $p &&
		{ ! want http || wait_listen $N_HTTP $HTTP_PORT $p; } ||
		{ tail -20 nginx.log nginx.err >&2; die "nginx did not start"; }
	pin $p
	TPID[nginx]=$p
}
start_hitch() {
	taskset -c 1 ${WRAP:-} hitch --config="$work/hitch.conf" >> hitch.log 2>&1 &
	local p=$!; PIDS+=("$p")
	wait_listen $T_RSA $PORT $p && wait_listen $T_EC $EC_PORT $p ||
		{ tail -20 hitch.log >&2; die "hitch did not start"; }
	# its worker starts after the listeners (under valgrind: seconds after)
	for _ in $(seq 1 "${WAIT_TRIES:-2}"); do pgrep -P $p >/dev/null && break; sleep 0.1; done
	sleep 0.2
	pin $p
	TPID[hitch]=$p
}
start_term() { "start_$1"; }
rss_kib() { # the process and its children
	local q k=0
	for q in $(procs "$1"); do
		k=$((k + $(awk '/^VmRSS:/ {print $2}' "/proc/$q/status" 2>/dev/null || echo 0)))
	done
	echo $k
}
pid_of() { echo "${TPID[$1]}"; }
ip_of() { # TERM KIND(rsa|ec|http)
	case "$1/$2" in
	edge/rsa) echo $E_RSA ;; edge/ec) echo $E_EC ;; edge/http) echo $E_HTTP ;;
	haproxy/rsa) echo $H_RSA ;; haproxy/ec) echo $H_EC ;; haproxy/http) echo $H_HTTP ;;
	nginx/rsa) echo $N_RSA ;; nginx/ec) echo $N_EC ;; nginx/http) echo $N_HTTP ;;
	hitch/rsa) echo $T_RSA ;; hitch/ec) echo $T_EC ;;
	esac
}
port_of() { if [ "$1" = rsa ]; then echo $PORT; else echo $EC_PORT; fi; }

# ---- backend on core 0 -------------------------------------------------------
taskset -c 0 ./backend $BE_IP $BE_PORT "$work/served" > backend.log 2>&1 &
BE_PID=$!; PIDS+=("$BE_PID")
wait_listen $BE_IP $BE_PORT $BE_PID || die "backend did not start"

# ---- scenarios -------------------------------------------------------------------
hs_round() { # TERM KIND
	local term=$1 kind=$2 p ip lp
	p=$(pid_of "$term"); ip=$(ip_of "$term" "$kind")
	timeout 60 taskset -c 0 ./hsload -a "$ip" -p "$(port_of "$kind")" -c 32 -w "$WARM" -d "$DUR" -u /small > hs.out &
	lp=$!; PIDS+=("$lp")
	window "$p"
	wait "$lp" || true; forget "$lp"
	[ "$W_REQ" -gt 0 ] || { cat hs.out >&2; die "hsload $term $kind: no requests"; }
	local us
	us=$(awk -v t="$W_CPU" -v hz="$HZ" -v n="$W_REQ" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
	record "hs-$kind" "$term" "$us"
	echo "hs-$kind $term: $us us/conn ($W_REQ conns in window; $(cat hs.out))" >> rounds.log
	grep -q 'proto=TLSv1.3' hs.out || die "hsload $term $kind did not get TLS 1.3: $(cat hs.out)"
}

wrk_round() { # SCENARIO P99-SCENARIO TERM ONLY-2XX(0|1) URL [wrk options...]
	local scen=$1 p99s=$2 term=$3 only2xx=$4 url=$5 p lp
	shift 5
	p=$(pid_of "$term")
	timeout 60 taskset -c 0 wrk -t1 -c50 -d "$(awk -v a="$WARM" -v b="$DUR" 'BEGIN { x = a + b; printf "%d", (x == int(x)) ? x : int(x) + 1 }')s" --latency \
		"$@" "$url" > wrk.out 2>&1 &
	lp=$!; PIDS+=("$lp")
	window "$p"
	wait "$lp" || true; forget "$lp"
	# wrk prints "  Non-2xx or 3xx responses: N" only when N > 0
	if [ "$only2xx" = 1 ] && { grep -q 'Non-2xx' wrk.out || ! grep -q 'requests in' wrk.out; }; then
		cat wrk.out >&2
		die "wrk $scen $term: answers other than 2xx (edge443: 421 = Host not the fqdn or a SAN, 404 = path not published)"
	fi
	[ "$W_REQ" -gt 0 ] || { cat wrk.out >&2; die "wrk $scen $term: no requests"; }
	local us p99
	us=$(awk -v t="$W_CPU" -v hz="$HZ" -v n="$W_REQ" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
	# wrk prints "     99%    1.23ms" (us, ms or s)
	p99=$(awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
		f = (u == "us") ? 0.001 : (u == "s") ? 1000 : 1; printf "%.3f", v * f }' wrk.out)
	record "$scen" "$term" "$us"
	record "$p99s" "$term" "${p99:-0}"
	record "$scen-rps" "$term" "$(awk '$1 == "Requests/sec:" { print $2 }' wrk.out)"
	echo "$scen $term: $us us/req p99=${p99}ms ($W_REQ reqs in window; $(grep -E 'Requests/sec|Non-2xx|Socket errors' wrk.out | tr -s ' ' | tr '\n' ';'))" >> rounds.log
}
ka_round() { # TERM
	wrk_round ka p99 "$1" 0 "https://$(ip_of "$1" ec):$EC_PORT/small"
}
http_round() { # TERM: through HTTP publishing; every answer must be 2xx
	local ip
	ip=$(ip_of "$1" http)
	[ -n "$ip" ] || return 0 # hitch: no HTTP mode
	wrk_round http p99h "$1" 1 "https://$ip:$HTTP_PORT/small" -H "Host: $HTTP_HOST"
}

bulk_round() { # TERM [bulk|up]
	local term=$1 s=${2:-bulk} p ip c0 c1 o=()
	[ "$s" = up ] && o=(-u)
	p=$(pid_of "$term"); ip=$(ip_of "$term" ec)
	c0=$(cpu "$p")
	timeout 120 taskset -c 0 ./bulkget "${o[@]}" "$ip" $EC_PORT "$BULK_N" > bulk.out || { cat bulk.out >&2; die "bulkget ${o[*]} $term failed"; }
	c1=$(cpu "$p")
	local bytes mbs
	bytes=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' bulk.out)
	mbs=$(awk -v b="$bytes" -v t="$((c1 - c0))" -v hz="$HZ" 'BEGIN { printf "%.0f", t ? b / 1e6 / (t / hz) : 0 }')
	record "$s" "$term" "$mbs"
	echo "$s $term: $mbs MB/s per core ($((c1 - c0)) ticks; $(cat bulk.out))" >> rounds.log
}

mem_round() { # TERM: a fresh process, warmed, then N idle connections
	local term=$1 p ip lp before after n
	start_term "$term"
	p=$(pid_of "$term"); ip=$(ip_of "$term" ec)
	timeout 20 taskset -c 0 ./hsload -a "$ip" -p $EC_PORT -c 8 -w 0 -d 0.5 -u /small > /dev/null || true
	sleep 0.5
	before=$(rss_kib "$p")
	rm -f ready
	taskset -c 0 python3 idleconns.py "$ip" $EC_PORT $IDLE_N 120 ready > idle.out 2>&1 &
	lp=$!; PIDS+=("$lp")
	for _ in $(seq 1 700); do [ -s ready ] && break; kill -0 "$lp" 2>/dev/null || break; sleep 0.1; done
	[ -s ready ] || { cat idle.out >&2; die "idleconns $term never got ready"; }
	sleep 1
	after=$(rss_kib "$p")
	n=$(awk '{print $1}' ready)
	stop "$lp"
	stop "$p"
	local kib
	kib=$(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN { printf "%.1f", (a - b) / n }')
	record mem "$term" "$kib"
	echo "mem $term: $kib KiB/conn (RSS $before -> $after KiB, $n of $IDLE_N connections; $(head -1 idle.out))" >> rounds.log
}

versions() {
	printf 'edge443 %s; %s' "$("$bin" version 2>/dev/null | head -1 | cut -d' ' -f2)" "$(haproxy -v | head -1 | cut -d' ' -f1-3)"
	if peer nginx; then printf '; %s' "$(nginx -v 2>&1 | sed 's/^nginx version: //')"; fi
	if peer hitch; then printf '; %s' "$(hitch --version 2>&1 | head -1)"; fi
	printf '; %s\n' "$(openssl version | cut -d' ' -f1-2)"
}
log "$(versions)"
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
if [ "$RUN_SCEN" = 1 ]; then
	log "rounds=$ROUNDS warm=${WARM}s window=${DUR}s bulk=${BULK_N}x64MiB idle=$IDLE_N"
	for t in $TERMS; do start_term "$t"; done
fi
for kind in rsa ec; do
	want hs-$kind || continue
	log "full handshake + 1 request, $kind"
	for _ in $(seq 1 "$ROUNDS"); do for t in $TERMS; do hs_round "$t" $kind; done; done
done
if want ka; then
	log "keep-alive, 50 connections"
	for _ in $(seq 1 "$ROUNDS"); do for t in $TERMS; do ka_round "$t"; done; done
fi
if want http && [ "$RUN_SCEN" = 1 ]; then
	log "keep-alive via http publishing (edge443 http block, HAProxy mode http, nginx http proxy), 50 connections"
	for _ in $(seq 1 "$ROUNDS"); do for t in $TERMS; do http_round "$t"; done; done
fi
if want bulk; then
	log "bulk download"
	for _ in $(seq 1 "$ROUNDS"); do for t in $TERMS; do bulk_round "$t"; done; done
fi
if want up; then
	log "bulk upload"
	for _ in $(seq 1 "$ROUNDS"); do for t in $TERMS; do bulk_round "$t" up; done; done
fi
[ "$RUN_SCEN" = 0 ] || for t in $TERMS; do stop "$(pid_of "$t")"; done
want mem && log "memory per idle connection ($IDLE_N connections, fresh process each round)"
MEM_ROUNDS=$ROUNDS
[ "$QUICK" = 1 ] || MEM_ROUNDS=$((ROUNDS > 4 ? 4 : ROUNDS))
if want mem; then
	for _ in $(seq 1 "$MEM_ROUNDS"); do for t in $TERMS; do mem_round "$t"; done; done
fi

# ---- report ----------------------------------------------------------------------
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cipher=$(grep -m1 -o 'cipher=[A-Z0-9_-]*' rounds.log 2>/dev/null | cut -d= -f2 || true)
name_of() { case $1 in edge) echo edge443 ;; haproxy) echo HAProxy ;; nginx) echo nginx ;; hitch) echo hitch ;; esac; }

# ---- counts (COUNTS=1 or only): syscalls and instructions per unit ----------------
if [ "$COUNTS" != 0 ]; then
	# shellcheck source=bench/counts.sh
	. "$here/counts.sh"
	counts_step
fi
# RESULTS has generated sections between "<!-- NAME: begin" and "<!-- NAME:
# end" lines (run: the CPU tables; counts: the counts) and text of its own
# around them, which is kept.  section NAME FILE IN: IN with section NAME
# replaced by FILE (which carries its own marker lines), or appended.
section() {
	if grep -q "^<!-- $1: begin" "$3"; then
		awk -v f="$2" -v n="$1" '$0 ~ "^<!-- " n ": begin" { while ((getline l < f) > 0) print l; skip = 1; next }
			$0 ~ "^<!-- " n ": end" { skip = 0; next } !skip' "$3"
	else
		cat "$3"; echo; cat "$2"
	fi
}
if [ "$COUNTS" = only ]; then
	# Keep the CPU-time tables of RESULTS; replace (or append) its counts section.
	if [ -e "$RESULTS" ]; then section counts "$work/counts.md" "$RESULTS" > results.new
	else cp counts.md results.new; fi
	cp results.new "$RESULTS"
	log "wrote the counts section of $RESULTS"
	exit 0
fi
row() { # SCENARIO LABEL UNIT FMT TARGET-TEXT BETTER(lower|higher) TARGET-VALUE BENCH-HAPROXY-VALUE
	local s=$1 t v e h ratio best bt bv cells="" rbest met rt rmet
	[ -s "res.$s.edge" ] || return 0
	e=$(median "res.$s.edge"); h=$(median "res.$s.haproxy")
	for t in $TERMS; do
		if [ -s "res.$s.$t" ]; then
			v=$(median "res.$s.$t")
			cells="$cells | $(printf "$4" "$v") $3"
			if [ "$t" != edge ] && { [ -z "${bv:-}" ] ||
				awk -v v="$v" -v b="$bv" -v d="$6" 'BEGIN { exit !((d == "lower" && v < b) || (d == "higher" && v > b)) }'; }; then
				bv=$v; bt=$t
			fi
		else
			cells="$cells | —"
		fi
	done
	ratio=$(awk -v e="$e" -v h="$h" 'BEGIN { printf "%.2f", h ? e / h : 0 }')
	rbest=$(awk -v e="$e" -v b="$bv" 'BEGIN { printf "%.2f", b ? e / b : 0 }')
	best="$rbest ($(name_of "$bt"))"
	# BENCH.md's targets were set on another machine: also judge them as a
	# ratio to HAProxy measured there (target / BENCH.md HAProxy figure).
	if [ -z "${7:-}" ]; then # no BENCH.md target for this scenario
		printf '| %s%s | %s | %s | — | — | — |\n' "$2" "$cells" "$ratio" "$best"
		return 0
	fi
	rt=$(awk -v t="$7" -v h="$8" 'BEGIN { printf "%.2f", t / h }')
	met=$(awk -v e="$e" -v t="$7" -v b="$6" 'BEGIN { print ((b == "lower" && e <= t) || (b == "higher" && e >= t)) ? "yes" : "no" }')
	rmet=$(awk -v e="$ratio" -v t="$rt" -v b="$6" 'BEGIN { print ((b == "lower" && e <= t) || (b == "higher" && e >= t)) ? "yes" : "no" }')
	[ "$6" = lower ] && rt="≤ $rt" || rt="≥ $rt"
	printf '| %s%s | %s | %s | %s | %s | %s / %s |\n' "$2" "$cells" "$ratio" "$best" "$5" "$rt" "$met" "$rmet"
}
{
	hdr="| scenario" sep="|---"
	for t in $TERMS; do hdr="$hdr | $(name_of "$t")"; sep="$sep|---"; done
	echo "$hdr | edge443 / HAProxy | edge443 / best peer | BENCH.md target | target as ratio to HAProxy | met (absolute / ratio) |"
	echo "$sep|---|---|---|---|---|"
	row hs-rsa "full handshake + 1 request, RSA-2048, TLS 1.3" "µs/conn" "%.0f" "≤ 650 µs" lower 650 971
	row hs-ec "same, ECDSA P-256, TLS 1.3" "µs/conn" "%.0f" "≤ 420 µs" lower 420 662
	row ka "keep-alive 100-byte GET, 50 connections" "µs/req" "%.1f" "≤ 17 µs" lower 17 21.4
	row bulk "bulk 64 MiB over one connection" "MB/s per core" "%.0f" "≥ 800 MB/s" higher 800 520
	row up "bulk upload 64 MiB over one connection" "MB/s per core" "%.0f" "" higher
	row mem "memory per idle TLS connection ($IDLE_N)" "KiB" "%.1f" "≤ 12 KiB" lower 12 18.4
	row p99 "p99 latency, keep-alive (wrk, whole run)" "ms" "%.2f" "≤ 1.5 ms" lower 1.5 1.71
	row http "keep-alive via http publishing, 50 connections" "µs/req" "%.1f" "" lower
	row http-rps "requests/s, http publishing (wrk, one client core)" "req/s" "%.0f" "" higher
	row p99h "p99 latency, http publishing" "ms" "%.2f" "" lower
} > table.md

mode=full; [ "$QUICK" = 1 ] && mode=quick
{
	echo "<!-- run: begin (bench/run.sh writes this section; the text outside the sections is kept) -->"
	echo "# edge443 vs HAProxy, nginx, hitch — bench/run.sh results"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), \`bench/run.sh$([ "$QUICK" = 1 ] && echo ' --quick')\` ($mode: $ROUNDS interleaved rounds, memory $MEM_ROUNDS), $(nproc) cores, $(uname -r)."
	gitrev="git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo '+dirty')"
	echo "$(versions | sed "s|^\(edge443 [^;]*\);|\1 ($gitrev);|"); TLS 1.3 $cipher."
	echo "Load average (1/5/15 min) at start $LOAD0, at end $(cut -d" " -f1-3 /proc/loadavg): other"
	echo "work on the host inflates CPU per unit for all; the interleaving and medians are"
	echo "what keep the ratios fair."
	[ -z "${EDGE443_ENV:-}" ] || echo "**Experiment**: edge443 ran with \`${EDGE443_ENV}\`."
	echo
	echo "Terminator CPU (utime+stime of /proc/PID/stat, every thread, summed over the"
	echo "process and its children) on core 1 per unit of work, medians; load generator"
	echo "and backend on core 0. Lower is better except bulk, upload and requests/s. edge443:"
	echo "\`workers = 1\`, \`mode = terminate\`; HAProxy: \`nbthread 1\`, \`mode tcp\`;"
	echo "nginx: \`worker_processes 1\`, \`stream\` module; hitch: \`workers = 1\`; all with"
	echo "their default TLS session settings, the same certificates (leaf only, no chain)"
	echo "and backend (bench/backend.c). \"best peer\" is the best of the peers measured."
	if want http; then
		echo "The \"http publishing\" rows: edge443 service with \`http { paths = {\"/\"} host_header = \"original\" }\`"
		echo "(every request parsed and re-serialised, X-Forwarded-* added) against HAProxy \`mode http\`,"
		echo "\`option http-keep-alive\`, \`option forwardfor\` and X-Forwarded-Proto/-Host set, and nginx's"
		echo "http proxy setting the same headers (keep-alive upstream pool; nginx shares backend connections"
		echo "between clients, edge443 pins one to each client); hitch has no HTTP mode."
		echo "wrk -t1 -c50 with \`Host: $HTTP_HOST\`, ECDSA certificate, all answers 200."
	fi
	echo
	cat table.md
	echo
	echo "Clients: hsload (${WARM}s warm-up, ${DUR}s, 32 concurrent, never resumes), wrk -t1 -c50,"
	echo "bulkget ($BULK_N × 64 MiB per round, down and, with -u, up: POST /sink; 1 MB = 10^6 bytes), idleconns.py ($IDLE_N connections"
	echo "to a fresh, warmed process; RSS delta / N). p99 is wrk's over the whole run and"
	echo "mostly measures the saturated client core; it is informative only. \"target as ratio\""
	echo "is BENCH.md's target divided by its HAProxy figure (this host is faster than"
	echo "the one BENCH.md was measured on, so absolute figures are not comparable)."
	echo
	echo "<details><summary>every round</summary>"
	echo
	echo '```'
	cat rounds.log
	echo '```'
	echo
	echo "</details>"
	echo "<!-- run: end -->"
} > run.md
# A RESULTS with a run section keeps its own text; one without (or none)
# is written anew.
if [ -e "$RESULTS" ] && grep -q '^<!-- run: begin' "$RESULTS"; then
	section run run.md "$RESULTS" > results.new
else
	cp run.md results.new
fi
if [ "$COUNTS" = 1 ]; then section counts counts.md results.new > results.new2; mv results.new2 results.new; fi
cp results.new "$RESULTS"
echo
cat table.md
log "wrote $RESULTS"

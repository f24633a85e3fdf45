#!/usr/bin/env bash
# bench/multicore.sh — edge443 with workers = 2: worker_mode = threads
# against worker_mode = processes, side by side.
#
#   bench/multicore.sh            # ROUNDS=4 interleaved rounds, < 3 min
#
# Each round starts edge443 in one mode, then the other (T P T P ...), and
# measures in each:
#   ka   keep-alive 100-byte GET, wrk -t2 -c100, ECDSA P-256, TLS 1.3
#   hs   full handshake + 1 request, hsload -c 32 (never resumes), ECDSA
# Terminator CPU = utime+stime of /proc/PID/stat of the main process and of
# its children (worker processes), read at both ends of a window inside the
# client's run; work = requests counted by the backend (bench/backend.c) in
# the same window.  Results: medians, printed and written to bench/multicore.md's
# "Last run" block by hand (this script writes nothing into the tree).
#
# No pinning: on this 2-core machine the load generator, the backend and
# both workers share the two cores, so the figures compare the two modes
# under the same contention; they are not per-core capacities.
#
# Loopback only (127.0.84.x), everything it starts is stopped by its PID,
# temporary files live in a mktemp folder removed at the end (KEEP=1 keeps
# it), and a watchdog ends the run after LIMIT seconds (default 280).
# Environment: EDGE443_BIN (default build-rel/edge443, else build-bench/,
# built when missing), ROUNDS, WARM, DUR, BENCH_TOOLS (hsload.c's folder).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
tools=${BENCH_TOOLS:-/work/shared/tools}
bin=${EDGE443_BIN:-$root/build-rel/edge443}
ROUNDS=${ROUNDS:-4}
WARM=${WARM:-1}
DUR=${DUR:-4}
LIMIT=${LIMIT:-280}
HZ=$(getconf CLK_TCK)
BE_IP=127.0.84.2
BE_PORT=28180
E_IP=127.0.84.11
E_PORT=28444

# shellcheck source=bench/lib.sh
. "$here/lib.sh"

command -v wrk >/dev/null || die "wrk is missing (apt-get install wrk)"
[ -f "$tools/hsload.c" ] || die "no $tools/hsload.c (set BENCH_TOOLS)"
if [ ! -x "$bin" ]; then
	bin=$root/build-bench/edge443
	if [ ! -x "$bin" ]; then
		log "building edge443 (Release) in $root/build-bench"
		cmake -S "$root" -B "$root/build-bench" -DCMAKE_BUILD_TYPE=Release -DEDGE443_TESTS=OFF >/dev/null
		cmake --build "$root/build-bench" -j2 >/dev/null
	fi
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

bench_begin multicore "$LIMIT"

# ---- certificates (bench/lib.sh), tools -----------------------------------------
bench_certs ec
cc -O2 -o hsload "$tools/hsload.c" -lssl -lcrypto
cc -O2 -o backend "$here/backend.c"

for mode in threads processes; do
	cat > "$mode.conf" <<EOF
workers = 2
worker_mode = "$mode"
trust_file = "ca.crt"
log_level = "error"
max_connections = 8000
handshake_timeout = 30
shutdown_timeout = 1
certificate ec {
  cert = "ec.crt"
  key  = "ec.key"
}
backend be { servers = {"$BE_IP:$BE_PORT"} }
service ec {
  role = "generic"
  fqdn = "test.example"
  listen = "$E_IP:$E_PORT"
  certificate = "ec"
  mode = "terminate"
  backend = "be"
}
EOF
done

./backend $BE_IP $BE_PORT "$work/served" > backend.log 2>&1 &
BE_PID=$!; PIDS+=("$BE_PID")
wait_listen $BE_IP $BE_PORT $BE_PID || die "backend did not start"

start_edge() { # MODE -> EDGE_PID
	"$bin" run -c "$work/$1.conf" >> "edge-$1.log" 2>&1 &
	EDGE_PID=$!; PIDS+=("$EDGE_PID")
	wait_listen $E_IP $E_PORT $EDGE_PID || { tail -20 "edge-$1.log" >&2; die "edge443 ($1) did not start"; }
	if [ "$1" = processes ]; then
		for _ in $(seq 1 50); do [ "$(pgrep -P $EDGE_PID | wc -l)" -ge 2 ] && break; sleep 0.1; done
	fi
	sleep 0.3
}
stop_edge() {
	kill -TERM "$EDGE_PID" 2>/dev/null || true
	for _ in $(seq 1 50); do kill -0 "$EDGE_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$EDGE_PID" 2>/dev/null || true
	wait "$EDGE_PID" 2>/dev/null || true
	forget "$EDGE_PID"
}

ka_round() { # MODE
	local lp us rps
	timeout 60 wrk -t2 -c100 -d "$(awk -v a="$WARM" -v b="$DUR" 'BEGIN { printf "%d", a + b + 0.999 }')s" \
		"https://$E_IP:$E_PORT/small" > wrk.out 2>&1 &
	lp=$!; PIDS+=("$lp")
	window "$EDGE_PID"
	wait "$lp" || true; forget "$lp"
	[ "$W_REQ" -gt 0 ] || { cat wrk.out >&2; die "wrk $1: no requests"; }
	us=$(awk -v t="$W_CPU" -v hz="$HZ" -v n="$W_REQ" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
	rps=$(awk -v n="$W_REQ" -v d="$DUR" 'BEGIN { printf "%.0f", n / (d - 0.2) }')
	record ka "$1" "$us"; record ka-rps "$1" "$rps"
	echo "ka $1: $us us/req, $rps req/s in window ($(grep -E 'Requests/sec|Socket errors' wrk.out | tr -s ' ' | tr '\n' ';'))" >> rounds.log
}
hs_round() { # MODE
	local lp us rate
	timeout 60 ./hsload -a "$E_IP" -p "$E_PORT" -c 32 -w "$WARM" -d "$DUR" -u /small > hs.out &
	lp=$!; PIDS+=("$lp")
	window "$EDGE_PID"
	wait "$lp" || true; forget "$lp"
	[ "$W_REQ" -gt 0 ] || { cat hs.out >&2; die "hsload $1: no requests"; }
	grep -q 'proto=TLSv1.3' hs.out || die "hsload $1 did not get TLS 1.3: $(cat hs.out)"
	us=$(awk -v t="$W_CPU" -v hz="$HZ" -v n="$W_REQ" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')
	rate=$(awk -v n="$W_REQ" -v d="$DUR" 'BEGIN { printf "%.0f", n / (d - 0.2) }')
	record hs "$1" "$us"; record hs-rate "$1" "$rate"
	echo "hs $1: $us us/handshake, $rate handshakes/s in window" >> rounds.log
}

log "$ROUNDS interleaved rounds, ${WARM}s warm-up + ${DUR}s per measurement"
for r in $(seq 1 "$ROUNDS"); do
	for mode in threads processes; do
		start_edge "$mode"
		ka_round "$mode"
		hs_round "$mode"
		stop_edge
	done
	log "round $r done"
done

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cat rounds.log
echo
echo "Medians of $ROUNDS rounds (workers = 2, ECDSA P-256, TLS 1.3, no pinning, load on the same 2 cores):"
printf '| %-40s | %10s | %10s | %7s |\n' "scenario" threads processes "p / t"
printf '|%s|%s|%s|%s|\n' "------------------------------------------" "------------" "------------" "---------"
for s in "ka:keep-alive, us terminator CPU / request" "ka-rps:keep-alive, requests/s" \
	"hs:full handshake, us terminator CPU / conn" "hs-rate:full handshakes/s"; do
	k=${s%%:*}; name=${s#*:}
	t=$(median "res.$k.threads"); p=$(median "res.$k.processes")
	printf '| %-40s | %10s | %10s | %7s |\n' "$name" "$t" "$p" "$(awk -v a="$p" -v b="$t" 'BEGIN { printf "%.2f", a / b }')"
done
echo "Load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

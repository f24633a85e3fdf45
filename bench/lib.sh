# bench/lib.sh — what the bench drivers (bench/run.sh, bench/multicore.sh)
# share, sourced by them: logging; a work folder and the processes started
# in it, every one stopped by its PID when the driver exits; a watchdog that
# bounds the whole run; the throw-away certificates; waiting for a
# listener; CPU ticks and the backend's request count over a window.
# Not run on its own.
#
# bench_begin NAME LIMIT makes the work folder ($work, removed at the end
# unless KEEP=1), starts the watchdog (LIMIT seconds) and changes into the
# folder.  Every process started after it goes into PIDS.

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

bench_cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ "${KEEP:-0}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
bench_begin() { # NAME LIMIT
	work=$(mktemp -d "/tmp/edge443-$1.XXXXXX")
	PIDS=()
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	local name=$1 limit=$2
	(
		trap 'kill "$sp" 2>/dev/null; exit 0' TERM
		sleep "$limit" & sp=$!
		wait "$sp"
		echo "bench/$name: time limit ${limit}s reached" >&2
		kill -TERM $$
	) &
	PIDS+=("$!")
	cd "$work"
}
forget() { # PID: drop from PIDS once it is gone
	local p keep=()
	for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}
stop() { # PID, then its children by PID (a master killed before its workers)
	local p=$1 kids q
	kill -TERM "$p" 2>/dev/null || true
	kids=$(pgrep -P "$p" || true)
	for _ in $(seq 1 "${STOP_TRIES:-25}"); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	for q in $kids; do kill -KILL "$q" 2>/dev/null || true; done
	forget "$p"
}

# A throw-away CA (ca.crt, ca.key) and, for each KIND given (rsa, ec), a
# leaf for test.example signed by it (KIND.crt, KIND.key).  The leaves carry
# a CRL distribution point and AIA, as a public CA puts in its leaves:
# edge443 check refuses a leaf without them on the default platform
# (crl-dp-present); never fetched.
bench_certs() { # KIND...
	local k pki_ext ku
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
		-out ca.crt -days 60 -subj "/CN=edge443 bench CA" \
		-addext basicConstraints=critical,CA:true \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	pki_ext='crlDistributionPoints=URI:http://pki.bench.invalid/ca.crl\nauthorityInfoAccess=caIssuers;URI:http://pki.bench.invalid/ca.crt,OCSP;URI:http://ocsp.bench.invalid/\n'
	for k in "$@"; do
		case $k in
		rsa)
			ku=digitalSignature,keyEncipherment
			openssl req -new -newkey rsa:2048 -nodes -keyout rsa.key -subj "/CN=test.example" -out rsa.csr 2>/dev/null
			;;
		ec)
			ku=digitalSignature
			openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key \
				-subj "/CN=test.example" -out ec.csr 2>/dev/null
			;;
		*) die "bench_certs: no kind $k" ;;
		esac
		printf "subjectAltName=DNS:test.example\nextendedKeyUsage=serverAuth\nkeyUsage=critical,$ku\nbasicConstraints=CA:false\n$pki_ext" > "$k.ext"
		openssl x509 -req -in "$k.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 60 \
			-extfile "$k.ext" -out "$k.crt" 2>/dev/null
		chmod 600 "$k.key"
	done
}

wait_listen() { # IP PORT PID (WAIT_TRIES tenths of a second, default 100)
	for _ in $(seq 1 "${WAIT_TRIES:-100}"); do
		kill -0 "$3" 2>/dev/null || return 1
		if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}
# Every process of a terminator: the PID and its children (a master and its
# workers).
procs() { echo "$1"; pgrep -P "$1" || true; }
cpu() { # ticks, every thread of the process and its children
	local q t=0
	for q in $(procs "$1"); do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$q/stat" 2>/dev/null || echo 0)))
	done
	echo $t
}
served() { od -An -t u8 -N8 "$work/served" | tr -d ' '; } # the backend's request counter
flt() { awk -v a="$1" -v b="$2" 'BEGIN { print a + b }'; }
# Work is counted inside a window that lies wholly inside the client's run
# (after its warm-up): CPU ticks and backend requests sampled at both ends.
window() { # PID -> sets W_CPU W_REQ; sleeps WARM then DUR-0.2
	local p=$1 c0 r0
	sleep "$WARM"
	c0=$(cpu "$p"); r0=$(served)
	sleep "$(flt "$DUR" -0.2)"
	W_CPU=$(($(cpu "$p") - c0)); W_REQ=$(($(served) - r0))
}
record() { echo "$3" >> "$work/res.$1.$2"; } # SCENARIO TERM VALUE

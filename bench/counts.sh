# bench/counts.sh — the counting step of bench/run.sh (COUNTS=1 or
# COUNTS=only), sourced by it: it uses run.sh's certificates, configurations
# and start helpers, and bench/lib.sh's stop helpers and PID list.  Not run
# on its own.
#
# Two measures that do not depend on how busy the host is, for edge443 and
# every peer in the same run, over a FIXED amount of work (bench/fixload.c
# sends exactly N requests or makes exactly N connections):
#   syscalls      perf stat on the syscalls:sys_enter_* tracepoints (and
#                 sys_exit_* filtered on ret == -EAGAIN) of the terminator's
#                 processes, natively, while fixload runs;
#   instructions  user-space instructions of the terminator under
#                 valgrind --tool=callgrind, counters zeroed before and dumped
#                 after each fixload run (callgrind_control -z / -d).
# Each is measured for N and for 2N and the difference is divided by N, so
# start-up, warm-up, the fixed part of a run (the 50 handshakes of the
# keep-alive connections, the first full handshake of each resumption slot)
# and idle wake-ups cancel out.
#
# Scenarios (COUNT_SCENARIOS, default all):
#   hs-rsa  full handshake + 1 request, RSA-2048      fixload -m hs -c 32
#   hs-ec   the same, ECDSA P-256                     fixload -m hs -c 32
#   resume  ECDSA, every connection resumes (ticket)  fixload -m reuse -c 8
#           (each connection offers its slot's first ticket, so every one
#           resumes); and, syscall pass only, how many connections resume
#           when each ticket is used once, as browsers do (-m resume)
#   ka      keep-alive 100-byte GET, 50 connections   fixload -m ka -c 50
#   http    the same through HTTP publishing          (hitch: no HTTP mode)
# Terminators: edge443, "edge443, cache off" (edge443 with bench/nocache.so
# preloaded: server session cache off, TLS 1.3 tickets kept; handshake
# scenarios only; its own addresses 127.0.83.5x), and the peers.
# Also: a CPU-per-unit pass over the same fixed counts (natively, interleaved
# rounds, medians: noisy, unlike the counts), and tlsceil (bench/tlsceil.c:
# OpenSSL alone over memory BIOs, the handshake ceiling and, with -q, the
# keep-alive one), CPU and
# instructions.  Writes counts.md in the work directory.

CT_SCEN=${COUNT_SCENARIOS:-hs-rsa hs-ec resume ka http}
if [ "$QUICK" = 1 ]; then
	CN_HS=${CN_HS:-300}; CN_KA=${CN_KA:-5000}      # syscalls: N (and 2N)
	CV_HS=${CV_HS:-40}; CV_KA=${CV_KA:-500}        # instructions: N (and 2N)
	CPU_ROUNDS=${CPU_ROUNDS:-1}; CEIL_N=300
else
	CN_HS=${CN_HS:-1000}; CN_KA=${CN_KA:-20000}
	CV_HS=${CV_HS:-100}; CV_KA=${CV_KA:-2000}
	CPU_ROUNDS=${CPU_ROUNDS:-3}; CEIL_N=2000
fi
CT_TERMS="edge edgenc $PEERS"
FIX_T=600 # bound of one fixload run, seconds (under valgrind included)
E2_RSA=127.0.83.51; E2_EC=127.0.83.52
cname() { case $1 in edgenc) echo "edge443, cache off" ;; *) name_of "$1" ;; esac; }

applies() { # TERM SCENARIO
	case "$1/$2" in
	hitch/http) return 1 ;;
	edgenc/hs-ec | edgenc/resume) return 0 ;;
	edgenc/*) return 1 ;;
	esac
	return 0
}
count_n() { # SCENARIO KIND(sys|cg)
	case "$1/$2" in
	ka/sys | http/sys) echo "$CN_KA" ;; ka/cg | http/cg) echo "$CV_KA" ;;
	*/sys) echo "$CN_HS" ;; */cg) echo "$CV_HS" ;;
	esac
}
unit_of() { case $1 in ka | http) echo request ;; *) echo handshake ;; esac; }

# edge443 with the session cache off: the same configuration on other addresses.
sed -e "s/$E_RSA:/$E2_RSA:/; s/$E_EC:/$E2_EC:/; /^service web {/,\$d" edge.conf > edgenc.conf
"$bin" check -c edgenc.conf > check2.out 2>&1 || { cat check2.out >&2; die "edge443 check refused edgenc.conf"; }
start_edgenc() {
	# shellcheck disable=SC2086 # WRAP is a command prefix
	env ${EDGE443_ENV:-} LD_PRELOAD="$work/nocache.so" taskset -c 1 ${WRAP:-} "$bin" run -c "$work/edgenc.conf" >> edgenc.log 2>&1 &
	local p=$!; PIDS+=("$p")
	wait_listen $E2_RSA $PORT $p && wait_listen $E2_EC $EC_PORT $p ||
		{ tail -20 edgenc.log >&2; die "edge443 (cache off) did not start"; }
	pin $p
	TPID[edgenc]=$p
}

fixrun() { # TERM SCENARIO N [COMMAND PREFIX...]: exactly N units of work; the output in fix.out
	local t=$1 s=$2 n=$3 ip r
	shift 3
	case $t/$s in
	edgenc/hs-rsa) ip=$E2_RSA ;; edgenc/*) ip=$E2_EC ;;
	*/hs-rsa) ip=$(ip_of "$t" rsa) ;; */http) ip=$(ip_of "$t" http) ;; *) ip=$(ip_of "$t" ec) ;;
	esac
	local a=(-a "$ip" -n "$n" -t $((FIX_T - 10)))
	case $s in
	hs-rsa) a+=(-p $PORT -m hs -c 32) ;;
	hs-ec) a+=(-p $EC_PORT -m hs -c 32) ;;
	resume) a+=(-p $EC_PORT -m reuse -c 8) ;;
	resume1) a+=(-p $EC_PORT -m resume -c 8) ;;
	ka) a+=(-p $EC_PORT -m ka -c 50) ;;
	http) a+=(-p $HTTP_PORT -m ka -c 50 -H "$HTTP_HOST") ;;
	esac
	"$@" timeout $FIX_T taskset -c 0 ./fixload "${a[@]}" > fix.out 2> fix.err ||
		{ cat fix.out fix.err >&2; die "fixload $t $s -n $n failed"; }
	if [ "$s" = resume ]; then
		# the first connection of each of the 8 slots is a full one
		r=$(sed -n 's/.*resumed=\([0-9]*\).*/\1/p' fix.out)
		if [ "${r:-0}" -lt $((n - 8)) ]; then
			echo "warning: $t resumed only $r of $n connections" >> counts.log
			touch "cnt.noresume.$s.$t"
		fi
	fi
}

# ---- syscalls: perf stat on the tracepoints, natively -----------------------
SYS_NAMES="read readv recvfrom recvmsg write writev sendto sendmsg sendmmsg epoll_wait epoll_pwait epoll_pwait2 epoll_ctl
 accept accept4 connect close socket setsockopt getsockopt getsockname getpeername shutdown fcntl ioctl futex
 getpid gettid clock_gettime gettimeofday mmap munmap brk madvise mprotect splice pipe2 getrandom poll ppoll
 select timerfd_settime eventfd2 openat newfstatat rt_sigprocmask rt_sigaction times io_uring_enter sched_yield
 nanosleep clock_nanosleep sendfile64"
EAGAIN_NAMES="read readv recvfrom recvmsg write writev sendto sendmsg"
SYS_EV=(-e raw_syscalls:sys_enter)
tp=/sys/kernel/tracing/events/syscalls
[ -d $tp ] || tp=/sys/kernel/debug/tracing/events/syscalls
for s in $SYS_NAMES; do [ -e "$tp/sys_enter_$s" ] && SYS_EV+=(-e "syscalls:sys_enter_$s"); done
for s in $EAGAIN_NAMES; do [ -e "$tp/sys_exit_$s" ] && SYS_EV+=(-e "syscalls:sys_exit_$s" --filter 'ret == -11'); done
perf_counts() { # TERM SCENARIO N OUT: "name count" lines
	local p pids
	p=$(pid_of "$1")
	pids=$(procs "$p" | paste -sd, -)
	NSTAT_HISTORY="$work/nstat.hist" nstat -n
	fixrun "$1" "$2" "$3" taskset -c 0 perf stat -x, -o perf.csv "${SYS_EV[@]}" -p "$pids" --
	# TCP segments sent on the loopback meanwhile, by every process (client,
	# terminator, backend): what the kernel's TCP work is made of.
	NSTAT_HISTORY="$work/nstat.hist" nstat -z TcpOutSegs |
		awk '$1 == "TcpOutSegs" { print "tcp_segments", $2 }' > nstat.out
	awk -F, '$1 ~ /^[0-9]+$/ {
		e = $3
		if (e == "raw_syscalls:sys_enter") e = "total"
		else if (sub(/^syscalls:sys_enter_/, "", e)) ;
		else if (sub(/^syscalls:sys_exit_/, "", e)) e = e "/EAGAIN"
		c[e] += $1
	} END { for (e in c) print e, c[e] }' perf.csv > "$4"
	cat nstat.out >> "$4"
}
diff_per() { # FILE-N FILE-2N N -> "name per-unit" lines
	awk -v n="$3" 'NR == FNR { a[$1] = $2; next } { printf "%s %.4f\n", $1, ($2 - a[$1]) / n }' "$1" "$2"
}

# ---- instructions: callgrind, zeroed and dumped around each run -------------
CG=(valgrind --tool=callgrind --dump-instr=no --dump-line=no --vgdb=yes)
cg_zero() { local q; for q in $(procs "$(pid_of "$1")"); do callgrind_control -z "$q" > /dev/null 2>&1 || true; done; }
cg_dump() { # TERM -> sum of the instructions of every process since the last zero
	local q f s=0 v
	for q in $(procs "$(pid_of "$1")"); do
		callgrind_control -d "$q" > /dev/null 2>&1 || continue
		f=$(ls -v "$work/cg/$1.$q".* 2>/dev/null | tail -1)
		[ -n "$f" ] || continue
		v=$(awk '$1 == "summary:" { print $2; exit }' "$f")
		s=$((s + ${v:-0}))
	done
	echo $s
}
cg_measure() { # TERM SCENARIO N -> instructions per unit
	local a b
	cg_zero "$1"; fixrun "$1" "$2" "$3"; a=$(cg_dump "$1")
	cg_zero "$1"; fixrun "$1" "$2" $((2 * $3)); b=$(cg_dump "$1")
	[ "$a" -gt 0 ] && [ "$b" -gt 0 ] || die "callgrind $1 $2: no counts (a=$a b=$b)"
	awk -v a="$a" -v b="$b" -v n="$3" 'BEGIN { printf "%.0f", (b - a) / n }'
}
# A forked worker (nginx, hitch) cannot be reached by callgrind_control
# (valgrind's gdbserver is not active after fork): one process lifetime per
# count instead — start under callgrind, the same warm-up, N (or 2N), stop;
# every process writes its totals when it exits.  Start-up, warm-up and
# shutdown are the same in both lifetimes and cancel out.
cg_lifetime() { # TERM SCENARIO N -> CG_SUM: instructions of the whole lifetime
	local d="$work/cg/$1.$2.$3" f s=0 v
	mkdir -p "$d"; chmod 1777 "$d"
	WRAP="${CG[*]} --callgrind-out-file=$d/%p" WAIT_TRIES=900 start_term "$1"
	fixrun "$1" "$2" 20
	fixrun "$1" "$2" "$3"
	STOP_TRIES=300 stop "$(pid_of "$1")"
	for _ in $(seq 1 50); do # the workers may write after their master is gone
		[ "$(ls "$d" | wc -l)" -ge 2 ] && break
		sleep 0.2
	done
	sleep 0.5
	for f in "$d"/*; do
		v=$(awk '$1 == "summary:" { print $2; exit }' "$f")
		s=$((s + ${v:-0}))
	done
	CG_SUM=$s
}
cg_measure_restart() { # TERM SCENARIO N -> instructions per unit
	local a b
	cg_lifetime "$1" "$2" "$3"; a=$CG_SUM
	cg_lifetime "$1" "$2" $((2 * $3)); b=$CG_SUM
	[ "$a" -gt 0 ] && [ "$b" -gt 0 ] || die "callgrind $1 $2: no counts (a=$a b=$b)"
	awk -v a="$a" -v b="$b" -v n="$3" 'BEGIN { printf "%.0f", (b - a) / n }'
}
single() { case $1 in edge | edgenc | haproxy) return 0 ;; esac; return 1; } # one process: callgrind_control works

counts_step() {
	local t s n p c0 c1
	log "counts: fixed work (syscalls N=$CN_HS/$CN_KA and 2N natively; instructions N=$CV_HS/$CV_KA and 2N under callgrind)"
	cc -O2 -o fixload "$here/fixload.c" -lssl -lcrypto
	cc -O2 -o tlsceil "$here/tlsceil.c" -lssl -lcrypto
	cc -O2 -shared -fPIC -o nocache.so "$here/nocache.c" -ldl
	command -v perf >/dev/null || die "counts need perf (apt-get install linux-perf)"
	command -v valgrind >/dev/null || die "counts need valgrind (apt-get install valgrind)"
	perf stat -e syscalls:sys_enter_read true > /dev/null 2>&1 ||
		die "counts: perf cannot count syscalls:sys_enter_* here (tracefs, perf_event_paranoid)"
	: > counts.log

	# Natively: syscalls, then CPU over the same fixed counts.
	for t in $CT_TERMS; do start_term "$t"; done
	for t in $CT_TERMS; do
		for s in $CT_SCEN; do applies "$t" "$s" && fixrun "$t" "$s" 100; done
		if applies "$t" resume; then # tickets used once: how many resume
			fixrun "$t" resume1 200
			sed -n 's/.*resumed=\([0-9]*\) tickets=\([0-9]*\).*/\1 \2/p' fix.out > "cnt.once.$t"
			echo "tickets used once, $t: $(cat fix.out)" >> counts.log
		fi
	done
	for s in $CT_SCEN; do
		n=$(count_n "$s" sys)
		for t in $CT_TERMS; do
			applies "$t" "$s" || continue
			perf_counts "$t" "$s" "$n" sys1
			perf_counts "$t" "$s" $((2 * n)) sys2
			diff_per sys1 sys2 "$n" > "cnt.sys.$s.$t"
			# epoll_wait depends on how many events each wakeup finds (the
			# relative speed of client and terminator): from the 2N run alone
			awk -v n=$((2 * n)) '$1 == "epoll_wait" || $1 == "epoll_pwait" { s += $2 } END { printf "%.3f\n", s / n }' sys2 > "cnt.ew.$s.$t"
			echo "syscalls $s $t: $(awk '$1 == "total" { print $2 }' "cnt.sys.$s.$t") per $(unit_of "$s") (N=$n, 2N; $(cat fix.out))" >> counts.log
		done
	done
	for _ in $(seq 1 "$CPU_ROUNDS"); do
		for s in $CT_SCEN; do
			n=$((2 * $(count_n "$s" sys))) # ka, http: 4N, for enough clock ticks
			case $s in ka | http) n=$((2 * n)) ;; esac
			for t in $CT_TERMS; do
				applies "$t" "$s" || continue
				p=$(pid_of "$t")
				c0=$(cpu "$p"); fixrun "$t" "$s" "$n"; c1=$(cpu "$p")
				awk -v t="$((c1 - c0))" -v hz="$HZ" -v n="$n" 'BEGIN { printf "%.2f\n", t * 1e6 / hz / n }' >> "cnt.cpu.$s.$t"
				echo "cpu $s $t: $(tail -1 "cnt.cpu.$s.$t") us per $(unit_of "$s") ($((c1 - c0)) ticks, N=$n; $(cat fix.out))" >> counts.log
			done
		done
	done
	for t in $CT_TERMS; do stop "$(pid_of "$t")"; done

	# tlsceil: the ceiling, CPU (natively, core 1, median of 3) and instructions.
	CEIL_VARIANTS="rsa:-t1 ec:-t1 ec:-t2 ec:-x_-t1 ec:-x_-t0 ec:-r_-t1 ec:-r_-x_-t1 ec:-q"
	local v k o cn
	for v in $CEIL_VARIANTS; do
		k=${v%%:*}; o=${v#*:}; o=${o//_/ }
		cn=$CEIL_N; [ "$k" = rsa ] && cn=$((CEIL_N / 2))
		[ "$o" = -q ] && cn=$((CEIL_N * 20)) # keep-alive: per request
		for _ in 1 2 3; do
			# shellcheck disable=SC2086 # o is a list of options
			timeout 300 taskset -c 1 ./tlsceil -c $k.crt -k $k.key -n $cn $o > ceil.out ||
				{ cat ceil.out >&2; die "tlsceil $v failed"; }
			sed -n 's/.*server_us=\([0-9.]*\).*/\1/p' ceil.out >> "cnt.ceilcpu.$v"
		done
		echo "tlsceil $k $o: $(paste -sd' ' "cnt.ceilcpu.$v") us ($(cat ceil.out))" >> counts.log
		cn=$((CV_HS * 2)); [ "$k" = rsa ] && cn=$CV_HS
		[ "$o" = -q ] && cn=$((CV_KA * 2))
		# shellcheck disable=SC2086
		timeout 600 taskset -c 1 valgrind --tool=callgrind --collect-atstart=no --toggle-collect=server_op \
			--callgrind-out-file="$work/ceil.cg" ./tlsceil -c $k.crt -k $k.key -n $cn -w 5 $o > ceil.out 2> ceil.err ||
			{ cat ceil.out ceil.err >&2; die "tlsceil $v under callgrind failed"; }
		awk -v n="$cn" '$1 == "summary:" { printf "%.0f\n", $2 / n; exit }' ceil.cg > "cnt.ceilcg.$v"
		echo "tlsceil $k $o: $(cat "cnt.ceilcg.$v") instructions per $([ "$o" = -q ] && echo request || echo handshake) (N=$cn under callgrind)" >> counts.log
	done

	# Under callgrind: instructions.
	# nginx's and hitch's workers run as nobody and write their own totals:
	# the work directory may be traversed (its keys stay mode 600).
	chmod 711 "$work"
	mkdir -p "$work/cg"; chmod 1777 "$work/cg"
	for t in $CT_TERMS; do
		single "$t" || continue
		WRAP="${CG[*]} --callgrind-out-file=$work/cg/$t.%p" WAIT_TRIES=900 start_term "$t"
	done
	for t in $CT_TERMS; do
		single "$t" || continue
		for s in $CT_SCEN; do applies "$t" "$s" && fixrun "$t" "$s" 20; done
	done
	for s in $CT_SCEN; do
		n=$(count_n "$s" cg)
		for t in $CT_TERMS; do
			applies "$t" "$s" || continue
			if single "$t"; then
				cg_measure "$t" "$s" "$n" > "cnt.cg.$s.$t"
			else
				cg_measure_restart "$t" "$s" "$n" > "cnt.cg.$s.$t"
			fi
			echo "instructions $s $t: $(cat "cnt.cg.$s.$t") per $(unit_of "$s") (N=$n, 2N; $(cat fix.out))" >> counts.log
		done
	done
	for t in $CT_TERMS; do single "$t" && stop "$(pid_of "$t")"; done
	counts_report > counts.md
}

# ---- the tables ------------------------------------------------------------------
top_sys() { # FILE: the syscalls above 0.02 per unit, largest first, EAGAIN shown with its call
	awk '$1 != "total" && $1 != "tcp_segments" && $1 != "epoll_wait" && $1 != "epoll_pwait" && $1 !~ /\/EAGAIN$/ && $2 >= 0.02 { print }
	     $1 ~ /\/EAGAIN$/ { sub(/\/EAGAIN$/, "", $1); ea[$1] = $2 }
	     END { for (k in ea) print "EAGAIN:" k, ea[k] }' "$1" |
		sort -k2 -gr | awk '
		$1 ~ /^EAGAIN:/ { sub(/^EAGAIN:/, "", $1); ea[$1] = $2; next }
		{ n[++c] = $1; v[c] = $2 }
		END {
			for (i = 1; i <= c && i <= 7; i++) {
				s = s (i > 1 ? ", " : "") n[i] " " sprintf("%.2f", v[i])
				if ((n[i] in ea) && ea[n[i]] >= 0.005) s = s sprintf(" (%.2f EAGAIN)", ea[n[i]])
			}
			print s
		}'
}
sys_total() { # without epoll_wait, whose count depends on batching
	awk '$1 == "total" { t = $2 } $1 == "epoll_wait" || $1 == "epoll_pwait" { w += $2 } END { printf "%.2f", t - w }' "$1"
}
counts_report() {
	local s t best_sys best_cg bt_sys bt_cg v u e_sys e_cg cpu once
	echo "<!-- counts: begin (bench/run.sh COUNTS=1 writes this section) -->"
	echo "## Counts: syscalls and instructions per unit of work"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), \`COUNTS=$COUNTS bench/run.sh$([ "$QUICK" = 1 ] && echo ' --quick')\`, $(nproc) cores, $(uname -r); same binaries, certificates and configurations as above."
	echo "Load average at the end of the counts: $(cut -d" " -f1-3 /proc/loadavg)."
	echo
	echo "These do not depend on how busy the host is: read them to decide."
	echo "bench/fixload.c sends exactly N requests (or makes exactly N connections);"
	echo "each count is taken for N and 2N and the difference divided by N, so start-up,"
	echo "warm-up and the fixed part of a run (the keep-alive connections' handshakes) cancel out."
	echo "**syscalls**: perf stat on the terminator's \`syscalls:sys_enter_*\` tracepoints"
	echo "(natively; N = $CN_HS handshakes, $CN_KA requests), EAGAIN = the same call's"
	echo "\`sys_exit_*\` with ret == -EAGAIN; the syscalls shown are those ≥ 0.02 per unit."
	echo "epoll_wait is left out of the syscall total and shown apart: how many events one"
	echo "wakeup finds depends on the relative speed of client and terminator, so its count"
	echo "per unit (taken from the 2N run alone) moves with the load; every other call is a"
	echo "property of the terminator (reads that return EAGAIN depend on timing too, less so)."
	echo "**TCP segments**: \`nstat\` TcpOutSegs over the same runs, every segment sent on the"
	echo "loopback by client, terminator and backend (the client and backend are the same for"
	echo "every terminator): the packets the kernel's TCP work is made of."
	echo "**instructions**: user-space instructions of the terminator under"
	echo "\`valgrind --tool=callgrind\` (N = $CV_HS handshakes, $CV_KA requests), zeroed"
	echo "and dumped around each run (\`callgrind_control\`; nginx's and hitch's forked workers"
	echo "cannot be reached that way, so for them each count is one process lifetime, started,"
	echo "warmed and stopped the same way for N and 2N); valgrind's CPU model decides"
	echo "which code paths OpenSSL takes, the same for every terminator."
	echo "**CPU** is utime+stime over the same fixed counts natively (no perf attached),"
	echo "median of $CPU_ROUNDS interleaved rounds: noisy (other work runs on this host), informative only."
	echo "\"edge443, cache off\" is edge443 with bench/nocache.so preloaded (server session"
	echo "cache off, TLS 1.3 tickets kept), not a configuration setting: edge443 has none for the cache."
	echo "Ratios are edge443 / the best peer (lower is better)."
	for s in $CT_SCEN; do
		u=$(unit_of "$s")
		echo
		case $s in
		hs-rsa) echo "### Full handshake + 1 request, RSA-2048, TLS 1.3 (per handshake)" ;;
		hs-ec) echo "### Full handshake + 1 request, ECDSA P-256, TLS 1.3 (per handshake)" ;;
		resume) echo "### Resumed handshake (TLS 1.3 ticket) + 1 request, ECDSA P-256 (per handshake)" ;;
		ka) echo "### Keep-alive 100-byte GET, 50 connections (per request)" ;;
		http) echo "### Keep-alive through HTTP publishing, 50 connections (per request)" ;;
		esac
		echo
		echo "| terminator | syscalls/$u (without epoll_wait) | epoll_wait/$u (load-dependent) | top syscalls per $u | TCP segments/$u (whole path) | instructions/$u | CPU µs/$u (noisy) |"
		echo "|---|---|---|---|---|---|---|"
		best_sys=; best_cg=; bt_sys=; bt_cg=
		for t in $PEERS; do
			applies "$t" "$s" || continue
			v=$(sys_total "cnt.sys.$s.$t")
			if [ -z "$best_sys" ] || awk -v a="$v" -v b="$best_sys" 'BEGIN { exit !(a < b) }'; then best_sys=$v; bt_sys=$t; fi
			v=$(cat "cnt.cg.$s.$t")
			if [ -z "$best_cg" ] || [ "$v" -lt "$best_cg" ]; then best_cg=$v; bt_cg=$t; fi
		done
		for t in $CT_TERMS; do
			applies "$t" "$s" || continue
			cpu=$(median "cnt.cpu.$s.$t")
			printf '| %s | %s | %s | %s | %s | %s | %.1f |\n' "$(cname "$t")$([ -e "cnt.noresume.$s.$t" ] && echo ' (did not resume)')" "$(sys_total "cnt.sys.$s.$t")" \
				"$(cat "cnt.ew.$s.$t")" "$(top_sys "cnt.sys.$s.$t")" "$(segs "cnt.sys.$s.$t")" "$(cat "cnt.cg.$s.$t")" "$cpu"
		done
		case $s in
		hs-rsa) ceil_row "rsa:-t1" "tlsceil (OpenSSL alone, 1 ticket, cache on)" ;;
		hs-ec)
			ceil_row "ec:-t1" "tlsceil (OpenSSL alone, edge443's settings: 1 ticket, cache on)"
			ceil_row "ec:-t2" "tlsceil, 2 tickets (OpenSSL's default), cache on"
			ceil_row "ec:-x_-t1" "tlsceil, 1 ticket, cache off"
			ceil_row "ec:-x_-t0" "tlsceil, no tickets, cache off"
			;;
		resume)
			ceil_row "ec:-r_-t1" "tlsceil, resumed, 1 ticket, cache on"
			ceil_row "ec:-r_-x_-t1" "tlsceil, resumed, 1 ticket, cache off"
			;;
		ka) ceil_row "ec:-q" "tlsceil, keep-alive (OpenSSL alone: SSL_read of the request, SSL_write of the answer; glibc malloc)" ;;
		esac
		e_sys=$(sys_total "cnt.sys.$s.edge"); e_cg=$(cat "cnt.cg.$s.edge")
		echo
		echo "edge443 / best peer: syscalls **$(awk -v e="$e_sys" -v b="$best_sys" 'BEGIN { printf "%.2f", b ? e / b : 0 }')** ($(name_of "$bt_sys") $best_sys),"\
			"instructions **$(awk -v e="$e_cg" -v b="$best_cg" 'BEGIN { printf "%.2f", b ? e / b : 0 }')** ($(name_of "$bt_cg") $best_cg)."
		if [ "$s" = resume ]; then
			echo
			echo -n "With each ticket used once (fixload -m resume, as OpenSSL's client and browsers do), connections resumed of 200 (8 slots, so at most 192), tickets sent:"
			once=""
			for t in $CT_TERMS; do
				[ -s "cnt.once.$t" ] && once="$once${once:+;} $(cname "$t") $(awk '{ print $1 " (" $2 " tickets)" }' "cnt.once.$t")"
			done
			echo "$once."
			echo "A server that sends no new ticket on a resumed connection gets a full handshake on every other one."
			echo "tlsceil's resumption sends a new ticket (OpenSSL's own ticket keys renew); a terminator that sends none does less than that ceiling."
		fi
		case $s in
		hs-rsa) ceil_line "rsa:-t1" ;;
		hs-ec) ceil_line "ec:-t1" ;;
		resume) ceil_line "ec:-r_-t1" ;;
		ka) ceil_line "ec:-q" ;;
		esac
	done
	echo
	echo "<details><summary>every count</summary>"
	echo
	echo '```'
	cat counts.log
	for s in $CT_SCEN; do for t in $CT_TERMS; do
		[ -s "cnt.sys.$s.$t" ] || continue
		echo "syscalls per $(unit_of "$s"), $s $t: $(sort -k2 -gr "cnt.sys.$s.$t" | awk '$2 >= 0.001 { printf "%s %.3f  ", $1, $2 }')"
	done; done
	echo '```'
	echo
	echo "</details>"
	echo "<!-- counts: end -->"
}
segs() { awk '$1 == "tcp_segments" { printf "%.2f", $2; f = 1 } END { if (!f) printf "—" }' "$1"; }
ceil_row() { # VARIANT LABEL
	[ -s "cnt.ceilcg.$1" ] || return 0
	printf '| %s | — | — | — | — | %s | %.1f |\n' "$2" "$(cat "cnt.ceilcg.$1")" "$(median "cnt.ceilcpu.$1")"
}
ceil_line() { # VARIANT: edge443 as a fraction of the ceiling
	local c e ec ee
	c=$(cat "cnt.ceilcg.$1"); e=$(cat "cnt.cg.$s.edge")
	ec=$(median "cnt.ceilcpu.$1"); ee=$(median "cnt.cpu.$s.edge")
	echo "Ceiling (tlsceil, same settings as edge443) / edge443: instructions **$(awk -v c="$c" -v e="$e" 'BEGIN { printf "%.2f", e ? c / e : 0 }')**,"\
		"CPU $(awk -v c="$ec" -v e="$ee" 'BEGIN { printf "%.2f", e ? c / e : 0 }') (noisy; edge443's CPU includes the kernel's TCP work, tlsceil's is OpenSSL's user time only)."
}

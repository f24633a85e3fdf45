#!/usr/bin/env bash
# tests/fuzz/run.sh — run the fuzz_http libFuzzer target.
#
#   tests/fuzz/run.sh [--runs N | --seconds S] [BINARY [NEW_DIR]]
#
# Reads the committed seeds in tests/fuzz/corpus_http (never writes there);
# inputs that reach new code go to NEW_DIR (default build-fuzz/new).  Without
# BINARY it is built with clang in build-fuzz/.  A crash, leak or failed
# property leaves crash-* / leak-* files in the current folder and exits
# non-zero.  ctest runs it with --runs (a fixed count, fixed seed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
limit=(-max_total_time=300)
case "${1:-}" in
--runs) limit=(-runs="$2" -seed=1); shift 2 ;;
--seconds) limit=(-max_total_time="$2"); shift 2 ;;
esac
bin=${1:-}
new=${2:-$root/build-fuzz/new}
if [ -z "$bin" ]; then
	mkdir -p "$root/build-fuzz"
	bin=$root/build-fuzz/fuzz_http
	clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -I"$root/include" \
		"$here/fuzz_http.c" "$root"/src/http/http.c "$root"/src/http/http_check.c \
		"$root"/src/http/http_reply.c "$root"/src/base/log.c \
		-o "$bin" -levent -lhttp_parser
fi
mkdir -p "$new"
# libFuzzer writes new inputs to the first folder only.
exec "$bin" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	"$new" "$here/corpus_http"

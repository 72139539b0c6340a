#!/bin/sh
# bench/ab.sh: interleaved side-by-side runs of two or more builds of
# herd-bench, for a change whose effect is smaller than this machine's
# noise between runs. Each round starts every build's node in turn (a lone
# node on 127.0.0.1:$PORT, or with TWO=1 a second node linked to it, whose
# CPU per update is reported too), loads it with herd-bench load, and prints
# one line per run: build, requests/s, server CPU µs per request (and, with
# TWO=1, the second node's CPU µs per update: its CPU over the whole run,
# warm-up included, divided by every request sent, warm-up included).
# Compare the medians.
#
#   go build -o /tmp/old ./cmd/herd-bench   # on the old commit
#   go build -o /tmp/new ./cmd/herd-bench   # on the new one
#   ROUNDS=6 IDS=1000 bench/ab.sh /tmp/old /tmp/new
#
# Environment: ROUNDS (3), DUR (3s), WARMUP (1s), CONNS (1000), PIPELINE
# (16), IDS (distinct clients per connection: 1000 cold, 1 hot), ENGINE
# (gnet or goroutine), PORT (23001; TWO=1 also uses PORT+10), TWO (0), LOAD
# (the herd-bench whose load generator runs: bin/herd-bench), GODEBUG is
# passed to the nodes as usual.
set -eu

ROUNDS=${ROUNDS:-3}
DUR=${DUR:-3s}
WARMUP=${WARMUP:-1s}
CONNS=${CONNS:-1000}
PIPELINE=${PIPELINE:-16}
IDS=${IDS:-1000}
ENGINE=${ENGINE:-gnet}
PORT=${PORT:-23001}
TWO=${TWO:-0}
LOAD=${LOAD:-bin/herd-bench}

if [ $# -lt 1 ]; then
	echo "usage: bench/ab.sh BIN... (see the comment at the top)" >&2
	exit 2
fi
tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

if [ "$TWO" = 1 ]; then
	cat >"$tmp/herd.yaml" <<YAML
nodes:
  - name: Alford
    listen: 127.0.0.1:$PORT
    neighbors: [Ball]
  - name: Ball
    listen: 127.0.0.1:$((PORT + 10))
    neighbors: [Alford]
YAML
else
	cat >"$tmp/herd.yaml" <<YAML
nodes:
  - name: Alford
    listen: 127.0.0.1:$PORT
YAML
fi

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # clock ticks

r=0
while [ "$r" -lt "$ROUNDS" ]; do
	r=$((r + 1))
	for bin in "$@"; do
		"$bin" serve Alford --config "$tmp/herd.yaml" --engine "$ENGINE" --log-level warn --log-dir "$tmp" >/dev/null 2>&1 &
		a=$!
		pids="$a"
		if [ "$TWO" = 1 ]; then
			"$bin" serve Ball --config "$tmp/herd.yaml" --engine "$ENGINE" --log-level warn --log-dir "$tmp" >/dev/null 2>&1 &
			b=$!
			pids="$a $b"
		fi
		sleep 1.5
		[ "$TWO" = 1 ] && c0=$(cpu "$b")
		out=$("$LOAD" load --addr "127.0.0.1:$PORT" --conns "$CONNS" --pipeline "$PIPELINE" --duration "$DUR" \
			--warmup "$WARMUP" --ids-per-conn "$IDS" --pid "$a" 2>&1 || true)
		res=$(echo "$out" | awk '/^requests /{w=$3; gsub(/[^0-9]/, "", w); n=$2+w} /^throughput/{t=$2} /^server cpu/{c=$5} END{print n, t, c}')
		line="$(basename "$bin") round $r: $(echo "$res" | awk '{print $2 " req/s, " $3 " µs/req"}')"
		if [ "$TWO" = 1 ]; then
			sleep 0.5
			c1=$(cpu "$b")
			hz=$(getconf CLK_TCK)
			line="$line, second node $(echo "$res $c0 $c1 $hz" | awk '{printf "%.2f", ($5-$4)/$6*1e6/$1}') µs/update"
		fi
		echo "$line"
		for p in $pids; do kill "$p" 2>/dev/null || true; done
		for p in $pids; do wait "$p" 2>/dev/null || true; done
		pids=""
	done
done

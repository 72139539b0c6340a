#!/bin/sh
# bench/benchstat.sh: what "make benchstat" runs. It builds the test binaries
# of BENCH_PKGS from the working tree and, when BASE is set, from git ref BASE
# (exported with git archive into a temporary directory), then runs their
# benchmarks BENCH_COUNT rounds, old and new alternating within each round so
# that a change in the machine's load falls on both alike. Raw results go to
# RESULTS/old.txt and RESULTS/new.txt, benchstat's comparison to
# RESULTS/benchstat.txt. Without BASE, an existing old.txt is the baseline.
set -eu

GO=${GO:-go}
BENCH=${BENCH:-.}
BENCH_PKGS=${BENCH_PKGS:-./codec ./herd ./places/... ./engine}
BENCH_COUNT=${BENCH_COUNT:-10}
BENCHTIME=${BENCHTIME:-500ms}
BASE=${BASE:-}
RESULTS=${RESULTS:-bench/results}
BENCHSTAT=${BENCHSTAT:-$GO run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da}

root=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$RESULTS" "$tmp/new" "$tmp/old"

# build TREE TAG: compile the test binary of each package of BENCH_PKGS found
# in TREE into $tmp/TAG (a package without tests yields none).
build() {
	for p in $BENCH_PKGS; do
		if [ ! -d "$1/$p" ]; then
			echo "benchstat: $p does not exist in $2, skipped there" >&2
			continue
		fi
		(cd "$1" && $GO test -c -o "$tmp/$2/$(echo "$p" | tr ./ __).test" "$p")
	done
}

# run TREE TAG: one round of every built binary's benchmarks, from its
# package directory (tests may read files relative to it).
run() {
	for p in $BENCH_PKGS; do
		bin="$tmp/$2/$(echo "$p" | tr ./ __).test"
		[ -x "$bin" ] || continue
		(cd "$1/$p" && "$bin" -test.run='^$' -test.bench="$BENCH" -test.benchtime="$BENCHTIME" -test.count=1)
	done
}

if [ -n "$BASE" ]; then
	rev=$(git rev-parse --short "$BASE^{commit}")
	mkdir "$tmp/base"
	git archive "$rev" | tar -x -C "$tmp/base"
	echo "benchstat: old: $BASE ($rev); new: the working tree; $BENCH_PKGS, $BENCH_COUNT rounds"
	build "$tmp/base" old
	: >"$RESULTS/old.txt"
else
	echo "benchstat: new: the working tree; $BENCH_PKGS, $BENCH_COUNT rounds"
fi
build "$root" new
: >"$RESULTS/new.txt"
i=0
while [ "$i" -lt "$BENCH_COUNT" ]; do
	i=$((i + 1))
	echo "benchstat: round $i of $BENCH_COUNT"
	if [ -n "$BASE" ]; then
		run "$tmp/base" old >>"$RESULTS/old.txt"
	fi
	run "$root" new >>"$RESULTS/new.txt"
done

if [ -f "$RESULTS/old.txt" ]; then
	$BENCHSTAT "$RESULTS/old.txt" "$RESULTS/new.txt" | tee "$RESULTS/benchstat.txt"
else
	$BENCHSTAT "$RESULTS/new.txt" | tee "$RESULTS/benchstat.txt"
	echo "benchstat: no $RESULTS/old.txt to compare with: give BASE=<git ref>, or keep this run" \
		"(mv $RESULTS/new.txt $RESULTS/old.txt) and run again after the change"
fi

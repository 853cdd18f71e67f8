#!/bin/sh
# bench-materialize.sh measures SPEC §12 P1: materializing Go's src/ and
# test/ trees (~15k files) with quire-hook's workspace package against
# `git archive | tar -x`, side by side in one run, and the peak RSS of one
# materialize. Extraction goes to $QUIRE_BENCH_DIR, else /dev/shm, else
# $TMPDIR; the repository fixture is built once under $TMPDIR.
set -eu

cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Wall time: the Go benchmark runs both extractors side by side.
go test -run '^$' -bench '^BenchmarkMaterialize$' -count 3 -benchtime 3x \
	./pkg/workspace | tee "$tmp/bench.txt"

# median prints the median ns/op of the named sub-benchmark.
median() {
	grep "BenchmarkMaterialize/$1-" "$tmp/bench.txt" | awk '{print $3}' | sort -n |
		awk '{v[NR] = $1} END {if (NR == 0) exit 1; print v[int((NR + 1) / 2)]}'
}
git_ns=$(median git-archive-tar)
quire_ns=$(median quire)

# Peak RSS: one materialize of the same fixture by a small command.
key=$(go env GOVERSION | tr '/ ' '__')
fixture="${TMPDIR:-/tmp}/quire-bench-materialize-$key"
commit=$(cat "$fixture/commit")
go build -o "$tmp/materializecmd" ./pkg/workspace/internal/materializecmd
base=${QUIRE_BENCH_DIR:-}
if [ -z "$base" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	base=/dev/shm
fi
dest=$(mktemp -d "${base:-${TMPDIR:-/tmp}}/quire-rss-XXXXXX")
rmdir "$dest"
/usr/bin/time -v "$tmp/materializecmd" "$fixture/repo.git" "$commit" "$dest" 2>"$tmp/time.txt"
rm -rf "$dest"
rss_kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/time.txt")

awk -v g="$git_ns" -v q="$quire_ns" -v rss="$rss_kb" 'BEGIN {
	printf "P1 git archive | tar -x: %.3f s (median)\n", g / 1e9
	printf "P1 quire materialize:    %.3f s (median)\n", q / 1e9
	printf "P1 ratio quire/git:      %.2f (target <= 1.0, must <= 1.5)\n", q / g
	printf "P1 peak RSS:             %.1f MB (must <= 200 MB)\n", rss / 1024
}'

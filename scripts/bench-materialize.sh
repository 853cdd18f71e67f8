#!/bin/sh
# bench-materialize.sh measures SPEC §12 P1: materializing Go's src/ and
# test/ trees (~15k files) with quire-hook's workspace package against
# `git archive | tar -x`, side by side in one run, and the peak RSS of one
# materialize; and P1r: a workspace.Cache checkout (and return) of a
# commit one file away from the cached tree, against a full materialize
# in the same run, both as the hook does it (an overlay mount when it
# runs as root) and on the stat-index path (a hook that cannot mount). Extraction goes to $QUIRE_BENCH_DIR, else /dev/shm, else
# $TMPDIR; the repository fixture is built once under $TMPDIR.
set -eu

cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Wall time: the Go benchmark runs both extractors side by side.
go test -run '^$' -bench '^BenchmarkMaterialize$' -count "${QUIRE_BENCH_COUNT:-3}" -benchtime 3x \
	./pkg/workspace | tee "$tmp/bench.txt"
go test -run '^$' -bench '^BenchmarkMaterializeReuse$' -count "${QUIRE_BENCH_COUNT:-5}" -benchtime 5x \
	./pkg/workspace | tee -a "$tmp/bench.txt"

# median prints the median ns/op of the named benchmark.
median() {
	grep -E "^Benchmark$1-[0-9]+[[:space:]]" "$tmp/bench.txt" | awk '{print $3}' | sort -n |
		awk '{v[NR] = $1} END {if (NR == 0) exit 1; print v[int((NR + 1) / 2)]}'
}
git_ns=$(median Materialize/git-archive-tar)
quire_ns=$(median Materialize/quire)
full_ns=$(median MaterializeReuse/full)
reuse_ns=$(median MaterializeReuse/reuse-1-file)
statindex_ns=$(median MaterializeReuse/reuse-1-file-statindex)
overlay=$(grep -E '^BenchmarkMaterializeReuse/reuse-1-file-[0-9]+[[:space:]].* 1.000 overlay' "$tmp/bench.txt" | wc -l)

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

# A reference for P1r's floor: `git status` on a checkout of the same
# tree does what a reuse must at least do, one lstat per entry and a
# read of every directory (untracked cache and fsmonitor off).
wt=$(mktemp -d "${base:-${TMPDIR:-/tmp}}/quire-status-XXXXXX")
git clone -q --no-checkout "$fixture/repo.git" "$wt"
git -C "$wt" -c advice.detachedHead=false checkout -q "$commit"
git -C "$wt" status --porcelain >/dev/null
for _ in 1 2 3 4 5; do
	start=$(date +%s%N)
	git -C "$wt" -c core.untrackedCache=false -c core.fsmonitor=false \
		status --porcelain --untracked-files=all >/dev/null
	echo $(($(date +%s%N) - start))
done | sort -n | awk '{v[NR] = $1} END {print v[3]}' >"$tmp/status.txt"
rm -rf "$wt"
status_ns=$(cat "$tmp/status.txt")

awk -v g="$git_ns" -v q="$quire_ns" -v rss="$rss_kb" -v f="$full_ns" -v r="$reuse_ns" -v s="$status_ns" \
	-v si="$statindex_ns" -v ov="$overlay" 'BEGIN {
	printf "P1 git archive | tar -x: %.3f s (median)\n", g / 1e9
	printf "P1 quire materialize:    %.3f s (median)\n", q / 1e9
	printf "P1 ratio quire/git:      %.2f (target <= 0.5, must <= 1.5)\n", q / g
	printf "P1 peak RSS:             %.1f MB (target <= 128 MB, must <= 200 MB)\n", rss / 1024
	printf "P1r full materialize:    %.3f s (median)\n", f / 1e9
	printf "P1r reuse, 1 file:       %.1f ms (median, checkout + return; %s)\n", r / 1e6, (ov > 0 ? "overlay mount" : "stat index: this process cannot mount")
	printf "P1r ratio reuse/full:    %.3f (target <= 0.05)\n", r / f
	printf "P1r stat-index reuse:    %.1f ms (median; a hook that cannot mount), ratio to full %.3f\n", si / 1e6, si / f
	printf "P1r git status, same tree: %.1f ms (median of 5), stat-index reuse/status %.2f\n", s / 1e6, si / s
}'

#!/usr/bin/env bash
# Measure SPEC section 12's performance targets, each side by side with its
# baseline in the same run, and print the figures with their ratios.
#
#   scripts/bench.sh [P1] [P2] [P3] [P4] [P5] [N1]     (default: all)
#
# Needs go, git, GNU time (/usr/bin/time) and ~2.5 GB of free disk in $TMPDIR.
# Nothing here is a pass/fail test: it prints numbers for people to read.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(P1 P2 P3 P4 P5 N1)
has() { local w; for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/quire-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
bin=$work/quire-hook
go build -o "$bin" ./hook/quire-hook
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

now_ns() { date +%s%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
peak_kb() { awk -F': ' '/Maximum resident set size/ { print $2 }' "$1"; }

# repo NAME PIPELINE: a bare repo with the hook installed and one commit.
repo() {
  local name=$1 lua=$2
  git init -q --bare --initial-branch=main "$work/$name.git"
  git init -q --initial-branch=main "$work/$name"
  mkdir -p "$work/$name/.quire"
  printf '%s\n' "$lua" > "$work/$name/.quire/ci.lua"
  echo hello > "$work/$name/README"
  git -C "$work/$name" add -A
  git -C "$work/$name" commit -qm bench
  git -C "$work/$name" push -q "$work/$name.git" main 2>/dev/null
  "$bin" --git-dir "$work/$name.git" install >/dev/null
}

if has P1; then
  echo "== P1: materialize a ~15k-file, ~180 MB tree vs git archive | tar -x"
  scripts/bench-materialize.sh
fi

if has P2; then
  echo "== P2: replay of a one-job, one-'sh true' pipeline: wall time minus the sh process's own time"
  repo p2 'local ci = require("quire.ci")
ci.job("one", {"quire/push"}, function(q) q.sh({"true"}) end)'
  "$bin" --git-dir "$work/p2.git" --quiet replay main >/dev/null   # warm the page cache
  n=20
  t2=$(now_ns); for _ in $(seq $n); do /bin/true; done; t3=$(now_ns)
  true_ms=$(awk -v a=$t2 -v b=$t3 -v n=$n 'BEGIN { printf "%.1f", (b - a) / n / 1e6 }')
  # The data root on disk (the default) and in tmpfs: on some VMs a file
  # create costs ~0.8 ms of kernel time on disk, and a run creates ~8.
  shm=${QUIRE_BENCH_DIR:-/dev/shm}
  for where in disk tmpfs; do
    flags=()
    if [ $where = tmpfs ]; then
      [ -d "$shm" ] && [ -w "$shm" ] || continue
      flags=(--data-dir "$(mktemp -d "$shm/quire-p2.XXXXXX")")
    fi
    t0=$(now_ns); for _ in $(seq $n); do "$bin" --git-dir "$work/p2.git" "${flags[@]}" --quiet replay main >/dev/null; done; t1=$(now_ns)
    replay_ms=$(awk -v a=$t0 -v b=$t1 -v n=$n 'BEGIN { printf "%.1f", (b - a) / n / 1e6 }')
    over=$(awk -v a="$replay_ms" -v b="$true_ms" 'BEGIN { printf "%.1f", a - b }')
    echo "data root on $where: replay ${replay_ms} ms, spawning true ${true_ms} ms: overhead ${over} ms per replay (target <= 30 ms)"
    [ ${#flags[@]} -eq 0 ] || rm -rf "${flags[1]}"
  done
fi

if has P3; then
  echo "== P3: 1,000 q.sh({\"true\"}) calls vs spawning true from Go directly"
  go test -run '^$' -bench 'BenchmarkShCalls' -benchtime 3x ./pkg/runner | grep -E 'Benchmark|overhead' || true
fi

if has P4; then
  # Both sides write to $QUIRE_BENCH_DIR (default /dev/shm): on this kind
  # of VM, disk writes past ~1 GiB fall off a cliff to disk speed, and the
  # CRI log is ~1.6x its input (a ~40-byte prefix a line), so on disk the
  # figure would measure the disk, not quire-hook.
  out=${QUIRE_BENCH_DIR:-/dev/shm}
  [ -d "$out" ] && [ -w "$out" ] || out=$work
  p4=$(mktemp -d "$out/quire-p4.XXXXXX")
  echo "== P4: one sh writing 1 GiB to stdout vs cat into a file (both in $out)"
  gen='yes "the quick brown fox jumps over the lazy dog, again and again and again" | head -c 1073741824'
  repo p4 "local ci = require(\"quire.ci\")
ci.job(\"flood\", {\"quire/push\"}, function(q) q.sh('$gen') end)"
  t0=$(now_ns); sh -c "$gen | cat > $p4/cat.out"; t1=$(now_ns); rm -f "$p4/cat.out"
  t2=$(now_ns); /usr/bin/time -v -o "$work/p4.time" "$bin" --git-dir "$work/p4.git" --data-dir "$p4/data" --quiet replay main >/dev/null; t3=$(now_ns)
  cat_s=$(awk -v a=$t0 -v b=$t1 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
  quire_s=$(awk -v a=$t2 -v b=$t3 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
  echo "cat ${cat_s} s ($(awk -v s=$cat_s 'BEGIN { printf "%.0f", 1024 / s }') MB/s), quire ${quire_s} s ($(awk -v s=$quire_s 'BEGIN { printf "%.0f", 1024 / s }') MB/s): throughput $(ratio "$cat_s" "$quire_s")x of cat (target >= 0.50); peak RSS $(( $(peak_kb "$work/p4.time") / 1024 )) MB (target <= 64)"
  echo "log file: $(du -sh "$p4/data/runs" | cut -f1) for 1 GiB of output"
  rm -rf "$p4"
fi

if has P5; then
  echo "== P5: 20 pushes at once to 20 refs of one repo"
  repo p5 'local ci = require("quire.ci")
ci.job("one", {"quire/push"}, function(q) q.sh("sleep 0.1; echo done") end)'
  git -C "$work/p5" commit -q --allow-empty -m again
  t0=$(now_ns)
  for i in $(seq 20); do git -C "$work/p5" push -q "$work/p5.git" "main:refs/heads/b$i" > "$work/p5-$i.out" 2>&1 & done
  wait
  t1=$(now_ns)
  complete=$(sqlite3 "$work/p5.git/quire/quire.db" "SELECT count(*) FROM runs WHERE state = 'complete' AND ref_name LIKE 'refs/heads/b%'")
  locked=$(cat "$work"/p5-*.out | grep -ci 'locked' || true)
  echo "$complete of 20 runs complete, 'database is locked' seen $locked times, in $(awk -v a=$t0 -v b=$t1 'BEGIN { printf "%.1f", (b - a) / 1e9 }') s"
fi

if has N1; then
  echo "== N1: append a run's git note in a repo with 10,000 notes vs git notes append (target <= 50 ms)"
  go test -run '^$' -bench 'BenchmarkAppend' -benchtime 100x ./pkg/notes | grep -E 'Benchmark' || true
fi

#!/usr/bin/env bash
# Install quire-hook as the post-receive hook of every bare repository found
# under the given directories.
#
#   scripts/install-hook.sh [--chain | --force] DIR...
#
# --chain and --force are passed to 'quire-hook install': keep a repo's own
# post-receive hook running before quire-hook, or replace it.
# The binary is $QUIRE_HOOK, else quire-hook on PATH. A directory counts as
# a bare repository when git says so (core.bare = true and it has objects/).
set -euo pipefail

flags=()
dirs=()
for arg in "$@"; do
  case "$arg" in
    --chain|--force) flags+=("$arg") ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "install-hook.sh: unknown flag $arg; see --help" >&2; exit 2 ;;
    *) dirs+=("$arg") ;;
  esac
done
if [ ${#dirs[@]} -eq 0 ]; then
  echo "usage: $0 [--chain | --force] DIR..." >&2
  exit 2
fi

bin=${QUIRE_HOOK:-$(command -v quire-hook || true)}
if [ -n "${QUIRE_HOOK:-}" ] && [ ! -x "$bin" ]; then
  echo "install-hook.sh: QUIRE_HOOK=$bin is not an executable file; fix it, or unset it to use quire-hook on PATH" >&2
  exit 2
fi
if [ -z "$bin" ]; then
  # Where the README installs it: git runs the hook as the repository's
  # owner, who cannot reach a binary under ~/go/bin.
  echo "install-hook.sh: quire-hook not found on PATH; install it where every user can run it, as the README's Install section does: GOBIN=/usr/local/bin go install github.com/quire-ci/quire-hook/hook/quire-hook@latest, or in this clone: go build -o quire-hook ./hook/quire-hook && sudo install -m 0755 quire-hook /usr/local/bin/ (or set QUIRE_HOOK)" >&2
  exit 2
fi

installed=0 failed=0
while IFS= read -r -d '' objects; do
  repo=$(dirname "$objects")
  [ -f "$repo/HEAD" ] || continue
  [ "$(git --git-dir="$repo" rev-parse --is-bare-repository 2>/dev/null)" = true ] || continue
  if "$bin" --git-dir "$repo" install ${flags[@]+"${flags[@]}"}; then
    installed=$((installed + 1))
  else
    failed=$((failed + 1))
  fi
done < <(find "${dirs[@]}" -type d -name objects -prune -print0)

echo "install-hook.sh: installed in $installed repositories, $failed failed"
[ "$failed" -eq 0 ]

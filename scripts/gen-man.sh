#!/bin/sh
# Regenerate docs/quire-hook.1, the man page, from the command
# definitions (the hidden 'quire-hook man' command). hook/cli_test.go's
# TestMan fails while the committed page differs from this output.
#
#   scripts/gen-man.sh            write docs/quire-hook.1
#   man ./docs/quire-hook.1       read it
set -eu
cd "$(dirname "$0")/.."
go run ./hook/quire-hook man > docs/quire-hook.1.tmp
mv docs/quire-hook.1.tmp docs/quire-hook.1
echo "wrote docs/quire-hook.1"

// Command materializecmd materializes one commit of a repository into a
// directory, so scripts/bench-materialize.sh can measure its peak RSS
// under /usr/bin/time.
//
// Usage: materializecmd GITDIR COMMIT DIR
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quire-ci/quire-hook/pkg/workspace"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "materializecmd: %v\n", err)
		os.Exit(1)
	}
}

// run materializes args[1] of the repository args[0] into args[2].
func run(ctx context.Context, args []string) error {
	if len(args) != 3 || !plumbing.IsHash(args[1]) {
		return fmt.Errorf("usage: materializecmd GITDIR COMMIT DIR")
	}
	st, err := workspace.Materialize(ctx, args[0], plumbing.NewHash(args[1]), args[2])
	if err != nil {
		return err
	}
	fmt.Printf("files=%d dirs=%d symlinks=%d submodules=%d bytes=%d\n",
		st.Files, st.Dirs, st.Symlinks, st.Submodules, st.Bytes)
	return nil
}

package hook

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/gitrepo"
)

// hookMarker identifies a post-receive hook written by install.
const hookMarker = "# installed by quire-hook"

func installCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "install",
		Usage: "make a bare repository run quire-hook on every push",
		Description: "Writes hooks/post-receive of the repository (--git-dir, else the current\n" +
			"directory) as a small script that execs this binary, and sets\n" +
			"receive.advertisePushOptions=true so that 'git push -o ci.skip' works.\n" +
			"An existing hook that quire-hook did not write is kept unless --force, which\n" +
			"moves it to hooks/post-receive.before-quire.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "replace a post-receive hook quire-hook did not write (kept as post-receive.before-quire)"},
		},
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("install takes no arguments; name the repository with --git-dir")
			}
			r, err := g.openRepo(g.gitDir)
			if err != nil {
				return err
			}
			bin, err := os.Executable()
			if err != nil {
				return usageErr("find this binary's path: %v", err)
			}
			if strings.Contains(bin, string(filepath.Separator)+"go-build") {
				fmt.Fprintf(g.io.Stderr, "quire-hook: warning: this binary (%s) is a temporary 'go run' build; "+
					"run 'go install ./hook/quire-hook' and install with that binary\n", bin)
			}
			path, err := installHook(r, bin, c.Bool("force"))
			if err != nil {
				return usageErr("%v", err)
			}
			fmt.Fprintf(g.io.Stdout, "installed %s\n", path)
			return nil
		},
	}
}

// installHook writes the post-receive hook of r to exec bin, atomically.
func installHook(r *gitrepo.Repo, bin string, force bool) (string, error) {
	hooks := filepath.Join(r.GitDir, "hooks")
	path := filepath.Join(hooks, "post-receive")
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		return "", fmt.Errorf("create hooks directory: %w", err)
	}
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("read existing hook %s: %w", path, err)
	case bytes.Contains(old, []byte(hookMarker)):
	case !force:
		return "", fmt.Errorf("%s exists and was not written by quire-hook; rerun with --force to keep it as post-receive.before-quire and install ours", path)
	default:
		if err := os.Rename(path, path+".before-quire"); err != nil {
			return "", fmt.Errorf("keep existing hook: %w", err)
		}
	}

	script := fmt.Sprintf("#!/bin/sh\n%s; 'quire-hook install' rewrites it.\nexec %s post-receive \"$@\"\n",
		hookMarker, shellQuote(bin))
	tmp, err := os.CreateTemp(hooks, ".post-receive-*")
	if err != nil {
		return "", fmt.Errorf("write hook: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(script); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write hook %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", fmt.Errorf("make hook executable: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write hook %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("install hook %s: %w", path, err)
	}
	if err := r.SetConfigValue("receive", "advertisePushOptions", "true"); err != nil {
		return "", err
	}
	return path, nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

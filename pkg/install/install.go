// Package install makes a bare repository run quire-hook on every push:
// it writes hooks/post-receive as a small script that execs the binary,
// atomically, keeps (and optionally chains) a post-receive hook that
// another tool wrote, and runs such a chained hook on every push.
package install

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/quire-ci/quire-hook/pkg/gitrepo"
)

// Marker is the line that identifies a hook written by install.
const Marker = "# installed by quire-hook"

// chainArg is how a hook written with Chain names the hook it runs
// first.
const chainArg = "post-receive --chain "

// KeptSuffix names where install moves a post-receive hook it did not
// write: hooks/post-receive.before-quire.
const KeptSuffix = ".before-quire"

// Mode is what Hook does with a post-receive hook quire-hook did not
// write.
type Mode int

const (
	// Keep refuses to touch it.
	Keep Mode = iota
	// Replace moves it aside, unused (install --force).
	Replace
	// Chain moves it aside and runs it first on every push (install
	// --chain).
	Chain
)

// Result says what Hook wrote.
type Result struct {
	// Path is the hook written, <git-dir>/hooks/post-receive.
	Path string
	// Chained is the kept hook the new one runs first, or "".
	Chained string
	// Warnings are problems that do not stop the install, such as a
	// chained hook that is not executable.
	Warnings []string
}

// Hook writes the post-receive hook of r to exec bin, atomically and
// mode 0755, and sets receive.advertisePushOptions=true so that
// 'git push -o ci.skip' works. A hook written with Chain keeps chaining
// on a reinstall with Keep; Replace stops it.
func Hook(r *gitrepo.Repo, bin string, mode Mode) (Result, error) {
	hooks := filepath.Join(r.GitDir, "hooks")
	path := filepath.Join(hooks, "post-receive")
	kept := path + KeptSuffix
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		return Result{}, fmt.Errorf("create hooks directory: %w", err)
	}
	chain, err := decide(path, kept, mode)
	if err != nil {
		return Result{}, err
	}

	command := shellQuote(bin) + " post-receive"
	res := Result{Path: path}
	if chain {
		command = shellQuote(bin) + " " + chainArg + shellQuote(kept)
		res.Chained = kept
		if fi, err := os.Stat(kept); err == nil && fi.Mode().Perm()&0o111 == 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s is not executable and will fail on every push; chmod +x it", kept))
		}
	}
	script := fmt.Sprintf("#!/bin/sh\n%s; 'quire-hook install' rewrites it.\nexec %s \"$@\"\n", Marker, command)
	if err := writeAtomic(hooks, path, script); err != nil {
		return Result{}, err
	}
	if err := r.SetConfigValue("receive", "advertisePushOptions", "true"); err != nil {
		return Result{}, err
	}
	return res, nil
}

// decide looks at the hook at path and the kept one, moves a foreign
// hook aside when mode allows, and says whether the new hook chains.
func decide(path, kept string, mode Mode) (chain bool, err error) {
	_, keptErr := os.Lstat(kept)
	haveKept := keptErr == nil
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return mode == Chain && haveKept, nil
	case err != nil:
		return false, fmt.Errorf("read existing hook %s: %w", path, err)
	case bytes.Contains(old, []byte(Marker)):
		// A plain reinstall keeps chaining; --force stops it.
		return haveKept && (mode == Chain || (mode == Keep && bytes.Contains(old, []byte(chainArg)))), nil
	case mode == Keep:
		return false, fmt.Errorf("%s exists and was not written by quire-hook; rerun with --chain to keep running it before quire-hook, or with --force to replace it", path)
	case haveKept:
		return false, fmt.Errorf("%s was not written by quire-hook and %s exists too; merge them into one hook at %s, then rerun install", path, kept, kept)
	}
	if err := os.Rename(path, kept); err != nil {
		return false, fmt.Errorf("keep existing hook: %w", err)
	}
	return mode == Chain, nil
}

// writeAtomic replaces path with script, mode 0755, through a temporary
// file in dir: git never sees half a hook.
func writeAtomic(dir, path, script string) error {
	tmp, err := os.CreateTemp(dir, ".post-receive-*")
	if err != nil {
		return fmt.Errorf("write hook: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(script); err != nil {
		tmp.Close()
		return fmt.Errorf("write hook %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return fmt.Errorf("make hook executable: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write hook %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("install hook %s: %w", path, err)
	}
	return nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

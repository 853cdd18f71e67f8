package hook

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/gitrepo"
)

// hookMarker identifies a post-receive hook written by install.
const hookMarker = "# installed by quire-hook"

// chainArg is how a hook written by install --chain names the hook it
// runs first.
const chainArg = "post-receive --chain "

// keptSuffix names where install moves a post-receive hook it did not
// write.
const keptSuffix = ".before-quire"

func installCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "install",
		Usage: "make a bare repository run quire-hook on every push",
		Description: "Writes hooks/post-receive of the repository (--git-dir, else the current\n" +
			"directory) as a small script that execs this binary, and sets\n" +
			"receive.advertisePushOptions=true so that 'git push -o ci.skip' works.\n" +
			"An existing hook that quire-hook did not write is kept unless --chain or --force:\n" +
			"both move it to hooks/post-receive.before-quire; with --chain it still runs on\n" +
			"every push, first, with the same input (its failure is reported and CI runs\n" +
			"anyway); with --force it no longer runs. A plain reinstall keeps chaining.\n" +
			"Install a binary every user can run, such as /usr/local/bin/quire-hook: git runs\n" +
			"the hook as the user who owns the repository.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "chain", Usage: "keep a post-receive hook quire-hook did not write and run it first on every push"},
			&cli.BoolFlag{Name: "force", Usage: "replace a post-receive hook quire-hook did not write (kept unused as post-receive.before-quire)"},
		},
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("install takes no arguments; name the repository with --git-dir")
			}
			mode := keepForeign
			switch {
			case c.Bool("chain") && c.Bool("force"):
				return usageErr("give --chain (keep running the existing hook) or --force (replace it), not both")
			case c.Bool("chain"):
				mode = chainForeign
			case c.Bool("force"):
				mode = replaceForeign
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
			} else if why := ownerCannotRun(bin, r.GitDir); why != "" {
				fmt.Fprintf(g.io.Stderr, "quire-hook: warning: %s, so pushes will run no CI; "+
					"copy it where every user can run it (sudo install -m 0755 %s /usr/local/bin/quire-hook) "+
					"and run install with that copy\n", why, bin)
			}
			res, err := installHook(r, bin, mode)
			if err != nil {
				return usageErr("%v", err)
			}
			switch {
			case res.chained != "":
				if fi, err := os.Stat(res.chained); err == nil && fi.Mode().Perm()&0o111 == 0 {
					fmt.Fprintf(g.io.Stderr, "quire-hook: warning: %s is not executable and will fail on every push; chmod +x it\n", res.chained)
				}
				fmt.Fprintf(g.io.Stdout, "installed %s; it runs %s first\n", res.path, res.chained)
			case mode == chainForeign:
				fmt.Fprintf(g.io.Stdout, "installed %s; there was no other post-receive hook to chain\n", res.path)
			default:
				fmt.Fprintf(g.io.Stdout, "installed %s\n", res.path)
			}
			return nil
		},
	}
}

// installMode is what install does with a post-receive hook it did not
// write.
type installMode int

const (
	keepForeign    installMode = iota // refuse to touch it
	replaceForeign                    // --force: move it aside, unused
	chainForeign                      // --chain: move it aside and run it first
)

// installed is where installHook wrote the hook and which kept hook, if
// any, the hook runs first.
type installed struct {
	path    string
	chained string
}

// installHook writes the post-receive hook of r to exec bin, atomically.
// A hook that install --chain wrote keeps chaining its kept hook.
func installHook(r *gitrepo.Repo, bin string, mode installMode) (installed, error) {
	hooks := filepath.Join(r.GitDir, "hooks")
	path := filepath.Join(hooks, "post-receive")
	kept := path + keptSuffix
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		return installed{}, fmt.Errorf("create hooks directory: %w", err)
	}
	_, keptErr := os.Lstat(kept)
	haveKept := keptErr == nil
	chain := false
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		chain = mode == chainForeign && haveKept
	case err != nil:
		return installed{}, fmt.Errorf("read existing hook %s: %w", path, err)
	case bytes.Contains(old, []byte(hookMarker)):
		// A plain reinstall keeps chaining; --force stops it.
		chain = haveKept && (mode == chainForeign || (mode == keepForeign && bytes.Contains(old, []byte(chainArg))))
	case mode == keepForeign:
		return installed{}, fmt.Errorf("%s exists and was not written by quire-hook; rerun with --chain to keep running it before quire-hook, or with --force to replace it", path)
	case haveKept:
		return installed{}, fmt.Errorf("%s was not written by quire-hook and %s exists too; merge them into one hook at %s, then rerun install", path, kept, kept)
	default:
		if err := os.Rename(path, kept); err != nil {
			return installed{}, fmt.Errorf("keep existing hook: %w", err)
		}
		chain = mode == chainForeign
	}

	command := shellQuote(bin) + " post-receive"
	res := installed{path: path}
	if chain {
		command = shellQuote(bin) + " " + chainArg + shellQuote(kept)
		res.chained = kept
	}
	script := fmt.Sprintf("#!/bin/sh\n%s; 'quire-hook install' rewrites it.\nexec %s \"$@\"\n", hookMarker, command)
	if err := writeHook(hooks, path, script); err != nil {
		return installed{}, err
	}
	if err := r.SetConfigValue("receive", "advertisePushOptions", "true"); err != nil {
		return installed{}, err
	}
	return res, nil
}

// writeHook replaces path with script, mode 0755, through a temporary
// file in dir: git never sees half a hook.
func writeHook(dir, path, script string) error {
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

// ownerCannotRun says why the user who owns repoDir, whom git runs the
// hook as, could not execute bin: a directory on the way it may not
// search, or the file itself without an x bit for it. It returns "" when
// the owner can run it, or when that cannot be told. ACLs are not read.
func ownerCannotRun(bin, repoDir string) string {
	fi, err := os.Stat(repoDir)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	uid, gid := st.Uid, st.Gid
	owner := "uid " + strconv.FormatUint(uint64(uid), 10)
	groups := map[uint32]bool{gid: true}
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		owner = u.Username
		ids, _ := u.GroupIds()
		for _, id := range append(ids, u.Gid) {
			if n, err := strconv.ParseUint(id, 10, 32); err == nil {
				groups[uint32(n)] = true
			}
		}
	}
	// allowed applies the owner, group, other rule: only the first class
	// that matches counts. Root needs no bit on a directory and any x
	// bit on a file.
	allowed := func(fi os.FileInfo) bool {
		st, ok := fi.Sys().(*syscall.Stat_t)
		m := fi.Mode().Perm()
		switch {
		case !ok:
			return true
		case uid == 0:
			return fi.IsDir() || m&0o111 != 0
		case st.Uid == uid:
			return m&0o100 != 0
		case groups[st.Gid]:
			return m&0o010 != 0
		}
		return m&0o001 != 0
	}
	var dirs []string
	for d := filepath.Dir(bin); ; d = filepath.Dir(d) {
		dirs = append(dirs, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		fi, err := os.Stat(dirs[i])
		if err != nil {
			return ""
		}
		if !allowed(fi) {
			return fmt.Sprintf("%s, who owns %s and runs its hooks, cannot run %s: it may not enter %s (mode %04o)",
				owner, repoDir, bin, dirs[i], fi.Mode().Perm())
		}
	}
	fi, err = os.Stat(bin)
	if err != nil || allowed(fi) {
		return ""
	}
	return fmt.Sprintf("%s, who owns %s and runs its hooks, cannot run %s (mode %04o)", owner, repoDir, bin, fi.Mode().Perm())
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

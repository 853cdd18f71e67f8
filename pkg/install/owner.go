package install

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// CheckBinary says why bin is a poor binary to install into the
// repository at gitDir, or "": a temporary 'go run' build, or a binary
// the repository's owner, whom git runs the hook as, cannot execute.
func CheckBinary(bin, gitDir string) string {
	if strings.Contains(bin, string(filepath.Separator)+"go-build") {
		return fmt.Sprintf("this binary (%s) is a temporary 'go run' build; "+
			"run 'go install ./hook/quire-hook' and install with that binary", bin)
	}
	if why := ownerCannotRun(bin, gitDir); why != "" {
		return fmt.Sprintf("%s, so pushes will run no CI; "+
			"copy it where every user can run it (sudo install -m 0755 %s /usr/local/bin/quire-hook) "+
			"and run install with that copy", why, bin)
	}
	return ""
}

// ownerCannotRun says why the user who owns repoDir could not execute
// bin: a directory on the way it may not search, or the file itself
// without an x bit for it. It returns "" when the owner can run it, or
// when that cannot be told. ACLs are not read.
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

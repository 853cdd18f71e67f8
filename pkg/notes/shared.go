package notes

import (
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5"
)

// A repository several users push to has core.sharedRepository set, and
// git makes what it creates group-writable (adjust_shared_perm in git's
// path.c). go-git ignores the setting: an objects/ab directory it
// created with 0755 would refuse the next pusher's objects. So every
// file and directory Append creates gets git's permissions.

// sharedMode is core.sharedRepository as git reads it (git_config_perm):
// 0 for the umask, a positive mode to add (group, all), a negative one
// to set exactly (an octal value such as 0640).
type sharedMode int

// readShared reads core.sharedRepository of repo; an unreadable config
// is the umask, as the hook's user would then own the repository anyway.
func readShared(repo *git.Repository) sharedMode {
	cfg, err := repo.Config()
	if err != nil {
		return 0
	}
	v := strings.ToLower(cfg.Raw.Section("core").Option("sharedRepository"))
	switch v {
	case "", "umask", "false", "no", "off":
		return 0
	case "group", "true", "yes", "on":
		return 0o660
	case "all", "world", "everybody":
		return 0o664
	}
	n, err := strconv.ParseInt(v, 8, 32)
	switch {
	case err != nil:
		return 0
	case n == 1:
		return 0o660
	case n == 2:
		return 0o664
	case n == 0 || n&0o600 != 0o600:
		return 0
	}
	return sharedMode(-(n & 0o666))
}

// adjust gives path git's permissions for a shared repository.
func (m sharedMode) adjust(path string) error {
	if m == 0 {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	old := fi.Mode()
	tweak := int(m)
	if m < 0 {
		tweak = -tweak
	}
	perm := int(old.Perm())
	if perm&0o200 == 0 {
		tweak &^= 0o222
	}
	if perm&0o100 != 0 {
		tweak |= (tweak & 0o444) >> 2
	}
	if m < 0 {
		perm = tweak
	} else {
		perm |= tweak
	}
	mode := fs.FileMode(perm)
	if old.IsDir() {
		mode |= (mode & 0o444) >> 2
		mode |= fs.ModeSetgid
	}
	if mode == old.Perm()|old&fs.ModeSetgid {
		return nil
	}
	return os.Chmod(path, mode)
}

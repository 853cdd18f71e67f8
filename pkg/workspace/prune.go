package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
)

// Prune removes the cached trees of c not used for maxAge (by their index
// file's time) and any entry left without an index; entries held by a
// run are left alone. It returns how many entries it removed.
func (c Cache) Prune(now time.Time, maxAge time.Duration) (int, error) {
	names, err := readNames(c.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("list workspace cache %s: %w", c.Dir, err)
	}
	keys := make(map[string]bool)
	for _, name := range names {
		key, _ := strings.CutSuffix(name, ".lock")
		if checkKey(key) == nil {
			keys[key] = true
		}
	}
	removed := 0
	for key := range keys {
		lock := c.lock(key)
		if lock == nil {
			continue
		}
		ent := filepath.Join(c.Dir, key)
		fi, err := os.Stat(filepath.Join(ent, "index"))
		if err == nil && now.Sub(fi.ModTime()) < maxAge {
			lock.Close()
			continue
		}
		detachStale(ent)
		err = datadir.RemoveAll(ent)
		if err == nil {
			err = os.Remove(filepath.Join(c.Dir, key+".lock"))
		}
		lock.Close()
		if err != nil {
			return removed, fmt.Errorf("remove cached workspace %s: %w", ent, err)
		}
		removed++
	}
	return removed, nil
}

// readNames lists the names in dir.
func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

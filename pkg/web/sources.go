package web

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// Repo is a repository as the web UI names it: Name in its pages and
// URLs, Stored as runs.repo in the database of its data root.
type Repo struct {
	Name   string
	Stored string
	Root   datadir.Root
	GitDir string // "" for a name found only in a shared data root's rows
}

// source is one data root and its database, opened for reading.
type source struct {
	root  datadir.Root
	store *store.Store
	err   error // why the database cannot be read; store is nil then
}

// catalog is what a scan found: the data roots and the repositories
// recorded in them.
type catalog struct {
	sources []*source
	repos   []Repo // sorted by Name
	byName  map[string]Repo
	// names maps a data root and a runs.repo to the Repo.
	names map[datadir.Root]map[string]Repo
	// problems are the data roots that could not be read, for the
	// repositories page.
	problems []string
}

// name is the web name of runs.repo stored in root: its Repo's Name, or
// stored itself for a repo the scan did not find.
func (c *catalog) name(root datadir.Root, stored string) string {
	if r, ok := c.names[root][stored]; ok {
		return r.Name
	}
	return stored
}

// Sources finds the repositories the server shows and keeps their
// databases open: one repository (GitDirs) or every bare repository with
// a quire database under each of ReposDirs, found again at most every
// Rescan so that new repositories appear.
type Sources struct {
	// GitDirs are repositories given one by one (--git-dir).
	GitDirs []string
	// ReposDirs are directories searched for bare repositories (--repos).
	ReposDirs []string
	// Locator finds a repository's data root and runs.repo (SPEC §2).
	Locator datadir.Locator
	// Rescan is how old a scan may get before the next request scans
	// again; 0 means 10 s.
	Rescan time.Duration

	mu       sync.Mutex
	cat      *catalog
	scanned  time.Time
	scanning bool // a request is scanning; the others keep the last catalog

	openMu sync.Mutex
	open   map[datadir.Root]*source // kept across scans
	closed bool
}

// maxScanEntries bounds one scan of a --repos directory: a directory
// tree of millions of files (or a hostile one) cannot stall the server.
const maxScanEntries = 200_000

// catalog returns the current catalog, scanning again when the last scan
// is older than Rescan.
// The scan runs outside the lock: while one request scans (a walk of
// the directories, which can take a while), the others are served from
// the last catalog instead of waiting.
func (s *Sources) catalog(ctx context.Context) *catalog {
	every := s.Rescan
	if every == 0 {
		every = 10 * time.Second
	}
	s.mu.Lock()
	if s.cat != nil && (time.Since(s.scanned) < every || s.scanning) {
		cat := s.cat
		s.mu.Unlock()
		return cat
	}
	s.scanning = true
	s.mu.Unlock()

	cat := s.scan(ctx)
	s.mu.Lock()
	s.cat, s.scanned, s.scanning = cat, time.Now(), false
	s.mu.Unlock()
	return cat
}

// Close closes every database.
func (s *Sources) Close() error {
	s.openMu.Lock()
	defer s.openMu.Unlock()
	s.closed = true
	var errs []error
	for _, src := range s.open {
		if src.store != nil {
			errs = append(errs, src.store.Close())
		}
	}
	s.open = nil
	return errors.Join(errs...)
}

// scan finds the repositories and opens the databases not open yet.
func (s *Sources) scan(ctx context.Context) *catalog {
	cat := &catalog{byName: map[string]Repo{}, names: map[datadir.Root]map[string]Repo{}}
	type found struct{ gitDir, base string }
	var dirs []found
	for _, d := range s.GitDirs {
		dirs = append(dirs, found{gitDir: d})
	}
	for _, top := range s.ReposDirs {
		for _, d := range findBareRepos(top) {
			dirs = append(dirs, found{gitDir: d, base: top})
		}
	}
	for _, d := range dirs {
		root := s.Locator.Root(d.gitDir, configuredDataDir(d.gitDir))
		if _, err := os.Stat(root.DB()); err != nil {
			continue // no run was ever recorded
		}
		src := s.source(ctx, root)
		stored := s.Locator.RepoName(d.gitDir, root)
		name := stored
		if d.base != "" && filepath.Clean(string(root)) == string(datadir.Own(d.gitDir)) {
			// Its own data root names it by its base name; under a
			// --repos directory the path below it says more.
			if rel, err := filepath.Rel(d.base, d.gitDir); err == nil && filepath.IsLocal(rel) {
				name = filepath.ToSlash(rel)
			}
		}
		cat.add(src, Repo{Name: name, Stored: stored, Root: root, GitDir: d.gitDir})
	}
	// A shared data root records repositories the scan may not have found
	// (moved, or outside the directories): show them under runs.repo.
	for _, src := range cat.sources {
		if src.store == nil {
			continue
		}
		names, err := src.store.RepoNames(ctx)
		if err != nil {
			cat.problems = append(cat.problems, fmt.Sprintf("%s: %v", src.root.DB(), err))
			continue
		}
		for _, n := range names {
			if _, ok := cat.names[src.root][n]; !ok {
				cat.add(src, Repo{Name: n, Stored: n, Root: src.root})
			}
		}
	}
	slices.SortFunc(cat.repos, func(a, b Repo) int { return strings.Compare(a.Name, b.Name) })
	return cat
}

// add records r, found in src, unless its data root already names it.
func (c *catalog) add(src *source, r Repo) {
	if !slices.Contains(c.sources, src) {
		c.sources = append(c.sources, src)
		if src.err != nil {
			c.problems = append(c.problems, src.err.Error())
		}
	}
	if c.names[r.Root] == nil {
		c.names[r.Root] = map[string]Repo{}
	}
	if _, dup := c.names[r.Root][r.Stored]; dup {
		return
	}
	if _, taken := c.byName[r.Name]; taken {
		// Two data roots record a repo of one name: the path tells them
		// apart.
		r.Name = r.GitDir
		if r.Name == "" {
			r.Name = string(r.Root) + ":" + r.Stored
		}
	}
	c.names[r.Root][r.Stored] = r
	c.byName[r.Name] = r
	c.repos = append(c.repos, r)
}

// source returns the open database of root, opening it if need be. A
// database that could not be opened is tried again on the next scan.
func (s *Sources) source(ctx context.Context, root datadir.Root) *source {
	s.openMu.Lock()
	defer s.openMu.Unlock()
	if src, ok := s.open[root]; ok && src.store != nil {
		return src
	}
	src := &source{root: root}
	if s.closed {
		src.err = fmt.Errorf("read %s: the server is stopping", root.DB())
		return src
	}
	if s.open == nil {
		s.open = map[datadir.Root]*source{}
	}
	src.store, src.err = store.OpenReader(ctx, root.DB())
	s.open[root] = src
	return src
}

// configuredDataDir is git config quire.dataDir of the repository at
// gitDir, or "".
func configuredDataDir(gitDir string) string {
	r, err := gitrepo.Open(gitDir)
	if err != nil {
		return ""
	}
	return r.ConfigValue("quire", "dataDir")
}

// findBareRepos returns the bare repositories under top: directories
// holding HEAD, objects/ and refs/. It does not descend into a
// repository, nor follow symbolic links, and stops after
// maxScanEntries entries.
func findBareRepos(top string) []string {
	var repos []string
	seen := 0
	_ = filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		seen++
		if seen > maxScanEntries {
			return filepath.SkipAll
		}
		if err != nil || !d.IsDir() {
			return nil
		}
		if isBareRepo(path) {
			repos = append(repos, path)
			return filepath.SkipDir
		}
		if strings.HasPrefix(d.Name(), ".") && path != top {
			return filepath.SkipDir
		}
		return nil
	})
	return repos
}

// isBareRepo reports whether dir looks like a bare git repository.
func isBareRepo(dir string) bool {
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

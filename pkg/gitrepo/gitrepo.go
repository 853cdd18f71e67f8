// Package gitrepo reads what a run needs from a bare repository with
// go-git: revisions, commit metadata, changed paths and pipeline files.
// Materializing a whole tree is package workspace's job.
package gitrepo

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// ErrUnknownRevision is wrapped by Resolve when nothing matches.
var ErrUnknownRevision = errors.New("unknown revision")

// Repo is an opened bare repository (or the .git directory of a work tree).
type Repo struct {
	// GitDir is the absolute path of the repository directory.
	GitDir string
	r      *git.Repository
}

// objectCacheSize is small on purpose: a run reads a handful of commits
// and trees; the big tree walk happens in package workspace.
const objectCacheSize = 16 * cache.MiByte

// Open opens the repository at gitDir, which must be a bare repository
// or a .git directory.
func Open(gitDir string) (*Repo, error) {
	abs, err := filepath.Abs(gitDir)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", gitDir, err)
	}
	if _, err := os.Stat(filepath.Join(abs, "objects")); err != nil {
		return nil, fmt.Errorf("open repository %s: not a git directory (no objects/); pass the bare repo with --git-dir", abs)
	}
	st := filesystem.NewStorageWithOptions(osfs.New(abs), cache.NewObjectLRU(objectCacheSize),
		filesystem.Options{AlternatesFS: osfs.New("/")})
	r, err := git.Open(st, nil)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", abs, err)
	}
	return &Repo{GitDir: abs, r: r}, nil
}

// Resolve turns rev (a full or abbreviated sha, a branch or tag name, or
// a full ref name) into a commit. ref is the full ref name rev named, or
// "" when rev was an object name.
func (r *Repo) Resolve(rev string) (commit plumbing.Hash, ref string, err error) {
	if rev == "" {
		return plumbing.ZeroHash, "", fmt.Errorf("resolve revision: empty revision")
	}
	for _, name := range []string{rev, "refs/heads/" + rev, "refs/tags/" + rev} {
		if !strings.HasPrefix(name, "refs/") {
			continue
		}
		rf, err := r.r.Reference(plumbing.ReferenceName(name), true)
		if err != nil {
			continue
		}
		c, err := r.peel(rf.Hash())
		if err != nil {
			return plumbing.ZeroHash, "", fmt.Errorf("resolve %s: %w", rev, err)
		}
		return c, name, nil
	}
	h, err := r.r.ResolveRevision(plumbing.Revision(rev))
	if err != nil || h == nil || h.IsZero() {
		return plumbing.ZeroHash, "", fmt.Errorf("resolve %q: %w: no commit, branch or tag by that name in %s", rev, ErrUnknownRevision, r.GitDir)
	}
	return *h, "", nil
}

// Peel follows annotated tags from the object h down to a commit: a
// pushed annotated tag's new sha names the tag object, not the commit.
func (r *Repo) Peel(h plumbing.Hash) (plumbing.Hash, error) {
	return r.peel(h)
}

func (r *Repo) peel(h plumbing.Hash) (plumbing.Hash, error) {
	for range 10 {
		obj, err := r.r.Object(plumbing.AnyObject, h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read object %s: %w", h, err)
		}
		switch o := obj.(type) {
		case *object.Commit:
			return o.Hash, nil
		case *object.Tag:
			h = o.Target
		default:
			return plumbing.ZeroHash, fmt.Errorf("object %s is a %s, not a commit", h, obj.Type())
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("tag chain at %s is too deep", h)
}

// Commit reads a commit object.
func (r *Repo) Commit(h plumbing.Hash) (*object.Commit, error) {
	c, err := r.r.CommitObject(h)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	return c, nil
}

// BranchAt returns the full name of the first branch (in name order)
// whose tip is commit, or "".
func (r *Repo) BranchAt(commit plumbing.Hash) string {
	iter, err := r.r.Branches()
	if err != nil {
		return ""
	}
	var names []string
	_ = iter.ForEach(func(ref *plumbing.Reference) error {
		if ref.Hash() == commit {
			names = append(names, ref.Name().String())
		}
		return nil
	})
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// MaxFilesChanged caps quire/push.files_changed.
const MaxFilesChanged = 10000

// FilesChanged lists the paths that differ between previous and commit;
// with a zero previous, between commit and its first parent (or every
// path, for a root commit). At most MaxFilesChanged paths, sorted. Entry
// names are not checked: a tree that package workspace refuses to write
// still has its paths listed, so its push gets a run.
func (r *Repo) FilesChanged(commit, previous plumbing.Hash) ([]string, error) {
	c, err := r.Commit(commit)
	if err != nil {
		return nil, err
	}
	var from plumbing.Hash
	switch {
	case !previous.IsZero():
		if p, err := r.r.CommitObject(previous); err == nil {
			from = p.TreeHash
		}
	case c.NumParents() > 0:
		if p, err := r.r.CommitObject(c.ParentHashes[0]); err == nil {
			from = p.TreeHash
		}
	}
	paths, err := r.diffTrees(from, c.TreeHash)
	if err != nil {
		return nil, fmt.Errorf("diff %s against %s: %w", commit, previous, err)
	}
	return paths, nil
}

// HasFile reports whether path is a regular file in commit's tree.
func (r *Repo) HasFile(commit plumbing.Hash, path string) (bool, error) {
	root, err := r.commitTree(commit)
	if err != nil {
		return false, err
	}
	e, found, err := r.lookup(root, path)
	if err != nil {
		return false, fmt.Errorf("find %s in %s: %w", path, commit, err)
	}
	return found && e.isFile(), nil
}

// ConfigValue reads one option of the repository's own git config
// (section.key, case-insensitive), or "".
func (r *Repo) ConfigValue(section, key string) string {
	cfg, err := r.r.Config()
	if err != nil || cfg.Raw == nil || !cfg.Raw.HasSection(section) {
		return ""
	}
	return cfg.Raw.Section(section).Option(key)
}

// ConfigBool reads a boolean option as git does: true, yes, on or 1
// (any case) are true; anything else, or no value, is false.
func (r *Repo) ConfigBool(section, key string) bool {
	switch strings.ToLower(r.ConfigValue(section, key)) {
	case "true", "yes", "on", "1":
		return true
	}
	return false
}

// ShortSHA is the first 10 hex digits of a commit id, for messages.
func ShortSHA(sha string) string {
	if len(sha) > 10 {
		return sha[:10]
	}
	return sha
}

// SetConfigValue sets one option in the repository's own git config
// with 'git config', which edits the file in place: go-git's config
// round trip drops comments and repeated keys (remote.*.fetch,
// receive.hideRefs, url.*.insteadOf) of a config an operator wrote.
func (r *Repo) SetConfigValue(section, key, value string) error {
	cmd := exec.Command("git", "config", "--file", filepath.Join(r.GitDir, "config"), section+"."+key, value)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("set %s.%s in %s: %v: %s", section, key, r.GitDir, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Package datadir names the files of a data root (SPEC §2), so that no
// other package joins those paths by hand:
//
//	<root>/
//	  quire.db, quire.db.reserve     the records (pkg/store)
//	  config.lua                     the operator's config
//	  async.log                      what detached runs printed
//	  quire.lock, quire.lock.<n>     run slots (max_parallel_runs)
//	  locks/<hash>.lock              one per (repo, ref)
//	  runs/<run-id>/
//	    cgroup                       the run's cgroup path, for reconcile
//	    workspace/                   the materialized tree (an overlay
//	                                 mount while jobs run, where the hook
//	                                 can mount: remove with RemoveDetached)
//	    jobs/<job-id>/job.log        q.log lines and the job's error
//	    jobs/<job-id>/sh-<n>.log     the n-th sh call (n from 1)
//	  runs/.trash/<run-id>/          runs gc is deleting
//	  cache/workspaces/<hash>/       a repo's last tree, for reuse (pkg/workspace),
//	                                 and an overlay workspace's upper and work dirs
//	  cache/workspaces/<hash>.lock   held while a run has it checked out
//
// The types are plain strings underneath: a Root, RunDir or JobDir is
// the directory's path, and converting one to string gives that path.
package datadir

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// Root is a data root directory.
type Root string

// DB is the SQLite database.
func (r Root) DB() string { return filepath.Join(string(r), "quire.db") }

// Config is the default operator config file.
func (r Root) Config() string { return filepath.Join(string(r), "config.lua") }

// AsyncLog is where detached (async) runs write what they print.
func (r Root) AsyncLog() string { return filepath.Join(string(r), "async.log") }

// Slot is the lock file of run slot n: quire.lock for n = 0 (the one
// slot when runs take turns one at a time), quire.lock.<n> after it.
func (r Root) Slot(n int) string {
	p := filepath.Join(string(r), "quire.lock")
	if n > 0 {
		p += "." + strconv.Itoa(n)
	}
	return p
}

// Locks is the directory of the per-(repo, ref) lock files.
func (r Root) Locks() string { return filepath.Join(string(r), "locks") }

// RefLock is the lock file of one repo's ref, named by a hash: a ref
// name may hold any character, and repo names contain slashes.
func (r Root) RefLock(repo, ref string) string {
	sum := sha256.Sum256([]byte(repo + "\x00" + ref))
	return filepath.Join(r.Locks(), hex.EncodeToString(sum[:12])+".lock")
}

// WorkspaceCache is the directory of the reusable workspace trees
// (workspace.Cache), one per repository.
func (r Root) WorkspaceCache() string { return filepath.Join(string(r), "cache", "workspaces") }

// WorkspaceCacheKey names repo's entry in WorkspaceCache by a hash, as
// repo names contain slashes.
func WorkspaceCacheKey(repo string) string {
	sum := sha256.Sum256([]byte(repo))
	return hex.EncodeToString(sum[:12])
}

// Runs is the directory holding one directory per run.
func (r Root) Runs() string { return filepath.Join(string(r), "runs") }

// Run is the directory of run id.
func (r Root) Run(id string) RunDir { return RunDir(filepath.Join(r.Runs(), id)) }

// Trash holds the directories of runs being deleted (pkg/retention):
// runs/.trash, which no run id can name.
func (r Root) Trash() string { return filepath.Join(r.Runs(), ".trash") }

// TrashRun is where run id's directory goes when it is being deleted.
func (r Root) TrashRun(id string) string { return filepath.Join(r.Trash(), id) }

// RunDir is the directory of one run.
type RunDir string

// Workspace is the run's materialized tree.
func (d RunDir) Workspace() string { return filepath.Join(string(d), "workspace") }

// CgroupFile holds the path of the run's cgroup, written before the
// cgroup is made, so that reconcile finds it after the hook died.
func (d RunDir) CgroupFile() string { return filepath.Join(string(d), "cgroup") }

// Jobs is the directory holding one directory per job.
func (d RunDir) Jobs() string { return filepath.Join(string(d), "jobs") }

// Job is the directory of job id of this run. A job id may contain a
// slash (quire/mirror), which nests it one level deeper.
func (d RunDir) Job(id string) JobDir { return JobDir(filepath.Join(d.Jobs(), id)) }

// ShLogGlobs match every sh log of the run, including those of jobs one
// level deeper (quire/mirror).
func (d RunDir) ShLogGlobs() []string {
	return []string{
		filepath.Join(d.Jobs(), "*", "sh-*.log"),
		filepath.Join(d.Jobs(), "*", "*", "sh-*.log"),
	}
}

// JobDir is the directory of one job of a run.
type JobDir string

// JobLog is the CRI log of the job's q.log lines and its error.
func (j JobDir) JobLog() string { return filepath.Join(string(j), "job.log") }

// ShLog is the CRI log of the job's seq-th sh call (seq from 1).
func (j JobDir) ShLog(seq int) string {
	return filepath.Join(string(j), "sh-"+strconv.Itoa(seq)+".log")
}

// RemoveAll removes path and what it holds, as os.RemoveAll does, also
// where a job left directories without write permission (Go's module
// cache is read-only, and any job may chmod -w): on a permission error
// it makes every directory under path writable by its owner, without
// following symlinks, and tries again.
func RemoveAll(path string) error {
	err := os.RemoveAll(path)
	if err == nil || !errors.Is(err, fs.ErrPermission) {
		return err
	}
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			if info, err := d.Info(); err == nil && info.Mode().Perm()&0o700 != 0o700 {
				_ = os.Chmod(p, info.Mode().Perm()|0o700)
			}
		}
		return nil
	})
	return os.RemoveAll(path)
}

package hook_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/store"
)

// rawEntry is one entry of a hand-written tree object.
type rawEntry struct{ mode, name, hash string }

// objectWriter writes objects into the repository at dir with git.
type objectWriter struct {
	t   testing.TB
	env []string
	dir string
}

// git runs git in the repository with stdin and returns its trimmed
// stdout.
func (w objectWriter) git(stdin []byte, args ...string) string {
	w.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env, cmd.Stdin = w.dir, w.env, bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		w.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// blob writes a blob and returns its sha.
func (w objectWriter) blob(content string) string {
	w.t.Helper()
	return w.git([]byte(content), "hash-object", "-w", "--stdin")
}

// tree writes a tree object with exactly the given entries, bypassing
// the checks git applies to the trees it builds itself.
func (w objectWriter) tree(entries ...rawEntry) string {
	w.t.Helper()
	var b bytes.Buffer
	for _, e := range entries {
		raw, err := hex.DecodeString(e.hash)
		if err != nil {
			w.t.Fatal(err)
		}
		b.WriteString(e.mode + " " + e.name + "\x00")
		b.Write(raw)
	}
	return w.git(b.Bytes(), "hash-object", "-t", "tree", "--literally", "-w", "--stdin")
}

// TestPostReceive_HostileDirectoryEntries: a pushed tree that cannot be
// written out safely still gets its run, recorded failed with
// failure_kind workspace and the entry's path, and leaves no workspace
// (SPEC §11). git pushes most of these trees (a bare repository does
// not fsck what it receives unless told to); the one it refuses is
// written into the bare repository directly and handed to the hook the
// way git would.
func TestPostReceive_HostileDirectoryEntries(t *testing.T) {
	r := newRepo(t)
	zero := strings.Repeat("0", 40)
	env := append(r.Env, "GIT_DIR="+r.Bare)

	for _, tc := range []struct {
		name string
		// entries returns the root's entries besides .quire, and
		// .quire's besides ci.lua, writing any subtree with w.
		entries    func(w objectWriter, o objects) (root, quire []rawEntry)
		path       string // quoted as the error quotes it
		gitRefuses bool   // git will not push it
	}{
		{"DotDot", dirNamed(".."), `".."`, false},
		{"Dot", dirNamed("."), `"."`, false},
		{"DotGit", dirNamed(".git"), `".git"`, false},
		{"DotGitUpper", dirNamed(".GIT"), `".GIT"`, false},
		{"Slash", dirNamed("x/y"), `"x/y"`, false},
		{"FileAndDir", func(_ objectWriter, o objects) ([]rawEntry, []rawEntry) {
			return []rawEntry{{"100644", "both", o.payload}, {"40000", "both", o.inner}}, nil
		}, `"both"`, false},
		{"DirAndFile", func(_ objectWriter, o objects) ([]rawEntry, []rawEntry) {
			return []rawEntry{{"40000", "both", o.inner}, {"100644", "both", o.payload}}, nil
		}, `"both"`, false},
		{"Nested", func(w objectWriter, o objects) ([]rawEntry, []rawEntry) {
			return []rawEntry{{"40000", "src", w.tree(rawEntry{"40000", "..", o.inner})}}, nil
		}, `"src/.."`, false},
		{"InPipelineDir", func(_ objectWriter, o objects) ([]rawEntry, []rawEntry) {
			return nil, []rawEntry{{"40000", ".git", o.inner}}
		}, `".quire/.git"`, false},
		{"EmptyName", func(_ objectWriter, o objects) ([]rawEntry, []rawEntry) {
			return []rawEntry{{"100644", "", o.payload}}, nil
		}, `""`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := objectWriter{t: t, env: r.Env, dir: r.Work}
			if tc.gitRefuses {
				w.dir = r.Bare
			}
			o := writeObjects(w)
			root, quire := tc.entries(w, o)
			quire = append(quire, rawEntry{"100644", "ci.lua", o.pipeline})
			root = append(root, rawEntry{"40000", ".quire", w.tree(quire...)})
			sha := w.git(nil, "commit-tree", w.tree(root...), "-m", tc.name)
			ref := "refs/heads/hostile-" + strings.ToLower(tc.name)

			runs := 0
			if tc.gitRefuses {
				w.git(nil, "update-ref", ref, sha)
			} else {
				out, err := r.Push("origin", sha+":"+ref)
				if err != nil {
					t.Fatalf("git push: %v\n%s", err, out)
				}
				runs++
				run := runOf(t, r, ref, runs)
				checkWorkspaceFailure(t, r, run, sha, tc.path)
				wantContains(t, out, "remote: quire: run "+run.ID+" failed (workspace)")
				wantContains(t, out, "refuse tree entry "+tc.path)
			}

			// The input fed to the hook by hand, as git feeds it: the
			// run is recorded and the hook says a run failed (exit 1).
			out, code := runBin(t, env, r.Bare, zero+" "+sha+" "+ref+"\n", "post-receive")
			if code != 1 {
				t.Errorf("post-receive exit %d, want 1 (a run failed):\n%s", code, out)
			}
			if strings.Contains(out, "could not be recorded") {
				t.Errorf("post-receive did not record the run:\n%s", out)
			}
			wantContains(t, out, "failed (workspace)")
			wantContains(t, out, "refuse tree entry "+tc.path)
			checkWorkspaceFailure(t, r, runOf(t, r, ref, runs+1), sha, tc.path)
		})
	}
	t.Run("Async", func(t *testing.T) {
		// post-receive --async reads every commit before it queues the
		// runs; the background worker then records the failure.
		w := objectWriter{t: t, env: r.Env, dir: r.Bare}
		o := writeObjects(w)
		root := w.tree(rawEntry{"40000", "..", o.inner}, rawEntry{"40000", ".quire", w.tree(rawEntry{"100644", "ci.lua", o.pipeline})})
		sha := w.git(nil, "commit-tree", root, "-m", "async")
		ref := "refs/heads/hostile-async"
		w.git(nil, "update-ref", ref, sha)
		out, code := runBin(t, env, r.Bare, zero+" "+sha+" "+ref+"\n", "post-receive", "--async")
		if code != 0 {
			t.Fatalf("post-receive --async exit %d, want 0:\n%s", code, out)
		}
		wantContains(t, out, "runs in the background")
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			run := runOf(t, r, ref, 1)
			if run.State != "pending" && run.State != "active" {
				checkWorkspaceFailure(t, r, run, sha, `".."`)
				break
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(r.Bare, "quire", "async.log"))
				t.Fatalf("run %s still %s after 30s; async.log:\n%s", run.ID, run.State, log)
			}
		}
	})
}

// objects are the blobs and trees every hostile tree is made of.
type objects struct {
	pipeline, payload, inner string
}

// writeObjects writes the objects with w.
func writeObjects(w objectWriter) objects {
	w.t.Helper()
	o := objects{pipeline: w.blob(okPipeline), payload: w.blob("payload\n")}
	o.inner = w.tree(rawEntry{"100644", "b", o.payload})
	return o
}

// dirNamed puts a directory named name at the root.
func dirNamed(name string) func(objectWriter, objects) ([]rawEntry, []rawEntry) {
	return func(_ objectWriter, o objects) ([]rawEntry, []rawEntry) {
		return []rawEntry{{"40000", name, o.inner}}, nil
	}
}

// runOf returns the newest run of ref, checking that it has n runs.
func runOf(t *testing.T, r *repo, ref string, n int) store.Run {
	t.Helper()
	var runs []store.Run
	for _, run := range r.runs() {
		if run.Ref == ref {
			runs = append(runs, run)
		}
	}
	if len(runs) != n {
		t.Fatalf("%d runs of %s recorded, want %d: %+v", len(runs), ref, n, runs)
	}
	return runs[0]
}

// checkWorkspaceFailure checks that run failed in materializing sha's
// tree, named path, and left no workspace behind.
func checkWorkspaceFailure(t *testing.T, r *repo, run store.Run, sha, path string) {
	t.Helper()
	if run.State != "failed" || run.FailureKind != "workspace" || run.SHA != sha {
		t.Errorf("run %s of %s: %s/%s, want failed/workspace of %s", run.ID, run.SHA, run.State, run.FailureKind, sha)
	}
	if !strings.Contains(run.Error, "refuse tree entry "+path) {
		t.Errorf("runs.error = %q, want it to refuse the tree entry %s", run.Error, path)
	}
	if _, err := os.Lstat(filepath.Join(r.runDir(run.ID), "workspace")); !os.IsNotExist(err) {
		t.Errorf("workspace of run %s left behind: %v", run.ID, err)
	}
	// ".." would have written b next to the workspace.
	if _, err := os.Lstat(filepath.Join(r.runDir(run.ID), "b")); !os.IsNotExist(err) {
		t.Errorf("an entry was written outside the workspace of run %s: %v", run.ID, err)
	}
}

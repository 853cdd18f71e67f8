package hook_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/quire-ci/quire-hook/internal/gittest"
	"github.com/quire-ci/quire-hook/internal/mounttest"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// server is several bare repositories under one repos root that share
// one data root, as on a team's git server.
type server struct {
	t        *testing.T
	root     string   // the repos root
	dataRoot string   // shared by every repo
	env      []string // git's and the hook's environment
}

// newServer makes an empty repos root and data root; quire.reposRoot is
// set in a system git config of the test's own.
func newServer(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	mounttest.Check(t, dir)
	s := &server{t: t, root: filepath.Join(dir, "git"), dataRoot: filepath.Join(dir, "data")}
	for _, kv := range gittest.Env() {
		if kv != "GIT_CONFIG_NOSYSTEM=1" {
			s.env = append(s.env, kv)
		}
	}
	s.env = append(s.env, "GIT_CONFIG_SYSTEM="+filepath.Join(dir, "gitconfig"), "QUIRE_DATA_DIR="+s.dataRoot)
	if err := os.MkdirAll(s.root, 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// setReposRoot runs `git config --system quire.reposRoot <root>`.
func (s *server) setReposRoot() {
	s.t.Helper()
	f := &gittest.Fixture{Env: s.env}
	if out, err := f.TryGit(s.root, "config", "--system", "quire.reposRoot", s.root); err != nil {
		s.t.Fatalf("git config --system: %v: %s", err, out)
	}
}

// repo makes the bare repository <root>/<name> (or name itself, if
// absolute) with the hook installed and a work tree pushing to it.
func (s *server) repo(name string) *repo {
	s.t.Helper()
	f := gittest.New(s.t)
	bare := name
	if !filepath.IsAbs(name) {
		bare = filepath.Join(s.root, name)
	}
	if err := os.MkdirAll(filepath.Dir(bare), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(f.Bare, bare); err != nil {
		s.t.Fatal(err)
	}
	f.Bare = bare
	f.Env = s.env
	f.Git(f.Work, "remote", "set-url", "origin", bare)
	r := &repo{Fixture: f, t: s.t}
	if out, code := r.inProcess("", "--git-dir", bare, "install"); code != 0 {
		s.t.Fatalf("install: exit %d: %s", code, out)
	}
	return r
}

// runs lists the shared data root's runs, newest first.
func (s *server) runs() []store.Run {
	s.t.Helper()
	if _, err := os.Stat(filepath.Join(s.dataRoot, "quire.db")); err != nil {
		return nil
	}
	st, err := store.Open(context.Background(), filepath.Join(s.dataRoot, "quire.db"))
	if err != nil {
		s.t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.ListRuns(context.Background(), store.RunFilter{})
	if err != nil {
		s.t.Fatal(err)
	}
	return runs
}

// quire runs a command that runs no job, in process, in the repos root
// with the server's environment.
func (s *server) quire(args ...string) (string, int) {
	s.t.Helper()
	return mainCombined(s.t, s.env, s.root, "", args...)
}

// sleepyPipeline keeps its run active long enough for a second push to
// arrive while it runs.
const sleepyPipeline = `
local ci = require("quire.ci")
ci.job("build", {"quire/push"}, function(q) q.sh("sleep 1.5; echo built") end)
`

func TestRepoName_SameNamesUnderOneRoot(t *testing.T) {
	s := newServer(t)
	s.setReposRoot()
	one, two := s.repo("team1/tools.git"), s.repo("team2/tools.git")
	for _, r := range []*repo{one, two} {
		r.Pipeline(sleepyPipeline)
		r.Commit("tools")
	}

	// Push both at once: the second arrives while the first runs (or
	// waits for its turn). Both are pushes to refs/heads/main of a repo
	// called tools.git, and neither may supersede the other.
	var wg sync.WaitGroup
	outs := make([]string, 2)
	wg.Add(1)
	go func() { defer wg.Done(); outs[0] = one.push() }()
	waitFor(t, "the first run", func() bool { return len(s.runs()) == 1 })
	wg.Add(1)
	go func() { defer wg.Done(); outs[1] = two.push() }()
	wg.Wait()

	runs := s.runs()
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	var names []string
	for _, run := range runs {
		names = append(names, run.Repo)
		if run.State != "complete" {
			t.Errorf("run %s of %s: %s %s, want complete", run.ID, run.Repo, run.State, run.Error)
		}
	}
	slices.Sort(names)
	if want := []string{"team1/tools.git", "team2/tools.git"}; !slices.Equal(names, want) {
		t.Errorf("repos %v, want %v", names, want)
	}
	for i, out := range outs {
		if strings.Contains(out, "superseded") {
			t.Errorf("push %d was superseded:\n%s", i+1, out)
		}
	}

	t.Run("ListedApart", func(t *testing.T) {
		out, code := s.quire("runs")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		wantContains(t, out, "team1/tools.git")
		wantContains(t, out, "team2/tools.git")
	})
	t.Run("AmbiguousSuffix", func(t *testing.T) {
		for _, args := range [][]string{{"runs", "--repo", "tools"}, {"runs", "--repo", "tools.git"}, {"gc", "--keep", "1", "--repo", "tools"}} {
			out, code := s.quire(args...)
			if code != 2 || strings.Count(out, "\n") != 1 {
				t.Errorf("%v: exit %d, want 2 with one line:\n%s", args, code, out)
			}
			wantContains(t, out, "ambiguous")
			wantContains(t, out, "team1/tools.git, team2/tools.git")
		}
	})
	t.Run("UniqueSuffix", func(t *testing.T) {
		for _, name := range []string{"team1/tools", "team1/tools.git"} {
			out, code := s.quire("runs", "--repo", name)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			wantContains(t, out, "team1/tools.git")
			if strings.Contains(out, "team2") {
				t.Errorf("--repo %s lists team2's run:\n%s", name, out)
			}
		}
	})
	t.Run("ReposRootFromEnvironment", func(t *testing.T) {
		// Without quire.reposRoot, QUIRE_REPOS_ROOT names the root.
		env := append(slices.DeleteFunc(slices.Clone(s.env), func(kv string) bool {
			return strings.HasPrefix(kv, "GIT_CONFIG_SYSTEM=")
		}), "GIT_CONFIG_NOSYSTEM=1", "QUIRE_REPOS_ROOT="+s.root)
		if out, code := runBin(t, env, s.root, "", "--git-dir", one.Bare, "replay", "main"); code != 0 {
			t.Fatalf("replay: exit %d:\n%s", code, out)
		}
		if got := s.runs()[0].Repo; got != "team1/tools.git" {
			t.Errorf("repo %q, want team1/tools.git", got)
		}
	})
}

func TestRepoName_Fallbacks(t *testing.T) {
	t.Run("SharedDataRootOutsideTheRoot", func(t *testing.T) {
		// A repo that no repos root contains is named by its path.
		s := newServer(t)
		s.setReposRoot()
		r := s.repo(filepath.Join(t.TempDir(), "elsewhere.git"))
		r.Pipeline(okPipeline)
		r.Commit("x")
		r.push()
		if got := s.runs()[0].Repo; got != r.Bare {
			t.Errorf("repo %q, want its path %s", got, r.Bare)
		}
	})
	t.Run("OwnDataRoot", func(t *testing.T) {
		// Alone in its data root, a repo keeps its base name.
		r := newRepo(t)
		r.Pipeline(okPipeline)
		r.Commit("x")
		r.push()
		if got := r.runs()[0].Repo; got != "repo.git" {
			t.Errorf("repo %q, want repo.git", got)
		}
	})
}

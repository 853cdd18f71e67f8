package web_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/store"
	"github.com/quire-ci/quire-hook/pkg/web"
)

// reposOf are the repository names of the repositories page, in order.
func reposOf(t *testing.T, body string) []string {
	t.Helper()
	checkHTML(t, "", body)
	var names []string
	for _, part := range strings.Split(body, `<section class="repo">`)[1:] {
		_, rest, _ := strings.Cut(part, `">`)
		name, _, _ := strings.Cut(rest, "</a>")
		names = append(names, name)
	}
	return names
}

// addRun records an ended run of repo (runs.repo) in st.
func addRun(t *testing.T, st *store.Store, id, repo string, at int64) {
	t.Helper()
	ctx := t.Context()
	must(t, st.CreateRun(ctx, store.Run{ID: id, Repo: repo, Ref: "refs/heads/main", SHA: "0123456789abcdef0123456789abcdef01234567",
		Trigger: "push", QueuedAtMS: at, State: store.RunPending}))
	must(t, st.StartRun(ctx, id, at+1, ""))
	must(t, st.FinishRun(ctx, id, store.RunComplete, "", "", at+2))
}

func TestSources_Repos(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{Sources: nil})
	f.srv.Stop()
	f.hs.Close()
	src := &web.Sources{ReposDirs: []string{f.reposDir}, Rescan: time.Millisecond}
	// A repository whose database is at an older schema version.
	old := gitInit(t, filepath.Join(f.reposDir, "old.git"))
	addRun(t, openStore(t, datadir.Own(old)), runID(30), "old.git", f.t0)
	addVersion(t, datadir.Own(old).DB(), -1)
	f.start(t, web.Options{Sources: src})

	r := f.get(t, "/", 200)
	if got, want := strings.Join(reposOf(t, r.body), " "), "team1/tools.git team2/tools.git"; got != want {
		t.Errorf("repositories %q, want %q", got, want)
	}
	if !strings.Contains(r.body, "schema version") || !strings.Contains(r.body, "old.git") {
		t.Errorf("the old database is not reported as a problem:\n%s", short(r.body))
	}

	// Once a hook upgrades it (here: its version put back), the next
	// scan reads it.
	addVersion(t, datadir.Own(old).DB(), +1)
	time.Sleep(5 * time.Millisecond)
	r = f.get(t, "/", 200)
	if got, want := strings.Join(reposOf(t, r.body), " "), "old.git team1/tools.git team2/tools.git"; got != want {
		t.Errorf("after the upgrade: %q, want %q", got, want)
	}
	if strings.Contains(r.body, "schema version") {
		t.Errorf("the upgraded database is still a problem")
	}

	// A new repository appears at the next scan.
	late := gitInit(t, filepath.Join(f.reposDir, "team3", "late.git"))
	addRun(t, openStore(t, datadir.Own(late)), runID(31), "late.git", f.t0)
	time.Sleep(5 * time.Millisecond)
	r = f.get(t, "/", 200)
	if got, want := strings.Join(reposOf(t, r.body), " "), "old.git team1/tools.git team2/tools.git team3/late.git"; got != want {
		t.Errorf("after a new repository: %q, want %q", got, want)
	}
	if body := f.get(t, "/runs?repo=team3/late.git", 200).body; !strings.Contains(body, runID(31)) {
		t.Errorf("the new repository's run is not listed")
	}
}

// addVersion adds delta to the database's user_version.
func addVersion(t *testing.T, db string, delta int) {
	t.Helper()
	conn, err := sqlite.OpenConn(db, sqlite.OpenReadWrite)
	must(t, err)
	defer conn.Close()
	var v int
	must(t, sqlitex.ExecuteTransient(conn, "PRAGMA user_version", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error { v = stmt.ColumnInt(0); return nil }}))
	must(t, sqlitex.ExecuteTransient(conn, "PRAGMA user_version = "+strconv.Itoa(v+delta), nil))
}

// TestSources_Shared serves repositories that share one data root
// ($QUIRE_DATA_DIR), with runs.repo their path under $QUIRE_REPOS_ROOT.
func TestSources_Shared(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	repos := filepath.Join(dir, "repos")
	a := gitInit(t, filepath.Join(repos, "a.git"))
	gitInit(t, filepath.Join(repos, "sub", "b.git"))
	shared := datadir.Root(filepath.Join(dir, "shared"))
	st := openStore(t, shared)
	at := time.Now().Add(-time.Hour).UnixMilli()
	addRun(t, st, runID(1), "a.git", at)
	addRun(t, st, runID(2), "sub/b.git", at+1)
	addRun(t, st, runID(3), "moved.git", at+2) // recorded, no longer found
	loc := datadir.Locator{Env: []string{"QUIRE_DATA_DIR=" + string(shared), "QUIRE_REPOS_ROOT=" + repos}}
	f := &fixture{dir: dir}
	f.start(t, web.Options{Sources: &web.Sources{ReposDirs: []string{repos}, Locator: loc}})

	if got, want := strings.Join(reposOf(t, f.get(t, "/", 200).body), " "), "a.git moved.git sub/b.git"; got != want {
		t.Errorf("repositories %q, want %q", got, want)
	}
	for repo, want := range map[string]string{"a.git": runID(1), "sub/b.git": runID(2), "moved.git": runID(3)} {
		body := f.get(t, "/runs?repo="+repo, 200).body
		if ids := runLinks(body); len(ids) != 1 || ids[0] != want {
			t.Errorf("runs of %s: %v, want %s", repo, ids, want)
		}
	}
	if r := f.get(t, "/badge/sub/b.git/main.svg", 200); !strings.Contains(r.body, ">passing<") {
		t.Errorf("sub/b.git's badge: %s", r.body)
	}
	// One repository given by --git-dir.
	g := &fixture{dir: dir}
	g.start(t, web.Options{Sources: &web.Sources{GitDirs: []string{a}, Locator: loc}})
	if got := reposOf(t, g.get(t, "/", 200).body); len(got) != 3 {
		t.Errorf("--git-dir with a shared data root shows %v, want its 3 recorded repos", got)
	}
}

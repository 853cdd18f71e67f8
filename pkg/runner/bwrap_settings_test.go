package runner

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/executor/bwrap"
)

// needBwrap skips a test where bubblewrap is missing.
func needBwrap(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed (.ci/run installs it); this test needs bwrap")
	}
}

// A program that cannot start reads exit 127 under bwrap, as on the
// host, while a command's own exit 1 stays 1.
func TestBwrap_StartFailureIs127(t *testing.T) {
	t.Parallel()
	needBwrap(t)
	pipeline := `
ci.job("start", {"quire/push"}, function(q)
  q.write_file("plain.txt", "not a program")
  return {
    missing = q.sh({"no-such-program"}).exit,
    missing_path = q.sh({"/no/such/dir/prog"}).exit,
    not_executable = q.sh({"./plain.txt"}).exit,
    shell = q.sh("no-such-program").exit,
    own_exit = q.sh({"sh", "-c", "echo failing >&2; exit 1"}).exit,
    ok = q.sh({"true"}).exit,
  }
end)
`
	for _, tt := range []struct {
		name  string
		bwrap bool
	}{{"Host", false}, {"Bwrap", true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, pipeline)
			if tt.bwrap {
				b, err := bwrap.New(false, h.repo.Bare, []string{h.dataRoot})
				if err != nil {
					t.Fatal(err)
				}
				h.Executor = b
			}
			o := h.run()
			o.wantState("start", "complete")
			got := o.outputs("start")
			want := map[string]any{"missing": 127.0, "missing_path": 127.0, "not_executable": 127.0, "shell": 127.0, "own_exit": 1.0, "ok": 0.0}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s: exit %v, want %v", k, got[k], w)
				}
			}
			if evs := o.shEvents("start"); len(evs) == 6 && evs[0].ExitCode != 127 {
				t.Errorf("sh_events.exit_code of the missing program = %d, want 127", evs[0].ExitCode)
			}
		})
	}
}

// Binds: a read-write bind takes the job's writes, a read-only one
// refuses them, and the files are the host's.
func TestBwrap_Binds(t *testing.T) {
	t.Parallel()
	needBwrap(t)
	root := varTempDir(t)
	rw, ro := filepath.Join(root, "cache"), filepath.Join(root, "toolchains")
	for _, d := range []string{rw, ro} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(ro, "tool"), "from the host\n")
	h := dataRootHarness(t, root, `
ci.job("binds", {"quire/push"}, function(q)
  return {
    rw = q.sh("echo cached > " .. q.env("T_RW") .. "/entry").exit,
    ro = q.sh("echo x > " .. q.env("T_RO") .. "/entry").exit,
    ro_read = q.sh("cat " .. q.env("T_RO") .. "/tool").stdout,
  }
end)
`)
	h.Env = []string{"T_RW=" + rw, "T_RO=" + ro}
	b, err := bwrap.New(false, h.repo.Bare, []string{h.dataRoot})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Bind(rw, true); err != nil {
		t.Fatal(err)
	}
	if err := b.Bind(ro, false); err != nil {
		t.Fatal(err)
	}
	h.Executor = b
	o := h.run()
	o.wantState("binds", "complete")
	got := o.outputs("binds")
	if got["rw"] != 0.0 || got["ro_read"] != "from the host\n" {
		t.Errorf("rw bind: write exit %v, ro read %q; want 0 and the host's file", got["rw"], got["ro_read"])
	}
	if got["ro"] == 0.0 {
		t.Error("a write into the read-only bind succeeded")
	}
	if data, err := os.ReadFile(filepath.Join(rw, "entry")); err != nil || string(data) != "cached\n" {
		t.Errorf("host file of the rw bind: %q, %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(ro, "entry")); err == nil {
		t.Error("the read-only bind's host directory got a file")
	}
}

// dataRootHarness is bwrapHarness with the bare repository and the data
// root side by side under root.
func dataRootHarness(t *testing.T, root, pipeline string) *harness {
	t.Helper()
	data := filepath.Join(root, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bwrapHarness(t, filepath.Join(root, "repo.git"), data, pipeline)
}

// go build under bwrap uses a build cache in a read-write bind, shared
// between runs: the second build finds the first one's entries. The
// workspace's own package is compiled again (its directory differs from
// run to run), but what it imports comes from the cache. A library
// importing one small package keeps it quick (a main package would
// compile the runtime into the empty cache, about 20 s here).
func TestBwrap_GoBuildSharedCache(t *testing.T) {
	t.Parallel()
	needBwrap(t)
	goroot := "/usr/local/go"
	if _, err := os.Stat(filepath.Join(goroot, "bin", "go")); err != nil {
		t.Skip("no Go toolchain at /usr/local/go")
	}
	root := varTempDir(t)
	cache := filepath.Join(root, "cache")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	h := dataRootHarness(t, root, `
ci.job("build", {"quire/push"}, function(q)
  q.write_file("go.mod", "module hello\n\ngo 1.21\n")
  q.write_file("hello.go", "package hello\n\nimport \"unicode/utf8\"\n\nfunc Hello() int { return utf8.RuneLen('h') }\n")
  -- -v names the packages it compiles; a cached one is not named.
  local r = q.sh("go build -v . && go env GOCACHE")
  return {exit = r.exit, out = r.stdout, err = r.stderr}
end)
`)
	b, err := bwrap.New(false, h.repo.Bare, []string{h.dataRoot})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Bind(cache, true); err != nil {
		t.Fatal(err)
	}
	h.Executor = b
	h.Settings.Env = []string{
		"PATH=" + filepath.Join(goroot, "bin") + ":/usr/bin:/bin",
		"GOCACHE=" + filepath.Join(cache, "go-build"),
		"GOPATH=/tmp/gopath", "GOTOOLCHAIN=local", "GOFLAGS=", "GOTELEMETRY=off",
	}
	for i, compiled := range []string{"unicode/utf8\nhello\n", "hello\n"} {
		o := h.run()
		o.wantState("build", "complete")
		got := o.outputs("build")
		if got["exit"] != 0.0 || got["out"] != filepath.Join(cache, "go-build")+"\n" || got["err"] != compiled {
			t.Fatalf("build %d: %v; want the package compiled %q (stderr of go build -v)", i+1, got, compiled)
		}
	}
	entries, err := os.ReadDir(filepath.Join(cache, "go-build"))
	if err != nil || len(entries) < 2 {
		t.Errorf("the shared cache on the host has %d entries (%v), want the builds'", len(entries), err)
	}
}

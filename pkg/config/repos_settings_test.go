package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoad_Settings(t *testing.T) {
	p := write(t, `return {
  executor = "host",
  env = { GOCACHE = "/var/cache/quire/go", JOBS = 4 },
  binds = { "/opt/toolchains", { "/var/cache/quire/go", rw = true } },
  max_log_bytes = 1048576,
  repos = {
    ["team1/tools.git"] = {
      executor = "bwrap", network = true,
      env = { GOCACHE = "/var/cache/quire/team1", GOFLAGS = "-mod=mod" },
      binds = { { "/opt/toolchains", rw = true }, "/srv/data/" },
      max_log_bytes = 500, colour = "blue",
    },
  },
}`)
	c, err := Load(t.Context(), p, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("TopLevel", func(t *testing.T) {
		if got, want := c.EnvList(), []string{"GOCACHE=/var/cache/quire/go", "JOBS=4"}; !slices.Equal(got, want) {
			t.Errorf("env: got %q, want %q", got, want)
		}
		if want := []Bind{{"/opt/toolchains", false}, {"/var/cache/quire/go", true}}; !slices.Equal(c.Binds, want) {
			t.Errorf("binds: got %+v, want %+v", c.Binds, want)
		}
		if c.MaxLogBytes != 1<<20 {
			t.Errorf("max_log_bytes: got %d", c.MaxLogBytes)
		}
	})
	t.Run("OtherRepo", func(t *testing.T) {
		o := c.ForRepo("team2/tools.git")
		if o.Executor != "host" || o.Network || o.MaxLogBytes != 1<<20 || len(o.Binds) != 2 {
			t.Errorf("team2 got %+v, want the top level", o)
		}
	})
	t.Run("NamedRepo", func(t *testing.T) {
		r := c.ForRepo("team1/tools.git")
		if r.Executor != "bwrap" || !r.Network || r.MaxLogBytes != 500 {
			t.Errorf("team1 got executor %s network %v max_log_bytes %d", r.Executor, r.Network, r.MaxLogBytes)
		}
		want := []string{"GOCACHE=/var/cache/quire/team1", "GOFLAGS=-mod=mod", "JOBS=4"}
		if got := r.EnvList(); !slices.Equal(got, want) {
			t.Errorf("env: got %q, want %q", got, want)
		}
		wantBinds := []Bind{{"/var/cache/quire/go", true}, {"/opt/toolchains", true}, {"/srv/data", false}}
		if !slices.Equal(r.Binds, wantBinds) {
			t.Errorf("binds: got %+v, want %+v", r.Binds, wantBinds)
		}
		if got := c.EnvList(); len(got) != 2 || got[0] != "GOCACHE=/var/cache/quire/go" {
			t.Errorf("ForRepo changed the top level's env: %q", got)
		}
	})
	t.Run("UnknownKeyInEntry", func(t *testing.T) {
		if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], `repos["team1/tools.git"]: unknown key "colour" ignored`) ||
			!strings.HasPrefix(c.Warnings[0], p+":") {
			t.Errorf("warnings: %q", c.Warnings)
		}
	})
	t.Run("Defaults", func(t *testing.T) {
		d := Default()
		if d.MaxLogBytes != 1<<30 || len(d.Env) != 0 || len(d.Binds) != 0 {
			t.Errorf("defaults: %+v", d)
		}
		if got := d.ForRepo("x.git"); got.MaxLogBytes != 1<<30 {
			t.Errorf("ForRepo without repos: %+v", got)
		}
	})
}

func TestConfig_UnknownRepos(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "team1", "tools.git"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := Load(t.Context(), write(t, `return { repos = {
  ["team1/tools.git"] = { network = true },
  ["team3/tools.git"] = { network = true },
} }`), true)
	if err != nil {
		t.Fatal(err)
	}
	if w := c.UnknownRepos(""); len(w) != 0 {
		t.Errorf("without a repos root: %q, want no warning", w)
	}
	w := c.UnknownRepos(root)
	if len(w) != 1 || !strings.Contains(w[0], `repos entry "team3/tools.git" names no repository`) {
		t.Errorf("warnings %q, want one for team3/tools.git", w)
	}
}

func TestLoad_BadSettings(t *testing.T) {
	bad := []struct{ name, src, want string }{
		{"EnvNotATable", `return { env = "GOCACHE=/x" }`, "env must be a table of NAME = \"value\", not a string"},
		{"EnvList", `return { env = { "GOCACHE" } }`, "env maps names to values"},
		{"EnvName", `return { env = { ["GO-CACHE"] = "/x" } }`, `env: "GO-CACHE" is not a variable name`},
		{"EnvReserved", `return { env = { QUIRE_REPO = "x" } }`, "env: QUIRE_REPO is set by quire-hook"},
		{"EnvValue", `return { env = { GOCACHE = true } }`, "env.GOCACHE must be a string, not a boolean"},
		{"BindsNotAList", `return { binds = "/opt" }`, "binds must be a list"},
		{"BindsMap", `return { binds = { opt = "/opt" } }`, "binds must be a list"},
		{"BindRelative", `return { binds = { "cache" } }`, `binds[1]: "cache" must be an absolute path`},
		{"BindType", `return { binds = { 42 } }`, "binds[1] must be a path or"},
		{"BindRW", `return { binds = { { "/opt", rw = "yes" } } }`, "binds[1]: rw must be true or false"},
		{"BindKey", `return { binds = { { "/opt", ro = true } } }`, `binds[1]: unknown key "ro"`},
		{"BindTwoPaths", `return { binds = { { "/opt", "/srv" } } }`, "binds[1] must hold one path"},
		{"MaxLogBytesZero", `return { max_log_bytes = 0 }`, "max_log_bytes must be a whole number of bytes > 0"},
		{"MaxLogBytesFraction", `return { max_log_bytes = 10.5 }`, "max_log_bytes must be a whole number of bytes > 0"},
		{"MaxLogBytesString", `return { max_log_bytes = "1G" }`, "max_log_bytes must be a whole number of bytes > 0"},
		{"ReposNotATable", `return { repos = "team1/tools.git" }`, "repos must be a table"},
		{"ReposList", `return { repos = { { executor = "bwrap" } } }`, "repos must map repository names to tables"},
		{"RepoNotATable", `return { repos = { ["a.git"] = "bwrap" } }`, `repos["a.git"] must be a table`},
		{"RepoExecutor", `return { repos = { ["a.git"] = { executor = "podman" } } }`, `repos["a.git"].executor "podman" is not one of host, bwrap, docker`},
		{"RepoNetwork", `return { repos = { ["a.git"] = { network = 1 } } }`, `repos["a.git"].network must be true or false`},
		{"RepoEnv", `return { repos = { ["a.git"] = { env = { ["1X"] = "y" } } } }`, `repos["a.git"].env: "1X" is not a variable name`},
		{"RepoBinds", `return { repos = { ["a.git"] = { binds = { "rel" } } } }`, `repos["a.git"].binds[1]: "rel" must be an absolute path`},
		{"RepoMaxLogBytes", `return { repos = { ["a.git"] = { max_log_bytes = -1 } } }`, `repos["a.git"].max_log_bytes must be a whole number`},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			p := write(t, b.src)
			_, err := Load(t.Context(), p, true)
			if err == nil || !strings.Contains(err.Error(), b.want) {
				t.Fatalf("got %v, want an error containing %q", err, b.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "config "+p+": ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q does not name the file on one line", msg)
			}
		})
	}
}

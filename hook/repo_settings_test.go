package hook_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/store"
)

// whereAmIPipeline reports the environment and executor its job ran in.
const whereAmIPipeline = `local ci = require("quire.ci")
ci.job("where", {"quire/push"}, function(q)
  return {
    env = q.sh("echo $SHARED $WHO").stdout,
    own = q.sh("echo $WHO", {env = {WHO = "opts"}}).stdout,
    init = q.sh("cat /proc/1/comm").stdout,
  }
end)`

// outputs returns the outputs of job in the newest run of repo in the
// server's shared data root.
func (s *server) outputs(repo, job string) map[string]string {
	s.t.Helper()
	for _, run := range s.runs() {
		if run.Repo != repo {
			continue
		}
		st, err := store.Open(context.Background(), filepath.Join(s.dataRoot, "quire.db"))
		if err != nil {
			s.t.Fatal(err)
		}
		defer st.Close()
		jobs, err := st.ListJobs(context.Background(), run.ID)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, j := range jobs {
			if j.JobID == job {
				var out map[string]string
				if err := json.Unmarshal([]byte(j.Outputs), &out); err != nil {
					s.t.Fatalf("outputs of %s in %s: %q: %v", job, repo, j.Outputs, err)
				}
				return out
			}
		}
		s.t.Fatalf("run %s of %s has no job %s (state %s, error %s)", run.ID, repo, job, run.State, run.Error)
	}
	s.t.Fatalf("no run of %s", repo)
	return nil
}

// Two repositories share a data root and its config.lua; only the one
// its repos entry names gets that entry's executor and env.
func TestConfig_RepoSettings(t *testing.T) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed (.ci/run installs it); the per-repo executor is bwrap")
	}
	s := newServer(t)
	s.setReposRoot()
	one, two := s.repo("team1/tools.git"), s.repo("team2/tools.git")
	writeConfig(t, filepath.Join(s.dataRoot, "config.lua"), `return {
  env = { SHARED = "top", WHO = "top" },
  repos = {
    ["team1/tools.git"] = { executor = "bwrap", env = { WHO = "team1" }, colour = "blue" },
    ["team3/tools.git"] = { network = true },
  },
}`)
	outs := map[string]string{}
	for name, r := range map[string]*repo{"team1/tools.git": one, "team2/tools.git": two} {
		r.Pipeline(whereAmIPipeline)
		r.Commit("where")
		outs[name] = r.push()
	}

	team1, team2 := s.outputs("team1/tools.git", "where"), s.outputs("team2/tools.git", "where")
	if team1["env"] != "top team1\n" || team1["own"] != "opts\n" || team1["init"] != "bwrap\n" {
		t.Errorf("team1/tools.git: %v; want env \"top team1\", opts.env winning, run under bwrap", team1)
	}
	if team2["env"] != "top top\n" || team2["own"] != "opts\n" || team2["init"] == "bwrap\n" {
		t.Errorf("team2/tools.git: %v; want the top level's env and the host executor", team2)
	}
	for name, out := range outs {
		wantContains(t, out, `repos entry "team3/tools.git" names no repository`)
		wantContains(t, out, `repos["team1/tools.git"]: unknown key "colour" ignored`)
		if strings.Contains(out, `"team1/tools.git" names no repository`) || strings.Contains(out, `"team2/tools.git" names no repository`) {
			t.Errorf("push to %s warns about a repository that exists:\n%s", name, out)
		}
	}
}

func TestConfig_SettingsErrors(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(okPipeline)
	r.Commit("ok")
	r.push("-o", "ci.skip", "origin", "main")
	cfg := filepath.Join(t.TempDir(), "config.lua")
	missing := filepath.Join(t.TempDir(), "no-such-cache")
	cases := []struct{ name, lua, want string }{
		{"Env", `return { env = { ["BAD-NAME"] = "x" } }`, `env: "BAD-NAME" is not a variable name`},
		{"Binds", `return { binds = { "relative/cache" } }`, `binds[1]: "relative/cache" must be an absolute path`},
		{"MaxLogBytes", `return { max_log_bytes = 0 }`, "max_log_bytes must be a whole number of bytes > 0"},
		{"Repos", `return { repos = { ["x.git"] = { executor = "podman" } } }`, `repos["x.git"].executor "podman" is not one of`},
	}
	if _, err := exec.LookPath("bwrap"); err == nil {
		cases = append(cases, struct{ name, lua, want string }{"MissingBind",
			`return { executor = "bwrap", binds = { { "` + missing + `", rw = true } } }`,
			"bind " + missing + " does not exist; create it"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			writeConfig(t, cfg, c.lua)
			out, code := r.inProcess("", "--git-dir", r.Bare, "--config", cfg, "replay", "main")
			if code != 2 {
				t.Errorf("exit %d, want 2:\n%s", code, out)
			}
			wantContains(t, out, "config "+cfg+": ")
			wantContains(t, out, c.want)
			if n := strings.Count(strings.TrimSpace(out), "\n"); n != 0 {
				t.Errorf("error is %d lines, want one:\n%s", n+1, out)
			}
		})
	}
}

func writeConfig(t *testing.T, path, src string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

package buildinfo

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tt := range []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"Module", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}, Settings: vcs("vcs.revision", "6ef1f97abc")}, true, "v1.2.0"},
		{"VCS", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(
			"vcs", "git", "vcs.revision", "6ef1f97c0ffee0000000000000000000000000000", "vcs.time", "2026-11-29T23:08:00Z", "vcs.modified", "false")},
			true, "(devel) rev 6ef1f97 2026-11-29"},
		{"Dirty", &debug.BuildInfo{Settings: vcs("vcs.revision", "6ef1f97c0ffee", "vcs.modified", "true")}, true, "(devel) rev 6ef1f97-dirty"},
		{"NoVCS", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "(devel)"},
		{"NoBuildInfo", nil, false, "(unknown version)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := version(tt.info, tt.ok); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestVersion_Build builds a program that prints Version in a git
// repository of its own, with this package's source copied in: 'go
// build' stamps VCS information only there (not in a git worktree, nor
// with GOFLAGS=-buildvcs=false).
func TestVersion_Build(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	dir := t.TempDir()
	src, err := os.ReadFile("buildinfo.go")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod":                 "module example.com/v\n\ngo 1.26\n",
		"buildinfo/buildinfo.go": string(src),
		"main.go":                "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/v/buildinfo\"\n)\n\nfunc main() { fmt.Println(buildinfo.Version()) }\n",
	}
	for name, content := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(env []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git := []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t", "GIT_COMMITTER_DATE=2026-11-29T23:08:00Z"}
	run(git, "git", "init", "--quiet")
	run(git, "git", "add", "-A")
	run(git, "git", "commit", "--quiet", "-m", "v")
	rev := run(git, "git", "rev-parse", "--short=7", "HEAD")
	run(append(git, "GOFLAGS=-buildvcs=true"), "go", "build", "-o", "v", ".")
	// Go 1.24 and later stamp a pseudo-version from the commit
	// (v0.0.0-20261129230800-<rev>); older ones leave (devel) and the
	// vcs.* settings, which Version turns into "(devel) rev <rev> <date>".
	got := run(nil, "./v")
	pseudo := regexp.MustCompile(`^v0\.0\.0-20261129230800-` + rev + `[0-9a-f]{5}$`)
	if !pseudo.MatchString(got) && got != "(devel) rev "+rev+" 2026-11-29" {
		t.Errorf("got %q, want the commit %s of 2026-11-29 named", got, rev)
	}
}

package hook_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/datadir"
)

// The data root and binary the examples assume.
const (
	exampleDataRoot = "/srv/git/quire-data"
	exampleBinary   = "/usr/local/bin/quire-hook"
)

// unitSettings reads the key=value lines of a systemd unit file.
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[k] = append(out[k], v)
		}
	}
	return out
}

// pushedRepo is a repository with one complete run of okPipeline.
func pushedRepo(t *testing.T) (*repo, datadir.Root) {
	t.Helper()
	r := newRepo(t)
	r.Pipeline(okPipeline)
	r.Commit("one")
	r.push()
	return r, datadir.Root(filepath.Join(r.Bare, "quire"))
}

func TestExamples_Systemd(t *testing.T) {
	dir := filepath.Join("..", "examples", "systemd")
	r, root := pushedRepo(t)
	for _, name := range []string{"quire-gc", "quire-reconcile"} {
		t.Run(name, func(t *testing.T) {
			unit := unitSettings(t, filepath.Join(dir, name+".service"))
			if _, err := os.Stat(filepath.Join(dir, name+".timer")); err != nil {
				t.Errorf("no timer for %s: %v", name, err)
			}
			if got, want := unit["Environment"], []string{"QUIRE_DATA_DIR=" + exampleDataRoot}; strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("Environment=%q, want %q", got, want)
			}
			// The condition names the database whose absence makes the
			// command exit 2.
			if got, want := unit["ConditionPathExists"], datadir.Root(exampleDataRoot).DB(); len(got) != 1 || got[0] != want {
				t.Errorf("ConditionPathExists=%q, want %s", got, want)
			}
			if len(unit["ExecStart"]) != 1 {
				t.Fatalf("ExecStart=%q", unit["ExecStart"])
			}
			args := strings.Fields(unit["ExecStart"][0])
			if args[0] != exampleBinary {
				t.Errorf("ExecStart runs %s, want %s", args[0], exampleBinary)
			}
			// The command works on a data root with runs, and exits 2
			// where no run was recorded.
			out, code := mainCombined(t, append(r.Env, "QUIRE_DATA_DIR="+string(root)), t.TempDir(), "", args[1:]...)
			if code != 0 {
				t.Errorf("%q: exit %d:\n%s", args[1:], code, out)
			}
			empty := t.TempDir()
			out, code = mainCombined(t, append(r.Env, "QUIRE_DATA_DIR="+empty), t.TempDir(), "", args[1:]...)
			if code != 2 || !strings.Contains(out, datadir.Root(empty).DB()) {
				t.Errorf("%q without a database: exit %d, want 2 naming it:\n%s", args[1:], code, out)
			}
		})
	}
	t.Run("SystemdAnalyzeVerify", func(t *testing.T) {
		if _, err := exec.LookPath("systemd-analyze"); err != nil {
			t.Skip("systemd-analyze is not installed")
		}
		// verify checks that ExecStart's binary exists: use the built one.
		tmp := t.TempDir()
		var units []string
		for _, name := range []string{"quire-gc.service", "quire-gc.timer", "quire-reconcile.service", "quire-reconcile.timer", "quire-serve.service"} {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(tmp, name)
			os.WriteFile(path, []byte(strings.ReplaceAll(string(data), exampleBinary, bin)), 0o644)
			units = append(units, path)
		}
		out, err := exec.Command("systemd-analyze", append([]string{"verify", "--man=no"}, units...)...).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})
}

// yamlValue returns the value of the first "key: value" line after the
// line containing after, in a YAML file, unquoted.
func yamlValue(t *testing.T, data, after, key string) string {
	t.Helper()
	_, rest, ok := strings.Cut(data, after)
	if !ok {
		t.Fatalf("no %q in the config", after)
	}
	for _, line := range strings.Split(rest, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+": "); ok {
			return strings.Trim(v, "'")
		}
	}
	t.Fatalf("no %s after %q", key, after)
	return ""
}

func TestExamples_FluentBit(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "examples", "fluent-bit", "fluent-bit.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	data := string(raw)
	for _, want := range []string{"multiline.parser: cri", "path_key: path", "key_name: path", "parser: quire_path"} {
		wantContains(t, data, want)
	}
	pathRE := regexp.MustCompile(yamlValue(t, data, "- name: quire_path", "regex"))
	globs := strings.Split(yamlValue(t, data, "- name: tail", "path"), ",")

	r, root := pushedRepo(t)
	run, _, events := r.lastRun()
	var files []string
	for _, g := range globs {
		if !strings.HasPrefix(g, exampleDataRoot+"/") {
			t.Fatalf("path %s is not under the data root %s of the systemd examples", g, exampleDataRoot)
		}
		matched, err := filepath.Glob(string(root) + strings.TrimPrefix(g, exampleDataRoot))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, matched...)
	}
	if len(files) != len(events) || len(files) == 0 {
		t.Fatalf("the paths match %q, want the run's %d sh logs", files, len(events))
	}
	// The same names the records use, and CRI lines as the cri parser
	// (Fluent Bit's parsers.conf) reads them.
	cri := regexp.MustCompile(`^(?<time>[^ ]+) (?<stream>stdout|stderr) (?<logtag>[^ ]*) (?<message>.*)$`)
	for _, f := range files {
		m := pathRE.FindStringSubmatch(f)
		if m == nil {
			t.Fatalf("the parser does not match %s", f)
		}
		got := map[string]string{}
		for i, name := range pathRE.SubexpNames() {
			got[name] = m[i]
		}
		if got["run_id"] != run.ID || got["job_id"] != "hello" || got["seq"] != "1" {
			t.Errorf("%s: parsed %v, want run %s, job hello, seq 1", f, got, run.ID)
		}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if !cri.MatchString(sc.Text()) {
				t.Errorf("%s: not a CRI line: %q", f, sc.Text())
			}
		}
		fh.Close()
	}
	// A nested job id keeps its slash.
	if m := pathRE.FindStringSubmatch("/d/runs/0191/jobs/quire/mirror/sh-12.log"); m == nil || m[2] != "quire/mirror" || m[3] != "12" {
		t.Errorf("nested job: %q", m)
	}
}

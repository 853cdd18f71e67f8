package hook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/hook"
	"github.com/quire-ci/quire-hook/pkg/buildinfo"
	"github.com/quire-ci/quire-hook/pkg/push"
)

var update = flag.Bool("update", false, "rewrite docs/quire-hook.1 from the command definitions")

// mainInProcess runs the command line in this process, as the binary would,
// and returns its stdout, stderr and exit code. Hooks that install
// writes run the real binary. For commands that run no job: jobs' sh
// processes need the hook's own process (subreaper, signals).
func mainInProcess(t *testing.T, env []string, dir, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = hook.Main(context.Background(), append([]string{"quire-hook"}, args...), hook.IO{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Env: env, Dir: dir, Executable: bin,
	})
	if text := out.String() + errOut.String(); strings.Contains(text, "goroutine ") || strings.Contains(text, "panic:") {
		t.Errorf("quire-hook %v printed a Go panic or stack trace:\n%s", args, text)
	}
	return out.String(), errOut.String(), code
}

// mainCombined is mainInProcess with stdout and stderr together, like
// runBin.
func mainCombined(t *testing.T, env []string, dir, stdin string, args ...string) (string, int) {
	t.Helper()
	out, errOut, code := mainInProcess(t, env, dir, stdin, args...)
	return out + errOut, code
}

// inProcess runs the command line in process in the repository's work tree,
// like quire runs the binary there.
func (r *repo) inProcess(stdin string, args ...string) (string, int) {
	r.t.Helper()
	return mainCombined(r.t, r.Env, r.Work, stdin, args...)
}

func TestVersion(t *testing.T) {
	out, errOut, code := mainInProcess(t, nil, t.TempDir(), "", "--version")
	if code != 0 || errOut != "" || out != "quire-hook "+buildinfo.Version()+"\n" {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// The binary was built here, without a module version (see
	// pkg/buildinfo for a build that has one).
	got, code := runBin(t, nil, t.TempDir(), "", "--version")
	if code != 0 || !strings.HasPrefix(got, "quire-hook ") || strings.Count(got, "\n") != 1 {
		t.Errorf("binary --version: exit %d, %q", code, got)
	}
}

func TestCompletion(t *testing.T) {
	dir := t.TempDir()
	script := map[string]string{}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		out, errOut, code := mainInProcess(t, nil, dir, "", "completion", shell)
		if code != 0 || errOut != "" || !strings.Contains(out, "quire-hook") {
			t.Fatalf("completion %s: exit %d, stderr %q:\n%s", shell, code, errOut, out)
		}
		script[shell] = out
	}
	wantContains(t, script["zsh"], "#compdef quire-hook")
	wantContains(t, script["fish"], "complete -r -c quire-hook -n '__fish_quire-hook_no_subcommand' -a 'replay'")
	if strings.Contains(script["fish"], "async-worker") {
		t.Errorf("the fish completion offers the hidden async-worker command")
	}
	for _, shell := range []string{"zsh", "fish"} {
		if _, err := exec.LookPath(shell); err == nil {
			cmd := exec.Command(shell, "-n")
			cmd.Stdin = strings.NewReader(script[shell])
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s", shell, err, out)
			}
		}
	}

	// bash parses the script, and completing with it asks the binary.
	path := filepath.Join(dir, "quire-hook.bash")
	os.WriteFile(path, []byte(script["bash"]), 0o644)
	if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	complete := func(words ...string) []string {
		t.Helper()
		cmd := exec.Command("bash", "-c", `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _quire_hook; printf '%s\n' "${COMPREPLY[@]}"`,
			"bash", path, "quire-hook")
		cmd.Args = append(cmd.Args, words...)
		cmd.Env = []string{"PATH=" + filepath.Dir(bin) + ":" + os.Getenv("PATH")}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("complete %q: %v", words, err)
		}
		got := strings.Fields(string(out))
		slices.Sort(got)
		return got
	}
	for _, tt := range []struct {
		words []string
		want  string
	}{
		{[]string{"re"}, "reconcile replay"},
		{[]string{"install", "--ch"}, "--chain"},
		{[]string{"install", "--git-d"}, "--git-dir"}, // a global flag after the command
		{[]string{"--da"}, "--data-dir"},
	} {
		if got := strings.Join(complete(tt.words...), " "); got != tt.want {
			t.Errorf("complete %q: got %q, want %q", tt.words, got, tt.want)
		}
	}

	for _, args := range [][]string{{"completion"}, {"completion", "tcsh"}, {"completion", "bash", "zsh"}} {
		if out, code := mainCombined(t, nil, dir, "", args...); code != 2 || strings.Count(out, "\n") != 1 {
			t.Errorf("%v: exit %d, want 2 with one line:\n%s", args, code, out)
		}
	}
}

// TestMan keeps docs/quire-hook.1 the output of the hidden man command;
// go test ./hook/ -run TestMan -update rewrites it.
func TestMan(t *testing.T) {
	page, errOut, code := mainInProcess(t, nil, t.TempDir(), "", "man")
	if code != 0 || errOut != "" {
		t.Fatalf("man: exit %d: %s", code, errOut)
	}
	for _, want := range []string{".TH quire-hook 1", "install", "validate", "completion", "--git-dir", "<rev>", "<git-dir>/quire"} {
		wantContains(t, page, want)
	}
	for _, hidden := range []string{"async-worker", "print the man page"} {
		if strings.Contains(page, hidden) {
			t.Errorf("the man page shows the hidden %q", hidden)
		}
	}
	golden := filepath.Join("..", "docs", "quire-hook.1")
	if *update {
		if err := os.WriteFile(golden, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if data, err := os.ReadFile(golden); err != nil || string(data) != page {
		t.Errorf("docs/quire-hook.1 is not the man command's output (%v); run scripts/gen-man.sh", err)
	}
}

// globalFlags are the global flags with a value to give each.
func globalFlags(t *testing.T) map[string]string {
	t.Helper()
	values := map[string]string{"git-dir": "/no/such/repo.git", "data-dir": "/no/such/data", "config": "/no/such/config.lua"}
	out := map[string]string{}
	for _, f := range hook.App(hook.IO{}).Flags {
		name := f.Names()[0]
		switch {
		case name == "version":
		case values[name] != "":
			out[name] = values[name]
		default:
			if _, ok := f.(*cli.BoolFlag); !ok {
				t.Fatalf("global flag --%s needs a test value", name)
			}
			out[name] = ""
		}
	}
	return out
}

func TestGlobalFlagsAfterTheCommand(t *testing.T) {
	t.Run("EveryCommandEveryFlag", func(t *testing.T) {
		for _, cmd := range hook.App(hook.IO{}).Commands {
			for name, value := range globalFlags(t) {
				args := []string{cmd.Name, "--" + name}
				if value != "" {
					args = append(args, value)
				}
				out, code := mainCombined(t, nil, t.TempDir(), "", append(args, "--help")...)
				if code != 0 {
					t.Errorf("%v --help: exit %d:\n%s", args, code, out)
				}
			}
		}
	})

	// The same command line with each global flag before and after the
	// command does the same; without the flag it does something else.
	r := newRepo(t)
	r.Pipeline(okPipeline)
	r.Commit("one")
	r.push()
	fresh := gittestBare(t)
	elsewhere := t.TempDir() // not a repository: the flags must name it
	dataRoot := filepath.Join(r.Bare, "quire")
	deleted := push.ZeroSHA + " " + push.ZeroSHA + " refs/heads/gone\n"
	cases := []struct {
		name   string
		global []string
		args   []string
		stdin  string
	}{
		{"ValidateGitDir", []string{"--git-dir", r.Bare}, []string{"validate"}, ""},
		{"RunsDataDir", []string{"--data-dir", dataRoot}, []string{"runs"}, ""},
		{"ShowGitDir", []string{"--git-dir", r.Bare}, []string{"show", "latest"}, ""},
		{"LogsGitDir", []string{"--git-dir", r.Bare}, []string{"logs", "latest"}, ""},
		{"CancelGitDir", []string{"--git-dir", r.Bare}, []string{"cancel", "latest"}, ""},
		{"GCDataDir", []string{"--data-dir", dataRoot}, []string{"gc", "--keep", "10"}, ""},
		{"ReconcileDataDir", []string{"--data-dir", dataRoot}, []string{"reconcile"}, ""},
		{"ReplayConfig", []string{"--git-dir", r.Bare, "--config", "/no/such/config.lua"}, []string{"replay", "main"}, ""},
		{"PostReceiveQuiet", []string{"--git-dir", r.Bare, "--quiet"}, []string{"post-receive"}, deleted},
		{"InstallGitDir", []string{"--git-dir", fresh}, []string{"install"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			without, _ := mainCombined(t, r.Env, elsewhere, c.stdin, append(c.global[:len(c.global)-2:len(c.global)-2], c.args...)...)
			before, codeBefore := mainCombined(t, r.Env, elsewhere, c.stdin, append(c.global, c.args...)...)
			after, codeAfter := mainCombined(t, r.Env, elsewhere, c.stdin, append(append([]string{c.args[0]}, c.global...), c.args[1:]...)...)
			if before != after || codeBefore != codeAfter {
				t.Errorf("flags before the command: exit %d:\n%s\nafter it: exit %d:\n%s", codeBefore, before, codeAfter, after)
			}
			// Also after the command's arguments ("show latest --git-dir X").
			last, codeLast := mainCombined(t, r.Env, elsewhere, c.stdin, append(append([]string{}, c.args...), c.global...)...)
			if before != last || codeBefore != codeLast {
				t.Errorf("flags before the command: exit %d:\n%s\nafter its arguments: exit %d:\n%s", codeBefore, before, codeLast, last)
			}
			if after == without {
				t.Errorf("%v changed nothing:\n%s", c.global[len(c.global)-2:], after)
			}
		})
	}
	t.Run("ReplayVerbose", func(t *testing.T) {
		// Jobs run in the binary; the verbose lines carry the job's output.
		out, code := r.quire("", "replay", "--verbose", "--git-dir", r.Bare, "main")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		wantContains(t, out, "[hello] hello from hello")
	})
}

// gittestBare makes an empty bare repository.
func gittestBare(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fresh.git")
	if out, err := exec.Command("git", "init", "--quiet", "--bare", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	return dir
}

func TestValidate_JSON(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.lua")
	os.WriteFile(good, []byte(`local ci = require("quire.ci")
ci.image("golang:1.26")
ci.job("build", {"test", "quire/push"}, function(q) end)
ci.job("test", {"quire/push"}, function(q) end)
`), 0o644)
	out, errOut, code := mainInProcess(t, nil, dir, "", "validate", "--json", "--file", good)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	type job struct {
		ID     string   `json:"id"`
		Inputs []string `json:"inputs"`
		File   string   `json:"file"`
		Line   int      `json:"line"`
	}
	type problem struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Message string `json:"message"`
	}
	var doc struct {
		Valid    bool      `json:"valid"`
		Image    string    `json:"image"`
		Jobs     []job     `json:"jobs"`
		Problems []problem `json:"problems"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil || dec.More() {
		t.Fatalf("not one JSON document (%v):\n%s", err, out)
	}
	if !doc.Valid || doc.Image != "golang:1.26" || len(doc.Jobs) != 2 || doc.Problems == nil || len(doc.Problems) != 0 {
		t.Fatalf("document: %+v", doc)
	}
	if j := doc.Jobs[0]; j.ID != "test" || strings.Join(j.Inputs, ",") != "quire/push" || j.Line != 4 || j.File == "" {
		t.Errorf("first job: %+v", j)
	}
	if j := doc.Jobs[1]; j.ID != "build" || strings.Join(j.Inputs, ",") != "test,quire/push" || j.Line != 3 {
		t.Errorf("second job: %+v", j)
	}

	bad := filepath.Join(dir, "bad.lua")
	os.WriteFile(bad, []byte(`local ci = require("quire.ci")
ci.job("a", {"b"}, function(q) end)
ci.job("b", {"a"}, function(q) end)
ci.job("c", {}, function(q) end)
`), 0o644)
	out, errOut, code = mainInProcess(t, nil, dir, "", "validate", "--file", bad, "--json")
	if code != 1 || !strings.HasPrefix(errOut, "quire-hook: pipeline has ") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want 1 and one line", code, errOut)
	}
	doc.Problems = nil
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if doc.Valid || len(doc.Jobs) != 0 || len(doc.Problems) < 2 {
		t.Fatalf("document: %+v", doc)
	}
	found := false
	for _, p := range doc.Problems {
		if p.File == "" {
			t.Errorf("problem without a file: %+v", p)
		}
		if p.Line == 4 && strings.Contains(p.Message, "Job 'c' has empty inputs") {
			found = true
		}
	}
	if !found {
		t.Errorf("no problem at line 4 about job c: %+v", doc.Problems)
	}
}

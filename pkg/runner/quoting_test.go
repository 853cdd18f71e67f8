package runner

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/quire-ci/quire-hook/pkg/config"
	"github.com/quire-ci/quire-hook/pkg/redact"
)

// quotingSecrets hold the bytes that quoting changes: a shell quote, a
// JSON/Go quote, a backslash, a non-breaking space (not printable for
// Go's %q), other non-ASCII and invalid UTF-8, and a newline. Each ends
// in "s3cret", which nothing else in the tests writes.
var quotingSecrets = map[string]string{
	"apos":     "it's-my-s3cret",
	"dquote":   `say"hi"-s3cret`,
	"bslash":   `back\slash-s3cret`,
	"nbsp":     "tok\u00a0en-s3cret",
	"nonascii": "caf\u00e9-\xff\xfe-s3cret",
	"newline":  "first-line-s3cret\nsecond-line-s3cret",
}

// quotedForms returns the texts that reveal v: v, its Go-quoted,
// shell-quoted and JSON-escaped forms, and for a value of several lines
// each line of each form.
func quotedForms(v string) []string {
	goq := strconv.Quote(v)
	js, _ := json.Marshal(v)
	forms := []string{
		v,
		goq[1 : len(goq)-1],
		strings.ReplaceAll(v, "'", `'\''`),
		string(js[1 : len(js)-1]),
	}
	base := forms
	for _, f := range base {
		for _, line := range strings.Split(f, "\n") {
			if len(line) >= redact.MinLen && line != f {
				forms = append(forms, line)
			}
		}
	}
	return forms
}

// TestRunner_SecretsQuoted is bug 5 of issue 7: a secret must not reach
// the records or the pusher through quire-hook's own quoting, the
// shell-quoted cmd of an argv call or Go's %q in its messages.
func TestRunner_SecretsQuoted(t *testing.T) {
	t.Parallel()
	pipeline := `
local function leak(q, name)
  local v = q.secret(name)
  local r = q.sh({"echo", v})
  q.log("cmd kept: " .. tostring(r.cmd == "echo '" .. v:gsub("'", "'\\''") .. "'"))
  q.sh({"printf", "%s\n", "--token=" .. v})
  q.sh({"quire-no-such-program-" .. v})
  for _, f in ipairs({
    function() return q.read_file(v) end,
    function() return q.read_file("sub/" .. v .. ".txt") end,
    function() return q.write_file("sub/file.txt/" .. v, "x") end,
    function() return q.sh({"true"}, {cwd = v}) end,
    function() return q.sh({"true"}, {cwd = "sub/file.txt/" .. v}) end,
    function() return q.sh({"true"}, {[v] = 1}) end,
    function() return q.sh({"true"}, {env = {[v .. "="] = "x"}}) end,
    function() return q.secret(v) end,
  }) do
    local ok, err = pcall(f)
    q.log(ok and "no error" or err)
  end
  q.sh({"sh", "-c", "exit 3", "sh", v}, {check = true})
end
`
	for name := range quotingSecrets {
		pipeline += `ci.job("` + name + `", {"quire/push"}, function(q) leak(q, "` + name + `") end)` + "\n"
	}
	// A secret ending in the first byte of a two-byte rune whose second
	// byte follows it in the path: quoted whole, the pair is printed as
	// one rune, so the quoted value appears nowhere; only redacting
	// before quoting finds it.
	pipeline += `ci.job("split", {"quire/push"}, function(q)
  local v = q.secret("split")
  for _, f in ipairs({
    function() return q.read_file(v .. "\160") end,
    function() return q.sh({"true"}, {cwd = v .. "\160"}) end,
  }) do
    local ok, err = pcall(f)
    q.log(ok and "no error" or err)
  end
end)
`
	h := newHarness(t, pipeline)
	h.repo.Write("sub/file.txt", "x\n")
	h.Verbose = true
	h.Secrets = map[string]config.Secret{}
	for name, v := range quotingSecrets {
		h.Secrets[name] = config.Secret{Value: v}
	}
	h.Secrets["split"] = config.Secret{Value: "split-s3cret\xc2"}
	o := h.run()

	// Every sink: the rows, every file of the run directory and what the
	// pusher saw.
	sinks := map[string]string{"progress": o.progress}
	for _, e := range o.sh {
		sinks["sh_events.cmd of "+e.JobID+" "+strconv.Itoa(e.Seq)] = e.Cmd
	}
	for id, j := range o.jobs {
		sinks["jobs.error of "+id] = j.Error
		sinks["jobs.outputs of "+id] = j.Outputs
	}
	sinks["runs.error"] = o.run.Error
	err := filepath.WalkDir(o.runDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		sinks[path] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	for name := range quotingSecrets {
		t.Run(name, func(t *testing.T) {
			j := o.wantState(name, "failed")
			if !strings.Contains(j.Error, "exited with 3 (check = true)") {
				t.Errorf("jobs.error = %q, want the check failure", j.Error)
			}
			jobLog := sinks[filepath.Join(o.jobDir(name), "job.log")]
			if !strings.Contains(jobLog, "cmd kept: true") {
				t.Errorf("r.cmd returned to Lua lost the value; job.log:\n%s", jobLog)
			}
			if got := strings.Count(jobLog, "{{ "+name+" }}"); got < 8 {
				t.Errorf("job.log names {{ %s }} %d times, want each refused call's message:\n%s", name, got, jobLog)
			}
			for sink, text := range sinks {
				for _, form := range quotedForms(quotingSecrets[name]) {
					if strings.Contains(text, form) {
						t.Errorf("%s holds %q:\n%s", sink, form, text)
					}
				}
			}
		})
	}
	t.Run("Nowhere", func(t *testing.T) {
		for sink, text := range sinks {
			if strings.Contains(text, "s3cret") {
				t.Errorf("%s holds a piece of a secret:\n%s", sink, text)
			}
		}
	})
}

func TestShCommand_Redacted(t *testing.T) {
	secrets := new(redact.Set)
	for name, v := range map[string]string{"tok": "s3cr3t-tok", "apos": "it's-s3cr3t", "two": "two words-s3cr3t"} {
		if err := secrets.Add(name, v); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name          string
		argv          []string
		display, want string
	}{
		{"Bare", []string{"echo", "s3cr3t-tok", "--t=s3cr3t-tok"}, "echo s3cr3t-tok --t=s3cr3t-tok", "echo {{ tok }} --t={{ tok }}"},
		{"InQuotedWord", []string{"echo", "a b s3cr3t-tok"}, "echo 'a b s3cr3t-tok'", "echo 'a b {{ tok }}'"},
		{"Apostrophe", []string{"echo", "it's-s3cr3t", "x'it's-s3cr3t"}, `echo 'it'\''s-s3cr3t' 'x'\''it'\''s-s3cr3t'`, `echo '{{ apos }}' 'x'\''{{ apos }}'`},
		{"SpansWords", []string{"echo", "two", "words-s3cr3t"}, "echo two words-s3cr3t", "echo {{ two }}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := &lua.LTable{}
			for _, a := range tt.argv {
				tbl.Append(lua.LString(a))
			}
			argv, display, shown, err := shCommand(tbl, secrets)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(argv, tt.argv) || display != tt.display || shown != tt.want {
				t.Errorf("got %q, %q, %q; want %q, %q, %q", argv, display, shown, tt.argv, tt.display, tt.want)
			}
		})
	}
}

package hook_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/crilog"
	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// leakPipeline prints the secrets every way a job can: in a command
// line, on stdout and stderr, split across two writes, inside a 40 KiB
// line across a CRI chunk boundary, as a multi-line value, in q.log and
// print, in outputs, and in an error. A later job that never calls
// q.secret prints it again from the outputs it reads.
const leakPipeline = `
local ci = require("quire.ci")
ci.job("leak", {"quire/push"}, function(q)
  local tok, pem, quoted = q.secret("token"), q.secret("pem"), q.secret("quoted")
  q.sh("echo stdout " .. tok)
  q.sh({"sh", "-c", 'echo "$0" >&2', tok})
  q.sh('printf %s "$H1"; sleep 0.2; printf "%s\\n" "$H2"', {env = {H1 = tok:sub(1, 9), H2 = tok:sub(10)}})
  q.sh('head -c 16380 /dev/zero | tr "\\0" a; printf %s "$T"; head -c 24576 /dev/zero | tr "\\0" b; echo', {env = {T = tok}})
  q.sh('printf "%s\\n" "$P"', {env = {P = pem}})
  q.log("q.log says", tok)
  print("print says " .. quoted)
  local r = q.sh('printf %s "$T"', {env = {T = tok}})
  return {same = r.stdout == tok, tok = tok, quoted = quoted, nested = {pem = pem}}
end)
ci.job("check", {"leak"}, function(q)
  return {real = q.jobs("leak").tok == q.secret("token") and q.jobs("leak").nested.pem == q.secret("pem")}
end)
ci.job("fails", {"leak"}, function(q)
  local tok = q.jobs("leak").tok
  q.sh("echo later " .. tok)
  error("failed with " .. tok)
end)
`

func TestPostReceive_SecretsRedacted(t *testing.T) {
	r := newRepo(t)
	dir := t.TempDir()
	secrets := map[string]string{
		"token":  "tok-9f8e7d6c5b4a39281706",
		"pem":    "-----BEGIN TEST KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END TEST KEY-----",
		"quoted": `q"uo\te-7c6b5a4938`,
	}
	pemFile := filepath.Join(dir, "pem")
	writeFile(t, pemFile, secrets["pem"]+"\n")
	config := filepath.Join(dir, "config.lua")
	writeFile(t, config, `return { secrets = {
  token = "`+secrets["token"]+`",
  pem = { file = "`+pemFile+`" },
  quoted = [[`+secrets["quoted"]+`]],
} }`)
	r.Env = append(r.Env, "QUIRE_CONFIG="+config)
	r.Git(r.Bare, "config", "quire.verbose", "true")
	r.Pipeline(leakPipeline)
	r.Commit("leak")
	progress := r.push()

	run, jobs, events := r.lastRun()
	dataRoot := filepath.Join(r.Bare, "quire")
	t.Run("Nowhere", func(t *testing.T) {
		assertNowhere(t, dataRoot, secretTexts(secrets))
		for name, text := range secretTexts(secrets) {
			if strings.Contains(progress, text) {
				t.Errorf("progress shows %s", name)
			}
		}
	})
	t.Run("RealValueInLua", func(t *testing.T) {
		if jobs["leak"].State != "complete" || jobs["check"].State != "complete" {
			t.Fatalf("leak %s %q, check %s %q", jobs["leak"].State, jobs["leak"].Error, jobs["check"].State, jobs["check"].Error)
		}
		if got, want := jobs["check"].Outputs, `{"real":true}`; got != want {
			t.Errorf("check outputs = %s, want %s", got, want)
		}
	})
	t.Run("Outputs", func(t *testing.T) {
		var out map[string]any
		if err := json.Unmarshal([]byte(jobs["leak"].Outputs), &out); err != nil {
			t.Fatalf("outputs %s: %v", jobs["leak"].Outputs, err)
		}
		want := map[string]any{"same": true, "tok": "{{ token }}", "quoted": "{{ quoted }}", "nested": map[string]any{"pem": "{{ pem }}"}}
		if got, _ := json.Marshal(out); string(got) != mustJSON(t, want) {
			t.Errorf("outputs = %s, want %s", got, mustJSON(t, want))
		}
	})
	t.Run("Replaced", func(t *testing.T) {
		logs := filepath.Join(r.runDir(run.ID), "jobs")
		for _, c := range []struct{ file, want string }{
			{"leak/sh-1.log", " stdout F stdout {{ token }}\n"},
			{"leak/sh-2.log", " stderr F {{ token }}\n"},
			{"leak/sh-3.log", " stdout F {{ token }}\n"},
			{"leak/sh-5.log", " stdout F {{ pem }}\n"},
			{"leak/job.log", " stdout F q.log says\t{{ token }}\n"},
			{"leak/job.log", " stdout F print says {{ quoted }}\n"},
			{"fails/sh-1.log", " stdout F later {{ token }}\n"},
			{"fails/job.log", "failed with {{ token }}"},
		} {
			data, err := os.ReadFile(filepath.Join(logs, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), c.want) {
				t.Errorf("%s lacks %.80q", c.file, c.want)
			}
		}
		// The replacement is cut like any text: the line of 16380 a's,
		// the token and 24 KiB of b's reads back whole.
		want := strings.Repeat("a", 16380) + "{{ token }}" + strings.Repeat("b", 24576)
		if lines := logLines(t, filepath.Join(logs, "leak/sh-4.log")); len(lines) != 1 || lines[0] != want {
			t.Errorf("leak/sh-4.log decodes to %d lines, want the long line redacted", len(lines))
		}
		if got, want := events[0].Cmd, "echo stdout {{ token }}"; got != want {
			t.Errorf("sh_events.cmd = %q, want %q", got, want)
		}
		if got, want := events[1].Cmd, `sh -c 'echo "$0" >&2' {{ token }}`; got != want {
			t.Errorf("sh_events.cmd = %q, want %q", got, want)
		}
		wantContains(t, jobs["fails"].Error, "failed with {{ token }}")
		wantContains(t, progress, "[leak] stdout {{ token }}")
		wantContains(t, progress, "[leak] {{ pem }}")
		wantContains(t, progress, "job fails failed in")
	})
}

func TestPostReceive_SecretErrors(t *testing.T) {
	r := newRepo(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "short"), "abc\n")
	writeFile(t, filepath.Join(dir, "crlf"), "file-secret-value\r\n\n")
	config := filepath.Join(dir, "config.lua")
	writeFile(t, config, `return { secrets = {
  missing = { file = "`+filepath.Join(dir, "no-such-file")+`" },
  short = { file = "`+filepath.Join(dir, "short")+`" },
  crlf = { file = "`+filepath.Join(dir, "crlf")+`" },
} }`)
	r.Env = append(r.Env, "QUIRE_CONFIG="+config)
	r.Pipeline(`
local ci = require("quire.ci")
ci.job("undeclared", {"quire/push"}, function(q) q.secret("nope") end)
ci.job("missing", {"quire/push"}, function(q) q.secret("missing") end)
ci.job("short", {"quire/push"}, function(q) q.secret("short") end)
ci.job("newline", {"quire/push"}, function(q) return {v = q.secret("crlf") == "file-secret-value\r\n"} end)
`)
	r.Commit("secret errors")
	r.push()
	_, jobs, _ := r.lastRun()
	for _, c := range []struct{ job, want string }{
		{"undeclared", `secret "nope" is not declared`},
		{"missing", "read secret file " + filepath.Join(dir, "no-such-file") + ": no such file or directory"},
		{"short", `secret "short" is shorter than 4 bytes`},
	} {
		t.Run(c.job, func(t *testing.T) {
			if jobs[c.job].State != "failed" {
				t.Errorf("state %s, want failed", jobs[c.job].State)
			}
			wantContains(t, jobs[c.job].Error, c.want)
		})
	}
	t.Run("OneNewlineStripped", func(t *testing.T) {
		// "value\r\n\n" loses its last "\n" only.
		if got, want := jobs["newline"].Outputs, `{"v":true}`; got != want {
			t.Errorf("outputs = %s, want %s (state %s %q)", got, want, jobs["newline"].State, jobs["newline"].Error)
		}
	})
}

// secretTexts returns the texts that must not be written for secrets:
// each value, each line of at least 4 bytes of a multi-line value, and
// the JSON-escaped form of each.
func secretTexts(secrets map[string]string) map[string]string {
	out := map[string]string{}
	for name, v := range secrets {
		out[name] = v
		for i, line := range strings.Split(v, "\n") {
			if len(line) >= 4 && line != v {
				out[name+" line "+string(rune('1'+i))] = line
			}
		}
		esc, _ := json.Marshal(v)
		out[name+" escaped"] = strings.Trim(string(esc), `"`)
	}
	return out
}

// assertNowhere fails the test if any of texts appears in a file under
// root (the database and its WAL included, as bytes) or in a text column
// of any row of any table of root/quire.db.
func assertNowhere(t *testing.T, root string, texts map[string]string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for name, text := range texts {
			if bytes.Contains(data, []byte(text)) {
				t.Errorf("%s holds %s", path, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("only %d files under %s", files, root)
	}

	conn, err := sqlite.OpenConn(filepath.Join(root, "quire.db"), sqlite.OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var tables []string
	err = sqlitex.ExecuteTransient(conn, "SELECT name FROM sqlite_master WHERE type = 'table'", &sqlitex.ExecOptions{
		ResultFunc: func(stmt *sqlite.Stmt) error { tables = append(tables, stmt.ColumnText(0)); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	cells := 0
	for _, table := range tables {
		err := sqlitex.ExecuteTransient(conn, `SELECT * FROM "`+table+`"`, &sqlitex.ExecOptions{
			ResultFunc: func(stmt *sqlite.Stmt) error {
				for i := range stmt.ColumnCount() {
					if stmt.ColumnType(i) != sqlite.TypeText {
						continue
					}
					cells++
					for name, text := range texts {
						if strings.Contains(stmt.ColumnText(i), text) {
							t.Errorf("%s.%s holds %s", table, stmt.ColumnName(i), name)
						}
					}
				}
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if cells == 0 {
		t.Fatal("no text in the database")
	}
}

// logLines decodes the CRI log at path into its lines.
func logLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	r := crilog.NewReader(f)
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return lines
		}
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(e.Content))
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

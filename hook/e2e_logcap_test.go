package hook_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// A push whose sh call prints past max_log_bytes: the call runs to its
// real exit, its log is bounded and ends saying how much was dropped,
// and its row says log_truncated.
func TestPush_MaxLogBytes(t *testing.T) {
	r := newRepo(t)
	writeConfig(t, filepath.Join(r.Bare, "quire", "config.lua"), `return { max_log_bytes = 50000 }`)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("loud", {"quire/push"}, function(q)
  local r = q.sh("yes | head -c 2000000; exit 3")
  return {exit = r.exit, captured = #r.stdout}
end)`)
	r.Commit("loud")
	r.push()

	run, jobs, events := r.lastRun()
	if run.State != "complete" {
		t.Fatalf("run %s: %s %s", run.ID, run.State, run.Error)
	}
	if got := jobs["loud"].Outputs; got != `{"captured":1048576,"exit":3}` {
		t.Errorf("outputs %s, want exit 3 and the first MiB captured", got)
	}
	if len(events) != 1 || !events[0].LogTruncated || events[0].ExitCode != 3 || events[0].StdoutBytes != 2_000_000 {
		t.Errorf("sh_events %+v, want one truncated call, exit 3, 2000000 stdout bytes", events)
	}
	log := filepath.Join(r.runDir(run.ID), "jobs", "loud", "sh-1.log")
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 50000+200 {
		t.Errorf("log is %d bytes, want at most max_log_bytes (50000) and one line", len(data))
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	last := string(lines[len(lines)-1])
	if !regexp.MustCompile(` stderr F quire: log truncated at max_log_bytes \(50000 bytes\): \d+ bytes of output were dropped$`).MatchString(last) {
		t.Errorf("last line %q, want the truncation line", last)
	}
}

package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/config"
)

// TestRunner_KeptHandle is bug 8 of issue 7: a job that keeps its q (or
// its print) for a later job must not run anything with it once it ended.
func TestRunner_KeptHandle(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "touched")
	h := newHarness(t, `
ci.job("first", {"quire/push"}, function(q)
  _G.keep = q
  _G.keep_print = print
  q.sh({"true"})
  q.log("first ran")
end)
ci.job("later", {"first"}, function(q)
  local errs = {}
  local calls = {
    sh = function() return _G.keep.sh({"/usr/bin/touch", "`+marker+`"}) end,
    jobs = function() return _G.keep.jobs("quire/push") end,
    log = function() return _G.keep.log("kept log") end,
    read_file = function() return _G.keep.read_file("file.txt") end,
    write_file = function() return _G.keep.write_file("kept.txt", "x") end,
    env = function() return _G.keep.env("HOME") end,
    secret = function() return _G.keep.secret("tok") end,
    print = function() return _G.keep_print("kept print") end,
  }
  for name, f in pairs(calls) do
    local ok, err = pcall(f)
    errs[name] = ok and "ran" or err
  end
  print("later's own print")
  return errs
end)
`)
	h.repo.Write("file.txt", "x\n")
	h.Secrets = map[string]config.Secret{"tok": {Value: "kept-s3cret"}}
	h.Settings.KeepWorkspace = true
	o := h.run()

	o.wantState("first", "complete")
	o.wantState("later", "complete")
	want := "q of job 'first' is used after that job ended; use the q passed to this job"
	for name, got := range o.outputs("later") {
		if msg, _ := got.(string); !strings.Contains(msg, want) {
			t.Errorf("kept %s: %q, want an error containing %q", name, msg, want)
		}
	}
	if len(o.outputs("later")) != 8 {
		t.Errorf("outputs = %v, want one entry per method", o.outputs("later"))
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("the kept q.sh ran: %s exists (%v)", marker, err)
	}
	if _, err := os.Stat(filepath.Join(o.runDir, "workspace", "kept.txt")); !os.IsNotExist(err) {
		t.Errorf("the kept q.write_file wrote kept.txt (%v)", err)
	}
	if evs := o.shEvents("first"); len(evs) != 1 {
		t.Errorf("first has %d sh_events, want its own 1: %+v", len(evs), evs)
	}
	if evs := o.shEvents("later"); len(evs) != 0 {
		t.Errorf("later has sh_events %+v, want none", evs)
	}
	if _, err := os.Stat(o.shLogPath("first", 2)); !os.IsNotExist(err) {
		t.Errorf("the kept q.sh made %s (%v)", o.shLogPath("first", 2), err)
	}
	firstLog := text(o.lines(filepath.Join(o.jobDir("first"), "job.log")))
	if firstLog != "stdout: first ran\n" {
		t.Errorf("first's job.log = %q, want only its own line", firstLog)
	}
	laterLog := text(o.lines(filepath.Join(o.jobDir("later"), "job.log")))
	if laterLog != "stdout: later's own print\n" {
		t.Errorf("later's job.log = %q, want only its own print", laterLog)
	}
}

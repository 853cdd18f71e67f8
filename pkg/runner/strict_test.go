package runner

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/config"
)

// TestRunner_HandleTypo is the new-operator walkthrough's typo at run
// time: a misspelt field of q fails the job with a message that names it
// (and the nearest field when one is near), in jobs.error and job.log,
// and the traceback names the job's function, not "main chunk". Every
// documented field of q still reads as before.
func TestRunner_HandleTypo(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `
ci.job("near", {"quire/push"}, function(q)
  q.shh("echo hi")
end)
ci.job("far", {"quire/push"}, function(q)
  local r = q.deploy
end)
ci.job("result", {"quire/push"}, function(q)
  local r = q.sh("true")
  if r.exti ~= 0 then error("tests failed") end
end)
ci.job("fields", {"quire/push"}, function(q)
  local r = q.sh("echo hi")
  q.log("logged")
  q.write_file("out.txt", "w")
  local names = {}
  for k in pairs(q) do names[#names + 1] = k end
  table.sort(names)
  return {
    stdout = r.stdout,
    result = (r.exit == 0 and r.stderr == "" and r.cmd == "echo hi") and "read" or "wrong",
    branch = q.jobs("quire/push").branch,
    read = q.read_file("out.txt"),
    home = q.env("QUIRE_TEST_HOME"),
    secret = #q.secret("tok"),
    ids = (q.run_id ~= "" and q.job_id == "fields" and q.workspace ~= "") and "set" or "unset",
    names = table.concat(names, ","),
    meta = type(getmetatable(q)),
  }
end)
`)
	h.Secrets = map[string]config.Secret{"tok": {Value: "s3cret-value"}}
	h.Env = []string{"QUIRE_TEST_HOME=/home/test"}
	o := h.run()

	tests := []struct{ job, want string }{
		{"near", `.quire/ci.lua:4: q has no field "shh" (did you mean "sh"?)` +
			"\nstack traceback:\n\t[G]: ?\n\t.quire/ci.lua:4: in function <.quire/ci.lua:3>"},
		{"far", `.quire/ci.lua:7: q has no field "deploy"` +
			"\nstack traceback:\n\t[G]: ?\n\t.quire/ci.lua:7: in function <.quire/ci.lua:6>"},
		// Not "tests failed": the typo reads as the error it is.
		{"result", `.quire/ci.lua:11: sh result has no field "exti" (did you mean "exit"?)` +
			"\nstack traceback:\n\t[G]: ?\n\t.quire/ci.lua:11: in function <.quire/ci.lua:9>"},
	}
	for _, tt := range tests {
		t.Run(tt.job, func(t *testing.T) {
			j := o.wantState(tt.job, "failed")
			if j.Error != tt.want {
				t.Errorf("error\n got %q\nwant %q", j.Error, tt.want)
			}
			log := text(o.lines(filepath.Join(o.jobDir(tt.job), "job.log")))
			if first, _, _ := strings.Cut(tt.want, "\n"); !strings.Contains(log, first) {
				t.Errorf("job.log lacks %q:\n%s", first, log)
			}
		})
	}

	o.wantState("fields", "complete")
	got := o.outputs("fields")
	want := map[string]any{
		"stdout": "hi\n", "result": "read", "branch": "main", "read": "w", "home": "/home/test", "secret": float64(12), "ids": "set",
		"names": "env,job_id,jobs,log,read_file,run_id,secret,sh,workspace,write_file", "meta": "table",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("outputs[%s] = %#v, want %#v", k, got[k], w)
		}
	}
}

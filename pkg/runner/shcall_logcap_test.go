package runner

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

// A call whose output passes max_log_bytes keeps running to its real
// exit; its log stops near the bound and ends saying how much was
// dropped; Lua still gets the first MiB; the row says log_truncated.
func TestShCall_MaxLogBytes(t *testing.T) {
	t.Parallel()
	const max = 100_000
	h := newHarness(t, `
ci.job("loud", {"quire/push"}, function(q)
  local r = q.sh("yes | head -c 2000000; echo done >&2; exit 3")
  local small = q.sh("echo small")
  return {exit = r.exit, stdout = #r.stdout, stderr = r.stderr, small = small.stdout}
end)
`)
	h.Settings.MaxLogBytes = max
	o := h.run()
	o.wantState("loud", "complete")
	got := o.outputs("loud")
	if got["exit"] != float64(3) || got["stdout"] != float64(MaxCapture) || got["stderr"] != "done\n" || got["small"] != "small\n" {
		t.Errorf("result %v, want exit 3, the first MiB of stdout, stderr done and the next call's output", got)
	}

	path := o.shLogPath("loud", 1)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > max+200 || fi.Size() < max/2 {
		t.Errorf("log is %d bytes, want about %d", fi.Size(), max)
	}
	recs := o.records(path)
	last := recs[len(recs)-1]
	m := regexp.MustCompile(`^quire: log truncated at max_log_bytes \(100000 bytes\): (\d+) bytes of output were dropped$`).FindStringSubmatch(string(last.Content))
	if last.Stream != "stderr" || m == nil {
		t.Fatalf("last line %s %q, want the truncation line", last.Stream, last.Content)
	}
	// Every "y" line logged stands for 2 bytes; the rest (stdout and
	// the stderr "done") was dropped.
	dropped, _ := strconv.Atoi(m[1])
	if logged := 2 * (len(recs) - 1); logged+dropped != 2_000_000+len("done\n") {
		t.Errorf("%d bytes logged + %d dropped, want %d", logged, dropped, 2_000_000+len("done\n"))
	}

	evs := o.shEvents("loud")
	if len(evs) != 2 {
		t.Fatalf("%d sh events, want 2", len(evs))
	}
	if e := evs[0]; !e.LogTruncated || e.ExitCode != 3 || e.StdoutBytes != 2_000_000 {
		t.Errorf("truncated call's row: %+v, want log_truncated, exit 3, 2000000 stdout bytes", e)
	}
	if evs[1].LogTruncated {
		t.Errorf("the small call's row says log_truncated: %+v", evs[1])
	}
}

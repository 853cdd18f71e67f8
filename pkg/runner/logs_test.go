package runner

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/crilog"
)

// binaryOutput is committed as bin.dat and cat'ed: NUL, 0xff, a lone
// continuation byte, a truncated UTF-8 sequence, a CRLF line and an
// unterminated last line.
var binaryOutput = []byte("a\x00b\xffc\x80\n\xe2\x82\n\x00\x00\r\nlast\xfe")

func TestRunner_Logs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `
ci.job("long", {"quire/push"}, function(q)
  local parts = {}
  for i = 1, 4000 do parts[#parts + 1] = string.format("%09d|", i) end
  q.write_file("long.txt", table.concat(parts) .. "\n")
  q.sh({"cat", "long.txt"})
end)
ci.job("interleave", {"quire/push"}, function(q)
  q.sh("echo a; sleep 0.2; echo b >&2; sleep 0.2; echo c")
end)
ci.job("binary", {"quire/push"}, function(q)
  local r = q.sh({"cat", "bin.dat"})
  q.write_file("echo.bin", r.stdout)
end)
ci.job("unterminated", {"quire/push"}, function(q)
  q.sh("printf 'done\\nno newline'; printf 'err tail' >&2")
end)
ci.job("empty", {"quire/push"}, function(q) q.sh("echo; echo x") end)
`)
	h.Settings.KeepWorkspace = true
	h.repo.Write("bin.dat", string(binaryOutput))
	o := h.run()

	t.Run("LongLine", func(t *testing.T) {
		var want strings.Builder
		for i := 1; i <= 4000; i++ {
			fmt.Fprintf(&want, "%09d|", i)
		}
		recs := o.records(o.shLogPath("long", 1))
		var got []string
		for _, r := range recs {
			got = append(got, fmt.Sprintf("%s %v %d", r.Stream, tag(r), len(r.Content)))
		}
		if wantRecs := []string{"stdout P 16384", "stdout P 16384", "stdout F 7232"}; !slices.Equal(got, wantRecs) {
			t.Errorf("records = %v, want %v", got, wantRecs)
		}
		lines := o.lines(o.shLogPath("long", 1))
		if len(lines) != 1 || string(lines[0].Content) != want.String() || lines[0].Partial {
			t.Errorf("decoded %d lines, want the one 40,000-byte input line", len(lines))
		}
	})
	t.Run("Interleaving", func(t *testing.T) {
		lines := o.lines(o.shLogPath("interleave", 1))
		if got, want := text(lines), "stdout: a\nstderr: b\nstdout: c\n"; got != want {
			t.Errorf("log = %q, want %q", got, want)
		}
		for i := 1; i < len(lines); i++ {
			if lines[i].Time.Before(lines[i-1].Time) {
				t.Errorf("timestamps go back: %v then %v", lines[i-1].Time, lines[i].Time)
			}
		}
		if len(lines) == 3 && !lines[2].Time.After(lines[0].Time) {
			t.Errorf("timestamps are not taken as the bytes arrive: %v and %v", lines[0].Time, lines[2].Time)
		}
	})
	t.Run("Binary", func(t *testing.T) {
		var got [][]byte
		var partial []bool
		for _, r := range o.records(o.shLogPath("binary", 1)) {
			got = append(got, r.Content)
			partial = append(partial, r.Partial)
		}
		want := [][]byte{[]byte("a\x00b\xffc\x80"), []byte("\xe2\x82"), []byte("\x00\x00"), []byte("last\xfe")}
		if !slices.EqualFunc(got, want, bytes.Equal) {
			t.Errorf("records = %q, want %q", got, want)
		}
		if wantP := []bool{false, false, false, true}; !slices.Equal(partial, wantP) {
			t.Errorf("P tags = %v, want %v", partial, wantP)
		}
		echoed, err := os.ReadFile(filepath.Join(o.runDir, "workspace", "echo.bin"))
		if err != nil || !bytes.Equal(echoed, binaryOutput) {
			t.Errorf("r.stdout = %q, %v; want the bytes unchanged", echoed, err)
		}
		if evs := o.shEvents("binary"); len(evs) != 1 || evs[0].StdoutBytes != int64(len(binaryOutput)) {
			t.Errorf("sh_events = %+v, want stdout_bytes %d", evs, len(binaryOutput))
		}
	})
	t.Run("UnterminatedLastLine", func(t *testing.T) {
		var got []string
		for _, r := range o.records(o.shLogPath("unterminated", 1)) {
			got = append(got, fmt.Sprintf("%s %v %s", r.Stream, tag(r), r.Content))
		}
		slices.Sort(got) // the two streams' last records may come in either order
		want := []string{"stderr P err tail", "stdout F done", "stdout P no newline"}
		if !slices.Equal(got, want) {
			t.Errorf("records = %q, want %q", got, want)
		}
	})
	t.Run("EmptyLine", func(t *testing.T) {
		data, err := os.ReadFile(o.shLogPath("empty", 1))
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(data), "\n")
		if !strings.HasSuffix(first, " stdout F ") {
			t.Errorf("empty line record = %q, want it to end in \"stdout F \"", first)
		}
	})
}

func TestRunner_ManyShCalls(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `
ci.job("many", {"quire/push"}, function(q)
  for i = 1, 200 do q.sh({"true"}) end
end)
`)
	o := h.run()
	o.wantState("many", "complete")
	evs := o.shEvents("many")
	if len(evs) != 200 {
		t.Fatalf("%d sh_events, want 200", len(evs))
	}
	for i, e := range evs {
		if e.Seq != i+1 || e.ExitCode != 0 || e.Cmd != "true" {
			t.Errorf("event %d = seq %d exit %d cmd %q", i, e.Seq, e.ExitCode, e.Cmd)
		}
		if _, err := os.Stat(o.shLogPath("many", i+1)); err != nil {
			t.Errorf("log of call %d: %v", i+1, err)
		}
	}
	if _, err := os.Stat(o.shLogPath("many", 201)); !os.IsNotExist(err) {
		t.Errorf("sh-201.log: %v, want none", err)
	}
}

// tag is a record's CRI tag.
func tag(e crilog.Entry) string {
	if e.Partial {
		return "P"
	}
	return "F"
}

package runner

import (
	"context"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/store"
)

// recorder is a Reporter that keeps what it was told.
type recorder struct{ ended []Ended }

func (r *recorder) RunEnded(_ context.Context, e Ended) { r.ended = append(r.ended, e) }

// Reporters hear of each run once, after its row is final, with the
// run's secrets to redact with; a pipeline that fails to load is a run
// that ended too.
func TestRunner_Reporters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, pipeline string
		want           store.RunState
	}{
		{"Complete", `ci.job("a", {"quire/push"}, function(q) q.sh("true") end)`, store.RunComplete},
		{"Failed", `ci.job("a", {"quire/push"}, function(q) error("no") end)`, store.RunFailed},
		{"LoadFails", `ci.job("a", {}, function(q) end)`, store.RunFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.pipeline)
			rec := &recorder{}
			h.Reporters = []Reporter{rec, rec}
			o := h.run()
			if len(rec.ended) != 2 {
				t.Fatalf("told %d times, want once per Reporter (2)", len(rec.ended))
			}
			e := rec.ended[0]
			if e.Run.ID != o.run.ID || e.Run.State != tc.want || e.Run.FinishedAtMS == 0 || e.Secrets == nil {
				t.Errorf("told %+v, want the final row of %s (%s)", e.Run, o.run.ID, tc.want)
			}
			if !strings.HasSuffix(e.GitDir, ".git") || e.DataRoot != h.dataRoot || e.Progress == nil {
				t.Errorf("told git dir %q, data root %q, progress %v", e.GitDir, e.DataRoot, e.Progress)
			}
		})
	}
}

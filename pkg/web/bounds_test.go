package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/store"
	"github.com/quire-ci/quire-hook/pkg/web"
)

// A job with thousands of sh calls must not make a run page of them
// all: the page lists the first and last, says how many it left out,
// and the job's log has them.
func TestRunPage_ManyCalls(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	ctx := t.Context()
	const n = 3000
	must(t, f.st1.StartJob(ctx, idActive, "many", time.Now().UnixMilli()))
	for i := 1; i <= n; i++ {
		must(t, f.st1.AddShEvent(ctx, store.ShEvent{RunID: idActive, JobID: "many", Seq: i,
			StartedAtMS: time.Now().UnixMilli(), FinishedAtMS: time.Now().UnixMilli(), Cmd: fmt.Sprintf("step-%d", i)}))
	}
	body := f.get(t, "/runs/"+idActive, 200).body
	for _, want := range []string{"step-1<", "step-100<", "step-2901<", "step-3000<", fmt.Sprintf("%d more sh calls are left out", n-200)} {
		if !strings.Contains(body, want) {
			t.Errorf("the run page lacks %q", want)
		}
	}
	for _, hidden := range []string{"step-101<", "step-2900<"} {
		if strings.Contains(body, hidden) {
			t.Errorf("the run page lists %q, which it should leave out", hidden)
		}
	}
}

package notify

import (
	"slices"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/config"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// The events of each run, and who hears of them: failed → complete →
// complete on one ref makes one fixed, not two; a failure on another
// ref does not make main's next success a fix; superseded and canceled
// runs notify no one, a timeout is a failure.
func TestReporter_Events(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	// One entry per event, each a command that notes the event it got.
	var entries []config.Notify
	for _, ev := range config.Events {
		entries = append(entries, config.Notify{On: []string{ev}, Command: []string{script(t, `echo "$QUIRE_RUN_ID $QUIRE_NOTIFY_EVENT" > "`+dir+`/`+ev+`.$$"`)}})
	}
	// And one that follows two events hears of a run once.
	entries = append(entries, config.Notify{On: []string{"failed", "fixed"}, Command: []string{script(t, `echo "$QUIRE_RUN_ID $QUIRE_NOTIFY_EVENT" > "`+dir+`/both.$$"`)}})
	rep := f.reporter(entries...)

	steps := []struct {
		spec runSpec
		want []string // the events the run makes
	}{
		{runSpec{id: "r01", state: store.RunFailed, kind: store.FailJob, logLines: 1}, []string{"failed", "always"}},
		{runSpec{id: "r02", state: store.RunSuperseded, errMsg: "superseded by r03"}, nil},
		{runSpec{id: "r03", state: store.RunFailed, kind: store.FailCanceled}, nil},
		{runSpec{id: "r04", ref: "refs/heads/dev", state: store.RunFailed, kind: store.FailTimeout}, []string{"failed", "always"}},
		{runSpec{id: "r05", state: store.RunComplete}, []string{"fixed", "complete", "always"}},
		{runSpec{id: "r06", state: store.RunComplete}, []string{"complete", "always"}},
		{runSpec{id: "r07", ref: "refs/heads/dev", state: store.RunComplete}, []string{"fixed", "complete", "always"}},
		{runSpec{id: "r08", ref: "refs/heads/feature", state: store.RunComplete}, []string{"complete", "always"}},
	}
	for _, s := range steps {
		run := f.record(s.spec)
		got, err := rep.Events(t.Context(), run)
		if err != nil || !slices.Equal(got, s.want) {
			t.Errorf("run %s: events %q, %v; want %q", run.ID, got, err, s.want)
		}
		rep.RunEnded(t.Context(), f.ended(run))
	}

	heard := func(prefix string) []string {
		var out []string
		for _, s := range files(t, dir, prefix+".") {
			out = append(out, strings.TrimSpace(s))
		}
		slices.Sort(out)
		return out
	}
	for ev, want := range map[string][]string{
		"failed":   {"r01 failed", "r04 failed"},
		"fixed":    {"r05 fixed", "r07 fixed"},
		"complete": {"r05 complete", "r06 complete", "r07 complete", "r08 complete"},
		"always":   {"r01 always", "r04 always", "r05 always", "r06 always", "r07 always", "r08 always"},
		"both":     {"r01 failed", "r04 failed", "r05 fixed", "r07 fixed"},
	} {
		if got := heard(ev); !slices.Equal(got, want) {
			t.Errorf("the %s entry heard %q, want %q", ev, got, want)
		}
	}
	for _, id := range []string{"r02", "r03"} {
		if rows := f.notifications(id); len(rows) != 0 {
			t.Errorf("run %s notified: %+v", id, rows)
		}
	}
	if rows := f.notifications("r05"); len(rows) != 4 {
		t.Errorf("r05: %d rows, want 4 (fixed, complete, always, both)", len(rows))
	}
}

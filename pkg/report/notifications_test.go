package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/report"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// show and show --json list a run's deliveries; a run without any has
// an empty list in JSON and no table.
func TestRecord_Notifications(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	run := f.run("01a00000-0000-7000-8000-000000000009", "repo.git", "refs/heads/main", store.RunFailed, 1_700_000_000_000)
	rec, err := report.Load(ctx, f.store, run.ID)
	f.must(err)
	var b bytes.Buffer
	report.PrintRecord(&b, rec, f.root)
	if strings.Contains(b.String(), "NOTIFY") {
		t.Errorf("a table without deliveries:\n%s", b.String())
	}
	if js, _ := json.Marshal(report.NewRecordJSON(rec, f.root)); !strings.Contains(string(js), `"notifications":[]`) {
		t.Errorf("JSON: %s", js)
	}

	for _, n := range []store.Notification{
		{RunID: run.ID, Target: "email ops@example.com", Event: "failed", State: store.NotificationDelivered, Attempts: 1, CreatedAtMS: 1_700_000_005_000, FinishedAtMS: 1_700_000_005_200},
		{RunID: run.ID, Target: "webhook https://chat.example/…", Event: "failed", State: store.NotificationFailed, Attempts: 3, Error: "answered 500 Internal Server Error\nmore", CreatedAtMS: 1_700_000_005_000, FinishedAtMS: 1_700_000_008_000},
	} {
		_, err := f.store.AddNotification(ctx, n)
		f.must(err)
	}
	rec, err = report.Load(ctx, f.store, run.ID)
	f.must(err)
	b.Reset()
	report.PrintRecord(&b, rec, f.root)
	out := b.String()
	for _, want := range []string{
		"NOTIFY                          EVENT   STATE      ATTEMPTS  DURATION  ERROR",
		"email ops@example.com           failed  delivered  1         200ms     -",
		"webhook https://chat.example/…  failed  failed     3         3s        answered 500 Internal Server Error ...",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	js, err := json.Marshal(report.NewRecordJSON(rec, f.root))
	f.must(err)
	var got struct {
		Notifications []map[string]any `json:"notifications"`
	}
	f.must(json.Unmarshal(js, &got))
	if len(got.Notifications) != 2 || got.Notifications[0]["error"] != nil || got.Notifications[1]["attempts"] != 3.0 ||
		got.Notifications[1]["state"] != "failed" || got.Notifications[0]["finished_at_ms"] != 1_700_000_005_200.0 {
		t.Errorf("notifications: %v", got.Notifications)
	}
}

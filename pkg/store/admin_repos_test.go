package store

import (
	"reflect"
	"testing"
)

func TestStore_RepoNames(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	for i, repo := range []string{"team2/tools.git", "team1/tools.git", "team2/tools.git", "/srv/other.git"} {
		r := newRun("run-"+string(rune('a'+i)), int64(1000+i))
		r.Repo = repo
		mustCreateRun(t, s, r)
	}
	got, err := s.RepoNames(ctx)
	if err != nil {
		t.Fatalf("RepoNames: %v", err)
	}
	if want := []string{"/srv/other.git", "team1/tools.git", "team2/tools.git"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestStore_CancelPending(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	mustCreateRun(t, s, newRun("run-a", 1000))
	mustCreateRun(t, s, newRun("run-b", 1001))
	if err := s.StartRun(ctx, "run-b", 1100, ""); err != nil {
		t.Fatal(err)
	}

	t.Run("Pending", func(t *testing.T) {
		ok, err := s.CancelPending(ctx, "run-a", "canceled by hand", 900)
		if err != nil || !ok {
			t.Fatalf("CancelPending: %v, %v", ok, err)
		}
		r, err := s.GetRun(ctx, "run-a")
		if err != nil {
			t.Fatal(err)
		}
		// Never finished before it was queued, even with a clock
		// that went back.
		if r.State != "failed" || r.FailureKind != "canceled" || r.Error != "canceled by hand" || r.FinishedAtMS != 1000 {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("NotPending", func(t *testing.T) {
		for _, id := range []string{"run-a", "run-b", "no-such-run"} {
			ok, err := s.CancelPending(ctx, id, "x", 2000)
			if err != nil || ok {
				t.Errorf("%s: CancelPending = %v, %v; want false, nil", id, ok, err)
			}
		}
		if r, _ := s.GetRun(ctx, "run-b"); r.State != "active" {
			t.Errorf("active run became %s", r.State)
		}
	})
}

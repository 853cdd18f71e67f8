package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkStore_AddShEvent is the per-sh-call cost of recording (SPEC P3).
func BenchmarkStore_AddShEvent(b *testing.B) {
	ctx := context.Background()
	s := openTest(b)
	mustCreateRun(b, s, newRun("run-1", 1000))
	if err := s.StartRun(ctx, "run-1", 1000, ""); err != nil {
		b.Fatal(err)
	}
	if err := s.StartJob(ctx, "run-1", "build", 1000); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		e := ShEvent{RunID: "run-1", JobID: "build", Seq: i + 1, StartedAtMS: 1000, FinishedAtMS: 1001, Cmd: "true"}
		if err := s.AddShEvent(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStore_Open is what every hook pays to open an up-to-date
// database (SPEC P2).
func BenchmarkStore_Open(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "quire.db")
	s, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	for range b.N {
		s, err := Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkStore_Migrate opens a fresh file: create and migrate.
func BenchmarkStore_Migrate(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	for i := range b.N {
		s, err := Open(ctx, filepath.Join(dir, fmt.Sprintf("%d.db", i)))
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkStore_RunLifecycle records a one-job, one-sh run.
func BenchmarkStore_RunLifecycle(b *testing.B) {
	ctx := context.Background()
	s := openTest(b)
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("run-%d", i)
		mustCreateRun(b, s, newRun(id, 1000))
		steps := []error{
			s.StartRun(ctx, id, 1000, ""),
			s.StartJob(ctx, id, "build", 1000),
			s.AddShEvent(ctx, ShEvent{RunID: id, JobID: "build", Seq: 1, StartedAtMS: 1000, FinishedAtMS: 1000, Cmd: "true"}),
			s.FinishJob(ctx, id, "build", "complete", intPtr(0), "", "", 1000),
			s.FinishRun(ctx, id, "complete", "", "", 1000),
		}
		for _, err := range steps {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

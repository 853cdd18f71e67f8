package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Environment of a helper process started by TestStore_ManyProcesses.
const (
	helperDBEnv    = "QUIRE_STORE_HELPER_DB"
	helperIndexEnv = "QUIRE_STORE_HELPER_INDEX"
	helperGoEnv    = "QUIRE_STORE_HELPER_GO" // a file whose appearance starts all helpers at once
)

const (
	helperJobs   = 3
	helperEvents = 4 // per job
)

// TestMain turns the test binary into a writer process when
// TestStore_ManyProcesses starts it with helperDBEnv set: it records one
// run and exits, running no tests.
func TestMain(m *testing.M) {
	if path := os.Getenv(helperDBEnv); path != "" {
		i, _ := strconv.Atoi(os.Getenv(helperIndexEnv))
		if err := helperWrite(path, i, os.Getenv(helperGoEnv)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helperWrite opens the shared database and records run-<i> as the
// runner would: each row as it happens.
func helperWrite(path string, i int, goFile string) error {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(goFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("helper %d: no start signal", i)
		}
	}

	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		return err
	}
	defer s.Close()

	id := fmt.Sprintf("run-%02d", i)
	now := time.Now().UnixMilli()
	r := newRun(id, now)
	r.Ref = fmt.Sprintf("refs/heads/b%d", i)
	r.OwnerPID = os.Getpid()
	if err := s.CreateRun(ctx, r); err != nil {
		return err
	}
	if err := s.StartRun(ctx, id, now, ""); err != nil {
		return err
	}
	for j := range helperJobs {
		job := fmt.Sprintf("job-%d", j)
		if err := s.StartJob(ctx, id, job, now); err != nil {
			return err
		}
		for seq := 1; seq <= helperEvents; seq++ {
			e := ShEvent{RunID: id, JobID: job, Seq: seq, StartedAtMS: now, FinishedAtMS: now, Cmd: "true", StdoutBytes: int64(seq)}
			if err := s.AddShEvent(ctx, e); err != nil {
				return err
			}
		}
		if _, err := s.ListRuns(ctx, RunFilter{Limit: 5}); err != nil {
			return err
		}
		if err := s.FinishJob(ctx, id, job, "complete", intPtr(0), "", `{}`, now); err != nil {
			return err
		}
	}
	return s.FinishRun(ctx, id, "complete", "", "", now)
}

func TestStore_ManyProcesses(t *testing.T) {
	const procs = 10
	dir := t.TempDir()
	path := filepath.Join(dir, "quire.db") // fresh: the migrations race too
	goFile := filepath.Join(dir, "go")

	type proc struct {
		cmd    *osexec.Cmd
		stderr bytes.Buffer
	}
	ps := make([]*proc, procs)
	for i := range ps {
		p := &proc{cmd: osexec.CommandContext(t.Context(), os.Args[0])}
		p.cmd.Env = append(os.Environ(),
			helperDBEnv+"="+path,
			helperIndexEnv+"="+strconv.Itoa(i),
			helperGoEnv+"="+goFile,
		)
		p.cmd.Stderr = &p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("start helper %d: %v", i, err)
		}
		ps[i] = p
	}
	if err := os.WriteFile(goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("helper %d: %v: %s", i, err, p.stderr.String())
		}
	}

	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	runs, err := s.ListRuns(t.Context(), RunFilter{State: "complete"})
	if err != nil {
		t.Fatalf("ListRuns: %v", err)
	}
	if got, want := len(runs), procs; got != want {
		t.Errorf("got %d complete runs, want %d", got, want)
	}
	for table, want := range map[string]int{
		"runs":      procs,
		"jobs":      procs * helperJobs,
		"sh_events": procs * helperJobs * helperEvents,
	} {
		if got := count(t, s, table); got != want {
			t.Errorf("%s: got %d rows, want %d", table, got, want)
		}
	}
	if got := queryRows(t, s, "PRAGMA user_version")[0]["user_version"]; got != "10" {
		t.Errorf("user_version: got %s, want 10", got)
	}
}

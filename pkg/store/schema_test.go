package store

import (
	"strings"
	"testing"
)

// A valid row of each table; cases change a few columns.
var (
	baseRun = row{
		"id": "run-x", "repo": "foo.git", "ref_name": "refs/heads/main", "sha": "abc123",
		"trigger": "push", "pushed_at_ms": 1000, "queued_at_ms": 1000, "state": "pending",
	}
	activeBase = baseRun.with(row{"state": "active", "started_at_ms": 1100})
	doneBase   = activeBase.with(row{"state": "complete", "finished_at_ms": 1200})
	baseJob    = row{"run_id": "parent", "job_id": "build", "state": "active", "started_at_ms": 1100}
	baseEvent  = row{
		"run_id": "parent", "job_id": "parent-job", "seq": 1, "started_at_ms": 1100,
		"finished_at_ms": 1200, "exit_code": 0, "cmd": "true",
	}
)

func TestSchema_Constraints(t *testing.T) {
	tests := []struct {
		name  string
		table string
		row   row
		want  string // substring of the error; "" means the row is valid
	}{
		// runs: valid rows of every state.
		{"RunPending", "runs", baseRun, ""},
		{"RunActive", "runs", activeBase.with(row{"container_id": "c0ffee"}), ""},
		{"RunComplete", "runs", doneBase, ""},
		{"RunFailedBeforeStart", "runs", baseRun.with(row{"state": "failed", "failure_kind": "workspace", "finished_at_ms": 1000}), ""},
		{"RunSupersededWhileActive", "runs", doneBase.with(row{"state": "superseded"}), ""},
		{"RunOwner", "runs", baseRun.with(row{"owner_pid": 12, "owner_host": "h"}), ""},

		// runs: enums.
		{"RunTrigger", "runs", baseRun.with(row{"trigger": "cron"}), "runs_trigger"},
		{"RunState", "runs", baseRun.with(row{"state": "running"}), "runs_state"},
		{"RunFailureKind", "runs", doneBase.with(row{"state": "failed", "failure_kind": "oops"}), "runs_failure_kind"},
		{"RunEmptyID", "runs", baseRun.with(row{"id": ""}), "runs_id_nonempty"},

		// runs: life cycle stamps.
		{"RunPendingStarted", "runs", baseRun.with(row{"started_at_ms": 1100}), "runs_pending_stamps"},
		{"RunPendingFinished", "runs", baseRun.with(row{"finished_at_ms": 1100}), "runs_pending_stamps"},
		{"RunPendingContainer", "runs", baseRun.with(row{"container_id": "c0ffee"}), "runs_pending_stamps"},
		{"RunActiveNoStart", "runs", baseRun.with(row{"state": "active"}), "runs_active_stamps"},
		{"RunActiveFinished", "runs", activeBase.with(row{"finished_at_ms": 1200}), "runs_active_stamps"},
		{"RunCompleteNoStart", "runs", doneBase.with(row{"started_at_ms": nil}), "runs_complete_stamps"},
		{"RunCompleteNoFinish", "runs", doneBase.with(row{"finished_at_ms": nil}), "runs_complete_stamps"},
		{"RunCompleteContainer", "runs", doneBase.with(row{"container_id": "c0ffee"}), "runs_complete_stamps"},
		{"RunFailedNoFinish", "runs", activeBase.with(row{"state": "failed"}), "runs_ended_stamps"},
		{"RunFailedContainer", "runs", doneBase.with(row{"state": "failed", "container_id": "c0ffee"}), "runs_ended_stamps"},
		{"RunSupersededNoFinish", "runs", baseRun.with(row{"state": "superseded"}), "runs_ended_stamps"},
		{"RunSupersededContainer", "runs", doneBase.with(row{"state": "superseded", "container_id": "c0ffee"}), "runs_ended_stamps"},

		// runs: time order.
		{"RunStartedBeforeQueued", "runs", activeBase.with(row{"started_at_ms": 999}), "runs_started_after_queued"},
		{"RunFinishedBeforeQueued", "runs", baseRun.with(row{"state": "failed", "finished_at_ms": 999}), "runs_finished_after_queued"},
		{"RunFinishedBeforeStarted", "runs", doneBase.with(row{"finished_at_ms": 1099}), "runs_finished_after_started"},

		// runs: NOT NULL and STRICT types.
		{"RunNoRepo", "runs", baseRun.with(row{"repo": nil}), "NOT NULL constraint failed: runs.repo"},
		{"RunNoQueued", "runs", baseRun.with(row{"queued_at_ms": nil}), "NOT NULL constraint failed: runs.queued_at_ms"},
		{"RunTextTime", "runs", baseRun.with(row{"pushed_at_ms": "yesterday"}), "cannot store TEXT value in INTEGER column"},

		// jobs: valid rows of every state.
		{"JobPending", "jobs", baseJob.with(row{"state": "pending", "started_at_ms": nil}), ""},
		{"JobActive", "jobs", baseJob, ""},
		{"JobComplete", "jobs", baseJob.with(row{"state": "complete", "finished_at_ms": 1100, "exit_code": 0, "outputs": `{"a":1}`}), ""},
		{"JobFailed", "jobs", baseJob.with(row{"state": "failed", "finished_at_ms": 1200, "exit_code": 2}), ""},
		{"JobSkipped", "jobs", baseJob.with(row{"state": "skipped", "started_at_ms": nil, "finished_at_ms": 1200}), ""},
		{"JobAbortedStarted", "jobs", baseJob.with(row{"state": "aborted", "finished_at_ms": 1200}), ""},
		{"JobAbortedNotStarted", "jobs", baseJob.with(row{"state": "aborted", "started_at_ms": nil, "finished_at_ms": 1200}), ""},

		// jobs: violations.
		{"JobState", "jobs", baseJob.with(row{"state": "running"}), "jobs_state"},
		{"JobEmptyID", "jobs", baseJob.with(row{"job_id": ""}), "jobs_job_id_nonempty"},
		{"JobPendingStarted", "jobs", baseJob.with(row{"state": "pending"}), "jobs_pending_stamps"},
		{"JobPendingFinished", "jobs", baseJob.with(row{"state": "pending", "started_at_ms": nil, "finished_at_ms": 1200}), "jobs_pending_stamps"},
		{"JobActiveNoStart", "jobs", baseJob.with(row{"started_at_ms": nil}), "jobs_active_stamps"},
		{"JobActiveFinished", "jobs", baseJob.with(row{"finished_at_ms": 1200}), "jobs_active_stamps"},
		{"JobCompleteNoFinish", "jobs", baseJob.with(row{"state": "complete"}), "jobs_done_stamps"},
		{"JobFailedNeverStarted", "jobs", baseJob.with(row{"state": "failed", "started_at_ms": nil, "finished_at_ms": 1200}), "jobs_done_stamps"},
		{"JobSkippedStarted", "jobs", baseJob.with(row{"state": "skipped", "finished_at_ms": 1200}), "jobs_skipped_stamps"},
		{"JobSkippedNoFinish", "jobs", baseJob.with(row{"state": "skipped", "started_at_ms": nil}), "jobs_skipped_stamps"},
		{"JobAbortedNoFinish", "jobs", baseJob.with(row{"state": "aborted"}), "jobs_aborted_stamps"},
		{"JobFinishedBeforeStarted", "jobs", baseJob.with(row{"state": "complete", "finished_at_ms": 1099}), "jobs_finished_after_started"},
		{"JobOutputsNotJSON", "jobs", baseJob.with(row{"state": "complete", "finished_at_ms": 1200, "outputs": "{"}), "jobs_outputs_json"},
		{"JobUnknownRun", "jobs", baseJob.with(row{"run_id": "nope"}), "FOREIGN KEY constraint failed"},

		// sh_events.
		{"EventValid", "sh_events", baseEvent, ""},
		{"EventSameMillisecond", "sh_events", baseEvent.with(row{"seq": 2, "finished_at_ms": 1100}), ""},
		{"EventSeqZero", "sh_events", baseEvent.with(row{"seq": 0}), "sh_events_seq"},
		{"EventFinishedBeforeStarted", "sh_events", baseEvent.with(row{"finished_at_ms": 1099}), "sh_events_finished_after_started"},
		{"EventNegativeBytes", "sh_events", baseEvent.with(row{"stdout_bytes": -1}), "sh_events_bytes"},
		{"EventNoCmd", "sh_events", baseEvent.with(row{"cmd": nil}), "NOT NULL constraint failed: sh_events.cmd"},
		{"EventUnknownJob", "sh_events", baseEvent.with(row{"job_id": "nope"}), "FOREIGN KEY constraint failed"},
	}
	s := openTest(t)
	// Parents for job and event rows.
	if err := rawInsert(t, s, "runs", activeBase.with(row{"id": "parent"})); err != nil {
		t.Fatalf("insert parent run: %v", err)
	}
	if err := rawInsert(t, s, "jobs", baseJob.with(row{"job_id": "parent-job"})); err != nil {
		t.Fatalf("insert parent job: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case starts from the parents alone.
			if err := rawExec(t, s, "SAVEPOINT one_case"); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := rawExec(t, s, "ROLLBACK TO one_case"); err != nil {
					t.Fatal(err)
				}
				if err := rawExec(t, s, "RELEASE one_case"); err != nil {
					t.Fatal(err)
				}
			}()
			if tt.name == "EventSameMillisecond" {
				if err := rawInsert(t, s, "sh_events", baseEvent.with(row{"finished_at_ms": 1100})); err != nil {
					t.Fatalf("insert first event: %v", err)
				}
			}

			err := rawInsert(t, s, tt.table, tt.row)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("valid row rejected: %v", err)
			case tt.want != "" && err == nil:
				t.Errorf("row accepted, want an error containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// Updates are checked too: a writer cannot walk a row out of its life cycle.
func TestSchema_ConstraintsOnUpdate(t *testing.T) {
	s := openTest(t)
	if err := rawInsert(t, s, "runs", doneBase); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, query, want string }{
		{"ReopenRun", "UPDATE runs SET state = 'active'", "runs_active_stamps"},
		{"ContainerOnComplete", "UPDATE runs SET container_id = 'c0ffee'", "runs_complete_stamps"},
		{"BackToPending", "UPDATE runs SET state = 'pending'", "runs_pending_stamps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := rawExec(t, s, tt.query)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSchema_Cascade(t *testing.T) {
	s := openTest(t)
	if err := rawInsert(t, s, "runs", activeBase.with(row{"id": "parent"})); err != nil {
		t.Fatal(err)
	}
	if err := rawInsert(t, s, "jobs", baseJob.with(row{"job_id": "parent-job"})); err != nil {
		t.Fatal(err)
	}
	for seq := 1; seq <= 3; seq++ {
		if err := rawInsert(t, s, "sh_events", baseEvent.with(row{"seq": seq})); err != nil {
			t.Fatal(err)
		}
	}

	if err := rawExec(t, s, "DELETE FROM jobs"); err != nil {
		t.Fatalf("delete job: %v", err)
	}
	if got := count(t, s, "sh_events"); got != 0 {
		t.Errorf("deleting the job left %d sh_events", got)
	}

	if err := rawInsert(t, s, "jobs", baseJob.with(row{"job_id": "parent-job"})); err != nil {
		t.Fatal(err)
	}
	if err := rawInsert(t, s, "sh_events", baseEvent); err != nil {
		t.Fatal(err)
	}
	if err := rawExec(t, s, "DELETE FROM runs"); err != nil {
		t.Fatalf("delete run: %v", err)
	}
	for _, table := range []string{"runs", "jobs", "sh_events"} {
		if got := count(t, s, table); got != 0 {
			t.Errorf("deleting the run left %d rows in %s", got, table)
		}
	}
}

package report

import (
	"encoding/json"
	"strconv"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// RunJSON is a run as `runs --json` and `show --json` print it: the
// columns of the runs table under their names, null for NULL, plus
// duration_ms and the run's directory. docs/SCHEMA.md documents it.
type RunJSON struct {
	ID            string         `json:"id"`
	Repo          string         `json:"repo"`
	Ref           string         `json:"ref_name"`
	SHA           string         `json:"sha"`
	Trigger       string         `json:"trigger"`
	State         store.RunState `json:"state"`
	FailureKind   *string        `json:"failure_kind"`
	Error         *string        `json:"error"`
	PushedAtMS    int64          `json:"pushed_at_ms"`
	QueuedAtMS    int64          `json:"queued_at_ms"`
	StartedAtMS   *int64         `json:"started_at_ms"`
	FinishedAtMS  *int64         `json:"finished_at_ms"`
	DurationMS    *int64         `json:"duration_ms"`
	ContainerID   *string        `json:"container_id"`
	ImageTag      *string        `json:"image_tag"`
	WorkspacePath *string        `json:"workspace_path"`
	OwnerPID      *int64         `json:"owner_pid"`
	OwnerHost     *string        `json:"owner_host"`
	Pusher        *string        `json:"pusher"`
	Author        *string        `json:"author"`
	Subject       *string        `json:"subject"`
	Dir           string         `json:"dir"`
}

// NewRunJSON is r as RunJSON, its directory under root.
func NewRunJSON(r store.Run, root datadir.Root) RunJSON {
	return RunJSON{
		ID: r.ID, Repo: r.Repo, Ref: r.Ref, SHA: r.SHA, Trigger: r.Trigger, State: r.State,
		FailureKind: nullStr(string(r.FailureKind)), Error: nullStr(r.Error),
		PushedAtMS: r.PushedAtMS, QueuedAtMS: r.QueuedAtMS,
		StartedAtMS: nullMS(r.StartedAtMS), FinishedAtMS: nullMS(r.FinishedAtMS),
		DurationMS:  between(r.StartedAtMS, r.FinishedAtMS),
		ContainerID: nullStr(r.ContainerID), ImageTag: nullStr(r.ImageTag),
		WorkspacePath: nullStr(r.WorkspacePath), OwnerPID: nullMS(int64(r.OwnerPID)),
		OwnerHost: nullStr(r.OwnerHost),
		Dir:       string(root.Run(r.ID)),
		Pusher:    nullStr(r.Pusher), Author: nullStr(r.Author), Subject: nullStr(r.Subject),
	}
}

// JobJSON is a job as `show --json` prints it.
type JobJSON struct {
	JobID        string          `json:"job_id"`
	State        store.JobState  `json:"state"`
	ExitCode     *int            `json:"exit_code"`
	StartedAtMS  *int64          `json:"started_at_ms"`
	FinishedAtMS *int64          `json:"finished_at_ms"`
	DurationMS   *int64          `json:"duration_ms"`
	Error        *string         `json:"error"`
	Outputs      json.RawMessage `json:"outputs"`
	Log          string          `json:"log"`
}

// newJobJSON is j as JobJSON; run is the directory of its run.
func newJobJSON(j store.Job, run datadir.RunDir) JobJSON {
	out := json.RawMessage("null")
	if j.Outputs != "" && json.Valid([]byte(j.Outputs)) {
		out = json.RawMessage(j.Outputs)
	}
	return JobJSON{
		JobID: j.JobID, State: j.State, ExitCode: j.ExitCode,
		StartedAtMS: nullMS(j.StartedAtMS), FinishedAtMS: nullMS(j.FinishedAtMS),
		DurationMS: between(j.StartedAtMS, j.FinishedAtMS),
		Error:      nullStr(j.Error), Outputs: out,
		Log: run.Job(j.JobID).JobLog(),
	}
}

// ShJSON is an sh call as `show --json` prints it; exit_code and
// finished_at_ms are null while it runs, and exit_code stays null for a
// call its hook died during.
type ShJSON struct {
	JobID        string `json:"job_id"`
	Seq          int    `json:"seq"`
	Cmd          string `json:"cmd"`
	ExitCode     *int   `json:"exit_code"`
	StartedAtMS  int64  `json:"started_at_ms"`
	FinishedAtMS *int64 `json:"finished_at_ms"`
	DurationMS   *int64 `json:"duration_ms"`
	StdoutBytes  int64  `json:"stdout_bytes"`
	StderrBytes  int64  `json:"stderr_bytes"`
	LogTruncated bool   `json:"log_truncated"`
	Log          string `json:"log"`
}

// newShJSON is e as ShJSON; run is the directory of its run.
func newShJSON(e store.ShEvent, run datadir.RunDir) ShJSON {
	var exit *int
	if !e.NoExit {
		exit = &e.ExitCode
	}
	return ShJSON{
		JobID: e.JobID, Seq: e.Seq, Cmd: e.Cmd, ExitCode: exit,
		StartedAtMS: e.StartedAtMS, FinishedAtMS: nullMS(e.FinishedAtMS),
		DurationMS:  between(e.StartedAtMS, e.FinishedAtMS),
		StdoutBytes: e.StdoutBytes, StderrBytes: e.StderrBytes, LogTruncated: e.LogTruncated,
		Log: run.Job(e.JobID).ShLog(e.Seq),
	}
}

// shExit is an sh call's exit for people: the status, "running" while
// it runs, or "none" when its hook died during it.
func shExit(e store.ShEvent) string {
	switch {
	case !e.NoExit:
		return strconv.Itoa(e.ExitCode)
	case e.FinishedAtMS == 0:
		return "running"
	}
	return "none"
}

// RecordJSON is a run with everything recorded under it, as `show
// --json` prints it.
type RecordJSON struct {
	Run           RunJSON            `json:"run"`
	Jobs          []JobJSON          `json:"jobs"`
	ShEvents      []ShJSON           `json:"sh_events"`
	Notifications []NotificationJSON `json:"notifications"`
}

// NotificationJSON is one delivery of the run's result (SPEC 13), as
// `show --json` prints it.
type NotificationJSON struct {
	Target       string                  `json:"target"`
	Event        string                  `json:"event"`
	State        store.NotificationState `json:"state"`
	Attempts     int                     `json:"attempts"`
	Error        *string                 `json:"error"`
	CreatedAtMS  int64                   `json:"created_at_ms"`
	FinishedAtMS int64                   `json:"finished_at_ms"`
}

// NewRecordJSON is rec as RecordJSON, its paths under root; jobs,
// sh_events and notifications are [] rather than null when there are
// none.
func NewRecordJSON(rec Record, root datadir.Root) RecordJSON {
	run := root.Run(rec.Run.ID)
	out := RecordJSON{Run: NewRunJSON(rec.Run, root), Jobs: []JobJSON{}, ShEvents: []ShJSON{}, Notifications: []NotificationJSON{}}
	for _, n := range rec.Notifications {
		out.Notifications = append(out.Notifications, NotificationJSON{
			Target: n.Target, Event: n.Event, State: n.State, Attempts: n.Attempts, Error: nullStr(n.Error),
			CreatedAtMS: n.CreatedAtMS, FinishedAtMS: n.FinishedAtMS,
		})
	}
	for _, j := range rec.Jobs {
		out.Jobs = append(out.Jobs, newJobJSON(j, run))
	}
	for _, e := range rec.ShEvents {
		out.ShEvents = append(out.ShEvents, newShJSON(e, run))
	}
	return out
}

// nullStr is s, or null when it is empty (NULL in the table).
func nullStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// nullMS is ms, or null when it is 0 (NULL in the table).
func nullMS(ms int64) *int64 {
	if ms == 0 {
		return nil
	}
	return &ms
}

// between is to-from, or nil unless both are known.
func between(from, to int64) *int64 {
	if from == 0 || to == 0 {
		return nil
	}
	d := to - from
	return &d
}

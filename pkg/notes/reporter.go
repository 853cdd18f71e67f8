package notes

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/quire-ci/quire-hook/pkg/redact"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// Agent names the writer in every line, so that other tools' lines in
// the same note can be told apart.
const Agent = "quire-hook"

// reportTimeout bounds writing one run's note; the pusher is waiting.
const reportTimeout = 15 * time.Second

// Reporter appends each ended run's Line to its commit's note: a
// runner.Reporter. Every ended run gets its line, superseded and
// canceled ones too, as the note is a record; a failure is one warning
// line to the pusher and changes nothing else.
type Reporter struct {
	Store *store.Store
	Ref   string // "": DefaultRef
}

// RunEnded writes e's line to the note of its commit.
func (r Reporter) RunEnded(ctx context.Context, e runner.Ended) {
	ref := r.Ref
	if ref == "" {
		ref = DefaultRef
	}
	ctx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	jobs, err := r.Store.ListJobs(ctx, e.Run.ID)
	if err != nil {
		e.Progress.Failf("warning: git note of run %s not written: %v", e.Run.ID, err)
		return
	}
	line, err := Line(e.Run, jobs, e.Secrets)
	if err == nil {
		err = Append(ctx, e.GitDir, ref, e.Run.SHA, line)
	}
	if err != nil {
		e.Progress.Failf("warning: git note of run %s not written: %v", e.Run.ID, e.Secrets.String(err.Error()))
	}
}

// Line is the one line of JSON that records run (SPEC §13): its id,
// ref, trigger, state, failure kind, each job's state in run order and
// when it started and finished (RFC 3339, UTC; null when it never
// did), with secrets redacted.
func Line(run store.Run, jobs []store.Job, secrets *redact.Set) (string, error) {
	l := line{
		V: 1, Agent: Agent, Run: run.ID, Ref: run.Ref, Trigger: run.Trigger, State: string(run.State),
		Started: stamp(run.StartedAtMS), Finished: stamp(run.FinishedAtMS),
	}
	if run.FailureKind != "" {
		k := string(run.FailureKind)
		l.FailureKind = &k
	}
	for _, j := range jobs {
		l.Jobs = append(l.Jobs, jobState{j.JobID, string(j.State)})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		return "", err
	}
	out := string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	if secrets != nil {
		out = secrets.JSON(out)
	}
	return out, nil
}

// line is Line's JSON, keys in SPEC §13's order.
type line struct {
	V           int       `json:"v"`
	Agent       string    `json:"agent"`
	Run         string    `json:"run"`
	Ref         string    `json:"ref"`
	Trigger     string    `json:"trigger"`
	State       string    `json:"state"`
	FailureKind *string   `json:"failure_kind"`
	Jobs        jobStates `json:"jobs"`
	Started     *string   `json:"started"`
	Finished    *string   `json:"finished"`
}

type jobState struct{ id, state string }

// jobStates is a JSON object of job id to state, in run order.
type jobStates []jobState

// MarshalJSON writes the object with its keys in run order.
func (js jobStates) MarshalJSON() ([]byte, error) {
	buf := []byte{'{'}
	for i, j := range js {
		if i > 0 {
			buf = append(buf, ',')
		}
		id, err := json.Marshal(j.id)
		if err != nil {
			return nil, err
		}
		state, err := json.Marshal(j.state)
		if err != nil {
			return nil, err
		}
		buf = append(append(append(buf, id...), ':'), state...)
	}
	return append(buf, '}'), nil
}

// stamp is ms as RFC 3339 in UTC with milliseconds, or nil for 0.
func stamp(ms int64) *string {
	if ms == 0 {
		return nil
	}
	s := time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
	return &s
}

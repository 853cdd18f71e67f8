package store

// RunState is runs.state.
type RunState string

// The states of a run: pending while it waits for its turn, active while
// it runs, then one of the three ends.
const (
	RunPending    RunState = "pending"
	RunActive     RunState = "active"
	RunComplete   RunState = "complete"
	RunFailed     RunState = "failed"
	RunSuperseded RunState = "superseded"
)

// Ended reports whether s is one of the ends: complete, failed or
// superseded.
func (s RunState) Ended() bool {
	return s == RunComplete || s == RunFailed || s == RunSuperseded
}

// JobState is jobs.state.
type JobState string

// The states of a job. Aborted is a job that was active when its run
// was cancelled, timed out or orphaned.
const (
	JobPending  JobState = "pending"
	JobActive   JobState = "active"
	JobComplete JobState = "complete"
	JobFailed   JobState = "failed"
	JobSkipped  JobState = "skipped"
	JobAborted  JobState = "aborted"
)

// FailureKind is runs.failure_kind: why a failed (or superseded) run
// ended; "" for a complete run.
type FailureKind string

// The failure kinds.
const (
	FailPipeline  FailureKind = "pipeline"  // ci.lua did not load or validate
	FailWorkspace FailureKind = "workspace" // the tree could not be materialized
	FailJob       FailureKind = "job"       // a job failed
	FailTimeout   FailureKind = "timeout"   // run_timeout ended it
	FailCanceled  FailureKind = "canceled"  // quire-hook cancel, or a newer push
	FailOrphaned  FailureKind = "orphaned"  // its hook died; reconcile ended it
	FailExecutor  FailureKind = "executor"  // the executor could not start: engine down, image missing
	FailInternal  FailureKind = "internal"  // a fault of quire-hook or the host
)

// Ended reports whether s is one of a job's ends: complete, failed,
// skipped or aborted.
func (s JobState) Ended() bool {
	return s == JobComplete || s == JobFailed || s == JobSkipped || s == JobAborted
}

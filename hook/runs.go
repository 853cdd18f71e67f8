package hook

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// runStates are the states a run can be in (runs.state).
var runStates = []string{
	string(store.RunPending), string(store.RunActive), string(store.RunComplete),
	string(store.RunFailed), string(store.RunSuperseded),
}

func runsCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "runs",
		Usage: "list recorded runs, newest first",
		Description: "Lists the runs of the data root (every repo sharing it unless --repo).\n" +
			"--ref takes a full ref name or a branch or tag name (main = refs/heads/main).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "repo", Usage: "only runs of this repo: runs.repo (team1/tools.git) or a unique suffix of it (tools)"},
			&cli.StringFlag{Name: "ref", Usage: "only runs of this ref: refs/heads/main, or main"},
			&cli.StringFlag{Name: "state", Usage: "only runs in this state: " + strings.Join(runStates, ", ")},
			&cli.IntFlag{Name: "limit", Value: 20, Usage: "at most this many runs; 0 for all"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array (keys as in docs/SCHEMA.md)"},
		},
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("runs takes no arguments; filter with --repo, --ref, --state")
			}
			f := store.RunFilter{Repo: c.String("repo"), Ref: c.String("ref"), State: store.RunState(c.String("state")), Limit: c.Int("limit")}
			if f.State != "" && !slices.Contains(runStates, string(f.State)) {
				return usageErr("unknown state %q; use one of %s", f.State, strings.Join(runStates, ", "))
			}
			if f.Limit < 0 {
				return usageErr("--limit must be 0 (all) or more, not %d", f.Limit)
			}
			s, dataRoot, err := g.openAdminStore(c.Context)
			if err != nil {
				return err
			}
			defer s.Close()
			if f.Repo, err = resolveRepo(c.Context, s, f.Repo); err != nil {
				return err
			}
			runs, err := listRuns(c.Context, s, f)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				out := make([]runJSON, 0, len(runs))
				for _, r := range runs {
					out = append(out, newRunJSON(r, dataRoot))
				}
				return writeJSON(g.io.Stdout, out)
			}
			printRuns(g.io.Stdout, runs)
			return nil
		},
	}
}

// listRuns is ListRuns where a ref that is not a full ref name also
// matches the branch or tag of that name.
func listRuns(ctx context.Context, s *store.Store, f store.RunFilter) ([]store.Run, error) {
	if f.Ref == "" || strings.HasPrefix(f.Ref, "refs/") {
		return s.ListRuns(ctx, f)
	}
	var all []store.Run
	for _, ref := range []string{f.Ref, "refs/heads/" + f.Ref, "refs/tags/" + f.Ref} {
		g := f
		g.Ref = ref
		runs, err := s.ListRuns(ctx, g)
		if err != nil {
			return nil, err
		}
		all = append(all, runs...)
	}
	// Newest first, as ListRuns orders them.
	slices.SortFunc(all, func(a, b store.Run) int {
		if c := cmp.Compare(b.QueuedAtMS, a.QueuedAtMS); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	if f.Limit > 0 && len(all) > f.Limit {
		all = all[:f.Limit]
	}
	return all, nil
}

// resolveRepo turns a --repo value into the runs.repo it names: the
// name itself (".git" optional), else the only name it is a suffix of
// at a "/" (tools names team1/tools.git when no other tools.git has
// runs). A suffix of several names is refused, listing them; a value
// that names nothing is returned as it is, and matches no run.
func resolveRepo(ctx context.Context, s *store.Store, name string) (string, error) {
	if name == "" {
		return "", nil
	}
	names, err := s.RepoNames(ctx)
	if err != nil {
		return "", err
	}
	want := strings.TrimSuffix(strings.TrimSuffix(name, "/"), ".git")
	var whole, suffix []string
	for _, n := range names {
		if n == name {
			return n, nil
		}
		bare := strings.TrimSuffix(n, ".git")
		switch {
		case bare == want:
			whole = append(whole, n)
		case strings.HasSuffix(bare, "/"+want):
			suffix = append(suffix, n)
		}
	}
	candidates := whole
	if len(candidates) == 0 {
		candidates = suffix
	}
	switch len(candidates) {
	case 0:
		return name, nil
	case 1:
		return candidates[0], nil
	}
	return "", usageErr("--repo %s is ambiguous: it names %s; give more of the path", name, strings.Join(candidates, ", "))
}

// printRuns writes runs as a table for people.
func printRuns(w io.Writer, runs []store.Run) {
	if len(runs) == 0 {
		fmt.Fprintln(w, "no runs")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREPO\tREF\tSHA\tTRIGGER\tSTATE\tDURATION\tQUEUED\tPUSHER\tAUTHOR\tSUBJECT")
	for _, r := range runs {
		// The author's name without the address keeps the row short;
		// show prints both. Runs recorded before schema 5 have none.
		author, _, _ := strings.Cut(r.Author, " <")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, printable(r.Repo), printable(r.Ref), gitrepo.ShortSHA(r.SHA),
			r.Trigger, runState(r), span(r.StartedAtMS, r.FinishedAtMS), stamp(r.QueuedAtMS),
			cmp.Or(printable(r.Pusher), "-"), cmp.Or(printable(author), "-"), cmp.Or(clip(r.Subject, 50), "-"))
	}
	tw.Flush()
}

// runState is a run's state with its failure kind: "failed (job)".
func runState(r store.Run) string {
	if r.FailureKind != "" {
		return string(r.State) + " (" + string(r.FailureKind) + ")"
	}
	return string(r.State)
}

// adminDataRoot is the data root the operating commands read: --data-dir
// or $QUIRE_DATA_DIR need no repository, otherwise it is the
// repository's (--git-dir, $GIT_DIR or the current directory).
func (g *globals) adminDataRoot() (string, error) {
	if g.dataDir != "" {
		return g.abs(g.dataDir), nil
	}
	if d := g.io.Getenv("QUIRE_DATA_DIR"); d != "" {
		return g.abs(d), nil
	}
	r, err := g.openRepo(g.gitDir, g.io.Getenv("GIT_DIR"))
	if err != nil {
		return "", err
	}
	return g.dataRoot(r), nil
}

// openAdminStore opens the database of adminDataRoot. It creates
// nothing: the commands that read or administer records have nothing
// to do where no run was ever recorded, and a mistyped --data-dir must
// not leave an empty database behind.
func (g *globals) openAdminStore(ctx context.Context) (*store.Store, string, error) {
	dataRoot, err := g.adminDataRoot()
	if err != nil {
		return nil, "", err
	}
	db := filepath.Join(dataRoot, "quire.db")
	if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
		return nil, "", usageErr("no database at %s: no run was ever recorded there; check --git-dir and --data-dir (or QUIRE_DATA_DIR)", db)
	}
	s, err := openStore(ctx, dataRoot)
	if err != nil {
		return nil, "", err
	}
	return s, dataRoot, nil
}

// trailingFlags returns the command's arguments with the flags named in
// names that follow them ("logs <run> --follow") applied: urfave/cli
// stops parsing flags at the first argument. A name ending in "=" is a
// flag with a value ("--ref main" or "--ref=main"); the others are
// boolean.
func trailingFlags(c *cli.Context, names ...string) ([]string, error) {
	var args []string
	rest := c.Args().Slice()
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			return append(args, rest[i+1:]...), nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			args = append(args, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case slices.Contains(names, name+"="):
			if !hasValue {
				if i+1 == len(rest) {
					return nil, usageErr("flag %s needs a value; see --help", a)
				}
				i++
				value = rest[i]
			}
		case slices.Contains(names, name) && !hasValue:
			value = "true"
		default:
			return nil, usageErr("unknown flag %s; see --help", a)
		}
		if err := c.Set(name, value); err != nil {
			return nil, usageErr("set %s: %v", a, err)
		}
	}
	return args, nil
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// runJSON is a run as `runs --json` and `show --json` print it: the
// columns of the runs table under their names, null for NULL, plus
// duration_ms and the run's directory. docs/SCHEMA.md documents it.
type runJSON struct {
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

func newRunJSON(r store.Run, dataRoot string) runJSON {
	return runJSON{
		ID: r.ID, Repo: r.Repo, Ref: r.Ref, SHA: r.SHA, Trigger: r.Trigger, State: r.State,
		FailureKind: nullStr(string(r.FailureKind)), Error: nullStr(r.Error),
		PushedAtMS: r.PushedAtMS, QueuedAtMS: r.QueuedAtMS,
		StartedAtMS: nullMS(r.StartedAtMS), FinishedAtMS: nullMS(r.FinishedAtMS),
		DurationMS:  between(r.StartedAtMS, r.FinishedAtMS),
		ContainerID: nullStr(r.ContainerID), ImageTag: nullStr(r.ImageTag),
		WorkspacePath: nullStr(r.WorkspacePath), OwnerPID: nullMS(int64(r.OwnerPID)),
		OwnerHost: nullStr(r.OwnerHost),
		Dir:       filepath.Join(dataRoot, "runs", r.ID),
		Pusher:    nullStr(r.Pusher), Author: nullStr(r.Author), Subject: nullStr(r.Subject),
	}
}

// jobJSON is a job as `show --json` prints it.
type jobJSON struct {
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

func newJobJSON(j store.Job, runDir string) jobJSON {
	out := json.RawMessage("null")
	if j.Outputs != "" && json.Valid([]byte(j.Outputs)) {
		out = json.RawMessage(j.Outputs)
	}
	return jobJSON{
		JobID: j.JobID, State: j.State, ExitCode: j.ExitCode,
		StartedAtMS: nullMS(j.StartedAtMS), FinishedAtMS: nullMS(j.FinishedAtMS),
		DurationMS: between(j.StartedAtMS, j.FinishedAtMS),
		Error:      nullStr(j.Error), Outputs: out,
		Log: filepath.Join(runDir, "jobs", j.JobID, "job.log"),
	}
}

// shJSON is an sh call as `show --json` prints it; exit_code and
// finished_at_ms are null while it runs, and exit_code stays null for a
// call its hook died during.
type shJSON struct {
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

func newShJSON(e store.ShEvent, runDir string) shJSON {
	var exit *int
	if !e.NoExit {
		exit = &e.ExitCode
	}
	return shJSON{
		JobID: e.JobID, Seq: e.Seq, Cmd: e.Cmd, ExitCode: exit,
		StartedAtMS: e.StartedAtMS, FinishedAtMS: nullMS(e.FinishedAtMS),
		DurationMS:  between(e.StartedAtMS, e.FinishedAtMS),
		StdoutBytes: e.StdoutBytes, StderrBytes: e.StderrBytes, LogTruncated: e.LogTruncated,
		Log: shLogPath(runDir, e.JobID, e.Seq),
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

// recordJSON is a run with everything recorded under it, as `show
// --json` prints it.
type recordJSON struct {
	Run      runJSON   `json:"run"`
	Jobs     []jobJSON `json:"jobs"`
	ShEvents []shJSON  `json:"sh_events"`
}

func newRecordJSON(rec record, dataRoot string) recordJSON {
	out := recordJSON{Run: newRunJSON(rec.Run, dataRoot), Jobs: []jobJSON{}, ShEvents: []shJSON{}}
	for _, j := range rec.Jobs {
		out.Jobs = append(out.Jobs, newJobJSON(j, out.Run.Dir))
	}
	for _, e := range rec.ShEvents {
		out.ShEvents = append(out.ShEvents, newShJSON(e, out.Run.Dir))
	}
	return out
}

// shLogPath is the CRI log of the seq-th sh call of a job.
func shLogPath(runDir, jobID string, seq int) string {
	return filepath.Join(runDir, "jobs", jobID, "sh-"+strconv.Itoa(seq)+".log")
}

func nullStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

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

package docker_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/executor"
	"github.com/quire-ci/quire-hook/pkg/executor/docker"
	"github.com/quire-ci/quire-hook/pkg/executor/docker/dockertest"
)

// run is one test run's directory and spec.
func newSpec(t *testing.T, id string) executor.RunSpec {
	t.Helper()
	dir := datadir.Root(t.TempDir()).Run(id)
	if err := os.MkdirAll(dir.Workspace(), 0o755); err != nil {
		t.Fatal(err)
	}
	return executor.RunSpec{RunID: id, Repo: "demo.git", Dir: dir, Image: dockertest.Image}
}

// start opens a session on the test engine; the test closes it.
func start(t *testing.T, o docker.Options, spec executor.RunSpec) *docker.Session {
	t.Helper()
	dockertest.Engine(t)
	ex, err := docker.New(o)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ex.Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return s.(*docker.Session)
}

// sh runs script in job j and returns its result and output.
func sh(t *testing.T, j executor.Job, spec executor.RunSpec, script string) (executor.Result, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	res, err := j.Exec(context.Background(), executor.Proc{
		Argv: []string{"sh", "-c", script}, Dir: spec.Dir.Workspace(),
		Env: []string{"PATH=/bin", "HOME=/tmp"}, Stdout: &out, Stderr: &errb,
	})
	if err != nil {
		t.Fatalf("exec %q: %v", script, err)
	}
	return res, out.String(), errb.String()
}

func TestExecBasics(t *testing.T) {
	spec := newSpec(t, "basics")
	s := start(t, docker.Options{}, spec)
	defer s.Close(context.Background())
	j, err := s.Job(context.Background(), "build")
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	res, out, errs := sh(t, j, spec, "echo out; echo err >&2; pwd; exit 3")
	if res.Exit != 3 || out != "out\n"+spec.Dir.Workspace()+"\n" || errs != "err\n" {
		t.Errorf("got exit %d out %q err %q", res.Exit, out, errs)
	}
	res, _, _ = sh(t, j, spec, "kill -TERM $$")
	if res.Exit != -15 {
		t.Errorf("signal death: exit %d, want -15", res.Exit)
	}
	var errb bytes.Buffer
	res, err = j.Exec(context.Background(), executor.Proc{Argv: []string{"nope"}, Dir: spec.Dir.Workspace(),
		Env: []string{"PATH=/bin"}, Stdout: &errb, Stderr: &errb})
	if err != nil || res.Exit != 127 || res.StartErr == nil {
		t.Errorf("missing program: %+v, %v, output %q", res, err, errb.String())
	}
	t.Logf("missing program: %v", res.StartErr)
	if !strings.Contains(errb.String(), "nope") {
		t.Errorf("output %q", errb.String())
	}
}

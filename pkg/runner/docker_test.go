package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/executor/docker"
	"github.com/quire-ci/quire-hook/pkg/executor/docker/dockertest"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// dockerHarness is a harness whose runs use the docker executor on the
// test engine (skipped, naming why, when no engine can be started).
func dockerHarness(t *testing.T, pipeline string, o docker.Options) *harness {
	t.Helper()
	dockertest.Engine(t)
	ex, err := docker.New(o)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, pipeline)
	h.Executor = ex
	return h
}

// While a docker run lives, runs.container_id and runs.image_tag name
// its container and image (SPEC §4); the id is cleared when the
// container is removed.
func TestRunner_DockerRecordsContainer(t *testing.T) {
	t.Parallel()
	h := dockerHarness(t, `
ci.image("`+dockertest.Image+`")
ci.job("build", {"quire/push"}, function(q)
  local name = q.sh("hostname").stdout
  q.sh("while [ ! -e release ]; do sleep 0.05; done")
  return {hostname = name}
end)
`, docker.Options{})
	done := make(chan *outcome, 1)
	go func() { done <- h.run() }()

	var live store.Run
	deadline := time.Now().Add(60 * time.Second)
	for live.ContainerID == "" {
		if time.Now().After(deadline) {
			t.Fatal("no run recorded a container within 60 s")
		}
		time.Sleep(20 * time.Millisecond)
		runs, err := h.store.ListUnfinished(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) == 1 {
			live = runs[0]
		}
	}
	// The workspace is a plain directory, never an overlay: the engine
	// binds it in its own mount namespace, where a hook's mount may not
	// be.
	ws, err := filepath.EvalSymlinks(filepath.Join(h.dataRoot, "runs", live.ID, "workspace"))
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := datadir.Mounts()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if m.Point == ws {
			t.Errorf("the docker run's workspace is a %s mount, want a plain directory", m.FSType)
		}
	}
	release := filepath.Join(h.dataRoot, "runs", live.ID, "workspace", "release")
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	o := <-done
	o.wantState("build", store.JobComplete)
	if live.ImageTag != dockertest.Image {
		t.Errorf("image_tag %q while running, want %q", live.ImageTag, dockertest.Image)
	}
	// The engine names a container's host after the start of its id.
	host := strings.TrimSpace(o.outputs("build")["hostname"].(string))
	if host == "" || !strings.HasPrefix(live.ContainerID, host) {
		t.Errorf("container_id %q while running; the job ran in %q", live.ContainerID, host)
	}
	if o.run.ContainerID != "" {
		t.Errorf("container_id %q after the run, want it cleared", o.run.ContainerID)
	}
}

// With executor = "docker", a pipeline without ci.image fails as a
// pipeline (it must name its image), saying to add it.
func TestRunner_DockerNoImage(t *testing.T) {
	t.Parallel()
	h := dockerHarness(t, `
ci.job("build", {"quire/push"}, function(q) q.sh("true") end)
`, docker.Options{})
	o := h.run()
	if o.run.State != store.RunFailed || o.run.FailureKind != store.FailPipeline || !strings.Contains(o.run.Error, `add ci.image(`) {
		t.Errorf("run %s (%s): %q; want failed (pipeline) saying to add ci.image", o.run.State, o.run.FailureKind, o.run.Error)
	}
	if len(o.jobs) != 0 {
		t.Errorf("jobs recorded: %v", o.order)
	}
}

// An image the engine lacks, with pulls off, fails the run with
// failure_kind 'executor' (schema 7) naming the image.
func TestRunner_DockerMissingImage(t *testing.T) {
	t.Parallel()
	h := dockerHarness(t, `
ci.image("quire-test/absent:1")
ci.job("build", {"quire/push"}, function(q) q.sh("true") end)
`, docker.Options{Pull: docker.PullNever})
	o := h.run()
	if o.run.State != store.RunFailed || o.run.FailureKind != store.FailExecutor || !strings.Contains(o.run.Error, "quire-test/absent:1") {
		t.Errorf("run %s (%s): %q; want failed (executor) naming the image", o.run.State, o.run.FailureKind, o.run.Error)
	}
}

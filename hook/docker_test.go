package hook_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/executor/docker"
	"github.com/quire-ci/quire-hook/pkg/executor/docker/dockertest"
)

// TestDocker_Push: a real push with executor = "docker" runs the
// pipeline in a container of its ci.image and leaves no container.
func TestDocker_Push(t *testing.T) {
	engine := dockertest.Engine(t)
	r := newRepo(t)
	writeConfig(t, filepath.Join(r.Bare, "quire", "config.lua"), `return { executor = "docker" }`)
	r.Pipeline(`local ci = require("quire.ci")
ci.image("` + dockertest.Image + `")
ci.job("build", {"quire/push"}, function(q)
  q.sh("echo built > out.txt")
  return {
    uid = q.sh("id -u").stdout,
    init = q.sh("cat /proc/1/comm").stdout,
    net = q.sh("ls /sys/class/net").stdout,
    ws = q.sh("cat out.txt; pwd").stdout,
    db = q.sh("cat ` + filepath.Join(r.Bare, "quire", "quire.db") + ` >/dev/null 2>&1 && echo visible || echo masked").stdout,
    git = q.sh("cat $QUIRE_GIT_DIR/HEAD").stdout,
  }
end)
ci.job("test", {"build"}, function(q)
  q.sh("echo from the second job; exit 0")
end)`)
	r.Commit("docker pipeline")
	out := r.push()
	run, jobs, events := r.lastRun()
	if run.State != "complete" {
		t.Fatalf("run %s (%s: %s):\n%s", run.State, run.FailureKind, run.Error, out)
	}
	got := jobs["build"].Outputs
	for _, want := range []string{
		`"uid":"` + strconv.Itoa(os.Getuid()) + `\n"`,
		`"init":"docker-init\n"`,
		`"net":"lo\n"`,
		`"db":"masked\n"`,
		`"git":"ref: refs/heads/main\n"`,
		`"ws":"built\n` + filepath.Join(r.runDir(run.ID), "workspace") + `\n"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("build outputs %s lack %s", got, want)
		}
	}
	if jobs["test"].State != "complete" || len(events) != 8 {
		t.Errorf("test job %s, %d sh calls; want complete, 8", jobs["test"].State, len(events))
	}
	if run.ContainerID != "" {
		t.Errorf("container_id %q still set after the run", run.ContainerID)
	}
	ids, err := engine.ListContainers(t.Context(), docker.LabelRun, run.ID)
	if err != nil || len(ids) != 0 {
		t.Errorf("containers of the run after it ended: %v, %v", ids, err)
	}
	logs, _ := r.quire("", "--git-dir", r.Bare, "logs", run.ID)
	wantContains(t, logs, "from the second job")
}

// TestDocker_PushMissingImage: an image the engine lacks, with pulls
// off, fails the run at once with the image's name and what to do.
func TestDocker_PushMissingImage(t *testing.T) {
	dockertest.Engine(t)
	r := newRepo(t)
	writeConfig(t, filepath.Join(r.Bare, "quire", "config.lua"), `return { executor = "docker", docker_pull = "never" }`)
	r.Pipeline(`local ci = require("quire.ci")
ci.image("quire-test/absent:1")
ci.job("build", {"quire/push"}, function(q) q.sh("true") end)`)
	r.Commit("missing image")
	out := r.push()
	run, jobs, _ := r.lastRun()
	if run.State != "failed" || !strings.Contains(run.Error, `image quire-test/absent:1 is not on the docker engine`) {
		t.Errorf("run %s (%s): %q\n%s", run.State, run.FailureKind, run.Error, out)
	}
	if jobs["build"].StartedAtMS != 0 {
		t.Errorf("job build started: %+v", jobs["build"])
	}
	wantContains(t, out, "quire-test/absent:1")
}

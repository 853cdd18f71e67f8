package hook_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/examples"
	"github.com/quire-ci/quire-hook/pkg/executor/docker"
	"github.com/quire-ci/quire-hook/pkg/executor/docker/dockertest"
	"github.com/quire-ci/quire-hook/pkg/push"
	"github.com/quire-ci/quire-hook/pkg/store"
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

// TestDocker_SIGKILLThenReconcile: a hook killed by SIGKILL mid-sh
// leaves its container running; reconcile ends the run and removes the
// container, found by its label, and with it the exec'd process.
func TestDocker_SIGKILLThenReconcile(t *testing.T) {
	engine := dockertest.Engine(t)
	r := newRepo(t)
	writeConfig(t, filepath.Join(r.Bare, "quire", "config.lua"), `return { executor = "docker" }`)
	const token = "313"
	r.Pipeline(`local ci = require("quire.ci")
ci.image("` + dockertest.Image + `")
ci.job("build", {"quire/push"}, function(q) q.sh("sleep ` + token + `") end)`)
	r.Commit("slow")
	r.push("-o", "ci.skip", "origin", "main")

	hook, out := start(t, r.Env, "--git-dir", r.Bare, "replay", "main")
	var run store.Run
	waitFor(t, "the run's container and its sh call", func() bool {
		for _, u := range r.unfinished() {
			if u.ContainerID != "" && sleeping(token) {
				run = u
				return true
			}
		}
		return false
	})
	hook.Process.Kill()
	hook.Wait()
	if ids, err := engine.ListContainers(t.Context(), docker.LabelRun, run.ID); err != nil || len(ids) != 1 {
		t.Fatalf("after the kill: containers %v, %v; want the dead run's one\n%s", ids, err, out)
	}

	got, code := r.quire("", "--git-dir", r.Bare, "reconcile")
	if code != 0 {
		t.Fatalf("reconcile: exit %d\n%s", code, got)
	}
	wantContains(t, got, "1 container(s) removed")
	if ids, err := engine.ListContainers(t.Context(), docker.LabelRun, run.ID); err != nil || len(ids) != 0 {
		t.Errorf("after reconcile: containers %v, %v; want none", ids, err)
	}
	if sleeping(token) {
		t.Errorf("sleep %s still runs after reconcile removed its container", token)
	}
	for _, u := range r.runs() {
		if u.ID == run.ID && (u.State != store.RunFailed || u.FailureKind != store.FailOrphaned || u.ContainerID != "") {
			t.Errorf("run after reconcile: %s (%s), container %q; want failed (orphaned), none", u.State, u.FailureKind, u.ContainerID)
		}
	}
}

// sleeping reports whether a "sleep <token>" process runs on this host,
// in a container or not.
func sleeping(token string) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && string(cmd) == "sleep\x00"+token+"\x00" {
			if st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); !strings.Contains(string(st), ") Z ") {
				return true
			}
		}
	}
	return false
}

// TestDocker_DemoPipeline: the demo's pipeline (go vet, go test, go
// build, run the binary) runs under executor = "docker" in a local image
// holding the Go toolchain, given ci.image and a build cache the
// container can write (its root file system is read-only).
func TestDocker_DemoPipeline(t *testing.T) {
	image := dockertest.GoImage(t)
	r := newRepo(t)
	writeConfig(t, filepath.Join(r.Bare, "quire", "config.lua"),
		`return { executor = "docker", env = { GOCACHE = "/tmp/go-cache", GOFLAGS = "-buildvcs=false" } }`)
	err := fs.WalkDir(examples.FS, "demo", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := examples.FS.ReadFile(path)
		if err != nil {
			return err
		}
		content := string(data)
		if path == "demo/.quire/ci.lua" {
			content = strings.Replace(content, `local ci = require("quire.ci")`,
				`local ci = require("quire.ci")`+"\n"+`ci.image("`+image+`")`, 1)
		}
		r.Write(strings.TrimPrefix(path, "demo/"), content)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Commit("the demo, in docker")
	out := r.push()
	run, jobs, _ := r.lastRun()
	if run.State != store.RunComplete || run.ImageTag != image {
		t.Fatalf("run %s (%s: %s), image_tag %q; want complete, %s:\n%s", run.State, run.FailureKind, run.Error, run.ImageTag, image, out)
	}
	if got := jobs["report"].Outputs; !strings.Contains(got, `"summary":"hello, quire`) {
		t.Errorf("report outputs %s, want the binary's greeting", got)
	}
}

// TestDocker_StopKillsInsideContainer: a SIGTERM to the hook (cancel),
// run_timeout and job_timeout each end a docker run with its sh call
// killed inside the container (the process itself, not a client) and
// the container removed. The timeouts leave 5 s for the container and
// the exec to start: with 2 s, a loaded machine ended the run before
// the sleep it waits for began.
func TestDocker_StopKillsInsideContainer(t *testing.T) {
	engine := dockertest.Engine(t)
	for _, tc := range []struct {
		name, config, token string
		signal              bool
		kind                store.FailureKind
	}{
		{"SIGTERM", `return { executor = "docker" }`, "321", true, store.FailCanceled},
		{"RunTimeout", `return { executor = "docker", run_timeout = 5 }`, "322", false, store.FailTimeout},
		{"JobTimeout", `return { executor = "docker", job_timeout = 5 }`, "323", false, store.FailJob},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRepo(t)
			writeConfig(t, filepath.Join(r.Bare, "quire", "config.lua"), tc.config)
			r.Pipeline(`local ci = require("quire.ci")
ci.image("` + dockertest.Image + `")
ci.job("build", {"quire/push"}, function(q) q.sh("sleep ` + tc.token + `") end)`)
			r.Commit("slow")
			r.push("-o", "ci.skip", "origin", "main")

			hook, out := start(t, r.Env, "--git-dir", r.Bare, "replay", "main")
			waitFor(t, "the sh call in the container", func() bool { return sleeping(tc.token) })
			if tc.signal {
				hook.Process.Signal(syscall.SIGTERM)
			}
			if err := waitExit(hook, time.Minute); err == nil {
				t.Fatalf("the hook exited 0:\n%s", out)
			}
			run, _, _ := r.lastRun()
			if run.State != store.RunFailed || run.FailureKind != tc.kind {
				t.Errorf("run %s (%s: %s), want failed (%s)\n%s", run.State, run.FailureKind, run.Error, tc.kind, out)
			}
			if sleeping(tc.token) {
				t.Errorf("sleep %s still runs after the run ended", tc.token)
			}
			if ids, err := engine.ListContainers(t.Context(), docker.LabelRun, run.ID); err != nil || len(ids) != 0 {
				t.Errorf("containers of the run after it ended: %v, %v", ids, err)
			}
		})
	}
}

// TestDocker_SupersedeKillsInsideContainer: a newer push to the ref
// supersedes a running docker run; its sh call dies inside the
// container and the container is removed.
func TestDocker_SupersedeKillsInsideContainer(t *testing.T) {
	engine := dockertest.Engine(t)
	r := newRepo(t)
	writeConfig(t, filepath.Join(r.Bare, "quire", "config.lua"), `return { executor = "docker" }`)
	r.Pipeline(`local ci = require("quire.ci")
ci.image("` + dockertest.Image + `")
ci.job("build", {"quire/push"}, function(q)
  if q.jobs("quire/push").commit_message == "slow" then q.sh("sleep 324") end
end)`)
	slow := r.Commit("slow")
	r.push("-o", "ci.skip", "origin", "main")

	first := exec.Command(bin, "--git-dir", r.Bare, "post-receive")
	first.Env = r.Env
	first.Stdin = strings.NewReader(push.ZeroSHA + " " + slow + " refs/heads/main\n")
	var out bytes.Buffer
	first.Stdout, first.Stderr = &out, &out
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the slow run's sh call in its container", func() bool { return sleeping("324") })
	r.Commit("fast")
	r.push()
	if err := waitExit(first, time.Minute); err != nil && !strings.Contains(err.Error(), "exit status") {
		t.Fatalf("the superseded hook: %v\n%s", err, out.String())
	}
	for _, run := range r.runs() {
		if run.SHA != slow {
			continue
		}
		if run.State != store.RunSuperseded {
			t.Errorf("slow run %s (%s: %s), want superseded\n%s", run.State, run.FailureKind, run.Error, out.String())
		}
		if ids, err := engine.ListContainers(t.Context(), docker.LabelRun, run.ID); err != nil || len(ids) != 0 {
			t.Errorf("containers of the superseded run: %v, %v", ids, err)
		}
	}
	if sleeping("324") {
		t.Error("sleep 324 still runs after its run was superseded")
	}
}

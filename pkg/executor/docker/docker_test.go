package docker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/executor"
	"github.com/quire-ci/quire-hook/pkg/executor/docker"
	"github.com/quire-ci/quire-hook/pkg/executor/docker/dockertest"
)

// fixture is one run: its data root, directory and spec.
type fixture struct {
	root datadir.Root
	spec executor.RunSpec
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := datadir.Root(t.TempDir())
	id := fmt.Sprintf("docker-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	dir := root.Run(id)
	git := filepath.Join(t.TempDir(), "repo.git")
	for _, d := range []string{dir.Workspace(), string(dir.Job("build")), git} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for path, data := range map[string]string{root.DB(): "db", filepath.Join(git, "HEAD"): "ref: refs/heads/main\n"} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{root: root, spec: executor.RunSpec{RunID: id, Repo: "demo.git", Dir: dir, GitDir: git, Image: dockertest.Image}}
}

// start opens a session of an executor with options o.
func (f *fixture) start(t *testing.T, o docker.Options) *docker.Session {
	t.Helper()
	dockertest.Engine(t)
	ex, err := docker.New(o)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ex.Start(t.Context(), f.spec)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s.(*docker.Session)
}

// job opens job build of s.
func job(t *testing.T, s *docker.Session) executor.Job {
	t.Helper()
	j, err := s.Job(t.Context(), "build")
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// sh runs script in j with ctx and a timeout and returns the result,
// stdout and stderr.
func (f *fixture) sh(ctx context.Context, t *testing.T, j executor.Job, timeout time.Duration, script string) (executor.Result, string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	res, err := j.Exec(ctx, executor.Proc{
		Argv: []string{"sh", "-c", script}, Dir: f.spec.Dir.Workspace(), Timeout: timeout,
		Env: []string{"PATH=/bin", "HOME=/tmp"}, Stdout: &out, Stderr: &errb,
	})
	return res, out.String(), errb.String(), err
}

// must runs script and fails the test unless it exits 0.
func (f *fixture) must(t *testing.T, j executor.Job, script string) string {
	t.Helper()
	res, out, errs, err := f.sh(t.Context(), t, j, time.Minute, script)
	if err != nil || res.Exit != 0 {
		t.Fatalf("%q: %+v, %v; stderr %q", script, res, err, errs)
	}
	return out
}

// containers lists the engine's containers of f's run.
func (f *fixture) containers(t *testing.T) []string {
	t.Helper()
	ids, err := dockertest.Engine(t).ListContainers(t.Context(), docker.LabelRun, f.spec.RunID)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// sleepers lists the host's processes running sleep token.
func sleepers(token string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if string(b) == "sleep\x00"+token+"\x00" {
			if st, _ := os.ReadFile("/proc/" + e.Name() + "/stat"); !bytes.Contains(st, []byte(") Z ")) {
				out = append(out, pid)
			}
		}
	}
	return out
}

// waitNoSleepers waits, within a bound, until no process sleeps token.
func waitNoSleepers(t *testing.T, token string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(sleepers(token)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("sleep %s still runs on the host: pids %v", token, sleepers(token))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDocker_Container: what a job sees of its container (SPEC §4,
// "What the sandboxes guarantee").
func TestDocker_Container(t *testing.T) {
	f := newFixture(t)
	s := f.start(t, docker.Options{})
	j := job(t, s)
	defer j.Close()
	ws := f.spec.Dir.Workspace()

	t.Run("Labels", func(t *testing.T) {
		id, image := s.Container()
		if got := f.containers(t); len(got) != 1 || got[0] != id || image != dockertest.Image {
			t.Errorf("containers labelled quire.run=%s: %v; session has %s from %s", f.spec.RunID, got, id, image)
		}
	})
	t.Run("UserIsTheHooks", func(t *testing.T) {
		out := f.must(t, j, "id -u; id -g; echo x > made-by-job")
		if want := fmt.Sprintf("%d\n%d\n", os.Getuid(), os.Getgid()); out != want {
			t.Errorf("id -u, id -g: %q, want %q", out, want)
		}
		st, err := os.Stat(filepath.Join(ws, "made-by-job"))
		if err != nil {
			t.Fatal(err)
		}
		if sys := st.Sys().(*syscall.Stat_t); int(sys.Uid) != os.Getuid() || int(sys.Gid) != os.Getgid() {
			t.Errorf("file made by the job belongs to %d:%d, want the hook's %d:%d", sys.Uid, sys.Gid, os.Getuid(), os.Getgid())
		}
	})
	t.Run("NoCapabilities", func(t *testing.T) {
		if out := f.must(t, j, "grep CapEff /proc/self/status"); out != "CapEff:\t0000000000000000\n" {
			t.Errorf("got %q, want CapEff all zero", out)
		}
		if res, _, _, _ := f.sh(t.Context(), t, j, time.Minute, "mount -t tmpfs none /tmp"); res.Exit == 0 {
			t.Error("a job could mount")
		}
		if res, _, _, _ := f.sh(t.Context(), t, j, time.Minute, "umount /tmp"); res.Exit == 0 {
			t.Error("a job could unmount")
		}
	})
	t.Run("InitIsPid1", func(t *testing.T) {
		if out := f.must(t, j, "cat /proc/1/comm"); out != "docker-init\n" {
			t.Errorf("pid 1 is %q, want the engine's init", out)
		}
	})
	t.Run("WritesOnlyWorkspaceAndTmp", func(t *testing.T) {
		f.must(t, j, "echo a > "+ws+"/w && echo b > /tmp/t")
		for _, path := range []string{"/etc/x", "/x", "/bin/x", f.spec.GitDir + "/x"} {
			if res, _, _, _ := f.sh(t.Context(), t, j, time.Minute, "echo x > "+path); res.Exit == 0 {
				t.Errorf("a job could write %s", path)
			}
		}
	})
	// go test builds its test binary under $TMPDIR and runs it there:
	// /tmp must allow exec, which the engine's tmpfs refuses by default.
	t.Run("TmpIsExecutable", func(t *testing.T) {
		if out := f.must(t, j, "cp /bin/busybox /tmp/echo && /tmp/echo ran"); out != "ran\n" {
			t.Errorf("a program copied to /tmp printed %q, want ran", out)
		}
	})
	t.Run("DataRootMasked", func(t *testing.T) {
		if out := f.must(t, j, "cat "+f.spec.GitDir+"/HEAD"); out != "ref: refs/heads/main\n" {
			t.Errorf("bare repo HEAD: %q", out)
		}
		for _, path := range []string{f.root.DB(), f.spec.Dir.Jobs()} {
			if res, out, _, _ := f.sh(t.Context(), t, j, time.Minute, "ls -a "+path); res.Exit == 0 {
				t.Errorf("a job can see %s: %q", path, out)
			}
		}
		// Of the data root only the empty directories that lead to the
		// workspace exist, made by the engine for the bind mount.
		if out := f.must(t, j, "ls -a "+string(f.root)+" "+f.root.Runs()+" "+string(f.spec.Dir)); out !=
			fmt.Sprintf("%s:\n.\n..\nruns\n\n%s:\n.\n..\n%s\n\n%s:\n.\n..\nworkspace\n", f.root, f.root.Runs(), f.spec.RunID, f.spec.Dir) {
			t.Errorf("the data root in the container:\n%s", out)
		}
	})
	t.Run("NoNetwork", func(t *testing.T) {
		if out := f.must(t, j, "ls /sys/class/net"); out != "lo\n" {
			t.Errorf("interfaces %q, want only lo", out)
		}
	})
	t.Run("ServiceLivesAcrossCalls", func(t *testing.T) {
		f.must(t, j, "(sleep 1000 >/dev/null 2>&1 &) ; true")
		f.must(t, j, `for p in /proc/[0-9]*; do [ "$(cat $p/cmdline)" = sleep1000 ] && exit 0; done; exit 1`)
	})
}

func TestDocker_Network(t *testing.T) {
	f := newFixture(t)
	s := f.start(t, docker.Options{Network: true})
	j := job(t, s)
	defer j.Close()
	if out := f.must(t, j, "ls /sys/class/net"); !strings.Contains(out, "eth0") {
		t.Errorf("network = true: interfaces %q, want eth0", out)
	}
}

// TestDocker_Lifecycle: the container is removed on every path a run
// can end by, and no process of it survives on the host.
func TestDocker_Lifecycle(t *testing.T) {
	for _, c := range []struct {
		name string
		run  func(t *testing.T, f *fixture, j executor.Job, token string)
	}{
		{"Complete", func(t *testing.T, f *fixture, j executor.Job, token string) {
			f.must(t, j, "sleep "+token+" >/dev/null 2>&1 &")
		}},
		{"FailedJob", func(t *testing.T, f *fixture, j executor.Job, token string) {
			res, _, _, err := f.sh(t.Context(), t, j, time.Minute, "setsid sleep "+token+" >/dev/null 2>&1 & exit 3")
			if err != nil || res.Exit != 3 {
				t.Errorf("got %+v, %v; want exit 3", res, err)
			}
		}},
		{"Timeout", func(t *testing.T, f *fixture, j executor.Job, token string) {
			res, _, _, err := f.sh(t.Context(), t, j, 300*time.Millisecond, "exec sleep "+token)
			if err != nil || !res.TimedOut || res.Exit != -9 {
				t.Errorf("got %+v, %v; want timed out, exit -9", res, err)
			}
			waitNoSleepers(t, token)
		}},
		{"Cancel", func(t *testing.T, f *fixture, j executor.Job, token string) {
			cause := errors.New("superseded by a newer push")
			ctx, cancel := context.WithCancelCause(t.Context())
			go func() {
				for len(sleepers(token)) == 0 {
					time.Sleep(20 * time.Millisecond)
				}
				cancel(cause)
			}()
			_, _, _, err := f.sh(ctx, t, j, time.Minute, "sleep "+token+"; echo not reached")
			if !errors.Is(err, cause) {
				t.Errorf("exec error %v, want the cause", err)
			}
			waitNoSleepers(t, token)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			dockertest.Engine(t)
			ex, _ := docker.New(docker.Options{})
			sess, err := ex.Start(t.Context(), f.spec)
			if err != nil {
				t.Fatal(err)
			}
			s := sess.(*docker.Session)
			j := job(t, s)
			token := fmt.Sprintf("%d.%d", 300+os.Getpid()%100, time.Now().UnixNano()%1e9)
			c.run(t, f, j, token)
			if err := j.Close(); err != nil {
				t.Errorf("job close: %v", err)
			}
			if left := sleepers(token); len(left) > 0 {
				t.Errorf("after the job's end sleep %s still runs: %v", token, left)
			}
			if s.Contained() {
				t.Error("Contained before Close = true, want false")
			}
			if err := s.Close(t.Context()); err != nil {
				t.Errorf("session close: %v", err)
			}
			if got := f.containers(t); len(got) != 0 {
				t.Errorf("containers left after Close: %v", got)
			}
			if !s.Contained() {
				t.Error("Contained after the container's removal = false, want true")
			}
		})
	}
}

// TestDocker_Reconcile: a run whose hook was SIGKILLed leaves its
// container; RemoveRunContainers finds it by label and removes it, and
// costs nothing for a run that never had one.
func TestDocker_Reconcile(t *testing.T) {
	f := newFixture(t)
	dockertest.Engine(t)
	ex, _ := docker.New(docker.Options{})
	sess, err := ex.Start(t.Context(), f.spec)
	if err != nil {
		t.Fatal(err)
	}
	j := job(t, sess.(*docker.Session))
	token := fmt.Sprintf("%d.%d", 300+os.Getpid()%100, time.Now().UnixNano()%1e9)
	f.must(t, j, "setsid sleep "+token+" >/dev/null 2>&1 &")
	// The hook dies here: neither Job.Close nor Session.Close runs.
	n, err := docker.RemoveRunContainers(t.Context(), f.spec.Dir, f.spec.RunID)
	if err != nil || n != 1 {
		t.Errorf("RemoveRunContainers: %d, %v; want 1 removed", n, err)
	}
	if got := f.containers(t); len(got) != 0 {
		t.Errorf("containers left: %v", got)
	}
	waitNoSleepers(t, token)
	if n, err := docker.RemoveRunContainers(t.Context(), f.spec.Dir, f.spec.RunID); err != nil || n != 0 {
		t.Errorf("second RemoveRunContainers: %d, %v; want nothing to do", n, err)
	}
	other := newFixture(t)
	if n, err := docker.RemoveRunContainers(t.Context(), other.spec.Dir, other.spec.RunID); err != nil || n != 0 {
		t.Errorf("a run without a container: %d, %v", n, err)
	}
}

// TestDocker_StartErrors: what fails a run before its first job says
// what failed and why, without hanging.
func TestDocker_StartErrors(t *testing.T) {
	dockertest.Engine(t)
	for _, c := range []struct {
		name  string
		o     docker.Options
		image string
		want  []string
	}{
		{"NoImage", docker.Options{}, "", []string{`add ci.image("<image>") to .quire/ci.lua`}},
		{"MissingNeverPulled", docker.Options{Pull: docker.PullNever}, "quire-test/absent:1",
			[]string{`image quire-test/absent:1 is not on the docker engine and docker_pull is "never"`}},
		// No registry is reachable here: the pull fails with the engine's reason.
		{"PullFails", docker.Options{PullTimeout: time.Minute}, "quire-test/absent:1",
			[]string{"pull image quire-test/absent:1: ", "check the name"}},
		{"EngineDown", docker.Options{Host: "unix:///nonexistent/docker.sock"}, dockertest.Image,
			[]string{"docker engine at unix:///nonexistent/docker.sock does not answer", "start it or set DOCKER_HOST"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.spec.Image = c.image
			ex, err := docker.New(c.o)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ex.Start(t.Context(), f.spec)
			if err == nil {
				s.Close(context.Background())
				t.Fatal("Start succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is more than one line", err)
			}
			t.Logf("%s: %v", c.name, err)
			if c.name != "EngineDown" {
				if got := f.containers(t); len(got) != 0 {
					t.Errorf("containers left: %v", got)
				}
			}
		})
	}
}

// TestDocker_DataRootInBareRepo: with the data root inside the bare
// repository (quire-hook's default), the repository stays readable and
// the data root and a secret file kept there are masked.
func TestDocker_DataRootInBareRepo(t *testing.T) {
	git := filepath.Join(t.TempDir(), "repo.git")
	root := datadir.Root(filepath.Join(git, "quire"))
	id := fmt.Sprintf("docker-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	f := &fixture{root: root, spec: executor.RunSpec{RunID: id, Repo: "demo.git", Dir: root.Run(id), GitDir: git, Image: dockertest.Image}}
	secret := filepath.Join(git, "token")
	for _, d := range []string{f.spec.Dir.Workspace(), root.Run("other").Workspace()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for path, data := range map[string]string{root.DB(): "db", root.Config(): "return {}", secret: "s3cret-value",
		filepath.Join(git, "HEAD"): "ref: refs/heads/main\n"} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := f.start(t, docker.Options{Masks: []string{string(root), root.Config(), secret}})
	j := job(t, s)
	defer j.Close()
	if out := f.must(t, j, "cat "+git+"/HEAD; cat "+secret+"; echo ws > "+f.spec.Dir.Workspace()+"/f && cat "+f.spec.Dir.Workspace()+"/f"); out != "ref: refs/heads/main\nws\n" {
		t.Errorf("bare repo, secret file, workspace: %q", out)
	}
	for _, path := range []string{root.DB(), root.Config(), root.Run("other").Workspace()} {
		if res, out, _, _ := f.sh(t.Context(), t, j, time.Minute, "ls -a "+path); res.Exit == 0 {
			t.Errorf("a job can see %s: %q", path, out)
		}
	}
	if res, _, _, _ := f.sh(t.Context(), t, j, time.Minute, "echo x > "+string(root)+"/x"); res.Exit == 0 {
		t.Error("a job could write in the masked data root")
	}
}

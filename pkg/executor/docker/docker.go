// Package docker is the docker executor (SPEC §4, "docker"): one
// container per run from the pipeline's ci.image, each sh call an exec
// in it, the container removed when the run ends on every path.
//
// The container runs an init as pid 1 with a keeper process (sleep)
// under it, both as a user id other than the hook's; every exec runs as
// the hook's uid:gid with no capabilities. That split is what lets the
// executor kill everything a job left in the container with one
// "kill -9 -1" exec'd as the hook's uid: the kill reaches every process
// of that uid and cannot reach the init or the keeper, so the container
// survives for the run's next job.
//
// On a rootless engine (rootless Docker, podman run by a user) the jobs
// run as container uid 0, which the engine maps to the user it runs as:
// the hook's user when the hook runs the engine, so files a job writes
// in the workspace still belong to the operator.
package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/dockerapi"
	"github.com/quire-ci/quire-hook/pkg/executor"
)

// Pull policies: when Start pulls the image (config.lua's docker_pull).
const (
	PullMissing = "missing" // pull when the engine lacks the image (default)
	PullAlways  = "always"  // pull before every run
	PullNever   = "never"   // never pull; a missing image fails the run
)

// DefaultPullTimeout bounds ensuring the image, pull included, so that a
// registry that does not answer fails the run instead of hanging it.
const DefaultPullTimeout = 10 * time.Minute

// closeTimeout bounds removing the container and killing a job's
// leftovers, also after the run's context ended.
const closeTimeout = 30 * time.Second

// Labels every container of a run carries; reconcile finds a dead run's
// container by LabelRun.
const (
	LabelRun  = "quire.run"
	LabelRepo = "quire.repo"
)

// keeperCmd is what the init under pid 1 runs: something that lasts
// longer than any run and exists in every image that has a shell.
var keeperCmd = []string{"sleep", "2147483647"}

// Options configure the executor; the zero value is usable.
type Options struct {
	// Host is the engine (config.lua's docker_host); "" means
	// $DOCKER_HOST, else the default unix socket.
	Host string
	// Pull is PullMissing, PullAlways or PullNever; "" is PullMissing.
	Pull string
	// Network gives the container the engine's default network; without
	// it the container has none (only loopback).
	Network bool
	// PullTimeout bounds the image check and pull; 0 is
	// DefaultPullTimeout.
	PullTimeout time.Duration
	// Masks are host paths a job must not see (the data root, the
	// config file, secret files). Only the workspace and the bare
	// repository are mounted; a mask inside the bare repository (a data
	// root kept there) is covered by an empty read-only tmpfs, or
	// /dev/null for a file.
	Masks []string
	// PidsLimit bounds the processes (threads included) of the run's
	// container, so that a fork bomb cannot exhaust the host; 0 is
	// DefaultPidsLimit, -1 none.
	PidsLimit int64
	// CallTimeout bounds each engine API call but streams; 0 is
	// dockerapi.DefaultCallTimeout.
	CallTimeout time.Duration
}

// DefaultPidsLimit is the run container's bound on processes and
// threads: far above what a build uses (a parallel Go or C++ build on
// many cores stays in the low thousands), far below the host's pid_max.
const DefaultPidsLimit = 8192

// Executor runs each run in a container. Make it with New.
type Executor struct {
	opts     Options
	uid, gid int
}

// New returns a docker executor. It does not contact the engine: Start
// does, so that an engine that is down fails the run with its reason.
func New(o Options) (*Executor, error) {
	switch o.Pull {
	case "":
		o.Pull = PullMissing
	case PullMissing, PullAlways, PullNever:
	default:
		return nil, fmt.Errorf("docker_pull %q is not one of missing, always, never", o.Pull)
	}
	if o.PullTimeout == 0 {
		o.PullTimeout = DefaultPullTimeout
	}
	if o.PidsLimit == 0 {
		o.PidsLimit = DefaultPidsLimit
	}
	return &Executor{opts: o, uid: os.Getuid(), gid: os.Getgid()}, nil
}

// Name implements executor.Executor.
func (e *Executor) Name() string { return "docker" }

// ErrNoImage is Start's error when the pipeline named no ci.image; it
// is an executor.ErrNoImage.
var ErrNoImage error = noImage{}

type noImage struct{}

func (noImage) Error() string {
	return `executor "docker" needs an image: add ci.image("<image>") to .quire/ci.lua, e.g. ci.image("golang:1.26")`
}

func (noImage) Is(target error) bool { return target == executor.ErrNoImage }

// A dead run's container is removed by reconcile, whatever executor the
// operator's config names now.
func init() { executor.RegisterReaper(RemoveRunContainers) }

// Start implements executor.Executor: it makes sure the image is on the
// engine and starts the run's container.
func (e *Executor) Start(ctx context.Context, spec executor.RunSpec) (executor.Session, error) {
	if spec.Image == "" {
		return nil, ErrNoImage
	}
	// ci.image comes from the push: only a reference reaches the engine.
	if err := dockerapi.ValidRef(spec.Image); err != nil {
		return nil, fmt.Errorf("ci.image: %w", err)
	}
	host := dockerapi.Host(e.opts.Host)
	cli, err := dockerapi.Dial(ctx, host)
	if err != nil {
		return nil, err
	}
	cli.SetCallTimeout(e.opts.CallTimeout)
	img, err := e.ensureImage(ctx, cli, spec.Image)
	if err != nil {
		cli.Close()
		return nil, err
	}
	// Reconcile reads this to know the run had a container, and where.
	if err := os.WriteFile(markerFile(spec.Dir), []byte(host+"\n"), 0o600); err != nil {
		cli.Close()
		return nil, fmt.Errorf("record the docker engine of run %s: %w", spec.RunID, err)
	}
	// A rootless engine maps container uid 0 to the user it runs as:
	// the jobs run as 0:0 there, which is the hook's user on the host.
	uid, gid := e.uid, e.gid
	if rootless, err := cli.Rootless(ctx); err != nil {
		cli.Close()
		return nil, err
	} else if rootless {
		uid, gid = 0, 0
	}
	s := &Session{cli: cli, name: "quire-" + spec.RunID, image: spec.Image, imageEnv: img.Env, dir: spec.Dir,
		user: strconv.Itoa(uid) + ":" + strconv.Itoa(gid)}
	if err := s.start(ctx, e.containerConfig(spec, uid)); err != nil {
		s.Close(ctx)
		return nil, fmt.Errorf("start the run's container from image %s: %w", spec.Image, err)
	}
	return s, nil
}

// start creates and starts the container and checks that it runs: an
// image without the keeper's sleep stops at once.
func (s *Session) start(ctx context.Context, cfg dockerapi.ContainerConfig) error {
	var err error
	if s.id, err = s.cli.CreateContainer(ctx, s.name, cfg); err != nil {
		return err
	}
	if err := s.cli.StartContainer(ctx, s.id); err != nil {
		return err
	}
	st, err := s.cli.InspectContainer(ctx, s.id)
	if err != nil {
		return err
	}
	if !st.Running {
		return fmt.Errorf("it stopped at once (exit %d%s); the image needs %q and /bin/sh", st.ExitCode, errSuffix(st.Error), keeperCmd[0])
	}
	return nil
}

// ensureImage makes image available per the pull policy, within the
// pull timeout, and returns it. Errors name the image and carry the
// engine's reason.
func (e *Executor) ensureImage(ctx context.Context, cli *dockerapi.Client, image string) (dockerapi.Image, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, e.opts.PullTimeout,
		fmt.Errorf("gave up after %s", e.opts.PullTimeout))
	defer cancel()
	if e.opts.Pull != PullAlways {
		img, ok, err := cli.InspectImage(ctx, image)
		if err != nil {
			return img, fmt.Errorf("image %s: %w", image, orCause(ctx, err))
		}
		if ok {
			return img, nil
		}
		if e.opts.Pull == PullNever {
			return img, fmt.Errorf("image %s is not on the docker engine and docker_pull is \"never\"; load it there (docker pull, docker load) or allow pulls", image)
		}
	}
	if err := cli.PullImage(ctx, image); err != nil {
		return dockerapi.Image{}, fmt.Errorf("pull image %s: %w; check the name, the registry and its credentials on the engine", image, orCause(ctx, err))
	}
	img, ok, err := cli.InspectImage(ctx, image)
	if err == nil && !ok {
		err = errors.New("the engine does not have it after the pull")
	}
	if err != nil {
		return img, fmt.Errorf("image %s: %w", image, orCause(ctx, err))
	}
	return img, nil
}

// orCause prefers ctx's cause (the pull timeout) over the error it made.
func orCause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// containerConfig is the run's container: the workspace at its own path
// and the bare repo read-only, nothing else of the host; an init over a
// keeper as a uid other than the jobs'; no capabilities, no new
// privileges, a read-only root with a private /tmp, a bound on
// processes, no network unless asked.
func (e *Executor) containerConfig(spec executor.RunSpec, jobUID int) dockerapi.ContainerConfig {
	// Mounts, not Binds: a path may hold a colon.
	ws := spec.Dir.Workspace()
	mounts := []dockerapi.Mount{dockerapi.Bind(ws, false)}
	if spec.GitDir != "" {
		mounts = append(mounts, dockerapi.Bind(spec.GitDir, true))
	}
	network := "none"
	if e.opts.Network {
		network = "" // the engine's default
	}
	tmpfs := map[string]string{"/tmp": "rw,exec,nosuid,nodev,mode=1777"}
	for _, m := range masksIn(spec.GitDir, e.opts.Masks) {
		if st, err := os.Stat(m); err == nil && st.IsDir() {
			tmpfs[m] = "ro,nosuid,nodev,noexec,mode=755"
		} else if err == nil {
			mounts = append(mounts, dockerapi.Mount{Type: "bind", Source: "/dev/null", Target: m, ReadOnly: true})
		}
	}
	keeper := 65534 // nobody
	if jobUID == keeper {
		keeper--
	}
	var pids *int64
	if e.opts.PidsLimit > 0 {
		pids = &e.opts.PidsLimit
	}
	return dockerapi.ContainerConfig{
		Image:      spec.Image,
		Entrypoint: keeperCmd[:1],
		Cmd:        keeperCmd[1:],
		User:       strconv.Itoa(keeper) + ":" + strconv.Itoa(keeper),
		WorkingDir: ws,
		Labels:     map[string]string{LabelRun: spec.RunID, LabelRepo: spec.Repo},
		// An image's health check would run its command beside the jobs,
		// as the keeper's uid, out of reach of the kill at a job's end.
		Healthcheck: &dockerapi.Healthcheck{Test: []string{"NONE"}},
		HostConfig: dockerapi.HostConfig{
			Mounts:         mounts,
			NetworkMode:    network,
			Init:           true,
			CapDrop:        []string{"ALL"},
			SecurityOpt:    []string{"no-new-privileges"},
			ReadonlyRootfs: true,
			Tmpfs:          tmpfs,
			PidsLimit:      pids,
		},
	}
}

// masksIn returns the masks inside dir, but for those inside another.
func masksIn(dir string, masks []string) []string {
	inside := func(p, d string) bool { return d != "" && strings.HasPrefix(p, d+"/") }
	var out []string
	for _, m := range masks {
		if !inside(m, dir) || slices.Contains(out, m) || slices.ContainsFunc(masks, func(o string) bool { return inside(m, o) }) {
			continue
		}
		out = append(out, m)
	}
	return out
}

// markerFile is the file in the run's directory naming the engine of
// its container, for reconcile.
func markerFile(dir datadir.RunDir) string {
	return filepath.Join(string(dir), "docker-host")
}

// Session is one run's container. It implements executor.Session.
type Session struct {
	cli   *dockerapi.Client
	id    string // "" until the create succeeded
	name  string // quire-<run id>
	image string
	// imageEnv is the image's ENV: the container's environment, which
	// every exec's request unsets but for the image's PATH.
	imageEnv []string
	dir      datadir.RunDir
	user     string // the hook's uid:gid, every exec's user
	removed  bool   // Close removed the container
}

// Contained implements executor.Contained: true once Close removed the
// container, which kills every process in it (every exec runs there).
func (s *Session) Contained() bool { return s.removed }

// Container returns the container's id and image, for runs.container_id
// and runs.image_tag.
func (s *Session) Container() (id, image string) { return s.id, s.image }

// Job implements executor.Session.
func (s *Session) Job(ctx context.Context, jobID string) (executor.Job, error) {
	if err := s.running(ctx); err != nil {
		return nil, fmt.Errorf("job %s: %w", jobID, err)
	}
	return &Job{s: s}, nil
}

// running returns an error unless the run's container still runs.
func (s *Session) running(ctx context.Context) error {
	st, err := s.cli.InspectContainer(ctx, s.id)
	if dockerapi.IsNotFound(err) {
		return fmt.Errorf("the run's container %s is gone: something else removed it", s.name)
	}
	if err != nil {
		return err
	}
	if !st.Running {
		return fmt.Errorf("the run's container %s is no longer running (exit %d%s); see docker logs %s", s.name, st.ExitCode, errSuffix(st.Error), s.name)
	}
	return nil
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return ": " + e
}

// Close implements executor.Session: the container is force-removed,
// which kills whatever still runs in it.
func (s *Session) Close(ctx context.Context) error {
	defer s.cli.Close()
	ref := s.id
	if ref == "" {
		ref = s.name // a create that failed may still have made it
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	if err := s.cli.RemoveContainer(ctx, ref); err != nil {
		return fmt.Errorf("%w; remove it by hand: docker rm -f %s", err, s.name)
	}
	os.Remove(markerFile(s.dir))
	s.removed = true
	return nil
}

package dockerapi_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/dockerapi"
	"github.com/quire-ci/quire-hook/pkg/executor/docker/dockertest"
)

// TestNegotiate: against the real engine, the client speaks an API
// version no older than MinAPIVersion (Debian's engine 20.10 gives
// exactly 1.41).
func TestNegotiate(t *testing.T) {
	c := dockertest.Engine(t)
	minor := func(v string) int {
		_, m, _ := strings.Cut(v, ".")
		n, _ := strconv.Atoi(m)
		return n
	}
	if v := c.Version(); !strings.HasPrefix(v, "1.") || minor(v) < minor(dockerapi.MinAPIVersion) {
		t.Errorf("negotiated API %q, want 1.41 or newer", v)
	}
	t.Logf("engine %s speaks API %s", c.HostName(), c.Version())
}

// TestSSH_Engine: over ssh://, the client reaches the engine through
// "docker system dial-stdio" run by ssh. The ssh here runs it on this
// host (no sshd is at hand), so the test engine answers; every byte of
// an exec's output arrives, also the last ones before the relay ends.
func TestSSH_Engine(t *testing.T) {
	c := dockertest.Engine(t)
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker CLI for dial-stdio")
	}
	dir := t.TempDir()
	// ssh [options] -- host command...: run the command here.
	script := "#!/bin/sh\nwhile [ \"$1\" != -- ]; do shift; done\nshift 2\nexec \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "ssh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	t.Setenv("DOCKER_HOST", c.HostName())
	s, err := dockerapi.Dial(t.Context(), "ssh://ci:pw@build.example")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Version() != c.Version() {
		t.Errorf("over ssh API %s, directly %s", s.Version(), c.Version())
	}
	name := fmt.Sprintf("quire-ssh-test-%d", os.Getpid())
	id, err := s.CreateContainer(t.Context(), name, dockerapi.ContainerConfig{
		Image: dockertest.Image, Entrypoint: []string{"sleep"}, Cmd: []string{"1000"},
		HostConfig: dockerapi.HostConfig{NetworkMode: "none"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.RemoveContainer(context.Background(), id)
	if err := s.StartContainer(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	x, err := s.CreateExec(t.Context(), id, dockerapi.ExecConfig{Cmd: []string{"sh", "-c", "head -c 1000000 /dev/zero; echo end"}, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.StartExec(t.Context(), x)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out strings.Builder
	if err := st.Demux(&out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 1000004 || !strings.HasSuffix(out.String(), "end\n") {
		t.Errorf("over ssh the exec's output is %d bytes, ends %q", out.Len(), out.String()[max(0, out.Len()-8):])
	}
}

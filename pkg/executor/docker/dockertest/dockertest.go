// Package dockertest gives tests a real Docker engine and a small local
// image: the engine of $DOCKER_HOST (or the default socket), which
// .ci/run starts when none answers, and a busybox image imported from
// the busybox-static package's binary, as no registry is reachable.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/dockerapi"
)

// Image is the test image's ref: busybox-static's binary and its applet
// links under /bin, nothing else.
const Image = "quire-test/busybox:1"

var (
	once    sync.Once
	client  *dockerapi.Client
	skipWhy string
)

// Engine returns a client of the test engine with Image on it, or skips
// tb saying why none could be had.
func Engine(tb testing.TB) *dockerapi.Client {
	tb.Helper()
	once.Do(setup)
	if client == nil {
		tb.Skipf("no docker engine: %s (.ci/run installs docker.io and starts one)", skipWhy)
	}
	return client
}

func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	host := dockerapi.Host("")
	c, err := dockerapi.Dial(ctx, host)
	if err != nil {
		skipWhy = err.Error()
		return
	}
	_, ok, err := c.InspectImage(ctx, Image)
	if err != nil {
		skipWhy = err.Error()
		return
	}
	if !ok {
		rootfs, err := busyboxRootfs()
		if err != nil {
			skipWhy = err.Error()
			return
		}
		if err := c.ImportImage(ctx, rootfs, Image); err != nil {
			skipWhy = err.Error()
			return
		}
	}
	client = c
}

// busyboxRootfs is a tar of /bin/busybox and a link per applet.
func busyboxRootfs() (*bytes.Buffer, error) {
	path, err := exec.LookPath("busybox")
	if err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	list, err := exec.Command(path, "--list").Output()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"bin/", "tmp/", "etc/"} {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755})
	}
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin))})
	tw.Write(bin)
	for _, a := range strings.Fields(string(list)) {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777})
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

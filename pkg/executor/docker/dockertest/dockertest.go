// Package dockertest gives tests a real Docker engine and a small local
// image: the engine of $DOCKER_HOST (or the default socket), which
// .ci/run starts when none answers, and a busybox image imported from
// the busybox-static package's binary, as no registry is reachable.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
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
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := writeBusybox(tw); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// writeBusybox writes /bin/busybox, a link per applet, /tmp and /etc.
func writeBusybox(tw *tar.Writer) error {
	path, err := exec.LookPath("busybox")
	if err != nil {
		return err
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	list, err := exec.Command(path, "--list").Output()
	if err != nil {
		return err
	}
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
	return nil
}

// GoImage returns the ref of an image holding busybox and the Go
// toolchain that runs the tests, at the same GOROOT path (so the host's
// PATH finds it), importing it on the engine the first time; it skips
// tb as Engine does. The import streams about 250 MB and takes seconds.
func GoImage(tb testing.TB) string {
	tb.Helper()
	c := Engine(tb)
	out, err := exec.Command("go", "env", "GOROOT", "GOVERSION").Output()
	if err != nil {
		tb.Fatalf("go env: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		tb.Fatalf("go env GOROOT GOVERSION: %q", out)
	}
	goroot, ref := f[0], "quire-test/go:"+strings.TrimPrefix(f[1], "go")
	goMu.Lock()
	defer goMu.Unlock()
	if _, ok, err := c.InspectImage(tb.Context(), ref); err != nil {
		tb.Fatal(err)
	} else if ok {
		return ref
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeGoRootfs(pw, goroot)) }()
	if err := c.ImportImage(tb.Context(), pr, ref); err != nil {
		pr.CloseWithError(err)
		tb.Fatalf("import %s: %v", ref, err)
	}
	return ref
}

var goMu sync.Mutex

// writeGoRootfs writes busybox and the tree under goroot, at its path.
func writeGoRootfs(w io.Writer, goroot string) error {
	tw := tar.NewWriter(w)
	if err := writeBusybox(tw); err != nil {
		return err
	}
	err := filepath.WalkDir(goroot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = strings.TrimPrefix(path, "/")
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// HostileImage returns the ref of the test image with a configuration a
// hostile pusher might pick (an entrypoint, user, working directory,
// environment and a health check of its own, a volume), importing it the
// first time; it skips tb as Engine does. Its health check runs "sleep
// 7777" every second.
func HostileImage(tb testing.TB) string {
	tb.Helper()
	c := Engine(tb)
	const ref = "quire-test/hostile:1"
	goMu.Lock()
	defer goMu.Unlock()
	if _, ok, err := c.InspectImage(tb.Context(), ref); err != nil {
		tb.Fatal(err)
	} else if ok {
		return ref
	}
	rootfs, err := busyboxRootfs()
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.ImportImage(tb.Context(), rootfs, ref,
		`ENTRYPOINT ["/bin/false"]`, "USER 0:0", "WORKDIR /nonexistent", "ENV LD_PRELOAD=/nonexistent.so PATH=/bin",
		"VOLUME /data", "HEALTHCHECK --interval=1s --timeout=30s CMD sleep 7777"); err != nil {
		tb.Fatalf("import %s: %v", ref, err)
	}
	return ref
}

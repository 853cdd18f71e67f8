package dockerapi

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeEngine serves h on a unix socket, as a hostile or broken engine
// would, and returns a client of it. GET /version answers API 1.41 unless
// h does.
func fakeEngine(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "e.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/version" {
			io.WriteString(w, `{"ApiVersion":"1.41","MinAPIVersion":"1.12"}`)
			return
		}
		h(w, r)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c, err := Dial(t.Context(), "unix://"+sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// hang blocks until the client goes away.
func hang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// TestClient_HungEngine: an engine that takes a request and never
// answers fails the call after the call timeout, whatever the caller's
// context, instead of hanging the run.
func TestClient_HungEngine(t *testing.T) {
	c := fakeEngine(t, hang)
	c.SetCallTimeout(50 * time.Millisecond)
	for name, call := range map[string]func(ctx context.Context) error{
		"InspectContainer": func(ctx context.Context) error { _, err := c.InspectContainer(ctx, "abc"); return err },
		"CreateExec": func(ctx context.Context) error {
			_, err := c.CreateExec(ctx, "abc", ExecConfig{Cmd: []string{"true"}})
			return err
		},
		"InspectExec":     func(ctx context.Context) error { _, err := c.InspectExec(ctx, "abc"); return err },
		"StartExec":       func(ctx context.Context) error { _, err := c.StartExec(ctx, "abc"); return err },
		"RemoveContainer": func(ctx context.Context) error { return c.RemoveContainer(ctx, "abc") },
		"Rootless":        func(ctx context.Context) error { _, err := c.Rootless(ctx); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := call(context.Background())
			if err == nil || !strings.Contains(err.Error(), "no answer within 50ms") {
				t.Errorf("got %v, want the call to give up saying so", err)
			}
		})
	}
}

// endless writes an answer that never ends and counts what it wrote.
func endless(prefix, fill string, wrote *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, prefix)
		chunk := []byte(strings.Repeat(fill, 64<<10/len(fill)))
		for {
			n, err := w.Write(chunk)
			wrote.Add(int64(n))
			if err != nil {
				return
			}
		}
	}
}

// TestClient_EndlessAnswers: an engine that answers without end (one
// JSON value, one progress line, the headers of an exec's stream) costs
// the client a bounded amount of memory and an error, not a hang.
func TestClient_EndlessAnswers(t *testing.T) {
	const bound = 64 << 20
	t.Run("JSON", func(t *testing.T) {
		var wrote atomic.Int64
		c := fakeEngine(t, endless(`{"State":{"Error":"`, "x", &wrote))
		_, err := c.InspectContainer(t.Context(), "abc")
		if err == nil || wrote.Load() > bound {
			t.Errorf("got %v after the engine wrote %d bytes, want an error within %d", err, wrote.Load(), bound)
		}
	})
	t.Run("Progress", func(t *testing.T) {
		var wrote atomic.Int64
		c := fakeEngine(t, endless(`{"status":"`, "x", &wrote))
		err := c.PullImage(t.Context(), "a:1")
		if err == nil || wrote.Load() > bound {
			t.Errorf("got %v after the engine wrote %d bytes, want an error within %d", err, wrote.Load(), bound)
		}
	})
	t.Run("ExecHeaders", func(t *testing.T) {
		var wrote atomic.Int64
		c := fakeEngine(t, func(w http.ResponseWriter, r *http.Request) {
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			brw.WriteString("HTTP/1.1 101 UPGRADED\r\nX-Junk: ")
			brw.Flush()
			endless("", "x", &wrote)(writerOnly{conn}, r)
		})
		_, err := c.StartExec(t.Context(), "abc")
		if err == nil || wrote.Load() > bound {
			t.Errorf("got %v after the engine wrote %d bytes, want an error within %d", err, wrote.Load(), bound)
		}
	})
}

// writerOnly is a ResponseWriter over a raw connection, for endless.
type writerOnly struct{ net.Conn }

func (writerOnly) Header() http.Header { return http.Header{} }
func (writerOnly) WriteHeader(int)     {}

// TestClient_ErrorMessages: the engine's error message becomes one
// bounded line, whatever it holds.
func TestClient_ErrorMessages(t *testing.T) {
	msg := "first line\nsecond\x1b[31m line\r\n\xff\xfe" + strings.Repeat("y", 100<<10)
	c := fakeEngine(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, msg)
	})
	_, err := c.InspectContainer(t.Context(), "abc")
	if err == nil {
		t.Fatal("no error")
	}
	s := err.Error()
	if strings.ContainsAny(s, "\n\r\x1b") || !strings.Contains(s, "first line second") || len(s) > 1200 || !strings.Contains(s, "500") {
		t.Errorf("error is %d bytes: %.300q", len(s), s)
	}
	// Garbage where JSON belongs is an error naming the call.
	c = fakeEngine(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>\x00\n") })
	if _, err := c.InspectExec(t.Context(), "abc"); err == nil || !strings.Contains(err.Error(), "GET /exec/abc/json: decode answer") {
		t.Errorf("garbage answer: %v", err)
	}
}

// TestDemux_BogusFrames: a frame header's size is not allocated, a
// stream that ends inside a frame or names an unknown stream is an
// error.
func TestDemux_BogusFrames(t *testing.T) {
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"HugeSize":      {frame(1, 0xffffffff, "short"), "unexpected EOF"},
		"UnknownStream": {frame(7, 1, "x"), "bad frame header"},
		"CutHeader":     {[]byte{1, 0, 0}, "unexpected EOF"},
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			s := &Stream{r: bufio.NewReader(strings.NewReader(string(c.data)))}
			var out strings.Builder
			err := s.Demux(&out, &out)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
			if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
				t.Errorf("demux allocated %d bytes", d)
			}
		})
	}
}

func frame(stream byte, size uint32, payload string) []byte {
	b := make([]byte, 8, 8+len(payload))
	b[0] = stream
	binary.BigEndian.PutUint32(b[4:], size)
	return append(b, payload...)
}

// TestDial_Sockets: what DOCKER_HOST or docker_host may point at.
func TestDial_Sockets(t *testing.T) {
	dir := t.TempDir()
	t.Run("RelativeUnixPath", func(t *testing.T) {
		// unix://d.sock is d.sock in the working directory, as the docker
		// CLI reads it, not the root of the file system.
		t.Chdir(dir)
		os.MkdirAll("run", 0o755)
		l, err := net.Listen("unix", "run/d.sock")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		dial, err := dialer("unix://run/d.sock")
		if err != nil {
			t.Fatal(err)
		}
		conn, err := dial(t.Context())
		if err != nil {
			t.Fatalf("dial unix://run/d.sock: %v", err)
		}
		conn.Close()
	})
	t.Run("FIFO", func(t *testing.T) {
		fifo := filepath.Join(dir, "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Dial(t.Context(), "unix://"+fifo)
		if err == nil || !strings.Contains(err.Error(), "does not answer") {
			t.Errorf("a FIFO as the socket: %v", err)
		}
	})
	t.Run("NotASocket", func(t *testing.T) {
		_, err := Dial(t.Context(), "unix:///etc/passwd")
		if err == nil || !strings.Contains(err.Error(), "does not answer") {
			t.Errorf("/etc/passwd as the socket: %v", err)
		}
	})
	t.Run("Symlink", func(t *testing.T) {
		c := fakeEngine(t, hang)
		link := filepath.Join(dir, "link.sock")
		if err := os.Symlink(strings.TrimPrefix(c.HostName(), "unix://"), link); err != nil {
			t.Fatal(err)
		}
		c2, err := Dial(t.Context(), "unix://"+link)
		if err != nil {
			t.Fatalf("a symlink to the socket: %v", err)
		}
		c2.Close()
	})
}

// TestValidRef: ci.image comes from a push; only an image reference
// reaches an API path or query.
func TestValidRef(t *testing.T) {
	for _, ref := range []string{
		"golang", "golang:1.26", "library/golang:1.26-bookworm", "registry:5000/team/img:v2", "Host.example/x:y",
		"alpine@sha256:" + strings.Repeat("0a", 32), "alpine:3.20@sha256:" + strings.Repeat("0a", 32),
		"[::1]:5000/img", "a__b/c-d--e.f",
	} {
		if err := ValidRef(ref); err != nil {
			t.Errorf("ValidRef(%q): %v", ref, err)
		}
	}
	for _, ref := range []string{
		"", "--privileged", "../x", "a/../x", "a b", "a\nb", "a:1\n", "Upper", "a:", "a:-x", "a@sha256:xyz", "a?x=1",
		"a#x", "a/json?", "a%2F..", "/a", "a/", "a//b", strings.Repeat("a", 10<<10), "a:" + strings.Repeat("t", 129),
		"a@sha256:" + strings.Repeat("0", 10<<10), "a\x00b", "ä",
	} {
		err := ValidRef(ref)
		if err == nil {
			t.Errorf("ValidRef(%.40q) accepted it", ref)
		} else if strings.ContainsAny(err.Error(), "\n\x00") || len(err.Error()) > 300 {
			t.Errorf("ValidRef(%.40q): error is not one short line: %.300q", ref, err)
		}
	}
}

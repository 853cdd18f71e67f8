package crilog

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A reader running as root (quire-hook serve) must not be pointed at
// another file by a job that can write its run's directory, nor hang on
// a FIFO put where a log should be.
func TestOpenLog(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("2026-01-01T00:00:00Z stdout F root:x:0:0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "sh-1.log")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "sh-2.log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dir, "sh-3.log")
	w, err := Create(real)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()

	for _, tc := range []struct{ name, path, want string }{
		{"Symlink", link, "symbolic link"},
		{"FIFO", fifo, "FIFO"},
		{"Directory", dir, "directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				f, err := OpenLog(tc.path)
				if err == nil {
					f.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("got %v, want an error saying %q", err, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("OpenLog blocked")
			}
		})
	}
	t.Run("Readers", func(t *testing.T) {
		if _, err := Follow(link); err == nil {
			t.Error("Follow read through a symlink")
		}
		if _, err := FollowAt(link, 0); err == nil {
			t.Error("FollowAt read through a symlink")
		}
		if _, err := Tail(link, 10, 1024); err == nil {
			t.Error("Tail read through a symlink")
		}
	})
	t.Run("RealLog", func(t *testing.T) {
		f, err := OpenLog(real)
		if err != nil {
			t.Fatalf("a log Writer made was refused: %v", err)
		}
		f.Close()
	})
}

// OpenLogBelow follows no symbolic link anywhere below the root: a job
// directory swapped for a link to another data root's logs, after the
// web UI checked it, must still not be read.
func TestOpenLogBelow(t *testing.T) {
	root := t.TempDir()
	other := t.TempDir()
	for _, dir := range []string{filepath.Join(root, "runs", "r1", "jobs", "build"), filepath.Join(other, "build")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		w, err := Create(filepath.Join(dir, "sh-1.log"))
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	good := filepath.Join(root, "runs", "r1", "jobs", "build", "sh-1.log")
	f, err := OpenLogBelow(root, good)
	if err != nil {
		t.Fatalf("a real log was refused: %v", err)
	}
	f.Close()

	if err := os.Symlink(filepath.Join(other, "build"), filepath.Join(root, "runs", "r1", "jobs", "test")); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"LinkedDirectory": filepath.Join(root, "runs", "r1", "jobs", "test", "sh-1.log"),
		"Outside":         filepath.Join(other, "build", "sh-1.log"),
		"DotDot":          filepath.Join(root, "..", filepath.Base(other), "build", "sh-1.log"),
	} {
		t.Run(name, func(t *testing.T) {
			if f, err := OpenLogBelow(root, path); err == nil {
				f.Close()
				t.Errorf("OpenLogBelow opened %s", path)
			}
		})
	}
	t.Run("Missing", func(t *testing.T) {
		_, err := OpenLogBelow(root, filepath.Join(root, "runs", "r1", "jobs", "build", "sh-9.log"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("got %v, want an error wrapping fs.ErrNotExist", err)
		}
	})
}

package config

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfig_NewExecutor(t *testing.T) {
	t.Run("Host", func(t *testing.T) {
		ex, err := Default().NewExecutor(t.TempDir(), t.TempDir(), false)
		if err != nil || ex.Name() != "host" {
			t.Fatalf("got %v, %v; want the host executor", ex, err)
		}
	})
	t.Run("Bwrap", func(t *testing.T) {
		if _, err := exec.LookPath("bwrap"); err != nil {
			t.Skip("bubblewrap (bwrap) is not installed; .ci/run installs it")
		}
		c := Default()
		c.Executor = ExecutorBwrap
		ex, err := c.NewExecutor(t.TempDir(), t.TempDir(), false)
		if err != nil || ex.Name() != "bwrap" {
			t.Fatalf("got %v, %v; want the bwrap executor", ex, err)
		}
		missing := filepath.Join(t.TempDir(), "missing")
		c.Binds = []Bind{{Path: missing}}
		if _, err := c.NewExecutor(t.TempDir(), t.TempDir(), false); err == nil || !strings.Contains(err.Error(), "bind "+missing+" does not exist") {
			t.Errorf("a missing bind gave %v", err)
		}
	})
	t.Run("Docker", func(t *testing.T) {
		c := Default()
		c.Executor = ExecutorDocker
		if ex, err := c.NewExecutor(t.TempDir(), t.TempDir(), false); err != nil || ex.Name() != "docker" {
			t.Errorf("got %v, %v; want the docker executor", ex, err)
		}
	})
}

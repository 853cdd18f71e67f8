package config

import (
	"strings"
	"testing"
)

func TestLoad_Docker(t *testing.T) {
	t.Run("Keys", func(t *testing.T) {
		p := write(t, `return { executor = "docker", docker_pull = "never", docker_host = "tcp://127.0.0.1:2375" }`)
		c, err := Load(t.Context(), p, true)
		if err != nil {
			t.Fatal(err)
		}
		if c.Docker != (Docker{Pull: "never", Host: "tcp://127.0.0.1:2375"}) || len(c.Warnings) != 0 {
			t.Errorf("got %+v, warnings %q", c.Docker, c.Warnings)
		}
		ex, err := c.NewExecutor(t.TempDir(), t.TempDir(), false)
		if err != nil || ex.Name() != "docker" {
			t.Errorf("got %v, %v; want the docker executor", ex, err)
		}
	})
	// Plain TCP off loopback carries every sh call's environment,
	// secrets included, unencrypted to a port that is root on its host.
	t.Run("PlainTCPWarns", func(t *testing.T) {
		c, err := Load(t.Context(), write(t, `return { docker_host = "tcp://10.0.0.5:2375" }`), true)
		if err != nil || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "plain TCP without TLS") {
			t.Errorf("got %v, warnings %q; want one about plain TCP", err, c.Warnings)
		}
	})
	t.Run("Defaults", func(t *testing.T) {
		c, err := Load(t.Context(), write(t, `return { executor = "docker" }`), true)
		if err != nil || c.Docker != (Docker{}) {
			t.Errorf("got %+v, %v; want the zero Docker (pull missing, $DOCKER_HOST)", c.Docker, err)
		}
	})
	for _, c := range []struct{ name, lua, want string }{
		{"Pull", `return { docker_pull = "sometimes" }`, `docker_pull "sometimes" is not one of "missing", "always", "never"`},
		{"PullType", `return { docker_pull = true }`, `docker_pull must be a string, not a boolean`},
		{"Host", `return { docker_host = "http://x" }`, `docker_host "http://x" is not unix:///path/docker.sock, tcp://host:port or ssh://user@host`},
		{"HostNoHost", `return { docker_host = "tcp://" }`, `docker_host "tcp://" is not`},
		// A password in a bad value is not printed.
		{"HostPassword", `return { docker_host = "ftp://u:hunter2@h" }`, `docker_host "ftp://u:xxxxx@h" is not`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(t.Context(), write(t, c.lua), true)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

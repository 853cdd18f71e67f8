package dockerapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSSH puts an ssh first on PATH that records its argv, one argument
// a line, in the returned file, says why it failed on stderr and exits.
func fakeSSH(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	argv := filepath.Join(dir, "argv")
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >" + argv + "\necho 'ssh: connect to host: Connection refused' >&2\nexit 255\n"
	if err := os.WriteFile(filepath.Join(dir, "ssh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	return argv
}

// TestDial_SSH: docker_host ssh:// values reach ssh as a host and a
// login, never as options; a password in them is never on ssh's
// command line nor in a message; ssh's own complaint is.
func TestDial_SSH(t *testing.T) {
	for _, c := range []struct {
		host string
		want []string
	}{
		{"ssh://-oProxyCommand=sh", []string{"-o", "BatchMode=yes", "--", "-oProxyCommand=sh", "docker", "system", "dial-stdio"}},
		{"ssh://-oProxyCommand=x:pw@build.example:2222", []string{"-o", "BatchMode=yes", "-l", "-oProxyCommand=x", "-p", "2222", "--", "build.example", "docker", "system", "dial-stdio"}},
		{"ssh://ci:hunter2pw@[::1]", []string{"-o", "BatchMode=yes", "-l", "ci", "--", "::1", "docker", "system", "dial-stdio"}},
	} {
		argv := fakeSSH(t)
		_, err := Dial(t.Context(), c.host)
		if err == nil {
			t.Fatalf("%s: Dial succeeded", c.host)
		}
		b, rerr := os.ReadFile(argv)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"); strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: ssh argv %q, want %q", c.host, got, c.want)
		}
		if strings.Contains(string(b), "pw@") || strings.Contains(err.Error(), "hunter2pw") || strings.Contains(err.Error(), ":pw@") {
			t.Errorf("%s: the password shows: argv %q, error %v", c.host, b, err)
		}
		if !strings.Contains(err.Error(), "Connection refused") {
			t.Errorf("%s: error %v does not say what ssh said", c.host, err)
		}
	}
}

package dockerapi

import (
	"strings"
	"testing"
)

func TestSplitRef(t *testing.T) {
	for ref, want := range map[string][2]string{
		"golang:1.26":                    {"golang", "1.26"},
		"golang":                         {"golang", ""},
		"registry:5000/team/img":         {"registry:5000/team/img", ""},
		"registry:5000/team/img:v2":      {"registry:5000/team/img", "v2"},
		"alpine@sha256:0123456789abcdef": {"alpine", "sha256:0123456789abcdef"},
	} {
		if name, tag := splitRef(ref); name != want[0] || tag != want[1] {
			t.Errorf("splitRef(%q) = %q, %q; want %q, %q", ref, name, tag, want[0], want[1])
		}
	}
}

func TestVersionLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"1.41", "1.47", true}, {"1.47", "1.41", false}, {"1.9", "1.41", true}, {"1.41", "1.41", false}, {"2.0", "1.47", false},
	} {
		if got := versionLess(c.a, c.b); got != c.want {
			t.Errorf("versionLess(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

func TestDialer(t *testing.T) {
	for _, host := range []string{"unix:///var/run/docker.sock", "tcp://10.0.0.5:2375", "ssh://ci@build.example.com:2222"} {
		if _, err := dialer(host); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	for _, host := range []string{"http://x", "tcp://", "ssh://", "/var/run/docker.sock"} {
		if _, err := dialer(host); err == nil {
			t.Errorf("%s: accepted", host)
		}
	}
}

func TestHostWarning(t *testing.T) {
	for host, warn := range map[string]bool{
		"tcp://10.0.0.5:2375": true, "tcp://build.example:2375": true, "tcp://[::1]:2375": false,
		"tcp://127.0.0.1:2375": false, "tcp://localhost:2375": false, "unix:///var/run/docker.sock": false,
		"ssh://ci@build.example": false,
	} {
		if got := HostWarning(host); (got != "") != warn || warn && !strings.Contains(got, "ssh://") {
			t.Errorf("HostWarning(%s) = %q", host, got)
		}
	}
}

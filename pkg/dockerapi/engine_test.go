package dockerapi_test

import (
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

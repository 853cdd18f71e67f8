package docker

import (
	"slices"
	"testing"
)

func TestExecEnv(t *testing.T) {
	image := []string{"PATH=/usr/local/go/bin:/usr/bin:/bin", "GOLANG_VERSION=1.26", "GOPATH=/go"}
	got := execEnv([]string{"PATH=/usr/bin:/bin", "GOPATH=/work", "CI=true"}, image)
	want := []string{"PATH=/usr/bin:/bin:/usr/local/go/bin", "GOPATH=/work", "CI=true", "HOSTNAME", "GOLANG_VERSION"}
	if !slices.Equal(got, want) {
		t.Errorf("execEnv:\n got %q\nwant %q", got, want)
	}
	// No PATH in env: the container's is unset, not extended.
	got = execEnv([]string{"A=1"}, image)
	want = []string{"A=1", "HOSTNAME", "PATH", "GOLANG_VERSION", "GOPATH"}
	if !slices.Equal(got, want) {
		t.Errorf("execEnv without PATH:\n got %q\nwant %q", got, want)
	}
}

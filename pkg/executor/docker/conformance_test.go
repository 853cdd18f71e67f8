package docker_test

import (
	"testing"

	"github.com/quire-ci/quire-hook/pkg/executor"
	"github.com/quire-ci/quire-hook/pkg/executor/docker"
	"github.com/quire-ci/quire-hook/pkg/executor/docker/dockertest"
	"github.com/quire-ci/quire-hook/pkg/executor/executortest"
)

// The conformance table, each subtest in a container of the test image
// on the test engine.
func TestDocker_Conformance(t *testing.T) {
	dockertest.Engine(t)
	executortest.RunWithImage(t, dockertest.Image, func(t *testing.T) executor.Executor {
		ex, err := docker.New(docker.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return ex
	})
}

package docker_test

import (
	"context"
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
	executortest.Run(t, func(t *testing.T) executor.Executor {
		ex, err := docker.New(docker.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return withImage{ex}
	})
}

// withImage gives the table's runs, which name no image, the test image.
type withImage struct{ *docker.Executor }

func (w withImage) Start(ctx context.Context, spec executor.RunSpec) (executor.Session, error) {
	spec.Image = dockertest.Image
	return w.Executor.Start(ctx, spec)
}

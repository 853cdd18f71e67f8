package docker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/dockerapi"
)

// RemoveRunContainers removes the containers of a dead run, found on
// the engine Start recorded in the run's directory by their quire.run
// label, and returns how many it removed. A run that never had a
// container (another executor, or it died before Start) costs nothing:
// no engine is contacted. Reconcile calls it for each run it marks
// orphaned.
func RemoveRunContainers(ctx context.Context, dir datadir.RunDir, runID string) (int, error) {
	b, err := os.ReadFile(markerFile(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the docker engine of run %s: %w", runID, err)
	}
	cli, err := dockerapi.Dial(ctx, strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("remove the container of run %s: %w", runID, err)
	}
	defer cli.Close()
	ids, err := cli.ListContainers(ctx, LabelRun, runID)
	if err != nil {
		return 0, fmt.Errorf("remove the container of run %s: %w", runID, err)
	}
	n := 0
	for _, id := range ids {
		if err := cli.RemoveContainer(ctx, id); err != nil {
			return n, fmt.Errorf("remove the container of run %s: %w", runID, err)
		}
		n++
	}
	os.Remove(markerFile(dir))
	return n, nil
}

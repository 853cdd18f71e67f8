package config

import (
	"fmt"

	// config.go has a func named executor.
	seam "github.com/quire-ci/quire-hook/pkg/executor"
	"github.com/quire-ci/quire-hook/pkg/executor/bwrap"
	"github.com/quire-ci/quire-hook/pkg/executor/host"
)

// NewExecutor builds the executor c names (c as ForRepo gave it) for
// the repository whose bare repository is gitDir, in the data root
// dataRoot. ownsChildren is host.Executor.OwnsChildren: true only in the
// hook. Each executor is one case here.
func (c Config) NewExecutor(dataRoot, gitDir string, ownsChildren bool) (seam.Executor, error) {
	h := host.Executor{OwnsChildren: ownsChildren}
	switch c.Executor {
	case ExecutorHost:
		return &h, nil
	case ExecutorBwrap:
		return c.bwrap(dataRoot, gitDir, h)
	case ExecutorDocker:
		return c.docker(dataRoot)
	}
	return nil, fmt.Errorf("executor %q is unknown; use \"host\" or \"bwrap\"", c.Executor)
}

// bwrap builds the bwrap executor: the network as c says, the bare
// repository readable, c's binds mounted, and masked what a job must
// not read: the data root (the database, config.lua, other runs' logs
// and workspaces), the config file wherever it is, and every secret
// file.
func (c Config) bwrap(dataRoot, gitDir string, h host.Executor) (seam.Executor, error) {
	masks := []string{dataRoot, c.Path}
	for _, s := range c.Secrets {
		if s.File != "" {
			masks = append(masks, s.File)
		}
	}
	b, err := bwrap.New(c.Network, gitDir, masks)
	if err != nil {
		return nil, err
	}
	b.Host = h
	for _, bind := range c.Binds {
		if err := b.Bind(bind.Path, bind.RW); err != nil {
			return nil, err
		}
	}
	return b, nil
}

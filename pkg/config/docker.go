package config

import (
	"fmt"
	"net/url"

	lua "github.com/yuin/gopher-lua"

	"github.com/quire-ci/quire-hook/pkg/dockerapi"
	seam "github.com/quire-ci/quire-hook/pkg/executor"
	"github.com/quire-ci/quire-hook/pkg/executor/docker"
)

// Docker is the docker executor's part of config.lua.
type Docker struct {
	// Pull is docker_pull: "missing" (default), "always" or "never".
	Pull string
	// Host is docker_host, the engine: unix:///path, tcp://host:port
	// or ssh://user@host; "" means $DOCKER_HOST, else the default socket.
	Host string
}

// parseDocker reads docker_pull or docker_host into c.Docker.
func (c *Config) parseDocker(key string, v lua.LValue) error {
	s, err := str(key, v)
	if err != nil {
		return err
	}
	switch key {
	case "docker_pull":
		if s != docker.PullMissing && s != docker.PullAlways && s != docker.PullNever {
			return fmt.Errorf("docker_pull %q is not one of %q, %q, %q", s, docker.PullMissing, docker.PullAlways, docker.PullNever)
		}
		c.Docker.Pull = s
	case "docker_host":
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "unix" && u.Scheme != "tcp" && u.Scheme != "ssh") || (u.Scheme != "unix" && u.Host == "") {
			return fmt.Errorf("docker_host %q is not unix:///path/docker.sock, tcp://host:port or ssh://user@host", dockerapi.RedactHost(s))
		}
		if w := dockerapi.HostWarning(s); w != "" {
			c.Warnings = append(c.Warnings, w)
		}
		c.Docker.Host = s
	}
	return nil
}

// docker builds the docker executor: the engine and pull policy of
// c.Docker, the network as c says, and masked, where a mount would show
// them (the data root may be inside the bare repository), the data
// root, the config file and every secret file.
func (c Config) docker(dataRoot string) (seam.Executor, error) {
	masks := []string{dataRoot, c.Path}
	for _, s := range c.Secrets {
		if s.File != "" {
			masks = append(masks, s.File)
		}
	}
	return docker.New(docker.Options{Host: c.Docker.Host, Pull: c.Docker.Pull, Network: c.Network, Masks: masks})
}

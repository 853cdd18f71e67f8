package dockerapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Image is the part of an image inspect the executor reads.
type Image struct {
	Env []string // the image's ENV, NAME=value
}

// InspectImage returns image ref and whether the engine has it. A ref
// that is not an image reference (ValidRef) is an error.
func (c *Client) InspectImage(ctx context.Context, ref string) (Image, bool, error) {
	if err := ValidRef(ref); err != nil {
		return Image{}, false, err
	}
	var out struct {
		Config struct{ Env []string }
	}
	err := c.do(ctx, "GET", "/images/"+ref+"/json", nil, nil, &out)
	if IsNotFound(err) {
		return Image{}, false, nil
	}
	if err != nil {
		return Image{}, false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return Image{Env: out.Config.Env}, true, nil
}

// PullImage pulls ref and returns once it is on the engine. The engine
// streams progress as JSON lines; an error line ends the pull with the
// engine's reason. A ref that is not an image reference (ValidRef) is an
// error.
func (c *Client) PullImage(ctx context.Context, ref string) error {
	if err := ValidRef(ref); err != nil {
		return err
	}
	name, tag := splitRef(ref)
	q := url.Values{"fromImage": {name}}
	if tag != "" {
		q.Set("tag", tag)
	}
	resp, err := c.send(ctx, "POST", "/images/create", q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return readProgress(resp.Body)
}

// maxProgressLine bounds one JSON line of a pull's progress.
const maxProgressLine = 1 << 20

// readProgress reads the JSON lines of a pull or import to their end; an
// error line is the engine's reason for failing. A line longer than
// maxProgressLine is an error, not a growing buffer.
func readProgress(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxProgressLine)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var m struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := json.Unmarshal(line, &m); err != nil {
			return fmt.Errorf("read progress: %w", err)
		}
		if m.ErrorDetail.Message != "" {
			return errors.New(oneLine(m.ErrorDetail.Message, maxMessage))
		}
		if m.Error != "" {
			return errors.New(oneLine(m.Error, maxMessage))
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line is longer than %d KiB", maxProgressLine>>10)
		}
		return fmt.Errorf("read progress: %w", err)
	}
	return nil
}

// splitRef splits "name:tag" (or "name@digest") for /images/create; the
// tag's colon is the last one after the last slash (a registry's port
// is not a tag).
func splitRef(ref string) (name, tag string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

// ContainerConfig is the body of a container create: the fields the
// executor sets, named as the API names them.
type ContainerConfig struct {
	Image      string
	Cmd        []string          `json:",omitempty"`
	Entrypoint []string          `json:",omitempty"`
	User       string            `json:",omitempty"`
	WorkingDir string            `json:",omitempty"`
	Env        []string          `json:",omitempty"`
	Labels     map[string]string `json:",omitempty"`
	// Healthcheck overrides the image's; Test {"NONE"} disables it.
	Healthcheck *Healthcheck `json:",omitempty"`
	HostConfig  HostConfig
	// NetworkDisabled is false: "none" is set through HostConfig.
}

// Healthcheck is a container's health check.
type Healthcheck struct {
	Test []string
}

// HostConfig is the part of a container create about the host.
type HostConfig struct {
	// Binds are "src:dst:mode" strings; a path with a colon in it
	// cannot be one. Mounts can.
	Binds          []string          `json:",omitempty"`
	Mounts         []Mount           `json:",omitempty"`
	NetworkMode    string            `json:",omitempty"`
	Init           bool              `json:",omitempty"`
	CapDrop        []string          `json:",omitempty"`
	SecurityOpt    []string          `json:",omitempty"`
	ReadonlyRootfs bool              `json:",omitempty"`
	Tmpfs          map[string]string `json:",omitempty"`
	AutoRemove     bool              `json:",omitempty"`
	// PidsLimit bounds the container's processes; nil leaves the
	// engine's default (none).
	PidsLimit *int64 `json:",omitempty"`
}

// Mount is a bind mount of HostConfig.Mounts: host path Source at
// Target in the container, each path whole, whatever it holds.
type Mount struct {
	Type     string // "bind"
	Source   string
	Target   string
	ReadOnly bool `json:",omitempty"`
}

// Bind returns the bind mount of host path src at the same path.
func Bind(src string, readOnly bool) Mount {
	return Mount{Type: "bind", Source: src, Target: src, ReadOnly: readOnly}
}

// CreateContainer creates a container and returns its id.
func (c *Client) CreateContainer(ctx context.Context, name string, cfg ContainerConfig) (string, error) {
	var q url.Values
	if name != "" {
		q = url.Values{"name": {name}}
	}
	var out struct {
		ID string `json:"Id"`
	}
	if err := c.do(ctx, "POST", "/containers/create", q, cfg, &out); err != nil {
		return "", fmt.Errorf("create container from %s: %w", cfg.Image, err)
	}
	return out.ID, nil
}

// StartContainer starts container id.
func (c *Client) StartContainer(ctx context.Context, id string) error {
	if err := c.do(ctx, "POST", "/containers/"+id+"/start", nil, nil, nil); err != nil {
		return fmt.Errorf("start container %s: %w", short(id), err)
	}
	return nil
}

// ContainerState is the state part of a container inspect.
type ContainerState struct {
	Running  bool
	ExitCode int
	Error    string
}

// InspectContainer returns the state of container id.
func (c *Client) InspectContainer(ctx context.Context, id string) (ContainerState, error) {
	var out struct{ State ContainerState }
	if err := c.do(ctx, "GET", "/containers/"+id+"/json", nil, nil, &out); err != nil {
		return ContainerState{}, fmt.Errorf("inspect container %s: %w", short(id), err)
	}
	return out.State, nil
}

// RemoveContainer kills and removes container id with its anonymous
// volumes. A container already gone is not an error.
func (c *Client) RemoveContainer(ctx context.Context, id string) error {
	err := c.do(ctx, "DELETE", "/containers/"+id, url.Values{"force": {"1"}, "v": {"1"}}, nil, nil)
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", short(id), err)
	}
	return nil
}

// ListContainers returns the ids of the containers, running or not,
// that carry label key=value.
func (c *Client) ListContainers(ctx context.Context, key, value string) ([]string, error) {
	f, _ := json.Marshal(map[string][]string{"label": {key + "=" + value}})
	var out []struct {
		ID string `json:"Id"`
	}
	q := url.Values{"all": {"1"}, "filters": {string(f)}}
	if err := c.do(ctx, "GET", "/containers/json", q, nil, &out); err != nil {
		return nil, fmt.Errorf("list containers labelled %s=%s: %w", key, value, err)
	}
	ids := make([]string, len(out))
	for i, o := range out {
		ids[i] = o.ID
	}
	return ids, nil
}

// short is the 12-character form of an id, as docker prints it.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// ImportImage makes image ref ("name:tag") from rootfs, a tar stream of
// a root file system, as "docker import" does, with Dockerfile
// instructions changes applied ("ENV A=1", "VOLUME /data").
func (c *Client) ImportImage(ctx context.Context, rootfs io.Reader, ref string, changes ...string) error {
	if err := ValidRef(ref); err != nil {
		return err
	}
	name, tag := splitRef(ref)
	q := url.Values{"fromSrc": {"-"}, "repo": {name}, "changes": changes}
	if tag != "" {
		q.Set("tag", tag)
	}
	req, err := c.request(ctx, "POST", "/images/create", q, nil)
	if err != nil {
		return err
	}
	req.Body = io.NopCloser(rootfs)
	req.Header.Set("Content-Type", "application/x-tar")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("import image %s: %w", ref, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("import image %s: %w", ref, readError(resp))
	}
	return readProgress(resp.Body)
}

// Rootless reports whether the engine runs rootless (rootless Docker,
// podman as a user), where container uid 0 is the user who runs it.
func (c *Client) Rootless(ctx context.Context) (bool, error) {
	var out struct{ SecurityOptions []string }
	if err := c.do(ctx, "GET", "/info", nil, nil, &out); err != nil {
		return false, fmt.Errorf("engine info: %w", err)
	}
	for _, o := range out.SecurityOptions {
		if strings.Contains(o, "name=rootless") {
			return true, nil
		}
	}
	return false, nil
}

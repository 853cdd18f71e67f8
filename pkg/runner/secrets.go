package runner

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/quire-ci/quire-hook/pkg/redact"
)

// Secret is one secret the operator declared (SPEC §9): a plain value,
// or a file read when a run first uses the secret.
type Secret struct {
	Value string
	File  string // absolute path; used when Value is ""
}

// resolveSecret returns the value of the secret name and, from then on,
// redacts it in everything the run writes. A file secret is read on its
// first use in the run, one trailing newline stripped. Errors name the
// secret or the file, never the value.
func (e *execution) resolveSecret(name string) (string, error) {
	if v, ok := e.resolved[name]; ok {
		return v, nil
	}
	sec, ok := e.runner.Secrets[name]
	if !ok {
		return "", fmt.Errorf("secret %q is not declared; the operator declares secrets in the config.lua of the data root (secrets = { %s = ... })", name, name)
	}
	value := sec.Value
	if value == "" && sec.File != "" {
		v, err := readSecretFile(sec.File)
		if err != nil {
			return "", fmt.Errorf("secret %q: %w", name, err)
		}
		value = v
	}
	if err := e.secrets.Add(name, value); err != nil {
		return "", err
	}
	e.runner.Progress.Redact(name, value)
	if e.resolved == nil {
		e.resolved = make(map[string]string)
	}
	e.resolved[name] = value
	return value, nil
}

// readSecretFile reads a secret file, stripping one trailing newline.
// Its errors hold the path and the reason only.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read secret file %s: %w", path, pathCause(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, redact.MaxLen+3))
	if err != nil {
		return "", fmt.Errorf("read secret file %s: %w", path, pathCause(err))
	}
	s := string(data)
	if t, ok := strings.CutSuffix(s, "\n"); ok {
		s = strings.TrimSuffix(t, "\r")
	}
	return s, nil
}

// pathCause is the cause of a *PathError, whose message would repeat
// the path.
func pathCause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// secret implements q.secret(name).
func (h *handle) secret(L *lua.LState) int {
	name := L.CheckString(1)
	v, err := h.e.resolveSecret(name)
	if err != nil {
		L.RaiseError("q.secret: %v", err)
	}
	L.Push(lua.LString(v))
	return 1
}

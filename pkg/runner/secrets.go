package runner

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"

	lua "github.com/yuin/gopher-lua"

	"github.com/quire-ci/quire-hook/pkg/redact"
)

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
		return "", fmt.Errorf("secret %s is not declared; the operator declares secrets in the config.lua of the data root (secrets = { %s = ... })",
			e.quote(name), e.secrets.String(name))
	}
	value := sec.Value
	if value == "" && sec.File != "" {
		v, err := readSecretFile(sec.File)
		if err != nil {
			return "", fmt.Errorf("secret %s: %w", e.quote(name), err)
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

// quote renders a value that Lua code gave for a message, Go-quoted
// after its secrets are redacted: quoting first would escape bytes of a
// secret, and the escaped form would pass redaction.
func (e *execution) quote(s string) string {
	return strconv.Quote(e.secrets.String(s))
}

// readSecretFile reads a secret file, stripping one trailing newline.
// Only a regular file is read: the file is opened without blocking
// (opening a FIFO without a writer would hang the hook) and anything
// else is refused. Its errors hold the path and the reason only.
func readSecretFile(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", fmt.Errorf("read secret file %s: %w", path, pathCause(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("read secret file %s: %w", path, pathCause(err))
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("read secret file %s: %w", path, notRegular(fi.Mode()))
	}
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

// notRegular says what a secret file that is not a regular file is, and
// what to do.
func notRegular(m fs.FileMode) error {
	what := "not a regular file"
	switch {
	case m.IsDir():
		return errors.New("is a directory; point the secret at a file")
	case m&fs.ModeNamedPipe != 0:
		what += " (a named pipe)"
	case m&fs.ModeDevice != 0:
		what += " (a device)"
	case m&fs.ModeSocket != 0:
		what += " (a socket)"
	}
	return errors.New(what + "; point the secret at a regular file")
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
	h.alive(L)
	name := L.CheckString(1)
	v, err := h.e.resolveSecret(name)
	if err != nil {
		L.RaiseError("q.secret: %v", err)
	}
	L.Push(lua.LString(v))
	return 1
}

package docker

import (
	"slices"
	"strings"
)

// execEnv is the Env of an exec request that gives the process env and
// nothing else. The engine starts each exec from the container's own
// environment (the image's ENV, HOSTNAME, a default PATH) and lays the
// request's over it; a NAME without "=" in the request unsets NAME, so
// every container variable env does not set is unset by name.
//
// One addition: the image's PATH directories that env's PATH lacks are
// appended to it, so that an image's toolchain (golang's
// /usr/local/go/bin) is found after the directories the run named.
func execEnv(env, imageEnv []string) []string {
	out := slices.Clone(env)
	set := map[string]bool{}
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		set[name] = true
	}
	if imagePath, ok := lookup(imageEnv, "PATH"); ok {
		if i := slices.IndexFunc(out, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }); i >= 0 {
			out[i] = "PATH=" + joinPath(out[i][len("PATH="):], imagePath)
		}
	}
	for _, name := range append([]string{"HOSTNAME", "PATH"}, names(imageEnv)...) {
		if !set[name] {
			out = append(out, name)
			set[name] = true
		}
	}
	return out
}

// joinPath appends the directories of extra that path lacks.
func joinPath(path, extra string) string {
	have := strings.Split(path, ":")
	for _, d := range strings.Split(extra, ":") {
		if d != "" && !slices.Contains(have, d) {
			have = append(have, d)
		}
	}
	return strings.Join(have, ":")
}

func lookup(env []string, name string) (string, bool) {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func names(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		out = append(out, name)
	}
	return out
}

// unsetHome wraps argv for an env without HOME: the runtime sets HOME
// from the user's passwd entry when the environment has none, so a
// shell unsets it again and execs argv in its place (argv[0] then
// looked up in env's PATH, as the runtime would). Some shells (bash,
// busybox) export SHLVL: unset too when env has none.
func unsetHome(argv, env []string) []string {
	script := `unset HOME; exec "$@"`
	if _, ok := lookup(env, "SHLVL"); !ok {
		script = `unset HOME SHLVL; exec "$@"`
	}
	return append([]string{"/bin/sh", "-c", script, "sh"}, argv...)
}

// hasHome reports whether env sets HOME.
func hasHome(env []string) bool {
	_, ok := lookup(env, "HOME")
	return ok
}

package datadir

import (
	"os/exec"
	"path/filepath"
	"strings"
)

// Locator applies SPEC §2's rules for where a repository's records live
// and which name (runs.repo) tells it apart from the other repositories
// sharing that data root.
type Locator struct {
	// Flag is the --data-dir flag, or "".
	Flag string
	// Env is the command's environment: QUIRE_DATA_DIR and
	// QUIRE_REPOS_ROOT, and the GIT_CONFIG_* variables that say which
	// git config files to read.
	Env []string
	// Dir is the working directory, against which a relative Flag or
	// variable is resolved.
	Dir string
}

// Root is the data root of the repository at gitDir: the first of
// --data-dir, $QUIRE_DATA_DIR, the repository's git config
// quire.dataDir (configured; relative to gitDir) and <gitDir>/quire.
func (l Locator) Root(gitDir, configured string) Root {
	switch {
	case l.Flag != "":
		return Root(l.abs(l.Flag))
	case l.getenv("QUIRE_DATA_DIR") != "":
		return Root(l.abs(l.getenv("QUIRE_DATA_DIR")))
	case configured != "":
		return Root(absFrom(gitDir, configured))
	}
	return Own(gitDir)
}

// Own is the data root a repository has when nothing names another:
// <gitDir>/quire.
func Own(gitDir string) Root { return Root(filepath.Join(gitDir, "quire")) }

// RepoName is runs.repo for the repository at gitDir recorded in root:
// its path under the repos root when that contains it (team1/tools.git),
// else its base name when root is its own (tools.git), else its
// absolute path.
func (l Locator) RepoName(gitDir string, root Root) string {
	if reposRoot := l.ReposRoot(gitDir); reposRoot != "" {
		if rel, ok := under(reposRoot, gitDir); ok {
			return rel
		}
	}
	if filepath.Clean(string(root)) == string(Own(gitDir)) {
		return filepath.Base(gitDir)
	}
	return gitDir
}

// ReposRoot is git config quire.reposRoot as git reads it (system,
// global and the repository's own config; relative to the repository),
// else $QUIRE_REPOS_ROOT (relative to the working directory), else "".
func (l Locator) ReposRoot(gitDir string) string {
	if root := gitConfigPath(gitDir, l.Env, "quire.reposRoot"); root != "" {
		return absFrom(gitDir, root)
	}
	if root := l.getenv("QUIRE_REPOS_ROOT"); root != "" {
		return l.abs(root)
	}
	return ""
}

func (l Locator) abs(p string) string { return absFrom(l.Dir, p) }

// getenv returns the last value of name in l.Env.
func (l Locator) getenv(name string) string {
	for i := len(l.Env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(l.Env[i], name+"="); ok {
			return v
		}
	}
	return ""
}

// absFrom resolves p against dir, cleaned.
func absFrom(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// gitConfigPath reads a path option with the git CLI, which, unlike
// go-git, also reads the system and global config (and honours
// GIT_CONFIG_SYSTEM, GIT_CONFIG_GLOBAL and the like in env). "" when the
// option is unset or git cannot be run; then the repository's own
// config is all there is.
func gitConfigPath(gitDir string, env []string, key string) string {
	cmd := exec.Command("git", "--git-dir", gitDir, "config", "--type=path", "--get", key)
	cmd.Env = gitConfigEnv(env)
	cmd.Dir = gitDir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// gitConfigEnv is env without the variables that point git at another
// repository or work tree; those saying which config files to read stay.
func gitConfigEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "GIT_") && !strings.HasPrefix(name, "GIT_CONFIG") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// under returns path relative to root, with slashes, when root contains
// it (and is not it). Symbolic links are resolved if the plain paths do
// not match: /srv/git may be a link to where the repositories are.
func under(root, path string) (string, bool) {
	rel := func(root, path string) (string, bool) {
		r, err := filepath.Rel(root, path)
		if err != nil || r == "." || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			return "", false
		}
		return filepath.ToSlash(r), true
	}
	if r, ok := rel(root, path); ok {
		return r, true
	}
	realRoot, err1 := filepath.EvalSymlinks(root)
	realPath, err2 := filepath.EvalSymlinks(path)
	if err1 != nil || err2 != nil {
		return "", false
	}
	return rel(realRoot, realPath)
}

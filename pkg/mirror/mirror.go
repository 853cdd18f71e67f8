// Package mirror tags a pushed commit in a bare repository and pushes
// refs to another repository, in process with go-git: HTTP(S) with a
// token as basic-auth password, or a local path or file:// URL. It never
// forces an update and never starts a git process with a secret in its
// arguments or environment.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// TokenUser is the basic-auth user name sent with a token, as GitHub,
// GitLab and Gitea accept it.
const TokenUser = "x-access-token"

// remoteName names the in-memory remote; nothing is written to the
// repository's config.
const remoteName = "quire-mirror"

// CheckURL reports what is wrong with a mirror URL, if anything: it must
// be an http(s) URL without credentials, a file:// URL, or an absolute
// local path.
func CheckURL(raw string) error {
	if raw == "" {
		return errors.New("the URL is empty")
	}
	if strings.HasPrefix(raw, "/") {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("%q is not an http(s):// or file:// URL or an absolute path", raw)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return fmt.Errorf("%q has no host", raw)
		}
		if u.User != nil {
			return errors.New("the URL holds credentials; pass a token with secret = \"name\" instead")
		}
	case "file":
		if u.Host != "" && u.Host != "localhost" || !strings.HasPrefix(u.Path, "/") {
			return fmt.Errorf("%q must be file:///absolute/path", raw)
		}
	default:
		return fmt.Errorf("scheme %q is not supported; use https://, http://, file:// or an absolute path", u.Scheme)
	}
	return nil
}

// IsHTTP reports whether raw is an http(s) URL, which is where a token
// is used.
func IsHTTP(raw string) bool {
	return strings.HasPrefix(raw, "http://") || strings.HasPrefix(raw, "https://")
}

// Display returns raw as it may be shown and recorded: without any user
// information, and a file:// URL as its path.
func Display(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return raw
	}
	if u.Scheme == "file" {
		return u.Path
	}
	u.User = nil
	return u.String()
}

// RefSpec turns a refs entry into a refspec that never forces: a full
// ref name ("refs/heads/main") pushes to the same name, "src:dst" names
// both sides; either side may hold one '*'.
func RefSpec(ref string) (config.RefSpec, error) {
	if strings.HasPrefix(ref, "+") {
		return "", fmt.Errorf("ref %q asks to force; a mirror never forces, remove the '+'", ref)
	}
	src, dst, ok := strings.Cut(ref, ":")
	if !ok {
		dst = src
	}
	for _, side := range []string{src, dst} {
		if !strings.HasPrefix(side, "refs/") {
			return "", fmt.Errorf("ref %q must name full refs such as \"refs/heads/main\" or \"refs/heads/*:refs/heads/*\"", ref)
		}
		if err := plumbing.ReferenceName(strings.Replace(side, "*", "x", 1)).Validate(); err != nil {
			return "", fmt.Errorf("ref %q is not a valid ref name", ref)
		}
	}
	spec := config.RefSpec(src + ":" + dst)
	if err := spec.Validate(); err != nil {
		return "", fmt.Errorf("ref %q: %w", ref, err)
	}
	return spec, nil
}

// CheckTagName reports what is wrong with a tag name, if anything.
func CheckTagName(name string) error {
	if name == "" || strings.HasPrefix(name, "refs/") || plumbing.NewTagReferenceName(name).Validate() != nil {
		return fmt.Errorf("%q is not a valid tag name", name)
	}
	return nil
}

// CreateTag creates the lightweight tag name at commit in the bare
// repository at gitDir. A tag that already points at commit is left as
// it is (created is false); one that points elsewhere is an error.
func CreateTag(gitDir, name string, commit plumbing.Hash) (created bool, err error) {
	if err := CheckTagName(name); err != nil {
		return false, err
	}
	repo, err := git.PlainOpen(gitDir)
	if err != nil {
		return false, fmt.Errorf("open repository %s: %w", gitDir, err)
	}
	if _, err := repo.CommitObject(commit); err != nil {
		return false, fmt.Errorf("find commit %s: %w", commit, err)
	}
	_, err = repo.CreateTag(name, commit, nil)
	if errors.Is(err, git.ErrTagExists) {
		ref, rerr := repo.Tag(name)
		if rerr != nil {
			return false, fmt.Errorf("read tag %s: %w", name, rerr)
		}
		if ref.Hash() != commit {
			return false, fmt.Errorf("tag %s already exists at %s, not at %s; tags are never moved", name, ref.Hash(), commit)
		}
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create tag %s: %w", name, err)
	}
	return true, nil
}

// Push describes one push.
type Push struct {
	GitDir   string // the bare repository pushed from
	URL      string // as CheckURL accepts it
	Token    string // basic-auth password for http(s); "" for none
	RefSpecs []config.RefSpec
	Progress io.Writer // the remote's progress and messages; may be nil
}

// Run pushes without forcing. upToDate is true when the target already
// had everything. A rejected update (not a fast-forward, refused by the
// remote), an authentication failure or an unreachable remote is an
// error carrying the reason; the error never holds the token.
func (p Push) Run(ctx context.Context) (upToDate bool, err error) {
	repo, err := git.PlainOpen(p.GitDir)
	if err != nil {
		return false, fmt.Errorf("open repository %s: %w", p.GitDir, err)
	}
	target := p.URL
	if strings.HasPrefix(target, "file://") {
		target = filepath.Clean(Display(target))
	}
	remote := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: remoteName, URLs: []string{target}})
	opts := &git.PushOptions{
		RemoteName: remoteName,
		RefSpecs:   p.RefSpecs,
		Progress:   p.Progress,
		Atomic:     true,
	}
	if p.Token != "" && IsHTTP(target) {
		opts.Auth = &githttp.BasicAuth{Username: TokenUser, Password: p.Token}
	}
	err = remote.PushContext(ctx, opts)
	switch {
	case errors.Is(err, git.NoErrAlreadyUpToDate):
		return true, nil
	case errors.Is(err, transport.ErrAuthenticationRequired):
		return false, fmt.Errorf("push to %s: %w (check the token)", Display(p.URL), err)
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return false, fmt.Errorf("push to %s: %w (the token may not allow pushing)", Display(p.URL), err)
	case err != nil:
		return false, fmt.Errorf("push to %s: %w", Display(p.URL), err)
	}
	return false, nil
}

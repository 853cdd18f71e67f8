package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	lua "github.com/yuin/gopher-lua"

	"github.com/quire-ci/quire-hook/pkg/luavm"
	"github.com/quire-ci/quire-hook/pkg/mirror"
	"github.com/quire-ci/quire-hook/pkg/pipeline"
)

// mirror runs the job ci.mirror registered (SPEC §9): it creates the tag
// tag(push) at the pushed commit in the bare repository, then pushes the
// refs and the tag to the mirror's URL, never forcing. Each of the two
// steps is recorded like an sh call. It returns the failure message (""
// when the job completed) and the outputs JSON.
func (e *execution) mirror(ctx context.Context, j *pipeline.Job, h *handle) (msg, outputs string) {
	m := j.Mirror
	fail := func(format string, args ...any) (string, string) {
		msg := fmt.Sprintf(format, args...)
		h.logError(msg, "")
		return msg, ""
	}

	// The token is resolved first, so that it is redacted in all that
	// follows.
	token := ""
	if m.Secret != "" {
		v, err := e.resolveSecret(m.Secret)
		if err != nil {
			return fail("mirror: %v", err)
		}
		token = v
	}

	// The tag.
	tag := ""
	if m.Tag != nil {
		name, err := e.mirrorTag(m.Tag)
		if err != nil {
			return fail("mirror: %v", err)
		}
		tag = name
	}
	if tag != "" {
		err := h.step(fmt.Sprintf("git tag %s %s", tag, e.push.SHA), func(stdout, _ io.Writer) error {
			created, err := mirror.CreateTag(e.runner.GitDir, tag, plumbing.NewHash(e.push.SHA))
			if err != nil {
				return err
			}
			if created {
				fmt.Fprintf(stdout, "created tag %s at %s\n", tag, e.push.SHA)
			} else {
				fmt.Fprintf(stdout, "tag %s already points at %s\n", tag, e.push.SHA)
			}
			return nil
		})
		if err != nil {
			return fail("mirror: %v", err)
		}
	}

	// The push.
	refs := m.Refs
	if len(refs) == 0 {
		refs = []string{e.push.Ref}
	}
	if tag != "" {
		refs = append(refs[:len(refs):len(refs)], plumbing.NewTagReferenceName(tag).String())
	}
	specs := make([]config.RefSpec, len(refs))
	for i, r := range refs {
		spec, err := mirror.RefSpec(r)
		if err != nil {
			return fail("mirror: %v", err)
		}
		specs[i] = spec
	}
	url := mirror.Display(m.URL)
	cmd := "git push " + url + " " + strings.Join(refs, " ")
	err := h.step(cmd, func(stdout, stderr io.Writer) error {
		upToDate, err := mirror.Push{GitDir: e.runner.GitDir, URL: m.URL, Token: token, RefSpecs: specs, Progress: stderr}.Run(ctx)
		if err != nil {
			return err
		}
		if upToDate {
			fmt.Fprintf(stdout, "%s is up to date\n", url)
		} else {
			fmt.Fprintf(stdout, "pushed %s to %s\n", strings.Join(refs, " "), url)
		}
		return nil
	})
	if err != nil {
		return fail("mirror: %v", err)
	}
	return "", mirrorOutputs(url, refs, tag)
}

// mirrorTag calls the tag option with the push table and checks what it
// returned: a valid tag name, or nil for no tag this time.
func (e *execution) mirrorTag(fn *lua.LFunction) (string, error) {
	L := e.p.L // its context is the job's, set by callJob
	if err := L.CallByParam(lua.P{Fn: fn, NRet: 1, Protect: true}, luavm.ToLua(L, e.pushTable())); err != nil {
		msg, _ := luaError(err)
		return "", fmt.Errorf("tag function failed: %s", msg)
	}
	ret := L.Get(-1)
	L.Pop(1)
	switch v := ret.(type) {
	case *lua.LNilType:
		return "", nil
	case lua.LString:
		if mirror.CheckTagName(string(v)) != nil {
			return "", fmt.Errorf("tag function returned %s, which is not a valid tag name", e.quote(string(v)))
		}
		return string(v), nil
	}
	return "", fmt.Errorf("tag function returned a %s; it must return a tag name (a string) or nil", ret.Type())
}

// mirrorOutputs is the mirror job's outputs: where it pushed and what.
func mirrorOutputs(url string, refs []string, tag string) string {
	out := map[string]any{"url": url, "refs": refs}
	if tag != "" {
		out["tag"] = tag
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(out)
	return strings.TrimSuffix(b.String(), "\n")
}

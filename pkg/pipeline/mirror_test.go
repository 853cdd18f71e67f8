package pipeline

import (
	"slices"
	"strings"
	"testing"
)

func TestLoad_Mirror(t *testing.T) {
	t.Run("Registered", func(t *testing.T) {
		p := mustLoad(t, repo(header+`ci.job("test", {"quire/push"}, f)
ci.mirror("https://example.com/org/repo.git", {
  secret = "gh_token",
  refs = {"refs/heads/main", "refs/heads/*:refs/heads/*"},
  tag = function(push) return "v" .. push.sha:sub(1, 7) end,
  after = {"test", "test"},
})
ci.job("notify", {"quire/mirror"}, f)
`))
		j := p.Job(MirrorJob)
		if j == nil {
			t.Fatalf("no job %s; jobs %v", MirrorJob, jobIDs(p.Jobs))
		}
		if got, want := j.Inputs, []string{"quire/push", "test"}; !slices.Equal(got, want) {
			t.Errorf("inputs = %v, want %v", got, want)
		}
		m := j.Mirror
		if m == nil || m.URL != "https://example.com/org/repo.git" || m.Secret != "gh_token" || m.Tag == nil ||
			!slices.Equal(m.Refs, []string{"refs/heads/main", "refs/heads/*:refs/heads/*"}) {
			t.Errorf("mirror = %+v", m)
		}
		if j.Line != 4 || j.File != ".quire/ci.lua" {
			t.Errorf("registered at %s:%d, want .quire/ci.lua:4", j.File, j.Line)
		}
		if got, want := jobIDs(p.Order()), []string{"test", "quire/mirror", "notify"}; !slices.Equal(got, want) {
			t.Errorf("order = %v, want %v", got, want)
		}
		if !p.IsTransitiveInput("notify", MirrorJob) {
			t.Errorf("notify does not see quire/mirror as its input")
		}
	})
	t.Run("Minimal", func(t *testing.T) {
		for _, url := range []string{"/srv/git/mirror.git", "file:///srv/git/mirror.git", "http://127.0.0.1:8080/r.git"} {
			p := mustLoad(t, repo(header+`ci.mirror("`+url+`")`))
			if j := p.Job(MirrorJob); j == nil || j.Mirror.URL != url || j.Mirror.Tag != nil || j.Mirror.Refs != nil {
				t.Errorf("%s: job %+v", url, j)
			}
		}
	})

	const https = `"https://example.com/r.git"`
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"Twice", "ci.mirror(" + https + ")\n\nci.mirror(" + https + ")",
			[]string{".quire/ci.lua:5: ci.mirror is called a second time; it may be called only once, and the first call, at .quire/ci.lua:3, wins"}},
		{"UnknownKey", "ci.mirror(" + https + ", {secret = \"t\", force = true})",
			[]string{`.quire/ci.lua:3: ci.mirror: unknown option "force" (known: secret, refs, tag, after)`}},
		{"NoURL", `ci.mirror()`,
			[]string{
				".quire/ci.lua:3: ci.mirror: takes a URL and an optional table of options, ci.mirror(url, {secret = ..., refs = ..., tag = ..., after = ...}); it got 0 arguments",
				".quire/ci.lua:3: ci.mirror: the first argument must be the URL to push to, a string; got nil",
			}},
		{"BadScheme", `ci.mirror("ssh://host/r.git")`,
			[]string{`.quire/ci.lua:3: ci.mirror: scheme "ssh" is not supported; use https://, http://, file:// or an absolute path`}},
		{"RelativePath", `ci.mirror("../r.git")`,
			[]string{`.quire/ci.lua:3: ci.mirror: "../r.git" is not an http(s):// or file:// URL or an absolute path`}},
		{"Credentials", `ci.mirror("https://user:pw@example.com/r.git")`,
			[]string{`.quire/ci.lua:3: ci.mirror: the URL holds credentials; pass a token with secret = "name" instead`}},
		{"OptionsNotTable", "ci.mirror(" + https + ", \"tok\")",
			[]string{`.quire/ci.lua:3: ci.mirror: the options must be a table such as {secret = "token"}; got the string "tok"`}},
		{"SecretType", "ci.mirror(" + https + ", {secret = 42})",
			[]string{".quire/ci.lua:3: ci.mirror: secret must name a secret of the operator's config, a non-empty string; got the number 42"}},
		{"SecretForPath", `ci.mirror("/srv/r.git", {secret = "t"})`,
			[]string{".quire/ci.lua:3: ci.mirror: secret is only used to push over http(s); /srv/r.git needs none"}},
		{"RefsType", "ci.mirror(" + https + ", {refs = \"refs/heads/main\"})",
			[]string{`.quire/ci.lua:3: ci.mirror: refs must be a non-empty list of ref names such as {"refs/heads/main"}; got the string "refs/heads/main"`}},
		{"RefsEmpty", "ci.mirror(" + https + ", {refs = {}})",
			[]string{`.quire/ci.lua:3: ci.mirror: refs must be a non-empty list of ref names such as {"refs/heads/main"}; got a table`}},
		{"RefForced", "ci.mirror(" + https + ", {refs = {\"+refs/heads/main\"}})",
			[]string{`.quire/ci.lua:3: ci.mirror: ref "+refs/heads/main" asks to force; a mirror never forces, remove the '+'`}},
		{"RefShort", "ci.mirror(" + https + ", {refs = {\"main\"}})",
			[]string{`.quire/ci.lua:3: ci.mirror: ref "main" must name full refs such as "refs/heads/main" or "refs/heads/*:refs/heads/*"`}},
		{"TagType", "ci.mirror(" + https + ", {tag = \"v1\"})",
			[]string{`.quire/ci.lua:3: ci.mirror: tag must be a function of the push table that returns the tag name; got the string "v1"`}},
		{"AfterType", "ci.mirror(" + https + ", {after = \"test\"})",
			[]string{`.quire/ci.lua:3: ci.mirror: after must be a list of job ids such as {"test"}; got the string "test"`}},
		{"AfterUnknown", "ci.job(\"test\", {\"quire/push\"}, f)\nci.mirror(" + https + ", {after = {\"tset\"}})",
			[]string{".quire/ci.lua:4: ci.mirror: after names 'tset' (did you mean 'test'?), which is not a job registered with ci.job"}},
		{"UserJobWithItsID", `ci.job("quire/mirror", {"quire/push"}, f)`,
			[]string{".quire/ci.lua:3: Job id 'quire/mirror' contains '/', which is reserved for sources such as quire/push; use '-' or '.' instead"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(t, repo(header+tt.src), Options{})
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

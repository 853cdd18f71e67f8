package install_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/internal/gittest"
	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/install"
)

const foreign = "#!/bin/sh\necho mine\n"

// setup returns a bare repository, optionally with a foreign
// post-receive hook, and the path of its hook.
func setup(t *testing.T, withForeign bool) (*gitrepo.Repo, *gittest.Fixture, string) {
	t.Helper()
	f := gittest.New(t)
	hook := filepath.Join(f.Bare, "hooks", "post-receive")
	if withForeign {
		if err := os.WriteFile(hook, []byte(foreign), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r, err := gitrepo.Open(f.Bare)
	if err != nil {
		t.Fatal(err)
	}
	return r, f, hook
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestHook(t *testing.T) {
	const bin = "/opt/it's here/quire-hook"
	t.Run("Fresh", func(t *testing.T) {
		r, f, hook := setup(t, false)
		res, err := install.Hook(r, bin, install.Keep)
		if err != nil {
			t.Fatal(err)
		}
		if res.Path != hook || res.Chained != "" || len(res.Warnings) != 0 {
			t.Errorf("result %+v", res)
		}
		want := "#!/bin/sh\n" + install.Marker + "; 'quire-hook install' rewrites it.\nexec '/opt/it'\\''s here/quire-hook' post-receive \"$@\"\n"
		if got := read(t, hook); got != want {
			t.Errorf("script:\ngot  %q\nwant %q", got, want)
		}
		if fi, _ := os.Stat(hook); fi.Mode().Perm() != 0o755 {
			t.Errorf("mode %v, want 0755", fi.Mode())
		}
		if got := f.Git(f.Bare, "config", "receive.advertisePushOptions"); got != "true" {
			t.Errorf("receive.advertisePushOptions = %q", got)
		}
		left, _ := filepath.Glob(filepath.Join(f.Bare, "hooks", ".post-receive-*"))
		if len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
	t.Run("ForeignKept", func(t *testing.T) {
		r, _, hook := setup(t, true)
		_, err := install.Hook(r, bin, install.Keep)
		if err == nil || !strings.Contains(err.Error(), "--chain") || !strings.Contains(err.Error(), "--force") {
			t.Errorf("error %v, want one naming --chain and --force", err)
		}
		if got := read(t, hook); got != foreign {
			t.Errorf("foreign hook changed: %q", got)
		}
	})
	t.Run("Replace", func(t *testing.T) {
		r, _, hook := setup(t, true)
		res, err := install.Hook(r, bin, install.Replace)
		if err != nil {
			t.Fatal(err)
		}
		if res.Chained != "" || strings.Contains(read(t, hook), "--chain") {
			t.Errorf("--force chains: %+v", res)
		}
		if got := read(t, hook+install.KeptSuffix); got != foreign {
			t.Errorf("kept hook: %q", got)
		}
	})
	t.Run("ChainThenReinstall", func(t *testing.T) {
		r, _, hook := setup(t, true)
		kept := hook + install.KeptSuffix
		for _, mode := range []install.Mode{install.Chain, install.Keep} {
			res, err := install.Hook(r, bin, mode)
			if err != nil {
				t.Fatal(err)
			}
			if res.Chained != kept || !strings.Contains(read(t, hook), "post-receive --chain '"+kept+"'") {
				t.Errorf("mode %d: %+v, script %q", mode, res, read(t, hook))
			}
		}
		res, err := install.Hook(r, bin, install.Replace)
		if err != nil || res.Chained != "" || strings.Contains(read(t, hook), "--chain") {
			t.Errorf("--force after --chain: %+v %v", res, err)
		}
	})
	t.Run("ChainNotExecutable", func(t *testing.T) {
		r, _, hook := setup(t, true)
		os.Chmod(hook, 0o644)
		res, err := install.Hook(r, bin, install.Chain)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "chmod +x") {
			t.Errorf("warnings %q, want one saying chmod +x", res.Warnings)
		}
	})
	t.Run("ForeignAndKept", func(t *testing.T) {
		r, _, hook := setup(t, true)
		os.WriteFile(hook+install.KeptSuffix, []byte(foreign), 0o755)
		_, err := install.Hook(r, bin, install.Chain)
		if err == nil || !strings.Contains(err.Error(), "merge them") {
			t.Errorf("error %v, want one saying to merge the hooks", err)
		}
	})
}

func TestCheckBinary(t *testing.T) {
	dir := t.TempDir()
	if got := install.CheckBinary("/tmp/go-build1234/b001/exe/quire-hook", dir); !strings.Contains(got, "'go run' build") {
		t.Errorf("go run binary: %q", got)
	}
	bin := filepath.Join(dir, "quire-hook")
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	if got := install.CheckBinary(bin, dir); got != "" {
		t.Errorf("a binary its owner can run: %q", got)
	}
}

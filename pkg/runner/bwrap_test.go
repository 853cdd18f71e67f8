package runner

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/internal/gittest"
	"github.com/quire-ci/quire-hook/internal/mounttest"
	"github.com/quire-ci/quire-hook/pkg/executor/bwrap"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// guaranteesPipeline attacks the sandbox from inside a job; each output
// says whether one attack got through. The paths come from the
// environment the test sets.
const guaranteesPipeline = `
ci.job("attack", {"quire/push"}, function(q)
  local data, host = q.env("T_DATA"), q.env("T_HOST")
  local function run(cmd) return q.sh(cmd) end
  return {
    capeff = run("grep CapEff /proc/self/status").stdout,
    mount = run("mount -t tmpfs none /mnt").exit,
    umount = run("umount -l /tmp").exit,
    remount = run("mount -o remount,rw /").exit,
    remount_bind = run("mount -o remount,rw,bind /").exit,
    nested = run("unshare -Urm umount -l /tmp").exit,
    write_host = run("echo pwned > " .. host .. "/pwned").exit,
    write_data = run("echo pwned > " .. data .. "/pwned").exit,
    -- The whole chain in one shell, as an attacker would run it.
    escape = run("umount -l /tmp; mount -o remount,rw,bind /; echo pwned > " .. host .. "/escaped").exit,
    db = #run("cat " .. data .. "/quire.db").stdout,
    config = run("cat " .. data .. "/config.lua").stdout,
    config_opt = run("cat " .. q.env("T_CONFIG")).stdout,
    listing = run("ls -A " .. data).stdout,
    secret = run("cat " .. q.env("T_SECRET_LINK")).stdout,
    secret_target = run("cat " .. q.env("T_SECRET")).stdout,
    bare_head = run('cat "$QUIRE_GIT_DIR/HEAD"').stdout,
    git_log = q.sh({"git", "--git-dir", q.env("T_BARE"), "log", "--format=%s"}).stdout,
    workspace = run("echo ok > made.txt && cat made.txt").stdout,
    tmp = run("echo ok > /tmp/made.txt && cat /tmp/made.txt").stdout,
  }
end)
`

// bwrapLayout is where a test puts the data root relative to the bare
// repository, both outside /tmp, which the sandbox hides anyway.
type bwrapLayout struct {
	name     string
	bare     string // relative to the test's root directory
	dataRoot string
}

func TestBwrap_Guarantees(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed (.ci/run installs it)")
	}
	layouts := []bwrapLayout{
		// The default: <bare>/quire.
		{"DataRootInBare", "repo.git", "repo.git/quire"},
		// One data root shared by repositories below it.
		{"BareInDataRoot", "data/repos/repo.git", "data"},
	}
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			testBwrapGuarantees(t, l)
		})
	}
}

func testBwrapGuarantees(t *testing.T, l bwrapLayout) {
	root := varTempDir(t)
	bare := filepath.Join(root, l.bare)
	dataRoot := filepath.Join(root, l.dataRoot)
	host := filepath.Join(root, "host")
	secrets := filepath.Join(root, "secrets")
	for _, d := range []string{dataRoot, host, secrets} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const secretValue = "s3cret-never-in-the-sandbox"
	secret := filepath.Join(secrets, "token")
	secretLink := filepath.Join(secrets, "link")
	configPath := filepath.Join(root, "operator.lua") // a --config outside the data root
	writeFile(t, secret, secretValue+"\n")
	if err := os.Symlink(secret, secretLink); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dataRoot, "config.lua"), "-- config-in-data-root\nreturn {}\n")
	writeFile(t, configPath, "-- config-by-flag\nreturn {}\n")

	h := bwrapHarness(t, bare, dataRoot, guaranteesPipeline)
	h.Env = []string{"T_DATA=" + dataRoot, "T_HOST=" + host, "T_CONFIG=" + configPath,
		"T_SECRET=" + secret, "T_SECRET_LINK=" + secretLink, "T_BARE=" + bare}
	// The secret is declared through its symlink: the target is masked.
	b, err := bwrap.New(false, bare, []string{dataRoot, configPath, secretLink, filepath.Join(root, "missing")})
	if err != nil {
		t.Fatal(err)
	}
	h.Executor = b
	o := h.run()
	o.wantState("attack", "complete")
	got := o.outputs("attack")
	if got == nil {
		t.FailNow()
	}

	t.Run("NoCapabilities", func(t *testing.T) {
		if got["capeff"] != "CapEff:\t0000000000000000\n" {
			t.Errorf("capeff = %q, want all zero", got["capeff"])
		}
	})
	t.Run("NoMounts", func(t *testing.T) {
		for _, k := range []string{"mount", "umount", "remount", "remount_bind", "nested"} {
			if got[k] == 0.0 {
				t.Errorf("%s exited 0, want it refused", k)
			}
		}
	})
	t.Run("HostReadOnly", func(t *testing.T) {
		for _, k := range []string{"write_host", "write_data", "escape"} {
			if got[k] == 0.0 {
				t.Errorf("%s exited 0, want it refused", k)
			}
		}
		for _, p := range []string{filepath.Join(host, "pwned"), filepath.Join(host, "escaped"), filepath.Join(dataRoot, "pwned")} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("the sandbox wrote %s on the host", p)
			}
		}
		if got["workspace"] != "ok\n" || got["tmp"] != "ok\n" {
			t.Errorf("workspace = %q, tmp = %q, want both writable", got["workspace"], got["tmp"])
		}
	})
	t.Run("DataRootMasked", func(t *testing.T) {
		if got["db"] != 0.0 {
			t.Errorf("quire.db was readable (%v bytes)", got["db"])
		}
		for _, k := range []string{"config", "config_opt"} {
			if got[k] != "" {
				t.Errorf("%s = %q, want it unreadable", k, got[k])
			}
		}
		listing, _ := got["listing"].(string)
		for _, name := range []string{"quire.db", "config.lua"} {
			if strings.Contains(listing, name) {
				t.Errorf("listing the data root shows %s:\n%s", name, listing)
			}
		}
	})
	t.Run("SecretMasked", func(t *testing.T) {
		for _, k := range []string{"secret", "secret_target"} {
			if s, _ := got[k].(string); strings.Contains(s, secretValue) {
				t.Errorf("%s = %q, want the secret file unreadable", k, s)
			}
		}
	})
	t.Run("BareReadable", func(t *testing.T) {
		if got["bare_head"] != "ref: refs/heads/main\n" {
			t.Errorf("bare HEAD = %q, want it readable", got["bare_head"])
		}
		if got["git_log"] != "test commit\n" {
			t.Errorf("git log = %q, want the pushed commit", got["git_log"])
		}
	})
}

// bwrapHarness is newHarness with the bare repository and the data root
// at the given paths.
func bwrapHarness(t *testing.T, bare, dataRoot, pipeline string) *harness {
	t.Helper()
	f := gittest.New(t)
	f.Git(filepath.Dir(f.Bare), "init", "--quiet", "--bare", "--initial-branch=main", bare)
	f.Git(f.Work, "remote", "set-url", "origin", bare)
	f.Bare = bare
	h := &harness{t: t, repo: f, dataRoot: dataRoot}
	h.repo.Pipeline(ciHeader + pipeline)
	s, err := store.Open(t.Context(), filepath.Join(dataRoot, "quire.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	h.store = s
	return h
}

// varTempDir is a temporary directory outside /tmp, which bwrap replaces
// with a private one: what a job must not see has to live elsewhere.
func varTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "quire-bwrap-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	mounttest.Check(t, dir)
	return dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

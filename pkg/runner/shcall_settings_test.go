package runner

import (
	"testing"
)

// The operator's env reaches every sh call after the CI variables; a
// call's opts.env still wins.
func TestShCall_SettingsEnv(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `
ci.job("env", {"quire/push"}, function(q)
  return {
    plain = q.sh("echo $GOCACHE $QUIRE_REPO $CI").stdout,
    argv = q.sh({"sh", "-c", "echo $EXTRA"}).stdout,
    own = q.sh("echo $GOCACHE", {env = {GOCACHE = "/mine"}}).stdout,
    q_env = q.env("GOCACHE") or "unset",
  }
end)
`)
	h.Env = []string{"GOCACHE=/from-the-hook"}
	h.Executor = Configure(nil, CallSettings{Env: []string{"EXTRA=x y", "GOCACHE=/var/cache/quire/go"}})
	o := h.run()
	o.wantState("env", "complete")
	got := o.outputs("env")
	want := map[string]any{
		"plain": "/var/cache/quire/go repo.git true\n",
		"argv":  "x y\n",
		"own":   "/mine\n",
		"q_env": "/from-the-hook", // q.env reads the hook's own environment
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}

// Without CallSettings nothing is added, and a call's log is bounded by
// the default.
func TestCallSettings_Defaults(t *testing.T) {
	ex, s := callSettings(nil)
	if _, ok := ex.(Host); !ok || s.MaxLogBytes != DefaultMaxLogBytes || len(s.Env) != 0 {
		t.Errorf("callSettings(nil) = %T, %+v; want Host and the default bound", ex, s)
	}
	b := &Bwrap{}
	ex, s = callSettings(Configure(b, CallSettings{MaxLogBytes: 10, Env: []string{"A=1"}}))
	if ex != Executor(b) || s.MaxLogBytes != 10 || len(s.Env) != 1 {
		t.Errorf("callSettings(Configure(bwrap)) = %T, %+v; want the bwrap executor and its settings", ex, s)
	}
}

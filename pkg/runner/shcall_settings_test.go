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
	h.Settings.Env = []string{"EXTRA=x y", "GOCACHE=/var/cache/quire/go"}
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

// Without max_log_bytes a call's log is bounded by the default.
func TestSettings_MaxLogBytes(t *testing.T) {
	if got := (&Runner{}).maxLogBytes(); got != DefaultMaxLogBytes {
		t.Errorf("default bound = %d, want %d", got, DefaultMaxLogBytes)
	}
	if got := (&Runner{Settings: Settings{MaxLogBytes: 10}}).maxLogBytes(); got != 10 {
		t.Errorf("bound = %d, want the setting, 10", got)
	}
}

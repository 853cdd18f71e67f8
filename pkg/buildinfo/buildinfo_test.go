package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestVersion(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tt := range []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"Module", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}, Settings: vcs("vcs.revision", "6ef1f97abc")}, true, "v1.2.0"},
		{"VCS", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(
			"vcs", "git", "vcs.revision", "6ef1f97c0ffee0000000000000000000000000000", "vcs.time", "2026-11-29T23:08:00Z", "vcs.modified", "false")},
			true, "(devel) rev 6ef1f97 2026-11-29"},
		{"Dirty", &debug.BuildInfo{Settings: vcs("vcs.revision", "6ef1f97c0ffee", "vcs.modified", "true")}, true, "(devel) rev 6ef1f97-dirty"},
		{"NoVCS", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "(devel)"},
		{"NoBuildInfo", nil, false, "(unknown version)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := version(tt.info, tt.ok); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

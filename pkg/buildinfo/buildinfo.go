// Package buildinfo names the version of this build of quire-hook, as
// --version prints it.
package buildinfo

import "runtime/debug"

// Version is the module version of this build: a release (go install
// ...@v1.2.0), or the pseudo-version go build (Go 1.24 and later) makes
// from the commit. Else it is the VCS revision and commit date, as in
// "(devel) rev 6ef1f97 2026-11-29", with "-dirty" after a revision whose
// tree had uncommitted changes; else "(devel)".
func Version() string { return version(debug.ReadBuildInfo()) }

func version(info *debug.BuildInfo, ok bool) string {
	if !ok {
		return "(unknown version)"
	}
	v := info.Main.Version
	if v != "" && v != "(devel)" {
		return v
	}
	v = "(devel)"
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		if len(rev) > 7 {
			rev = rev[:7]
		}
		if settings["vcs.modified"] == "true" {
			rev += "-dirty"
		}
		v += " rev " + rev
	}
	if t := settings["vcs.time"]; len(t) >= len("2006-01-02") {
		v += " " + t[:len("2006-01-02")]
	}
	return v
}

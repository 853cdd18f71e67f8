package push

import (
	"os"
	"os/user"
	"strconv"
	"strings"
)

// Options reads the `git push -o` options git passes to the hook in
// GIT_PUSH_OPTION_COUNT and GIT_PUSH_OPTION_<n>.
func Options(getenv func(string) string) []string {
	n, err := strconv.Atoi(getenv("GIT_PUSH_OPTION_COUNT"))
	if err != nil || n <= 0 {
		return nil
	}
	opts := make([]string, 0, n)
	for i := range n {
		opts = append(opts, getenv("GIT_PUSH_OPTION_"+strconv.Itoa(i)))
	}
	return opts
}

// SkipOption returns the push option that asks for no run, "ci.skip" or
// "ci.skip=<anything>", or "".
func SkipOption(opts []string) string {
	for _, o := range opts {
		if o == "ci.skip" || strings.HasPrefix(o, "ci.skip=") {
			return o
		}
	}
	return ""
}

// skipMarkers are what a commit message says to skip its run, as on
// GitHub and GitLab; they match in any case.
var skipMarkers = []string{"[skip ci]", "[ci skip]"}

// SkipMarker returns the first skip marker ("[skip ci]" or "[ci skip]",
// in any case) in a commit message as it is written there, or "".
func SkipMarker(message string) string {
	for i := 0; i < len(message); i++ {
		if message[i] != '[' {
			continue
		}
		for _, m := range skipMarkers {
			if len(message)-i >= len(m) && strings.EqualFold(message[i:i+len(m)], m) {
				return message[i : i+len(m)]
			}
		}
	}
	return ""
}

// pusherVars name the pushing user in the hook's environment, as GitLab
// (gitlab-shell), Gitea and HTTP servers (git http-backend) set them.
var pusherVars = []string{"GL_USERNAME", "GITEA_PUSHER_NAME", "REMOTE_USER"}

// Pusher is the git server's name for the user who pushed, from the
// hook's environment, else the OS user the hook runs as (an ssh push
// runs the hook as the account pushed to; a replay as who ran it).
func Pusher(getenv func(string) string) string {
	for _, name := range pusherVars {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
	}
	return OSUser()
}

// OSUser names the user this process runs as: its login name, else its
// uid.
func OSUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(os.Getuid())
}

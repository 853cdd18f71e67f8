package completion_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/completion"
)

func TestScript(t *testing.T) {
	app := &cli.App{Name: "quire-hook", Commands: []*cli.Command{{Name: "replay", Usage: "run again"}}}
	for _, tt := range []struct{ shell, want string }{
		{"bash", "complete -o bashdefault -o default -F _quire_hook quire-hook"},
		{"zsh", "compdef _quire_hook quire-hook"},
		{"fish", "-a 'replay' -d 'run again'"},
	} {
		t.Run(tt.shell, func(t *testing.T) {
			got, err := completion.Script(app, tt.shell)
			if err != nil || !strings.Contains(got, tt.want) {
				t.Fatalf("error %v, script lacks %q:\n%s", err, tt.want, got)
			}
			if _, err := exec.LookPath(tt.shell); err == nil {
				cmd := exec.Command(tt.shell, "-n")
				cmd.Stdin = strings.NewReader(got)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("%s -n: %v\n%s", tt.shell, err, out)
				}
			}
		})
	}
	if _, err := completion.Script(app, "tcsh"); err == nil || !strings.Contains(err.Error(), "bash, zsh or fish") {
		t.Errorf("tcsh: error %v, want one naming the shells", err)
	}
}

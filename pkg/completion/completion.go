// Package completion holds quire-hook's shell completion scripts: for
// bash and zsh, scripts that ask the binary for the words that fit
// (urfave/cli's --generate-bash-completion, which the app enables), and
// for fish, one urfave/cli generates from the command definitions.
package completion

import (
	_ "embed"
	"fmt"

	"github.com/urfave/cli/v2"
)

//go:embed quire-hook.bash
var bash string

//go:embed quire-hook.zsh
var zsh string

// Script returns the completion script of app for shell: bash, zsh or
// fish.
func Script(app *cli.App, shell string) (string, error) {
	switch shell {
	case "bash":
		return bash, nil
	case "zsh":
		return zsh, nil
	case "fish":
		return app.ToFishCompletion()
	}
	return "", fmt.Errorf("no completion for %q; use bash, zsh or fish", shell)
}

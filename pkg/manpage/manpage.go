// Package manpage renders a command's man page from its urfave/cli
// definitions, so that the page never disagrees with --help.
package manpage

import (
	"strconv"
	"strings"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/urfave/cli/v2"
)

// Render returns the man page of app in section. It is urfave/cli's
// ToManWithSection, except that <placeholders> in the usage texts
// (<rev>, <git-dir>) stay text: markdown would take them for HTML tags
// and drop them.
func Render(app *cli.App, section int) (string, error) {
	md, err := app.ToMarkdown()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("% " + app.Name + " " + strconv.Itoa(section) + "\n\n")
	fenced := false
	for _, line := range strings.SplitAfter(md, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		if !fenced {
			// Without a '<', a '>' starts no tag; at the start of a
			// line it quotes, as urfave/cli means it to.
			line = strings.ReplaceAll(line, "<", `\<`)
		}
		b.WriteString(line)
	}
	return string(md2man.Render([]byte(b.String()))), nil
}

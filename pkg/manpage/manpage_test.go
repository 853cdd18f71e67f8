package manpage_test

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/manpage"
)

func TestRender(t *testing.T) {
	app := &cli.App{
		Name:  "tool",
		Usage: "does <things>",
		Flags: []cli.Flag{&cli.StringFlag{Name: "dir", Usage: "where (default: <git-dir>/quire)"}},
		Commands: []*cli.Command{
			{Name: "replay", Usage: "run <rev> again", UsageText: "tool replay <rev> > out", ArgsUsage: "<rev>", Action: func(*cli.Context) error { return nil }},
			{Name: "secret", Hidden: true},
		},
	}
	page, err := manpage.Render(app, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".TH tool 1", "does <things>", "default: <git-dir>/quire", "run <rev> again", ".SH replay", "\n.RS\n\n.PP\ntool replay <rev> > out\n"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "secret") || strings.Contains(page, `\<`) {
		t.Errorf("page shows a hidden command or an escape:\n%s", page)
	}
}

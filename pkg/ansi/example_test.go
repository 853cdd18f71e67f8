package ansi_test

import (
	"fmt"
	"html/template"
	"os"

	"github.com/quire-ci/quire-hook/pkg/ansi"
)

// The style at the end of one line is where the next line of the same
// stream starts; HTML's result goes into a template as it is.
func Example() {
	page := template.Must(template.New("log").Parse(
		`{{range $i, $l := .}}<div id="L{{$i}}">{{$l}}</div>` + "\n" + `{{end}}`))
	var lines []template.HTML
	var st ansi.Style
	for _, line := range []string{
		"\x1b[1;31merror:\x1b[22m <script>alert(1)</script>",
		"still red\x1b[0m, then \x1b]8;;https://x\x1b\\plain\x1b]8;;\x1b\\",
		" 10%\r100%",
	} {
		var spans []ansi.Span
		spans, st = ansi.Parse([]byte(line), st)
		lines = append(lines, ansi.HTML(spans))
	}
	if err := page.Execute(os.Stdout, lines); err != nil {
		fmt.Println(err)
	}
	// Output:
	// <div id="L0"><span class="fg-1 bold">error:</span><span class="fg-1"> &lt;script&gt;alert(1)&lt;/script&gt;</span></div>
	// <div id="L1"><span class="fg-1">still red</span>, then plain</div>
	// <div id="L2">100%</div>
}

package logpage

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/crilog"
)

// nasty are contents a pusher may put in a log line.
var nasty = []string{
	"<script>alert(1)</script>",
	`"'><img src=x onerror=alert(1)>`,
	"\x00\x01\x1b[31mred\x1b[0m\x7f",
	"\xff\xfe\xc3\x28 invalid UTF-8",
	"",
	"tab\tcr\r",
	"#L1 ?cursor=0.1.2 &amp;",
}

// writeRaw writes hand-made CRI data as file name in dir and returns its
// path.
func writeRaw(tb testing.TB, dir, name, data string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// record returns one CRI record at second sec plus nanos ns.
func record(sec, ns int, stream string, tag byte, content string) string {
	return fmt.Sprintf("2026-01-01T00:00:%02d.%09dZ %s %c %s\n", sec, ns, stream, tag, content)
}

// writeRandom writes a log with crilog's Writer: random lines on both
// streams, some longer than crilog.MaxLineChunk (so in P records, while
// lines of the other stream are written between them), nasty ones, and
// the streams' last lines without a newline now and then.
func writeRandom(tb testing.TB, path string, seed uint64, lines int) {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	w, err := crilog.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	streams := []string{crilog.Stdout, crilog.Stderr}
	for i := range lines {
		s := w.Stream(streams[r.IntN(2)])
		var line []byte
		switch r.IntN(8) {
		case 0:
			line = []byte(nasty[r.IntN(len(nasty))])
		case 1:
			line = bytes.Repeat([]byte{'a' + byte(i%26)}, r.IntN(3*crilog.MaxLineChunk))
		default:
			line = fmt.Appendf(nil, "line %d %s", i, strings.Repeat("x", r.IntN(80)))
		}
		// A long line arrives in pieces, and the other stream writes
		// between them.
		for len(line) > 0 {
			n := min(len(line), 1+r.IntN(20000))
			if _, err := s.Write(line[:n]); err != nil {
				tb.Fatal(err)
			}
			line = line[n:]
			if r.IntN(4) == 0 {
				o := w.Stream(streams[r.IntN(2)])
				if _, err := fmt.Fprintf(o, "between %d\n", i); err != nil {
					tb.Fatal(err)
				}
			}
		}
		if i < lines-2 || r.IntN(2) == 0 {
			if _, err := s.Write([]byte("\n")); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
}

// readAll reads the whole log in one page.
func readAll(tb testing.TB, files []string) []Line {
	tb.Helper()
	p, err := Read(files, Cursor{}, 1<<30, 1<<40)
	if err != nil {
		tb.Fatal(err)
	}
	if !p.EOF {
		tb.Fatal("one page of everything is not EOF")
	}
	return p.Lines
}

// readPaged reads the whole log page by page and checks each page's
// numbering and size.
func readPaged(tb testing.TB, files []string, maxLines, maxBytes int) []Line {
	tb.Helper()
	var all []Line
	var from Cursor
	for pages := 0; ; pages++ {
		if pages > 1_000_000 {
			tb.Fatal("paging does not end")
		}
		// Through the URL and back, as the web UI carries it.
		c, err := ParseCursor(from.String(), len(files))
		if err != nil {
			tb.Fatalf("ParseCursor(%q): %v", from.String(), err)
		}
		p, err := Read(files, c, maxLines, maxBytes)
		if err != nil {
			tb.Fatalf("Read from %v: %v", from, err)
		}
		if len(p.Lines) > maxLines+overrunLines+2*len(files) {
			tb.Fatalf("page of %d lines for maxLines %d", len(p.Lines), maxLines)
		}
		all = append(all, p.Lines...)
		if p.Next.Line != int64(len(all)) {
			tb.Fatalf("Next.Line = %d after %d lines", p.Next.Line, len(all))
		}
		if p.EOF {
			return all
		}
		if len(p.Lines) == 0 {
			tb.Fatalf("empty page before EOF at %v", from)
		}
		from = p.Next
	}
}

// show renders lines for comparison and failure messages.
func show(ls []Line) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		s := fmt.Sprintf("%d %d %s %s %.50q", l.N, l.Source, l.Time.Format("05.000000000"), l.Stream, l.Content)
		if l.Partial {
			s += " partial"
		}
		out[i] = s
	}
	return out
}

// streamText joins the lines of each file and stream, "\n" after each
// but a piece: what was written, however the lines were cut.
func streamText(ls []Line) map[string]string {
	out := make(map[string]string)
	for _, l := range ls {
		k := fmt.Sprintf("%d/%s", l.Source, l.Stream)
		s := out[k] + string(l.Content)
		if !l.Partial {
			s += "\n"
		}
		out[k] = s
	}
	return out
}

package logpage

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/crilog"
)

func TestTail(t *testing.T) {
	t.Run("WhileWritten", func(t *testing.T) {
		// A goroutine writes a job: job.log, then sh-1.log, which appears
		// later, long lines in P records on both streams among them. The
		// Tail polls in small pages and reconnects now and then from the
		// page's cursor, as a browser's EventSource does; in the end it
		// has every byte once, in order per file and stream.
		dir := t.TempDir()
		files := []string{filepath.Join(dir, "job.log"), filepath.Join(dir, "sh-1.log"), filepath.Join(dir, "sh-2.log")}
		want := make(chan map[string]string, 1)
		go func() { want <- writeJob(t, files[:2]) }()

		tail, err := Follow(files, Cursor{})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { tail.Close() }()
		var got []Line
		var written map[string]string
		for polls := 0; ; polls++ {
			if written == nil {
				select {
				case written = <-want:
					tail.End()
				default:
				}
			}
			p, err := tail.Next(3, 4096)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, p.Lines...)
			if p.Next.Line != int64(len(got)) {
				t.Fatalf("Next.Line = %d after %d lines", p.Next.Line, len(got))
			}
			if p.EOF {
				break
			}
			if polls%7 == 0 {
				// Reconnect from the cursor, through its string form.
				tail.Close()
				c, err := ParseCursor(p.Next.String(), len(files))
				if err != nil {
					t.Fatal(err)
				}
				if tail, err = Follow(files, c); err != nil {
					t.Fatal(err)
				}
				if written != nil {
					tail.End()
				}
			}
			if len(p.Lines) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		for i, l := range got {
			if l.N != int64(i+1) {
				t.Fatalf("line %d is numbered %d", i+1, l.N)
			}
		}
		if g := streamText(got); !maps.Equal(g, written) {
			for k := range written {
				if g[k] != written[k] {
					t.Errorf("%s: got %d bytes, want %d", k, len(g[k]), len(written[k]))
				}
			}
		}
	})

	t.Run("NothingCompleteYet", func(t *testing.T) {
		dir := t.TempDir()
		first := record(1, 0, "stdout", 'F', "one")
		path := writeRaw(t, dir, "sh-1.log", first+"2026-01-01T00:00:02Z stdout F tw")
		at := fmt.Sprintf("1.%d", len(first))
		tail, err := Follow([]string{path, filepath.Join(dir, "sh-2.log")}, Cursor{})
		if err != nil {
			t.Fatal(err)
		}
		defer tail.Close()
		p, err := tail.Next(10, 1000)
		if err != nil || len(p.Lines) != 1 || p.EOF || p.Next.String() != at {
			t.Fatalf("first poll: %q, %v, %v; want one line, cursor %s", show(p.Lines), p.Next, err, at)
		}
		p, err = tail.Next(10, 1000)
		if err != nil || len(p.Lines) != 0 || p.EOF || p.Next.String() != at {
			t.Fatalf("second poll: %q, %v, %v; want nothing", show(p.Lines), p.Next, err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("o\n")
		f.Close()
		writeRaw(t, dir, "sh-2.log", record(3, 0, "stderr", 'F', "sh-2"))
		p, err = tail.Next(10, 1000)
		if err != nil || len(p.Lines) != 2 || string(p.Lines[0].Content) != "two" || p.Lines[1].Source != 1 || p.EOF {
			t.Fatalf("third poll: %q, %v; want two, sh-2", show(p.Lines), err)
		}
		tail.End()
		p, err = tail.Next(10, 1000)
		if err != nil || len(p.Lines) != 0 || !p.EOF {
			t.Fatalf("after End: %q, %v, EOF %v; want EOF", show(p.Lines), err, p.EOF)
		}
	})
}

// writeJob writes the logs of a job as its sh calls would, slowly, and
// returns what it wrote per file and stream, as streamText keys it.
func writeJob(tb testing.TB, files []string) map[string]string {
	written := make(map[string]string)
	var writers []*crilog.Writer
	for i, path := range files {
		w, err := crilog.Create(path)
		if err != nil {
			tb.Error(err)
			return nil
		}
		writers = append(writers, w)
		for n := range 60 {
			stream := []string{crilog.Stdout, crilog.Stderr}[n%2]
			if i == 0 && n%3 != 0 {
				continue // job.log has fewer lines
			}
			line := fmt.Sprintf("%s %d %s", filepath.Base(path), n, nasty[n%len(nasty)])
			if n%10 == 3 {
				line += strings.Repeat("long", crilog.MaxLineChunk)
			}
			// Long lines go in pieces, each a few P records, while the
			// other stream writes.
			s := writers[i].Stream(stream)
			for len(line) > 0 {
				k := min(len(line), 3*crilog.MaxLineChunk)
				s.Write([]byte(line[:k]))
				written[fmt.Sprint(i, "/", stream)] += line[:k]
				line = line[k:]
				other := []string{crilog.Stderr, crilog.Stdout}[n%2]
				fmt.Fprintf(writers[0].Stream(other), "between %d\n", n)
				written["0/"+other] += fmt.Sprintf("between %d\n", n)
				time.Sleep(100 * time.Microsecond)
			}
			s.Write([]byte("\n"))
			written[fmt.Sprint(i, "/", stream)] += "\n"
		}
	}
	// The last line of job.log's stdout never gets its newline.
	writers[0].Stream(crilog.Stdout).Write([]byte("bye"))
	written["0/stdout"] += "bye"
	for _, w := range writers {
		if err := w.Close(); err != nil {
			tb.Error(err)
		}
	}
	// A line's "\r\n" ending is a line ending, not content.
	for k, v := range written {
		written[k] = strings.ReplaceAll(v, "\r\n", "\n")
	}
	return written
}

func TestTail_ManyFiles(t *testing.T) {
	// A job of many sh calls, one after the other: pages open the few
	// files they show, and a Tail keeps few open between polls.
	dir := t.TempDir()
	files := []string{writeRaw(t, dir, "job.log", record(0, 0, "stdout", 'F', "job starts")+record(59, 0, "stdout", 'F', "job ends"))}
	var want []string
	for i := range 300 {
		var data strings.Builder
		for j := range 3 {
			data.WriteString(record(1+i/6, (i%6)*1000+j, "stdout", 'F', fmt.Sprintf("sh-%d %d", i+1, j)))
			want = append(want, fmt.Sprintf("sh-%d %d", i+1, j))
		}
		files = append(files, writeRaw(t, dir, fmt.Sprintf("sh-%d.log", i+1), data.String()))
	}
	files = append(files, filepath.Join(dir, "sh-301.log"))
	want = append([]string{"job starts"}, append(want, "job ends")...)

	whole := readAll(t, files)
	var got []string
	for _, l := range whole {
		got = append(got, string(l.Content))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("merged: %q\nwant %q", got, want)
	}
	if paged := readPaged(t, files, 25, 1<<20); !slices.Equal(show(paged), show(whole)) {
		t.Fatal("paged differs from whole")
	}

	tail, err := Follow(files, Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	defer tail.Close()
	for n := 0; n < len(want); {
		p, err := tail.Next(10, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Lines) == 0 {
			t.Fatalf("no lines after %d of %d", n, len(want))
		}
		n += len(p.Lines)
		open := 0
		for _, s := range tail.src {
			if s.f != nil {
				open++
			}
		}
		if open > 3 {
			t.Fatalf("%d files open after a poll", open)
		}
	}
}

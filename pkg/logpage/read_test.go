package logpage

import (
	"bytes"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/crilog"
)

func TestRead(t *testing.T) {
	t.Run("PagedEqualsWhole", func(t *testing.T) {
		// Paging through a log returns every line once, in order, for
		// any page size.
		dir := t.TempDir()
		files := []string{filepath.Join(dir, "job.log"), filepath.Join(dir, "sh-1.log"), filepath.Join(dir, "sh-2.log")}
		writeRandom(t, files[0], 1, 60)
		writeRandom(t, files[1], 2, 200)
		// sh-2.log does not exist: an sh call that never started.
		whole := readAll(t, files)
		if len(whole) < 200 {
			t.Fatalf("only %d lines", len(whole))
		}
		for i, l := range whole {
			if l.N != int64(i+1) {
				t.Fatalf("line %d is numbered %d", i+1, l.N)
			}
		}
		for _, maxLines := range []int{1, 2, 3, 7, 50, 1000} {
			for _, maxBytes := range []int{1, 100, 20000, 1 << 20} {
				got := readPaged(t, files, maxLines, maxBytes)
				if !slices.Equal(show(got), show(whole)) {
					t.Fatalf("pages of %d lines, %d bytes:\n%s\nwant\n%s", maxLines, maxBytes,
						strings.Join(show(got), "\n"), strings.Join(show(whole), "\n"))
				}
				for i := range got {
					if !bytes.Equal(got[i].Content, whole[i].Content) {
						t.Fatalf("pages of %d lines, %d bytes: line %d differs", maxLines, maxBytes, i+1)
					}
				}
			}
		}
	})

	t.Run("OneFileManySeeds", func(t *testing.T) {
		for seed := range uint64(20) {
			files := []string{filepath.Join(t.TempDir(), "sh-1.log")}
			writeRandom(t, files[0], seed+100, 40)
			whole := readAll(t, files)
			for _, maxLines := range []int{1, 4, 9} {
				if got := readPaged(t, files, maxLines, 1<<20); !slices.Equal(show(got), show(whole)) {
					t.Fatalf("seed %d, pages of %d lines:\n%s\nwant\n%s", seed, maxLines,
						strings.Join(show(got), "\n"), strings.Join(show(whole), "\n"))
				}
			}
		}
	})

	t.Run("Merge", func(t *testing.T) {
		dir := t.TempDir()
		files := []string{
			writeRaw(t, dir, "job.log", record(1, 0, "stdout", 'F', "job a")+
				record(3, 0, "stdout", 'F', "job b, same time as sh-1's")+
				record(9, 0, "stderr", 'F', "job c")),
			writeRaw(t, dir, "sh-1.log", record(2, 0, "stdout", 'F', "sh1 a")+
				record(3, 0, "stdout", 'F', "sh1 b")),
			filepath.Join(dir, "sh-2.log"),
			writeRaw(t, dir, "sh-3.log", record(3, 0, "stderr", 'F', "sh3 a")+
				record(4, 0, "stdout", 'P', "sh3 <b>")),
		}
		want := []string{
			"1 0 01.000000000 stdout \"job a\"",
			"2 1 02.000000000 stdout \"sh1 a\"",
			"3 0 03.000000000 stdout \"job b, same time as sh-1's\"",
			"4 1 03.000000000 stdout \"sh1 b\"",
			"5 3 03.000000000 stderr \"sh3 a\"",
			"6 3 04.000000000 stdout \"sh3 <b>\" partial",
			"7 0 09.000000000 stderr \"job c\"",
		}
		if got := show(readAll(t, files)); !slices.Equal(got, want) {
			t.Fatalf("merged:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if got := show(readPaged(t, files, 1, 1)); !slices.Equal(got, want) {
			t.Fatalf("merged in pages of 1:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("EveryByteOffset", func(t *testing.T) {
		dir := t.TempDir()
		var data strings.Builder
		for i, s := range nasty {
			data.WriteString(record(i, i, []string{"stdout", "stderr"}[i%2], 'F', s))
		}
		data.WriteString(record(20, 0, "stdout", 'P', "long "))
		data.WriteString(record(21, 0, "stdout", 'F', "line"))
		log := data.String()
		files := []string{writeRaw(t, dir, "sh-1.log", log)}
		for off := range len(log) + 2 {
			// What reading from the next record start gives.
			start := min(off, len(log))
			if start > 0 && log[start-1] != '\n' {
				start += strings.IndexByte(log[start:], '\n') + 1
			}
			rest := []string{writeRaw(t, dir, "rest.log", log[start:])}
			want := show(readAll(t, rest))
			p, err := Read(files, Cursor{Offsets: []int64{int64(off)}}, 1000, 1<<20)
			if err != nil {
				t.Fatalf("from %d: %v", off, err)
			}
			if got := show(p.Lines); !p.EOF || !slices.Equal(got, want) {
				t.Errorf("from %d: %q (EOF %v), want %q", off, got, p.EOF, want)
			}
		}
	})

	t.Run("CutWhereALineStaysOpen", func(t *testing.T) {
		// A stdout line open around more stderr lines than a page may
		// run over: the page cuts it, and nothing is lost or repeated.
		var data strings.Builder
		data.WriteString(record(0, 0, "stdout", 'P', "open "))
		for i := range 2500 {
			data.WriteString(record(1, i, "stderr", 'F', strings.Repeat("e", i%7)))
		}
		data.WriteString(record(2, 0, "stdout", 'F', "closed"))
		data.WriteString(record(3, 0, "stdout", 'F', "after"))
		files := []string{writeRaw(t, t.TempDir(), "sh-1.log", data.String())}
		whole := readAll(t, files)
		paged := readPaged(t, files, 10, 1<<20)
		if len(paged) != len(whole)+1 {
			t.Errorf("%d lines paged, want %d: the open line cut once", len(paged), len(whole)+1)
		}
		if got, want := streamText(paged), streamText(whole); !maps.Equal(got, want) {
			t.Errorf("paged text differs from the whole")
		}
		if got := paged[len(paged)-1]; string(got.Content) != "after" || got.N != int64(len(paged)) {
			t.Errorf("last line %+v", got)
		}
	})

	t.Run("HugeLines", func(t *testing.T) {
		// Lines longer than 1 MiB come in pieces of 1 MiB, on both
		// streams at once.
		path := filepath.Join(t.TempDir(), "sh-1.log")
		w, err := crilog.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		out, errw := w.Stream(crilog.Stdout), w.Stream(crilog.Stderr)
		chunk := bytes.Repeat([]byte("<script>"), 8192)
		for range 40 {
			out.Write(chunk)
			errw.Write(chunk[:1000])
		}
		out.Write([]byte("\n"))
		errw.Write([]byte("\n"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		files := []string{path}
		whole := readAll(t, files)
		for _, l := range whole {
			if len(l.Content) > 1<<20 {
				t.Fatalf("a line of %d bytes", len(l.Content))
			}
		}
		want := map[string]string{
			"0/stdout": strings.Repeat("<script>", 8192*40) + "\n",
			"0/stderr": strings.Repeat("<script>", 125*40) + "\n",
		}
		if got := streamText(whole); !maps.Equal(got, want) {
			t.Errorf("lines do not join up to what was written")
		}
		if got := streamText(readPaged(t, files, 1, 1)); !maps.Equal(got, want) {
			t.Errorf("paged lines do not join up to what was written")
		}
	})

	t.Run("TruncatedLastRecord", func(t *testing.T) {
		dir := t.TempDir()
		full := record(1, 0, "stdout", 'F', "whole")
		tests := []struct {
			name, last string
			want       []string
		}{
			{"Decodable", "2026-01-01T00:00:02Z stderr F half a li", []string{`"whole"`, `"half a li"`}},
			{"Garbage", "2026-01-01T00:0", []string{`"whole"`}},
		}
		for _, tt := range tests {
			files := []string{writeRaw(t, dir, tt.name+".log", full+tt.last)}
			var got []string
			for _, l := range readAll(t, files) {
				got = append(got, strconv.Quote(string(l.Content)))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
			}
		}
	})

	t.Run("Errors", func(t *testing.T) {
		dir := t.TempDir()
		bad := writeRaw(t, dir, "bad.log", record(1, 0, "stdout", 'F', "ok")+"not a record\n")
		if _, err := Read([]string{bad}, Cursor{}, 10, 1000); err == nil || !strings.Contains(err.Error(), "bad.log") {
			t.Errorf("malformed record: %v, want an error naming the file", err)
		}
		if _, err := Read([]string{bad}, Cursor{Offsets: []int64{1, 2}}, 10, 1000); err == nil {
			t.Error("a cursor of two files for one did not fail")
		}
		if _, err := Read([]string{bad}, Cursor{Offsets: []int64{-1}}, 10, 1000); err == nil {
			t.Error("a negative offset did not fail")
		}
		if _, err := Read([]string{dir}, Cursor{}, 10, 1000); err == nil {
			t.Error("a directory for a log did not fail")
		}
		if p, err := Read(nil, Cursor{}, 10, 1000); err != nil || len(p.Lines) != 0 || !p.EOF {
			t.Errorf("no files: %+v, %v; want an empty last page", p, err)
		}
		p, err := Read([]string{bad}, Cursor{Offsets: []int64{1 << 40}}, 10, 1000)
		if err != nil || len(p.Lines) != 0 || !p.EOF {
			t.Errorf("past the end: %+v, %v; want an empty last page", p, err)
		}
	})
}

func TestWriteText(t *testing.T) {
	dir := t.TempDir()
	files := []string{
		writeRaw(t, dir, "job.log", record(1, 0, "stdout", 'F', nasty[0])+record(5, 0, "stderr", 'F', nasty[1])),
		writeRaw(t, dir, "sh-1.log", record(2, 0, "stderr", 'F', nasty[2])+
			record(3, 0, "stdout", 'P', "part ")+record(4, 0, "stdout", 'F', nasty[3])+
			record(6, 0, "stdout", 'P', "no newline")),
		filepath.Join(dir, "sh-2.log"),
	}
	var b bytes.Buffer
	if err := WriteText(&b, files); err != nil {
		t.Fatal(err)
	}
	want := nasty[0] + "\n" + nasty[2] + "\npart " + nasty[3] + "\n" + nasty[1] + "\nno newline\n"
	if b.String() != want {
		t.Errorf("text = %q, want %q", b.String(), want)
	}

	// Big logs stream through: what WriteText writes is what Read reads.
	big := []string{filepath.Join(dir, "big.log")}
	writeRandom(t, big[0], 9, 300)
	b.Reset()
	if err := WriteText(&b, big); err != nil {
		t.Fatal(err)
	}
	var wantBig bytes.Buffer
	for _, l := range readAll(t, big) {
		wantBig.Write(l.Content)
		wantBig.WriteByte('\n')
	}
	if !bytes.Equal(b.Bytes(), wantBig.Bytes()) {
		t.Error("WriteText differs from the lines Read returns")
	}
}

package crilog

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/redact"
)

func TestWriter_Redact(t *testing.T) {
	const tok = "s3cr3t-t0ken-0123456789"
	const pem = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34\nGkxFhD90vcNLYLInFEX6\n-----END KEY-----"
	set := new(redact.Set)
	for _, s := range [][2]string{{"tok", tok}, {"pem", pem}} {
		if err := set.Add(s[0], s[1]); err != nil {
			t.Fatal(err)
		}
	}
	// A 40 KiB line with the token straddling the first chunk boundary.
	long := strings.Repeat("a", MaxLineChunk-5) + tok + strings.Repeat("b", 40<<10)
	tests := []struct {
		name   string
		stream string
		data   string
		sizes  []int
		want   []line
	}{
		{"Whole", Stdout, "token " + tok + "\n", nil, []line{{"token {{ tok }}", false}}},
		{"SplitAcrossWrites", Stdout, "x" + tok + "y\n", []int{8}, []line{{"x{{ tok }}y", false}}},
		{"Stderr", Stderr, tok + "\n", []int{3}, []line{{"{{ tok }}", false}}},
		{"LongLine", Stdout, long + "\n", []int{4096},
			[]line{{strings.Repeat("a", MaxLineChunk-5) + "{{ tok }}" + strings.Repeat("b", 40<<10), false}}},
		{"MultiLine", Stdout, "key:\n" + pem + "\n", []int{5}, []line{{"key:", false}, {"{{ pem }}", false}}},
		{"MultiLineCRLF", Stdout, strings.ReplaceAll(pem, "\n", "\r\n") + "\r\n", []int{7},
			[]line{{"{{ pem }}", false}, {"{{ pem }}", false}, {"{{ pem }}", false}, {"{{ pem }}", false}}},
		{"UnfinishedPrefixFlushed", Stdout, "ends with s3cr3t", []int{4}, []line{{"ends with s3cr3t", true}}},
		{"UnfinishedSecret", Stdout, "ends with " + tok, []int{4}, []line{{"ends with {{ tok }}", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			w.Redact(set)
			writeCut(t, w.Stream(tt.stream), []byte(tt.data), tt.sizes)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := readerLines(t, bytes.NewReader(buf.Bytes()), tt.stream); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if bytes.Contains(buf.Bytes(), []byte(tok)) || bytes.Contains(buf.Bytes(), []byte("MIIBOgIBAAJBAKj34")) {
				t.Errorf("a secret is left in the log")
			}
			if got, want := w.Bytes(tt.stream), int64(len(tt.data)); got != want {
				t.Errorf("got %d bytes received, want %d (before redaction)", got, want)
			}
		})
	}
	t.Run("ChunksStayWithinLimit", func(t *testing.T) {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.Redact(set)
		writeCut(t, w.Stream(Stdout), []byte(long+"\n"), []int{1000})
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		recs, _ := splitRecords(t, buf.Bytes())
		for _, r := range recs {
			if len(r.content) > MaxLineChunk {
				t.Errorf("record of %d bytes, over %d", len(r.content), MaxLineChunk)
			}
		}
	})
	t.Run("Line", func(t *testing.T) {
		later := new(redact.Set)
		var buf bytes.Buffer
		w := NewWriter(&buf)
		w.Redact(later)
		// A secret added after the Writer was made applies to Line.
		if err := later.Add("tok", tok); err != nil {
			t.Fatal(err)
		}
		if err := w.Line(Stderr, []byte("error: "+tok+" rejected\n"+pem)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got := readerLines(t, bytes.NewReader(buf.Bytes()), Stderr)
		want := []line{{"error: {{ tok }} rejected", false}, {"-----BEGIN KEY-----", false},
			{"MIIBOgIBAAJBAKj34", false}, {"GkxFhD90vcNLYLInFEX6", false}, {"-----END KEY-----", false}}
		if !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

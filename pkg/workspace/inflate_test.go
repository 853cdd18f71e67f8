package workspace

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"testing"
)

// stdInflate is the reference: compress/flate read into exactly n bytes.
func stdInflate(src []byte, n int) ([]byte, error) {
	out := make([]byte, n)
	_, err := io.ReadFull(flate.NewReader(bytes.NewReader(src)), out)
	return out, err
}

// corpus returns inputs that exercise every block type and code shape.
func corpus() [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 200000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	skewed := make([]byte, 300000)
	for i := range skewed {
		skewed[i] = "aaaaaaaabbbbccd\n"[rng.IntN(16)]
	}
	return [][]byte{
		{}, {0}, []byte("a"), bytes.Repeat([]byte("ab"), 40000),
		textBlock(3000, 7), random, skewed,
		append(textBlock(500, 1), random[:70000]...),
	}
}

func TestInflate_MatchesCompressFlate(t *testing.T) {
	for i, data := range corpus() {
		for _, level := range []int{flate.NoCompression, flate.BestSpeed, 5, flate.BestCompression, flate.HuffmanOnly} {
			var b bytes.Buffer
			w, _ := flate.NewWriter(&b, level)
			w.Write(data)
			w.Close()
			got := make([]byte, len(data))
			if err := inflate(got, b.Bytes()); err != nil {
				t.Fatalf("input %d level %d: %v", i, level, err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("input %d level %d: output differs", i, level)
			}
			// Shorter than the object: the stream is cut.
			if len(b.Bytes()) > 8 {
				if err := inflate(make([]byte, len(data)), b.Bytes()[:len(b.Bytes())/2]); err == nil && len(data) > 100 {
					t.Errorf("input %d level %d: half a stream inflated without error", i, level)
				}
			}
			// A longer object than the stream holds is an error.
			if err := inflate(make([]byte, len(data)+1), b.Bytes()); err == nil {
				t.Errorf("input %d level %d: inflated past the stream's end", i, level)
			}
		}
	}
}

// FuzzInflate checks inflate against compress/flate on arbitrary bytes:
// never a panic, and the same bytes wherever the reference succeeds.
func FuzzInflate(f *testing.F) {
	for _, data := range corpus()[:6] {
		var b bytes.Buffer
		w, _ := flate.NewWriter(&b, 6)
		w.Write(data[:min(len(data), 3000)])
		w.Close()
		f.Add(b.Bytes(), uint16(min(len(data), 3000)))
	}
	f.Fuzz(func(t *testing.T, src []byte, n uint16) {
		got := make([]byte, n)
		err := inflate(got, src)
		want, werr := stdInflate(src, int(n))
		if werr == nil && err == nil && !bytes.Equal(got, want) {
			t.Fatalf("output differs from compress/flate")
		}
		if werr == nil && err != nil {
			t.Fatalf("compress/flate inflates it, inflate says %v", err)
		}
	})
}

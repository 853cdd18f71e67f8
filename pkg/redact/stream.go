package redact

import "io"

// Stream redacts one stream of bytes that arrives in pieces, such as the
// reads of a pipe. It holds back the bytes at the end of a piece that
// could be the start of a secret (fewer than the longest secret's length)
// until the next piece or Flush decides them. The output does not depend
// on where the stream was cut. A Stream is not safe for concurrent use.
type Stream struct {
	m    *matcher // nil: nothing to redact
	held []byte   // bytes not decided yet
	run  int      // how many bytes of held a written replacement still covers
}

// Active reports whether the Stream has any secret to redact; when it
// has none, Append only copies.
func (s *Stream) Active() bool { return s.m != nil }

// Append appends to dst the redacted output that p makes certain, and
// returns it.
func (s *Stream) Append(dst, p []byte) []byte {
	if s.m == nil {
		return append(dst, p...)
	}
	b := p
	if len(s.held) > 0 {
		s.held = append(s.held, p...)
		b = s.held
	}
	dst, done, run := s.m.scan(dst, b, s.run, false)
	// copy, not append: the rest may overlap s.held.
	rest := b[done:]
	if cap(s.held) < len(rest) {
		s.held = make([]byte, 0, max(len(rest), 2*s.m.maxLen))
	}
	s.held = s.held[:len(rest)]
	copy(s.held, rest)
	s.run = run
	return dst
}

// Flush appends what is held back, redacted, to dst: the stream has
// ended. The Stream can be used again afterwards, as a new stream.
func (s *Stream) Flush(dst []byte) []byte {
	if s.m == nil || len(s.held) == 0 {
		s.held, s.run = s.held[:0], 0
		return dst
	}
	dst, _, _ = s.m.scan(dst, s.held, s.run, true)
	s.held, s.run = s.held[:0], 0
	return dst
}

// Writer is an io.WriteCloser that redacts what is written to it before
// writing it to another writer; Close writes what it held back. It is not
// safe for concurrent use.
type Writer struct {
	s   *Stream
	w   io.Writer
	buf []byte
	err error
}

// NewWriter returns a Writer that writes to w with the secrets set holds
// now. Close flushes the Writer but does not close w.
func NewWriter(set *Set, w io.Writer) *Writer {
	return &Writer{s: set.Stream(), w: w}
}

// Write redacts p and writes what is decided; it reports len(p) written
// unless w failed.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.buf = w.s.Append(w.buf[:0], p)
	if err := w.flush(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close writes the bytes held back. Calling it again does nothing.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	w.buf = w.s.Flush(w.buf[:0])
	return w.flush()
}

func (w *Writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if _, err := w.w.Write(w.buf); err != nil {
		w.err = err
	}
	return w.err
}

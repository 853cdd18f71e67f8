package logpage

import (
	"bufio"
	"fmt"
	"io"
)

// WriteText writes the whole log made of files to w as plain text, for
// download: the lines merged as Read merges them, each line's content
// followed by "\n", nothing else. Stdout and stderr lines look alike
// (no marker, no timestamp) and the content is written raw, control
// bytes and all; a line longer than 1 MiB comes as several lines of at
// most 1 MiB. It takes the files as complete, as Read does, and holds
// no more than a line per file in memory.
func WriteText(w io.Writer, files []string, opts ...Option) error {
	t, err := Follow(files, Cursor{}, opts...)
	if err != nil {
		return err
	}
	defer t.Close()
	t.End()
	for _, s := range t.src {
		if err := s.prepare(true); err != nil {
			return fmt.Errorf("write log text: %w", err)
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	for {
		i, err := t.pick()
		if err != nil {
			return fmt.Errorf("write log text: %w", err)
		}
		if i < 0 {
			break
		}
		e := t.src[i].take()
		bw.Write(e.Content)
		if err := bw.WriteByte('\n'); err != nil {
			return fmt.Errorf("write log text: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write log text: %w", err)
	}
	return nil
}

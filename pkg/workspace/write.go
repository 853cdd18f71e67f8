package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

const (
	// copyChunk is how much of a streamed blob is written at a time; the
	// context is checked between chunks.
	copyChunk = 256 << 10
	// maxLinkTarget bounds a symlink target read into memory; the kernel
	// refuses anything past PATH_MAX anyway.
	maxLinkTarget = 64 << 10
)

// chmodNeeded reports whether the process umask strips bits from 0755, in
// which case every file and directory is chmod-ed to its exact mode. With
// the usual 022 the extra system call per file is skipped.
var chmodNeeded = sync.OnceValue(func() bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return true
	}
	for line := range bytes.Lines(data) {
		if v, ok := bytes.CutPrefix(line, []byte("Umask:")); ok {
			mask, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 8, 32)
			return err != nil || mask&0o755 != 0
		}
	}
	return true
})

// prepareDir creates dir 0755, with any missing parents, or accepts it if
// it is an existing empty directory.
func prepareDir(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return fmt.Errorf("create workspace %s: %w", dir, err)
		}
		err = os.Mkdir(dir, 0o755)
	}
	if err == nil {
		if chmodNeeded() {
			if err := os.Chmod(dir, 0o755); err != nil {
				return fmt.Errorf("create workspace %s: %w", dir, err)
			}
		}
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create workspace %s: %w", dir, err)
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open workspace %s: %w", dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read workspace %s: %w", dir, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("workspace %s is not empty", dir)
	}
	return nil
}

// makeDir creates the directory at path below root. It fails if anything
// exists there already, a symlink included, so nothing is written through
// a link.
func makeDir(root, path string) error {
	full := root + string(filepath.Separator) + path
	if err := os.Mkdir(full, 0o755); err != nil {
		return fmt.Errorf("create directory %s: %w", path, err)
	}
	if chmodNeeded() {
		if err := os.Chmod(full, 0o755); err != nil {
			return fmt.Errorf("create directory %s: %w", path, err)
		}
	}
	return nil
}

// writer writes files and symlinks for one worker goroutine.
type writer struct {
	r     *reader
	root  string
	chunk []byte
	// record asks for each file and symlink written to be appended to
	// recs with its stat, for a Cache's index.
	record bool
	recs   []indexEntry
}

// write creates the file or symlink of j. Files are created exclusively
// (O_EXCL does not follow a symlink), so an entry never replaces or writes
// through another one.
func (w *writer) write(ctx context.Context, j job, st *Stats) error {
	src, err := w.r.openBlob(j.hash)
	if err != nil {
		return fmt.Errorf("read blob %s (%s): %w", j.path, j.hash, err)
	}
	defer src.close()
	full := w.root + string(filepath.Separator) + filepath.FromSlash(j.path)
	if j.kind == kindSymlink {
		target, err := linkTarget(src)
		if err == nil {
			err = os.Symlink(string(target), full)
		}
		if err == nil && w.record {
			var fst fileStat
			if fst, err = lstatPath(full); err == nil {
				w.recs = append(w.recs, indexEntry{path: j.path, kind: j.kind, hash: j.hash, st: fst})
			}
		}
		if err != nil {
			return fmt.Errorf("write symlink %s: %w", j.path, err)
		}
		st.Symlinks++
		return nil
	}
	perm := fs.FileMode(0o644)
	if j.kind == kindExec {
		perm = 0o755
	}
	f, err := createExcl(full, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", j.path, err)
	}
	n, err := w.copy(ctx, f, src)
	if err == nil && chmodNeeded() {
		err = f.Chmod(perm)
	}
	if err == nil && w.record {
		var fst fileStat
		if fst, err = f.stat(); err == nil {
			w.recs = append(w.recs, indexEntry{path: j.path, kind: j.kind, hash: j.hash, st: fst})
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", j.path, err)
	}
	st.Files++
	st.Bytes += n
	return nil
}

// copy writes the blob's content to f, checking ctx between chunks of a
// streamed blob.
func (w *writer) copy(ctx context.Context, f io.Writer, src blobSource) (int64, error) {
	if src.rd == nil {
		n, err := f.Write(src.data)
		return int64(n), err
	}
	if w.chunk == nil {
		w.chunk = make([]byte, copyChunk)
	}
	var n int64
	for n < src.size {
		if ctx.Err() != nil {
			return n, context.Cause(ctx)
		}
		m, err := io.ReadFull(src.rd, w.chunk[:min(int64(len(w.chunk)), src.size-n)])
		if err != nil {
			return n, fmt.Errorf("read content: %w", err)
		}
		if _, err := f.Write(w.chunk[:m]); err != nil {
			return n, err
		}
		n += int64(m)
	}
	return n, nil
}

// linkTarget returns a symlink blob's content.
func linkTarget(src blobSource) ([]byte, error) {
	if src.rd == nil {
		return src.data, nil
	}
	if src.size > maxLinkTarget {
		return nil, fmt.Errorf("target of %d bytes is too long", src.size)
	}
	target := make([]byte, src.size)
	if _, err := io.ReadFull(src.rd, target); err != nil {
		return nil, fmt.Errorf("read target: %w", err)
	}
	return target, nil
}

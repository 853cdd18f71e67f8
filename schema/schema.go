// Package schema holds quire-hook's SQLite migrations: the numbered .sql
// files of this directory, embedded in the binary and handed out in order.
//
// A file is named NNNN_description.sql; NNNN is its version. Versions start
// at 1 and have no gaps, because the store records the last applied one in
// PRAGMA user_version. Shipped files are never edited: a change is a new file.
package schema

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed *.sql
var files embed.FS

// Migration is one numbered schema change.
type Migration struct {
	// Version is the number the file name starts with; after applying the
	// migration the database's user_version equals it.
	Version int
	// Name is the file name, e.g. "0001_initial.sql".
	Name string
	// SQL is the file's content: one or more statements.
	SQL string
}

// Migrations returns every embedded migration, sorted by version. It fails
// if a file name has no numeric prefix, or if versions repeat or leave a
// gap, so that a bad file is caught by tests rather than in the field.
func Migrations() ([]Migration, error) {
	return load(files)
}

func load(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	ms := make([]Migration, 0, len(names))
	for _, name := range names {
		version, err := parseVersion(name)
		if err != nil {
			return nil, err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		ms = append(ms, Migration{Version: version, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d (versions start at 1 with no gaps or repeats)", m.Name, m.Version, i+1)
		}
	}
	return ms, nil
}

// parseVersion reads the NNNN of NNNN_description.sql.
func parseVersion(name string) (int, error) {
	prefix, _, ok := strings.Cut(name, "_")
	if !ok || prefix == "" {
		return 0, fmt.Errorf("migration %s: name is not NNNN_description.sql", name)
	}
	v, err := strconv.Atoi(prefix)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("migration %s: version prefix %q is not a positive number", name, prefix)
	}
	return v, nil
}

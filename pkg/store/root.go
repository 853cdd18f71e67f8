package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"

	"github.com/quire-ci/quire-hook/pkg/datadir"
)

// OpenRoot creates the data root dataRoot if needed and opens its
// database, with errors that say what to do: SQLite's own words
// ("unable to open database file") do not.
func OpenRoot(ctx context.Context, dataRoot string) (*Store, error) {
	if err := os.MkdirAll(dataRoot, 0o755); err != nil {
		return nil, fmt.Errorf("create data root: %w; set --data-dir or QUIRE_DATA_DIR to a writable directory", err)
	}
	s, err := Open(ctx, datadir.Root(dataRoot).DB())
	var tooNew *SchemaVersionError
	if err == nil || errors.As(err, &tooNew) {
		return s, err
	}
	who := "uid " + strconv.Itoa(os.Getuid())
	if u, uerr := user.Current(); uerr == nil {
		who = u.Username
	}
	return nil, fmt.Errorf("%w; check that %s and the files in it are writable by this user (%s), or set --data-dir or QUIRE_DATA_DIR", err, dataRoot, who)
}

// Package examples embeds the example pipelines: the demo command builds
// its throwaway repository from demo/, and a test loads every one.
package examples

import "embed"

// FS holds every example directory, dot-files included.
//
//go:embed all:demo all:go-project all:outputs
var FS embed.FS

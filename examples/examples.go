// Package examples embeds the example pipelines: the demo command builds
// its throwaway repository from demo/ (Demo), and a test loads every one.
// The operating examples beside them, systemd/ (gc and reconcile timers)
// and fluent-bit/ (shipping the CRI logs), are not embedded; hook's
// examples test checks them against the commands.
package examples

import "embed"

// FS holds every example directory, dot-files included.
//
//go:embed all:demo all:go-project all:outputs
var FS embed.FS

package examples_test

import (
	"io/fs"
	"path"
	"testing"

	"github.com/quire-ci/quire-hook/examples"
	"github.com/quire-ci/quire-hook/pkg/pipeline"
)

// TestExamples_Load loads and validates every example pipeline.
func TestExamples_Load(t *testing.T) {
	var dirs []string
	err := fs.WalkDir(examples.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && path.Base(p) == "ci.lua" && path.Base(path.Dir(p)) == ".quire" {
			dirs = append(dirs, path.Dir(path.Dir(p)))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 3 {
		t.Fatalf("found %d example pipelines (%v), want at least 3", len(dirs), dirs)
	}
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			sub, err := fs.Sub(examples.FS, dir)
			if err != nil {
				t.Fatal(err)
			}
			p, err := pipeline.Load(t.Context(), sub, pipeline.Options{})
			if err != nil {
				t.Fatalf("load %s: %v", dir, err)
			}
			defer p.Close()
			if len(p.Order()) == 0 {
				t.Errorf("%s registers no jobs", dir)
			}
		})
	}
}

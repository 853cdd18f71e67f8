package web_test

import (
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/web"
)

// TestLogs_NotWritten: a job that wrote no log yet has an empty page.
func TestLogs_NotWritten(t *testing.T) {
	t.Parallel()
	f := newFixture(t, web.Options{})
	base := "/runs/" + idOld
	r := f.get(t, base+"/log?job=lint", 200)
	if !strings.Contains(checkHTML(t, "", r.body), "No output") {
		t.Errorf("an unwritten log's page does not say No output")
	}
	if r := f.get(t, base+"/log.txt?job=lint", 200); r.body != "" {
		t.Errorf("an unwritten log's text: %q", r.body)
	}
	f.get(t, base+"/log.cri?job=lint", 404)
	// The active run's job is followed from the start.
	r = f.get(t, "/runs/"+idActive+"/log?job=build", 200)
	if !strings.Contains(r.body, `data-follow="/runs/`+idActive+`/log/events?`) {
		t.Errorf("a running job's empty log is not followed:\n%s", short(r.body))
	}
}

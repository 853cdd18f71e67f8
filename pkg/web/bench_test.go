package web_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/web"
)

// The benchmarks of SPEC §14 ("Fast"): each page is measured against a
// baseline, GET /static/style.css of the same server, and reported as
// ms/page and x-static (how many times the baseline it takes). No test
// asserts a time.

// benchGet GETs url and reads the body, failing unless it is 200.
func benchGet(b *testing.B, client *http.Client, url string) int64 {
	res, err := client.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 {
		b.Fatalf("GET %s: %d, %v", url, res.StatusCode, err)
	}
	return n
}

// baseline is the time of one GET of the static stylesheet.
func baseline(b *testing.B, client *http.Client, base string) time.Duration {
	const n = 200
	benchGet(b, client, base+"/static/style.css")
	start := time.Now()
	for range n {
		benchGet(b, client, base+"/static/style.css")
	}
	return time.Since(start) / n
}

// measure runs GET url b.N times and reports ms/page and x-static.
func measure(b *testing.B, client *http.Client, url string, base time.Duration) {
	b.ReportAllocs()
	var bytes int64
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		bytes = benchGet(b, client, url)
	}
	per := time.Since(start) / time.Duration(b.N)
	b.StopTimer()
	b.ReportMetric(float64(per)/float64(time.Millisecond), "ms/page")
	b.ReportMetric(float64(per)/float64(base), "x-static")
	b.ReportMetric(float64(bytes), "B/page")
}

// BenchmarkServer_RunsPage: the runs page over 100,000 runs (SPEC §14:
// ≤ 50 ms), first and deep pages, filtered and not.
func BenchmarkServer_RunsPage(b *testing.B) {
	dir := b.TempDir()
	repo := gitInit(b, filepath.Join(dir, "repos", "tools.git"))
	root := datadir.Own(repo)
	openStore(b, root) // creates the schema
	fill100k(b, root.DB())
	src := &web.Sources{ReposDirs: []string{filepath.Join(dir, "repos")}}
	srv, err := web.New(web.Options{Sources: src})
	must(b, err)
	hs := httptest.NewServer(srv)
	b.Cleanup(func() { srv.Stop(); hs.Close(); src.Close() })
	client := hs.Client()
	base := baseline(b, client, hs.URL)
	b.Run("Baseline", func(b *testing.B) { measure(b, client, hs.URL+"/static/style.css", base) })
	for _, tt := range []struct{ name, query string }{
		{"First", ""},
		{"Deep", "?before=" + fmt.Sprintf("%d.%s", 50_000*1000, benchRunID(50_000))},
		{"FilteredDeep", "?repo=tools.git&ref=main&state=failed&before=" + fmt.Sprintf("%d.%s", 50_000*1000, benchRunID(50_000))},
		{"Limit500", "?limit=500"},
	} {
		b.Run(tt.name, func(b *testing.B) { measure(b, client, hs.URL+"/runs"+tt.query, base) })
	}
	b.Run("API", func(b *testing.B) { measure(b, client, hs.URL+"/api/runs", base) })
	b.Run("Repos", func(b *testing.B) { measure(b, client, hs.URL+"/", base) })
}

// benchRunID is the id fill100k gives run i.
func benchRunID(i int) string { return fmt.Sprintf("01936f00-0000-7000-8000-%012d", i) }

// fill100k writes 100,000 ended runs of tools.git over 3 refs, one a
// second, in one statement.
func fill100k(b *testing.B, db string) {
	b.Helper()
	conn, err := sqlite.OpenConn(db, sqlite.OpenReadWrite)
	must(b, err)
	defer conn.Close()
	err = sqlitex.ExecuteTransient(conn, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
		INSERT INTO runs (id, repo, ref_name, sha, trigger, pushed_at_ms, queued_at_ms,
			started_at_ms, finished_at_ms, state, subject)
		SELECT printf('01936f00-0000-7000-8000-%012d', i), 'tools.git',
			CASE i % 3 WHEN 0 THEN 'refs/heads/main' WHEN 1 THEN 'refs/heads/dev' ELSE 'refs/tags/v1' END,
			'0123456789abcdef0123456789abcdef01234567', 'push', i * 1000, i * 1000,
			i * 1000, i * 1000 + 500, CASE WHEN i % 7 = 0 THEN 'failed' ELSE 'complete' END,
			printf('commit %d <b>', i)
		FROM n`, nil)
	must(b, err)
}

package diagram

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"testing"
	"time"
)

// graphNodes returns the node groups of a graph and their ids.
func graphNodes(tb testing.TB, out template.HTML) (els []*element, nodes []*element) {
	tb.Helper()
	els = checkSafe(tb, []byte(out))
	return els, named(els, "g", "node")
}

// nodeXY returns where each node is placed ("x y"), by its id; nodes and
// ids are drawn in the same order.
func nodeXY(tb testing.TB, out template.HTML) map[string]string {
	tb.Helper()
	_, groups := graphNodes(tb, out)
	ids := named(checkSafe(tb, []byte(out)), "text", "id")
	if len(groups) != len(ids) {
		tb.Fatalf("%d nodes but %d ids", len(groups), len(ids))
	}
	at := map[string]string{}
	for i, g := range groups {
		xy, ok := strings.CutPrefix(g.Attr["transform"], "translate(")
		if !ok {
			tb.Fatalf("node %d is placed by %q", i, g.Attr["transform"])
		}
		at[ids[i].Text] = strings.TrimSuffix(xy, ")")
	}
	return at
}

func TestGraph(t *testing.T) {
	t.Run("Golden", func(t *testing.T) {
		out := Graph([]Node{
			{ID: "lint", State: "complete", Label: "2.1 s", Href: "/runs/7/jobs/lint"},
			{ID: "build", State: "complete", Label: "12.3 s", Href: "/runs/7/jobs/build"},
			{ID: "test", State: "failed", Label: "40 s", Needs: []string{"build"}, Href: "/runs/7/jobs/test"},
			{ID: "package", State: "skipped", Needs: []string{"build", "lint"}},
			{ID: "deploy", State: "pending", Needs: []string{"test", "package"}},
		})
		checkSafe(t, []byte(out))
		golden(t, "graph.svg", []byte(out))
	})

	t.Run("Levels", func(t *testing.T) {
		tests := []struct {
			name  string
			nodes []Node
			want  map[string]int // level of each id
		}{
			{"Chain", []Node{
				{ID: "c", Needs: []string{"b"}}, {ID: "b", Needs: []string{"a"}}, {ID: "a"},
			}, map[string]int{"a": 0, "b": 1, "c": 2}},
			{"Diamond", []Node{
				{ID: "a"}, {ID: "b", Needs: []string{"a"}}, {ID: "c", Needs: []string{"a", "b"}},
				{ID: "d", Needs: []string{"c", "a"}},
			}, map[string]int{"a": 0, "b": 1, "c": 2, "d": 3}},
			{"UnknownNeed", []Node{
				{ID: "a", Needs: []string{"nope"}}, {ID: "b", Needs: []string{"a", "gone"}},
			}, map[string]int{"a": 0, "b": 1}},
			{"Cycle", []Node{
				{ID: "a", Needs: []string{"c"}}, {ID: "b", Needs: []string{"a"}},
				{ID: "c", Needs: []string{"b"}}, {ID: "d", Needs: []string{"c"}},
			}, map[string]int{"a": 0, "b": 0, "c": 0, "d": 1}},
			{"CycleOffTheStack", []Node{
				// a is on the cycle u→a→b→u although DFS reaches b first
				// through c.
				{ID: "u", Needs: []string{"c", "a"}}, {ID: "c", Needs: []string{"b"}},
				{ID: "b", Needs: []string{"u"}}, {ID: "a", Needs: []string{"b"}},
			}, map[string]int{"u": 0, "c": 0, "b": 0, "a": 0}},
			{"SelfNeed", []Node{
				{ID: "a", Needs: []string{"a"}}, {ID: "b", Needs: []string{"a"}},
			}, map[string]int{"a": 0, "b": 1}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				at := nodeXY(t, Graph(tt.nodes))
				for id, lv := range tt.want {
					want := strconv.Itoa(padding + lv*(nodeW+colGap))
					if got, _, _ := strings.Cut(at[id], " "); got != want {
						t.Errorf("x of %s = %s, want %s (level %d)", id, got, want, lv)
					}
				}
			})
		}
	})

	t.Run("RowsInInputOrder", func(t *testing.T) {
		out := Graph([]Node{{ID: "x"}, {ID: "y"}, {ID: "z"}})
		els := checkSafe(t, []byte(out))
		at := nodeXY(t, out)
		for id, want := range map[string]string{"x": "8 8", "y": "8 66", "z": "8 124"} {
			if got := at[id]; got != want {
				t.Errorf("node %s at %q, want %q", id, got, want)
			}
		}
		if got, want := els[0].Attr["viewBox"], "0 0 196 178"; got != want {
			t.Errorf("viewBox = %q, want %q", got, want)
		}
	})

	t.Run("Counts", func(t *testing.T) {
		nodes := []Node{
			{ID: "a"}, {ID: "b", Needs: []string{"a", "a", "zz"}},
			{ID: "c", Needs: []string{"a", "b"}, Href: "/c"},
		}
		els, groups := graphNodes(t, Graph(nodes))
		if got, want := len(groups), 3; got != want {
			t.Errorf("nodes = %d, want %d", got, want)
		}
		if got, want := len(named(els, "path", "edge")), 3; got != want {
			t.Errorf("edges = %d, want %d", got, want)
		}
		if got, want := len(named(els, "a", "")), 1; got != want {
			t.Errorf("links = %d, want %d", got, want)
		}
	})

	t.Run("DuplicateIDs", func(t *testing.T) {
		// The first node of an id is the one needed; the second is drawn
		// too.
		els, groups := graphNodes(t, Graph([]Node{{ID: "a"}, {ID: "a", Needs: []string{"a"}}, {ID: "b", Needs: []string{"a"}}}))
		if got := len(groups); got != 3 {
			t.Errorf("nodes = %d, want 3", got)
		}
		levels := []string{groups[0].Attr["data-level"], groups[1].Attr["data-level"], groups[2].Attr["data-level"]}
		if got, want := strings.Join(levels, ","), "0,1,1"; got != want {
			t.Errorf("levels = %s, want %s", got, want)
		}
		if got := len(named(els, "path", "edge")); got != 2 {
			t.Errorf("edges = %d, want 2", got)
		}
	})

	t.Run("StateInWordsAndClass", func(t *testing.T) {
		els := checkSafe(t, []byte(Graph([]Node{
			{ID: "a", State: "failed", Label: "3 s"}, {ID: "b", State: `x" onclick="y`},
		})))
		rects := named(els, "rect", "")
		if got, want := rects[0].Attr["class"], "st-failed"; got != want {
			t.Errorf("class = %q, want %q", got, want)
		}
		if got, want := rects[1].Attr["class"], "st-unknown"; got != want {
			t.Errorf("class of a made-up state = %q, want %q", got, want)
		}
		if got, want := named(els, "text", "info")[0].Text, "failed · 3 s"; got != want {
			t.Errorf("info = %q, want %q", got, want)
		}
	})

	t.Run("Hostile", func(t *testing.T) {
		for i, p := range payloads {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				out := Graph([]Node{
					{ID: p, State: p, Label: p, Href: "/x?q=" + p},
					{ID: "b", Needs: []string{p}, Href: p},
				})
				els := checkSafe(t, []byte(out))
				if got := len(named(els, "path", "edge")); got != 1 {
					t.Errorf("edges = %d, want 1", got)
				}
				title := named(els, "title", "")[0].Text
				if want := clean(p, maxTitleRunes); !strings.HasPrefix(title, want) {
					t.Errorf("edge title = %.80q, want it to start with %.80q", title, want)
				}
				id := named(els, "text", "id")[0].Text
				if w := textWidth(id, idPx); w > nodeW-2*textPad {
					t.Errorf("id %q is %vpx wide, more than the box", id, w)
				}
			})
		}
	})

	t.Run("DroppedHrefs", func(t *testing.T) {
		for _, h := range []string{"javascript:alert(1)", "//evil.example", "https://evil.example", "data:text/html,x", ` /x`} {
			els := checkSafe(t, []byte(Graph([]Node{{ID: "a", Href: h}})))
			if got := len(named(els, "a", "")); got != 0 {
				t.Errorf("Href %q gave %d links, want 0", h, got)
			}
		}
	})

	t.Run("EscapedHref", func(t *testing.T) {
		els := checkSafe(t, []byte(Graph([]Node{{ID: "a", Href: `/x?q="'><img/src=x/onerror=alert(1)>`}})))
		links := named(els, "a", "")
		if len(links) != 1 {
			t.Fatalf("links = %d, want 1", len(links))
		}
		if h := links[0].Attr["href"]; strings.ContainsAny(h, `"'<>`) {
			t.Errorf("href %q keeps markup characters", h)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		for _, nodes := range [][]Node{nil, {}} {
			els := checkSafe(t, []byte(Graph(nodes)))
			if len(els) != 1 {
				t.Errorf("empty graph has %d elements, want only <svg>", len(els))
			}
		}
	})

	t.Run("Many", func(t *testing.T) {
		nodes := manyNodes(300)
		els, groups := graphNodes(t, Graph(nodes))
		if got := len(groups); got != 300 {
			t.Errorf("nodes = %d, want 300", got)
		}
		if got, want := len(named(els, "path", "edge")), 270; got != want {
			t.Errorf("edges = %d, want %d", got, want)
		}
	})

	t.Run("LongCycle", func(t *testing.T) {
		// Every node needs the next, the last needs the first: one cycle
		// of 5000, all level 0, drawn in one column.
		var nodes []Node
		const n = 5000
		for i := range n {
			nodes = append(nodes, Node{ID: fmt.Sprint(i), Needs: []string{fmt.Sprint((i + 1) % n)}})
		}
		levels := graphLevels(nodes, nodeIndex(nodes))
		for i, lv := range levels {
			if lv != 0 {
				t.Fatalf("level of node %d = %d, want 0", i, lv)
			}
		}
	})
}

// manyNodes is a graph of n jobs in ten levels, each needing one job of
// the level before.
func manyNodes(n int) []Node {
	nodes := make([]Node, n)
	per := n / 10
	for i := range nodes {
		nodes[i] = Node{ID: fmt.Sprintf("job-%03d", i), State: "complete", Label: "1.2 s", Href: fmt.Sprintf("/runs/1/jobs/job-%03d", i)}
		if i >= per {
			nodes[i].Needs = []string{fmt.Sprintf("job-%03d", i-per)}
		}
	}
	return nodes
}

var sink string

// BenchmarkGraph draws 300 jobs and reports the time against a baseline
// measured in the same run: escaping their ids with
// template.HTMLEscapeString, as many times (x-escape is the ratio).
func BenchmarkGraph(b *testing.B) {
	nodes := manyNodes(300)
	b.ReportAllocs()
	for b.Loop() {
		sink = string(Graph(nodes))
	}
	graphNS := float64(b.Elapsed().Nanoseconds()) / float64(b.N)

	start := time.Now()
	for range b.N {
		for _, n := range nodes {
			sink = template.HTMLEscapeString(n.ID)
		}
	}
	baseNS := float64(time.Since(start).Nanoseconds()) / float64(b.N)
	b.ReportMetric(baseNS, "escape-ns/op")
	b.ReportMetric(graphNS/baseNS, "x-escape")
}

// An edge that skips a column must not pass behind the nodes of the
// columns between (it would read as an edge to them): it runs along a
// lane above every node.
func TestGraph_SkippingEdgeAvoidsNodes(t *testing.T) {
	out := Graph([]Node{
		{ID: "lint"}, {ID: "build"},
		{ID: "test", Needs: []string{"build"}},
		{ID: "package", Needs: []string{"test", "lint"}},
	})
	els, _ := graphNodes(t, out)
	top := 1e9
	for _, xy := range nodeXY(t, out) {
		y, _ := strconv.ParseFloat(strings.Fields(xy)[1], 64)
		top = min(top, y)
	}
	var skip, path *element
	for _, e := range els {
		if e.Name == "path" {
			path = e
		}
		if e.Name == "title" && e.Text == "lint → package" {
			skip = path
		}
	}
	if skip == nil {
		t.Fatal("no edge lint → package")
	}
	// Every point of the path after its start lies above the nodes,
	// until it comes down at its end.
	d := skip.Attr["d"]
	lane := strings.Fields(d[strings.Index(d, " L")+2:])
	if y, _ := strconv.ParseFloat(lane[1], 64); !strings.Contains(d, " L") || y >= top {
		t.Errorf("edge %q does not run above the nodes (top %v)", d, top)
	}
}

package diagram

import (
	"html/template"
	"slices"
	"strconv"
	"sync"
)

// Node is one job of a run's graph.
type Node struct {
	// ID is the job id, shown (clipped) in the node.
	ID string
	// State is the job's state: its class is st-<state>, and the word is
	// written in the node too, so the state is not told by colour alone.
	State string
	// Label follows the state, e.g. a duration "12.3 s".
	Label string
	// Needs are the ids of the jobs this one waits for; ids naming no
	// node are ignored.
	Needs []string
	// Href, when it starts with "/" or "?", makes the node a link.
	Href string
}

// Graph layout, in pixels.
const (
	nodeW  = 180
	nodeH  = 46
	colGap = 56
	rowGap = 12
	// laneH is the height of the lane above the nodes where edges that
	// skip a column run.
	laneH   = 14
	idPx    = 13
	infoPx  = 11
	textPad = 10
)

// Graph draws the jobs of a run as an inline SVG: one column per
// dependency level (a job with no needs is level 0, any other is one more
// than the highest level of its needs; a job on a cycle is level 0), the
// jobs of a column top down in input order, and a path from each need to
// the job that needs it. Each job is a rounded box with class st-<state>
// holding its id, its state in words and its label.
func Graph(nodes []Node) template.HTML {
	if len(nodes) == 0 {
		return template.HTML(emptySVG)
	}
	index := nodeIndex(nodes)
	levels := graphLevels(nodes, index)

	// Place each node: its column from its level, its row from how many
	// nodes of that column came before it.
	type pos struct{ x, y float64 }
	at := make([]pos, len(nodes))
	rows := make([]int, len(nodes)) // nodes so far in each level
	maxLevel, maxRows := 0, 0
	for i, lv := range levels {
		at[i] = pos{
			x: padding + float64(lv*(nodeW+colGap)),
			y: padding + float64(rows[lv]*(nodeH+rowGap)),
		}
		rows[lv]++
		maxLevel = max(maxLevel, lv)
		maxRows = max(maxRows, rows[lv])
	}

	data := graphData{
		W: 2*padding + (maxLevel+1)*nodeW + maxLevel*colGap,
		H: 2*padding + maxRows*nodeH + (maxRows-1)*rowGap,
	}

	// An edge that skips a column would pass behind the nodes of the
	// columns between, reading as an edge to them: such edges run along a
	// lane above every node instead, so the nodes move down to make room.
	laneY := 0.0
	for i, n := range nodes {
		for _, need := range n.Needs {
			if j, ok := index[need]; ok && levels[i]-levels[j] > 1 && laneY == 0 {
				laneY = padding + laneH/2
				for k := range at {
					at[k].y += laneH
				}
				data.H += laneH
			}
		}
	}

	// Edges go from the right middle of the need to the left middle of
	// the node, as a cubic curve; a need listed twice is drawn once.
	for i, n := range nodes {
		var drawn []int
		for _, need := range n.Needs {
			j, ok := index[need]
			if !ok || slices.Contains(drawn, j) {
				continue
			}
			drawn = append(drawn, j)
			x1, y1 := at[j].x+nodeW, at[j].y+nodeH/2
			x2, y2 := at[i].x, at[i].y+nodeH/2
			var d string
			if levels[i]-levels[j] > 1 {
				// Up into the gap after the need, along the lane, and
				// down in the gap before the node.
				g := float64(colGap) / 2
				d = "M" + num(x1) + " " + num(y1) +
					" C" + num(x1+g/2) + " " + num(y1) + " " + num(x1+g/2) + " " + num(laneY) + " " + num(x1+g) + " " + num(laneY) +
					" L" + num(x2-g) + " " + num(laneY) +
					" C" + num(x2-g/2) + " " + num(laneY) + " " + num(x2-g/2) + " " + num(y2) + " " + num(x2) + " " + num(y2)
			} else {
				c := max((x2-x1)/2, colGap/2)
				d = "M" + num(x1) + " " + num(y1) +
					" C" + num(x1+c) + " " + num(y1) +
					" " + num(x2-c) + " " + num(y2) +
					" " + num(x2) + " " + num(y2)
			}
			data.Edges = append(data.Edges, graphEdge{D: d, Title: title(need) + " → " + title(n.ID)})
		}
	}

	for i, n := range nodes {
		info := describe(n.State, n.Label)
		data.Nodes = append(data.Nodes, graphNode{
			Translate: num(at[i].x) + " " + num(at[i].y),
			Class:     stateClass(n.State),
			ID:        clip(n.ID, nodeW-2*textPad, idPx),
			Info:      clip(info, nodeW-2*textPad, infoPx),
			Title:     joinTitle(title(n.ID), info),
			Href:      safeHref(n.Href),
			Level:     levels[i],
		})
	}
	return template.HTML(render(graphTmpl(), data))
}

// nodeIndex maps each id to the first node that has it.
func nodeIndex(nodes []Node) map[string]int {
	index := make(map[string]int, len(nodes))
	for i, n := range nodes {
		if _, dup := index[n.ID]; !dup {
			index[n.ID] = i
		}
	}
	return index
}

// graphLevels returns the dependency level of each node. Nodes on a cycle
// (found as strongly connected components, Tarjan's algorithm) are level
// 0; what remains is acyclic, so the longest-path recursion ends.
func graphLevels(nodes []Node, index map[string]int) []int {
	needs := make([][]int, len(nodes))
	for i, n := range nodes {
		for _, id := range n.Needs {
			if j, ok := index[id]; ok {
				needs[i] = append(needs[i], j)
			}
		}
	}
	onCycle := cycleNodes(needs)

	levels := make([]int, len(nodes))
	done := make([]bool, len(nodes))
	var level func(i int) int
	level = func(i int) int {
		if done[i] {
			return levels[i]
		}
		lv := 0
		if !onCycle[i] {
			for _, j := range needs[i] {
				lv = max(lv, level(j)+1)
			}
		}
		levels[i], done[i] = lv, true
		return lv
	}
	for i := range nodes {
		level(i)
	}
	return levels
}

// cycleNodes reports for each node whether it lies on a cycle of edges:
// it is in a strongly connected component of two or more nodes, or needs
// itself.
func cycleNodes(edges [][]int) []bool {
	n := len(edges)
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	onCycle := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	next := 0
	var visit func(v int)
	visit = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range edges[v] {
			if w == v {
				onCycle[v] = true
			}
			if index[w] < 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		// v is the root of a component: pop it whole.
		start := len(stack) - 1
		for stack[start] != v {
			start--
		}
		comp := stack[start:]
		for _, w := range comp {
			onStack[w] = false
			if len(comp) > 1 {
				onCycle[w] = true
			}
		}
		stack = stack[:start]
	}
	for v := range n {
		if index[v] < 0 {
			visit(v)
		}
	}
	return onCycle
}

// num writes a coordinate with at most one decimal.
func num(v float64) string { return strconv.FormatFloat(round1(v), 'f', -1, 64) }

type graphData struct {
	W, H  int
	Edges []graphEdge
	Nodes []graphNode
}

type graphEdge struct{ D, Title string }

type graphNode struct {
	// Translate places the node; what is inside it is drawn at fixed
	// offsets, which keeps the template's actions (its cost) few.
	Translate              string
	Class, ID, Info, Title string
	Href                   string
	Level                  int
}

// graphTmpl draws the job graph. It is parsed at its first use, not at every start
// of the binary (every hook, which draws nothing).
var graphTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("graph").Parse(
		`<svg xmlns="http://www.w3.org/2000/svg" class="diagram graph" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" font-family="` + fontFamily + `">` +
			`<g class="edges" fill="none" stroke="#8a8f98" stroke-width="1.5">` +
			`{{range .Edges}}<path class="edge" d="{{.D}}"><title>{{.Title}}</title></path>{{end}}</g>` +
			`<g class="nodes">{{range .Nodes}}` +
			`{{if .Href}}<a href="{{.Href}}">{{end}}` +
			`<g class="node" data-level="{{.Level}}" transform="translate({{.Translate}})"><title>{{.Title}}</title>` +
			`<rect class="{{.Class}}" width="` + strconv.Itoa(nodeW) + `" height="` + strconv.Itoa(nodeH) + `" rx="6" ry="6" fill="#f2f3f5" stroke="#8a8f98"></rect>` +
			`<text class="id" x="` + strconv.Itoa(textPad) + `" y="19" font-size="` + strconv.Itoa(idPx) + `" font-weight="bold">{{.ID}}</text>` +
			`<text class="info" x="` + strconv.Itoa(textPad) + `" y="36" font-size="` + strconv.Itoa(infoPx) + `">{{.Info}}</text></g>` +
			`{{if .Href}}</a>{{end}}` +
			`{{end}}</g></svg>`))
})

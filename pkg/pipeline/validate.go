package pipeline

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/quire-ci/quire-hook/pkg/luavm"
)

// PushSource is the source that fires on every push.
const PushSource = "quire/push"

// sources are the names that inputs may use besides job ids.
var sources = []string{PushSource}

// IsSource reports whether name is a source, such as quire/push, rather
// than a job.
func IsSource(name string) bool {
	return slices.Contains(sources, name)
}

// maxIDBytes is the longest job id.
const maxIDBytes = 100

// maxJobs is the most jobs a pipeline may register. It keeps validation
// and the records of a run within reason.
const maxJobs = 10_000

// maxSuggestions is how many unknown inputs get a "did you mean".
const maxSuggestions = 100

// idProblem returns what is wrong with a job id, or "" if nothing is.
func idProblem(id string) string {
	switch {
	case id == "":
		return "Job id is empty; give the job a name such as \"test\""
	case len(id) > maxIDBytes:
		return fmt.Sprintf("Job id %s is %d bytes; ids are at most %d bytes", quoteID(id[:40]+"..."), len(id), maxIDBytes)
	case strings.Contains(id, "/"):
		return fmt.Sprintf("Job id %s contains '/', which is reserved for sources such as quire/push; use '-' or '.' instead", quoteID(id))
	case id[0] == '.':
		return fmt.Sprintf("Job id %s starts with '.'; an id starts with a letter, a digit, '_' or '-'", quoteID(id))
	}
	for _, c := range []byte(id) {
		if !isWordByte(c) && c != '.' {
			return fmt.Sprintf("Job id %s contains %s; ids use only letters, digits, '.', '_' and '-'", quoteID(id), strconv.QuoteRune(rune(c)))
		}
	}
	return ""
}

// quoteID quotes a job id for a message: 'id', or a Go-quoted string when
// it holds characters that would not print plainly.
func quoteID(id string) string {
	for _, r := range id {
		if !unicode.IsPrint(r) || r == '\'' {
			return strconv.Quote(id)
		}
	}
	return "'" + id + "'"
}

// graph checks the job graph: unknown inputs, cycles, and jobs that no
// source can reach. It records problems in ld and returns the valid jobs
// in declaration order.
func (ld *loader) graph() []*Job {
	nodes := map[string]*decl{}
	known := map[string]bool{}
	var order []*decl
	for _, d := range ld.decls {
		known[d.job.ID] = true
		if d.named {
			nodes[d.job.ID] = d
			order = append(order, d)
		}
	}

	// Inputs name a source or a registered job. A name registered by a
	// call that had problems of its own is not reported again.
	edges := map[*decl][]*decl{}
	selfLoop := map[*decl]bool{}
	unknown := 0
	for _, d := range ld.decls {
		for _, in := range d.job.Inputs {
			switch {
			case in == d.job.ID:
				ld.problem(d.job.File, d.job.Line, "Job %s lists itself as an input; a job cannot fire itself", quoteID(in))
				selfLoop[d] = true
			case IsSource(in):
			case nodes[in] != nil:
				edges[d] = append(edges[d], nodes[in])
			case known[in]:
			default:
				hint := ""
				if unknown++; unknown <= maxSuggestions {
					hint = suggest(in, order)
				}
				if d.job.Mirror != nil {
					ld.problem(d.job.File, d.job.Line, "ci.mirror: after names %s%s, which is not a job registered with ci.job", quoteID(in), hint)
					continue
				}
				ld.problem(d.job.File, d.job.Line, "Job %s has the unknown input %s%s; an input is a job registered with ci.job or a source such as quire/push",
					quoteID(d.job.ID), quoteID(in), hint)
			}
		}
	}

	// Cycles.
	inCycle := map[*decl]bool{}
	for _, scc := range components(order, edges) {
		if len(scc) == 1 {
			inCycle[scc[0]] = selfLoop[scc[0]]
			continue
		}
		for _, d := range scc {
			inCycle[d] = true
		}
		first := scc[0]
		ld.problem(first.job.File, first.job.Line, "%s", cycleMessage(scc, edges))
	}

	// Every job outside a cycle reaches a source. Jobs whose inputs were
	// already reported count as reaching one, so that one mistake gives
	// one problem. Reaching spreads from inputs to the jobs they fire.
	fires := map[*decl][]*decl{}
	reaches := map[*decl]bool{}
	var queue []*decl
	for _, d := range order {
		for _, in := range edges[d] {
			fires[in] = append(fires[in], d)
		}
		if !d.inputsOK || len(edges[d]) < len(d.job.Inputs)-btoi(selfLoop[d]) {
			reaches[d] = true
			queue = append(queue, d)
		}
	}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		for _, f := range fires[d] {
			if !reaches[f] {
				reaches[f] = true
				queue = append(queue, f)
			}
		}
	}
	behind := map[*decl]*decl{}
	for _, d := range order {
		if !reaches[d] && !inCycle[d] {
			ld.problem(d.job.File, d.job.Line, "Job %s can never run: its inputs lead only to the cycle through %s, never to a source such as quire/push",
				quoteID(d.job.ID), quoteID(cycleBehind(d, edges, inCycle, behind).job.ID))
		}
	}

	jobs := make([]*Job, len(order))
	for i, d := range order {
		jobs[i] = &d.job
	}
	return jobs
}

// btoi is 1 for true.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// components returns the strongly connected components of the graph
// (Tarjan's algorithm), each sorted in declaration order.
func components(order []*decl, edges map[*decl][]*decl) [][]*decl {
	index := map[*decl]int{}
	low := map[*decl]int{}
	onStack := map[*decl]bool{}
	var stack []*decl
	var out [][]*decl
	var visit func(d *decl)
	visit = func(d *decl) {
		index[d] = len(index)
		low[d] = index[d]
		stack = append(stack, d)
		onStack[d] = true
		for _, e := range edges[d] {
			if _, seen := index[e]; !seen {
				visit(e)
				low[d] = min(low[d], low[e])
			} else if onStack[e] {
				low[d] = min(low[d], index[e])
			}
		}
		if low[d] != index[d] {
			return
		}
		var scc []*decl
		for {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[top] = false
			scc = append(scc, top)
			if top == d {
				break
			}
		}
		out = append(out, scc)
	}
	for _, d := range order {
		if _, seen := index[d]; !seen {
			visit(d)
		}
	}
	pos := map[*decl]int{}
	for i, d := range order {
		pos[d] = i
	}
	for _, scc := range out {
		slices.SortFunc(scc, func(a, b *decl) int { return pos[a] - pos[b] })
	}
	slices.SortFunc(out, func(a, b []*decl) int { return pos[a[0]] - pos[b[0]] })
	return out
}

// cycleMessage names the jobs of a strongly connected component: the
// shortest cycle through its first job, and the rest of its jobs if that
// cycle does not pass through all of them.
func cycleMessage(scc []*decl, edges map[*decl][]*decl) string {
	in := map[*decl]bool{}
	for _, d := range scc {
		in[d] = true
	}

	// Breadth-first search from the first job back to itself.
	start := scc[0]
	prev := map[*decl]*decl{}
	queue := []*decl{start}
	for len(queue) > 0 && prev[start] == nil {
		d := queue[0]
		queue = queue[1:]
		for _, e := range edges[d] {
			if in[e] && prev[e] == nil {
				prev[e] = d
				queue = append(queue, e)
			}
		}
	}
	// Edges point from a job to its inputs; the cycle is told in run
	// order, inputs first.
	path := []string{start.job.ID}
	onPath := map[*decl]bool{start: true}
	for d := prev[start]; d != start; d = prev[d] {
		path = append(path, d.job.ID)
		onPath[d] = true
	}
	path = append(path, start.job.ID)
	msg := fmt.Sprintf("Jobs %s form a cycle; a job cannot depend on itself, even through other jobs", strings.Join(path, " -> "))
	var rest []string
	for _, d := range scc {
		if !onPath[d] {
			rest = append(rest, d.job.ID)
		}
	}
	if len(rest) > 0 {
		msg += fmt.Sprintf(" (%s are in the same knot of inputs)", strings.Join(rest, ", "))
	}
	return msg
}

// cycleBehind follows the first inputs of d to a job in a cycle. memo
// keeps the answers for the jobs passed on the way.
func cycleBehind(d *decl, edges map[*decl][]*decl, inCycle map[*decl]bool, memo map[*decl]*decl) *decl {
	var path []*decl
	for !inCycle[d] && memo[d] == nil && len(edges[d]) > 0 {
		path = append(path, d)
		d = edges[d][0]
	}
	if memo[d] != nil {
		d = memo[d]
	}
	for _, p := range path {
		memo[p] = d
	}
	return d
}

// suggest returns ` (did you mean 'x'?)` for the job id or source closest
// to name, or "" when none is close.
func suggest(name string, jobs []*decl) string {
	candidates := slices.Clone(sources)
	for _, d := range jobs {
		candidates = append(candidates, d.job.ID)
	}
	best := luavm.Closest(name, candidates)
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", quoteID(best))
}

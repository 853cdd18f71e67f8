package luavm

import (
	"fmt"

	"github.com/yuin/gopher-lua/ast"
)

// maxTreeDepth bounds the depth of a syntax tree that the compiler may
// recurse over. levelProblem already refuses files over MaxSyntaxLevels,
// whose trees are at most about twice as deep; this is the guard that
// keeps the compiler off a deep tree should that count miss a case.
const maxTreeDepth = 3 * MaxSyntaxLevels

// maxFunctions bounds the functions one load compiles: gopher-lua keeps
// about 17 KiB per compiled function, so 300,000 of them in a 1 MiB file
// would take 5 GB.
const maxFunctions = 4096

// maxCompileWork bounds the work gopher-lua's compiler does beyond a
// constant per node, in about nanoseconds of this machine. It looks up
// each constant by a linear search of the constants of its function, each
// name by a linear search of the local variables in scope, and each goto
// label among the gotos of its function: a file of distinct numbers takes
// minutes to compile without this bound, a file within it about a second.
const maxCompileWork = 1_500_000_000

// Costs of one step of each linear search, in the units of maxCompileWork.
const (
	nameCost  = 2
	constCost = 10
	gotoCost  = 30
)

// Budget is what the rest of one load may still read and compile: the
// files of one load (a pipeline and its modules) share one, so that the
// limits bound the load as a whole. ReadSource and Compile charge it.
type Budget struct {
	bytes     int
	functions int
	work      int64
}

// NewBudget returns the budget of one load.
func NewBudget() *Budget {
	return &Budget{bytes: MaxTotalBytes, functions: maxFunctions, work: maxCompileWork}
}

// fnScope is what the compiler keeps for the function being measured.
type fnScope struct {
	consts map[string]bool
	labels int
	gotos  int
}

// step is one entry of measure's explicit stack: a node to visit at a
// depth, or (node == nil) the end of a scope, which restores the count of
// visible local names and, at the end of a function, the enclosing
// function.
type step struct {
	node    any // ast.Expr, ast.Stmt or *ast.Field
	depth   int
	visible int
	fn      *fnScope
}

// measure walks a parsed chunk and charges b for it. It returns a Problem
// for a tree deeper than maxTreeDepth or one that would exceed b. It keeps
// its own stack, so no input can make it recurse.
func measure(name string, chunk []ast.Stmt, b *Budget) *Problem {
	var (
		stack   []step
		visible int // local names in scope, in all enclosing functions
		fn      = &fnScope{consts: map[string]bool{}}
		line    int
	)
	b.functions--
	pushStmts := func(stmts []ast.Stmt, depth int) {
		for i := len(stmts) - 1; i >= 0; i-- {
			stack = append(stack, step{node: stmts[i], depth: depth})
		}
	}
	pushExprs := func(exprs []ast.Expr, depth int) {
		for i := len(exprs) - 1; i >= 0; i-- {
			if exprs[i] != nil {
				stack = append(stack, step{node: exprs[i], depth: depth})
			}
		}
	}
	// scope pushes the end of a scope, then the nodes inside it.
	scope := func(depth int, newFn *fnScope, stmts []ast.Stmt) {
		stack = append(stack, step{visible: visible, fn: fn})
		if newFn != nil {
			fn = newFn
		}
		pushStmts(stmts, depth)
	}
	constant := func(key string) {
		b.work -= constCost * int64(len(fn.consts))
		fn.consts[key] = true
	}
	pushStmts(chunk, 1)

	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s.node == nil {
			visible, fn = s.visible, s.fn
			continue
		}
		if pos, ok := s.node.(ast.PositionHolder); ok && pos.Line() > 0 {
			line = pos.Line()
		}
		if s.depth > maxTreeDepth {
			return &Problem{File: name, Line: line, Msg: fmt.Sprintf(
				"too many syntax levels: the code nests more than %d deep here; "+
					"split the expression or the block, for example with local variables or functions", maxTreeDepth)}
		}
		if b.work < 0 {
			return &Problem{File: name, Line: line, Msg: "too big to compile in time: too many distinct constants " +
				"(strings, numbers, names) in one function, local variables in scope or goto labels; " +
				"split it into smaller functions or modules"}
		}
		d := s.depth + 1
		switch n := s.node.(type) {
		// Statements.
		case *ast.AssignStmt:
			pushExprs(n.Rhs, d)
			pushExprs(n.Lhs, d)
		case *ast.LocalAssignStmt:
			visible += len(n.Names)
			pushExprs(n.Exprs, d)
		case *ast.FuncCallStmt:
			pushExprs([]ast.Expr{n.Expr}, d)
		case *ast.DoBlockStmt:
			scope(d, nil, n.Stmts)
		case *ast.WhileStmt:
			scope(d, nil, n.Stmts)
			pushExprs([]ast.Expr{n.Condition}, d)
		case *ast.RepeatStmt:
			stack = append(stack, step{visible: visible, fn: fn})
			pushExprs([]ast.Expr{n.Condition}, d)
			pushStmts(n.Stmts, d)
		case *ast.IfStmt:
			scope(d, nil, n.Else)
			scope(d, nil, n.Then)
			pushExprs([]ast.Expr{n.Condition}, d)
		case *ast.NumberForStmt:
			scope(d, nil, n.Stmts)
			visible += 4
			pushExprs([]ast.Expr{n.Init, n.Limit, n.Step}, d)
		case *ast.GenericForStmt:
			scope(d, nil, n.Stmts)
			visible += 3 + len(n.Names)
			pushExprs(n.Exprs, d)
		case *ast.FuncDefStmt:
			stack = append(stack, step{node: n.Func, depth: d})
			if n.Name != nil {
				if n.Name.Method != "" {
					constant("s" + n.Name.Method)
				}
				pushExprs([]ast.Expr{n.Name.Func, n.Name.Receiver}, d)
			}
		case *ast.ReturnStmt:
			pushExprs(n.Exprs, d)
		case *ast.LabelStmt:
			fn.labels++
			b.work -= gotoCost * int64(fn.gotos)
		case *ast.GotoStmt:
			fn.gotos++
			b.work -= gotoCost * int64(fn.labels)
		case *ast.BreakStmt:

		// Expressions.
		case *ast.StringExpr:
			constant("s" + n.Value)
		case *ast.NumberExpr:
			constant("n" + n.Value)
		case *ast.IdentExpr:
			b.work -= nameCost * int64(visible)
			constant("s" + n.Value)
		case *ast.AttrGetExpr:
			pushExprs([]ast.Expr{n.Object, n.Key}, d)
		case *ast.TableExpr:
			for i := len(n.Fields) - 1; i >= 0; i-- {
				stack = append(stack, step{node: n.Fields[i], depth: d})
			}
		case *ast.Field:
			pushExprs([]ast.Expr{n.Key, n.Value}, s.depth)
		case *ast.FuncCallExpr:
			if n.Method != "" {
				constant("s" + n.Method)
			}
			pushExprs(n.Args, d)
			pushExprs([]ast.Expr{n.Func, n.Receiver}, d)
		case *ast.LogicalOpExpr:
			pushExprs([]ast.Expr{n.Lhs, n.Rhs}, d)
		case *ast.RelationalOpExpr:
			pushExprs([]ast.Expr{n.Lhs, n.Rhs}, d)
		case *ast.StringConcatOpExpr:
			pushExprs([]ast.Expr{n.Lhs, n.Rhs}, d)
		case *ast.ArithmeticOpExpr:
			pushExprs([]ast.Expr{n.Lhs, n.Rhs}, d)
		case *ast.UnaryMinusOpExpr:
			pushExprs([]ast.Expr{n.Expr}, d)
		case *ast.UnaryNotOpExpr:
			pushExprs([]ast.Expr{n.Expr}, d)
		case *ast.UnaryLenOpExpr:
			pushExprs([]ast.Expr{n.Expr}, d)
		case *ast.FunctionExpr:
			if b.functions--; b.functions < 0 {
				return &Problem{File: name, Line: line, Msg: fmt.Sprintf(
					"too many functions: the pipeline's files define more than %d; define fewer, for example by reusing one function", maxFunctions)}
			}
			scope(d, &fnScope{consts: map[string]bool{}}, n.Stmts)
			if n.ParList != nil {
				visible += len(n.ParList.Names) + 1
			}
		}
	}
	return nil
}

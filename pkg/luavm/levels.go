package luavm

import (
	"bytes"
	"fmt"

	"github.com/yuin/gopher-lua/parse"
)

// MaxSyntaxLevels bounds how deeply brackets, blocks and chains of
// operators may nest in one place of a Lua file. Lua 5.1 refuses a chunk
// with "too many syntax levels" at the same number (LUAI_MAXCCALLS).
//
// gopher-lua needs the bound more than Lua does: its compiler recurses
// over the syntax tree, where `a + b + c` and `a.b.c` nest as deeply as
// brackets do, so a file a million levels deep overflows the Go stack,
// which kills the process. Its parser keeps every open level on a stack
// that grows with the file, and its compiler takes time quadratic in the
// length of an operator chain.
const MaxSyntaxLevels = 200

// levelScan counts syntax levels token by token, before the parser runs.
// Each open bracket, block (function, do, then, repeat) and elseif is a
// level, and so is each operator, field access, index and call in the
// expression being read at a level: they nest in the syntax tree. The
// count is a bound on the tree's depth, not Lua's exact count (Lua does
// not count the operators of a left-associative chain such as a + b + c).
type levelScan struct {
	frames []levelFrame
	base   int  // sum of weight+chain over frames
	chain  int  // operators in the expression being read at this level
	after  bool // the previous token ends an operand
}

// levelFrame is one open bracket or block.
type levelFrame struct {
	weight int  // levels it adds: 1, plus one per elseif
	chain  int  // the enclosing level's chain when it opened
	cond   bool // an if, elseif, while or for whose block has not begun
}

// levelProblem returns a Problem when src nests more than
// MaxSyntaxLevels deep, else nil. A token the scanner cannot read ends
// the scan: the parser then reports the syntax error.
func levelProblem(name string, src []byte) *Problem {
	sc := parse.NewScanner(bytes.NewReader(src), name)
	lx := &parse.Lexer{}
	var ls levelScan
	for {
		tok, err := sc.Scan(lx)
		if err != nil || tok.Type == parse.EOF {
			return nil
		}
		lx.PrevTokenType = tok.Type
		ls.token(tok.Type)
		if ls.base+ls.chain > MaxSyntaxLevels {
			return &Problem{File: name, Line: tok.Pos.Line, Msg: fmt.Sprintf(
				"too many syntax levels: brackets, blocks and operators nest more than %d deep here; "+
					"split the expression or the block, for example with local variables or functions", MaxSyntaxLevels)}
		}
	}
}

// token accounts for one token of type typ.
func (ls *levelScan) token(typ int) {
	after := ls.after
	ls.after = false
	switch typ {
	case '(', '[', '{':
		if after {
			ls.chain++ // a call or an index
		}
		ls.push(false)
	case ')', ']', '}':
		ls.pop()
		ls.after = true
	case parse.TString:
		if after {
			ls.chain++ // f "x" is a call
		}
		ls.after = true
	case parse.TIdent, parse.TNumber, parse.TNil, parse.TTrue, parse.TFalse, parse.T3Comma:
		if after {
			ls.chain = 0 // an operand after an operand starts a statement
		}
		ls.after = true
	case '-':
		ls.chain++ // binary after an operand, else unary: a level either way
	case '+', '*', '/', '%', '^', '.', '<', '>', '#', parse.T2Comma, parse.TEqeq, parse.TNeq,
		parse.TLte, parse.TGte, parse.TAnd, parse.TOr, parse.TNot:
		ls.chain++
	case ':':
		// a method call: the call that follows counts
	case parse.TFunction, parse.TRepeat:
		ls.push(false)
	case parse.TIf, parse.TWhile, parse.TFor:
		ls.chain = 0
		ls.push(true)
	case parse.TThen, parse.TDo:
		if n := len(ls.frames); n > 0 && ls.frames[n-1].cond {
			ls.frames[n-1].cond = false
			ls.chain = 0
		} else {
			ls.push(false)
		}
	case parse.TElseIf:
		// gopher-lua nests each elseif inside the previous branch.
		if n := len(ls.frames); n > 0 {
			ls.frames[n-1].cond = true
			ls.frames[n-1].weight++
			ls.base++
		}
		ls.chain = 0
	case parse.TEnd:
		ls.pop()
		ls.after = true
	case parse.TUntil:
		ls.pop()
		ls.chain = 1 // the condition belongs to the repeat
	default: // = , ; local return break goto in else ::
		ls.chain = 0
	}
}

// push opens a level.
func (ls *levelScan) push(cond bool) {
	ls.frames = append(ls.frames, levelFrame{weight: 1, chain: ls.chain, cond: cond})
	ls.base += 1 + ls.chain
	ls.chain = 0
}

// pop closes a level; an unmatched closer is left to the parser.
func (ls *levelScan) pop() {
	n := len(ls.frames)
	if n == 0 {
		return
	}
	f := ls.frames[n-1]
	ls.frames = ls.frames[:n-1]
	ls.base -= f.weight + f.chain
	ls.chain = f.chain
}
